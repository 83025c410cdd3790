//! The calls the platform makes to Stripe, through async-stripe: a
//! Customer per tenant, a Checkout Session to subscribe or change plan, a
//! Customer Portal session, usage as Billing meter events, and a
//! subscription read back when an event leaves its state in doubt. Every
//! write carries an `Idempotency-Key` the caller derives from what the call
//! means, so a retried call is the same call
//! (<https://docs.stripe.com/api/idempotent_requests>).

use std::collections::HashMap;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest as _};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::{
    CreatePreviewInvoice, CreatePreviewInvoiceSubscriptionDetails, CreatePreviewInvoiceSubscriptionDetailsItems, CreatePreviewInvoiceSubscriptionDetailsProrationBehavior,
};
use stripe_billing::subscription::{RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData};
use stripe_core::customer::CreateCustomer;

use super::events::{Status, Subscription};

/// A failed call to Stripe.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Stripe answered with an error (`error.type`, `error.code`, message).
    #[error("Stripe refused ({status} {kind}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Refused { status: u16, kind: String, code: Option<String>, message: String },
    /// Stripe could not be reached, timed out or answered what is not Stripe.
    #[error("Stripe could not be reached or answered unreadably: {0}")]
    Unavailable(String),
}

impl From<StripeError> for CallError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(api, status) => CallError::Refused {
                status,
                kind: api.type_.as_str().to_owned(),
                code: api.code.as_ref().map(|c| c.as_str().to_owned()),
                message: api.message.clone().unwrap_or_default(),
            },
            other => CallError::Unavailable(other.to_string()),
        }
    }
}

/// How a meter event was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Accepted,
    /// Stripe has an event of this identifier already (an earlier attempt
    /// got through): counted once, as wanted.
    AlreadyThere,
}

/// A Checkout Session to send the buyer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub id: String,
    pub url: String,
}

/// A subscription's state as a billing page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    pub subscription: Subscription,
    /// Its (first) item, which a plan change re-prices.
    pub item: Option<String>,
    /// When the current period ends (Unix seconds).
    pub current_period_end: Option<i64>,
    /// It ends at the period's end (cancelled, not yet over).
    pub cancel_at_period_end: bool,
}

/// What changing a subscription's price invoices at once (the proration:
/// the rest of the period on the new price less the rest on the old), as
/// Stripe's invoice preview says with `proration_behavior=always_invoice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Cents (or the currency's smallest unit); negative is a credit.
    pub amount_due: i64,
    pub total: i64,
    pub currency: String,
    /// The moment the proration is computed for: the change itself must
    /// name the same one to be charged what was shown.
    pub proration_date: i64,
}

/// Stripe, for one platform account.
#[derive(Clone)]
pub struct StripeApi {
    client: Client,
}

impl std::fmt::Debug for StripeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeApi(***)")
    }
}

fn key(k: &str) -> Result<RequestStrategy, CallError> {
    IdempotencyKey::new(k).map(RequestStrategy::Idempotent).map_err(|e| CallError::Unavailable(format!("idempotency key {k:?}: {e}")))
}

impl StripeApi {
    /// `base`: another API base URL (a stand-in); Stripe's own when `None`.
    pub fn new(secret_key: &str, base: Option<&str>) -> Result<StripeApi, CallError> {
        let mut b = ClientBuilder::new(secret_key).timeout(std::time::Duration::from_secs(20));
        if let Some(url) = base {
            b = b.url(url);
        }
        Ok(StripeApi { client: b.build().map_err(|e| CallError::Unavailable(format!("client: {e}")))? })
    }

    /// Creates the tenant's Customer; the key makes a retry return the same one.
    pub async fn create_customer(&self, tenant_id: &str, name: &str, idempotency: &str) -> Result<String, CallError> {
        let c = CreateCustomer::new()
            .name(name)
            .metadata(HashMap::from([("tenant_id".to_owned(), tenant_id.to_owned())]))
            .customize()
            .request_strategy(key(idempotency)?)
            .send(&self.client)
            .await?;
        Ok(c.id.as_str().to_owned())
    }

    /// A Checkout Session subscribing `customer` to `price`, for the tenant
    /// (`client_reference_id` and the subscription's `metadata.tenant_id`).
    #[allow(clippy::too_many_arguments)]
    pub async fn checkout(
        &self,
        customer: &str,
        tenant_id: &str,
        price: &str,
        success_url: &str,
        cancel_url: &str,
        idempotency: &str,
    ) -> Result<Checkout, CallError> {
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(price.to_owned());
        item.quantity = Some(1);
        let mut sub = CreateCheckoutSessionSubscriptionData::new();
        sub.metadata = Some(HashMap::from([("tenant_id".to_owned(), tenant_id.to_owned())]));
        let s = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(tenant_id)
            .line_items(vec![item])
            .success_url(success_url)
            .cancel_url(cancel_url)
            .subscription_data(sub)
            .customize()
            .request_strategy(key(idempotency)?)
            .send(&self.client)
            .await?;
        let url = s.url.ok_or_else(|| CallError::Unavailable("the Checkout Session came without a url".into()))?;
        Ok(Checkout { id: s.id.as_str().to_owned(), url })
    }

    /// A Customer Portal session (manage payment methods, invoices, cancel).
    pub async fn portal(&self, customer: &str, return_url: &str, idempotency: &str) -> Result<String, CallError> {
        let p = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .customize()
            .request_strategy(key(idempotency)?)
            .send(&self.client)
            .await?;
        Ok(p.url)
    }

    /// Reports `value` units of a meter for a customer. The identifier names
    /// the slice of usage; Stripe refuses a second event of it, which is
    /// taken as the first having got through.
    pub async fn meter_event(&self, event_name: &str, customer: &str, value: u64, identifier: &str, timestamp: i64) -> Result<Reported, CallError> {
        let payload = HashMap::from([("stripe_customer_id".to_owned(), customer.to_owned()), ("value".to_owned(), value.to_string())]);
        let sent = CreateBillingMeterEvent::new(event_name, payload)
            .identifier(identifier)
            .timestamp(timestamp)
            .customize()
            .request_strategy(key(&format!("meter-{identifier}"))?)
            .send(&self.client)
            .await;
        match sent.map_err(CallError::from) {
            Ok(_) => Ok(Reported::Accepted),
            Err(CallError::Refused { code: Some(c), .. }) if c == "resource_already_exists" => Ok(Reported::AlreadyThere),
            Err(CallError::Refused { message, .. }) if message.contains("already exists") => Ok(Reported::AlreadyThere),
            Err(e) => Err(e),
        }
    }

    /// A subscription as Stripe has it now.
    pub async fn subscription(&self, id: &str) -> Result<Subscription, CallError> {
        Ok(self.subscription_state(id).await?.subscription)
    }

    /// A subscription with its item, period and cancellation.
    pub async fn subscription_state(&self, id: &str) -> Result<SubscriptionState, CallError> {
        let s = RetrieveSubscription::new(id).send(&self.client).await?;
        state_of(s)
    }

    /// What moving a subscription's item to `price` would invoice now
    /// (<https://docs.stripe.com/api/invoices/create_preview>), prorated at
    /// `proration_date`.
    pub async fn preview_price_change(&self, customer: &str, subscription: &str, item: &str, price: &str, proration_date: i64) -> Result<Preview, CallError> {
        let mut line = CreatePreviewInvoiceSubscriptionDetailsItems::new();
        line.id = Some(item.to_owned());
        line.price = Some(price.to_owned());
        let mut details = CreatePreviewInvoiceSubscriptionDetails::new();
        details.items = Some(vec![line]);
        details.proration_behavior = Some(CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::AlwaysInvoice);
        details.proration_date = Some(proration_date);
        let inv = CreatePreviewInvoice::new().customer(customer).subscription(subscription).subscription_details(details).send(&self.client).await?;
        Ok(Preview { amount_due: inv.amount_due, total: inv.total, currency: inv.currency.to_string(), proration_date })
    }

    /// Moves a subscription's item to `price`, prorated at `proration_date`
    /// and invoiced at once
    /// (<https://docs.stripe.com/billing/subscriptions/prorations>): the
    /// same subscription, never a second one, charged what the preview at
    /// the same `proration_date` showed.
    pub async fn change_price(&self, subscription: &str, item: &str, price: &str, proration_date: i64, idempotency: &str) -> Result<SubscriptionState, CallError> {
        let mut line = UpdateSubscriptionItems::new();
        line.id = Some(item.to_owned());
        line.price = Some(price.to_owned());
        let s = UpdateSubscription::new(subscription)
            .items(vec![line])
            .proration_behavior(UpdateSubscriptionProrationBehavior::AlwaysInvoice)
            .proration_date(proration_date)
            .customize()
            .request_strategy(key(idempotency)?)
            .send(&self.client)
            .await?;
        state_of(s)
    }

    /// Cancels at the period's end (`true`), or takes that back (`false`).
    pub async fn cancel_at_period_end(&self, subscription: &str, cancel: bool, idempotency: &str) -> Result<SubscriptionState, CallError> {
        let s = UpdateSubscription::new(subscription).cancel_at_period_end(cancel).customize().request_strategy(key(idempotency)?).send(&self.client).await?;
        state_of(s)
    }
}

/// A subscription as Stripe answered it, read for what we use.
fn state_of(s: stripe_billing::Subscription) -> Result<SubscriptionState, CallError> {
    let status = Status::parse(s.status.as_str()).ok_or_else(|| CallError::Unavailable(format!("unknown subscription status {}", s.status.as_str())))?;
    let item = s.items.data.first();
    Ok(SubscriptionState {
        item: item.map(|i| i.id.as_str().to_owned()),
        current_period_end: item.map(|i| i.current_period_end),
        cancel_at_period_end: s.cancel_at_period_end,
        subscription: Subscription {
            id: s.id.as_str().to_owned(),
            customer: s.customer.id().as_str().to_owned(),
            status,
            price: item.map(|i| i.price.id.as_str().to_owned()),
            tenant: s.metadata.get("tenant_id").cloned(),
        },
    })
}
