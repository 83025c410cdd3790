//! A desk's own billing, as its owner sees and changes it: the plan, the
//! trial, the subscription and its invoices; a plan change on the **same**
//! subscription, prorated and invoiced at once for the amount Stripe's
//! invoice preview showed (the preview's `proration_date` is handed back
//! with the change, so the charge is the shown one); cancelling at the
//! period's end and taking that back. A desk that has a live subscription
//! never gets a second Checkout (see `ControlPlane::checkout`): two
//! subscriptions would both bill.
//!
//! The desk's plan follows Stripe's events, as for a Checkout: a change is
//! asked of Stripe here and lands when `customer.subscription.updated`
//! arrives (its price names the plan).

use chrono::{DateTime, TimeZone as _, Utc};
use tikethet_billing::revenue::Invoice;
use tikethet_billing::stripe::client::{Preview, StripeApi, SubscriptionState};
use tikethet_billing::stripe::events::Status;

use super::billing::accounts;
use super::{ControlError, ControlPlane, Result, tenants};

/// A desk's billing, for its page and `GET …/billing`.
pub struct DeskBilling {
    pub plan: String,
    /// No Stripe keys: plans are the operator's.
    pub offline: bool,
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// The live subscription, as Stripe has it now (`None`: none, or
    /// Stripe could not be asked; see `stripe_error`).
    pub subscription: Option<SubscriptionState>,
    /// The subscription as the last event left it, when Stripe was not asked.
    pub status: Option<String>,
    pub unpaid_since: Option<DateTime<Utc>>,
    pub stripe_error: Option<String>,
    /// Newest first, each with whether its payment failed.
    pub invoices: Vec<(Invoice, bool)>,
}

/// Whether a subscription still bills (or will once paid).
fn live(status: Option<&str>) -> bool {
    status.and_then(Status::parse).is_some_and(|s| !matches!(s, Status::Canceled | Status::IncompleteExpired))
}

impl ControlPlane {
    pub(super) fn stripe(&self) -> Result<&StripeApi> {
        self.stripe.as_ref().ok_or(ControlError::BillingOffline)
    }

    /// The desk's live subscription: its account and Stripe's state of it.
    async fn live_subscription(&self, t: &tenants::Model) -> Result<(accounts::Model, SubscriptionState)> {
        let stripe = self.stripe()?;
        let a = self.billing_account_of(&t.id).await?.filter(|a| live(a.subscription_status.as_deref())).ok_or(ControlError::NoSubscription)?;
        let id = a.stripe_subscription_id.clone().ok_or(ControlError::NoSubscription)?;
        let s = stripe.subscription_state(&id).await?;
        if !live(Some(s.subscription.status.as_str())) {
            return Err(ControlError::NoSubscription);
        }
        Ok((a, s))
    }

    /// Whether the desk has a subscription that still bills: a second
    /// Checkout is refused then.
    pub(crate) async fn has_live_subscription(&self, t: &tenants::Model) -> Result<bool> {
        Ok(self.billing_account_of(&t.id).await?.is_some_and(|a| a.stripe_subscription_id.is_some() && live(a.subscription_status.as_deref())))
    }

    /// The desk's billing as its page shows it. Stripe is asked for the
    /// subscription's period and cancellation; if it cannot be reached the
    /// page shows what the last event said, and why.
    pub async fn desk_billing(&self, slug: &str) -> Result<DeskBilling> {
        let t = self.find(slug).await?;
        let a = self.billing_account_of(&t.id).await?;
        let mut out = DeskBilling {
            plan: t.plan.clone(),
            offline: self.stripe.is_none(),
            trial_ends_at: t.trial_ends_at,
            subscription: None,
            status: a.as_ref().and_then(|a| a.subscription_status.clone()),
            unpaid_since: a.as_ref().and_then(|a| a.unpaid_since),
            stripe_error: None,
            invoices: self.invoices_of(&t.id, 24).await?,
        };
        if let (Some(stripe), Some(id)) = (&self.stripe, a.as_ref().filter(|a| live(a.subscription_status.as_deref())).and_then(|a| a.stripe_subscription_id.clone())) {
            match stripe.subscription_state(&id).await {
                Ok(s) => out.subscription = Some(s),
                Err(e) => out.stripe_error = Some(e.to_string()),
            }
        }
        Ok(out)
    }

    /// What moving the desk's subscription to `plan` would charge now.
    pub async fn preview_plan(&self, slug: &str, plan: &str) -> Result<(String, Preview)> {
        let t = self.find(slug).await?;
        let (price, plan_id) = self.price_of(plan)?;
        if plan_id == t.plan {
            return Err(ControlError::SamePlan(plan_id));
        }
        let (a, s) = self.live_subscription(&t).await?;
        let customer = a.stripe_customer_id.clone().ok_or(ControlError::NoCustomer)?;
        let item = s.item.clone().ok_or(ControlError::NoSubscription)?;
        let preview = self.stripe()?.preview_price_change(&customer, &s.subscription.id, &item, &price, Utc::now().timestamp()).await?;
        Ok((plan_id, preview))
    }

    /// Moves the desk's subscription to `plan`, charged as the preview at
    /// `proration_date` showed (a preview older than an hour is refused:
    /// ask again).
    pub async fn change_plan(&self, slug: &str, plan: &str, proration_date: i64) -> Result<SubscriptionState> {
        let t = self.find(slug).await?;
        let (price, plan_id) = self.price_of(plan)?;
        if plan_id == t.plan {
            return Err(ControlError::SamePlan(plan_id));
        }
        let age = Utc::now().timestamp() - proration_date;
        if !(0..=3600).contains(&age) {
            return Err(tikethet_runtime::domain::Invalid::new("proration_date", "is not a preview's of the last hour: preview the change again").into());
        }
        let (_, s) = self.live_subscription(&t).await?;
        let item = s.item.clone().ok_or(ControlError::NoSubscription)?;
        // The same change asked twice (a double click) is one change.
        let key = format!("plan-{}-{}-{price}-{proration_date}", t.id, s.subscription.id);
        let changed = self.stripe()?.change_price(&s.subscription.id, &item, &price, proration_date, &key).await?;
        tracing::info!(tenant = %t.id, slug = %t.slug, plan = %plan_id, "plan change asked of Stripe");
        Ok(changed)
    }

    /// Cancels the desk's subscription at the period's end (`true`), or
    /// takes that back (`false`).
    pub async fn set_cancel_at_period_end(&self, slug: &str, cancel: bool) -> Result<SubscriptionState> {
        let t = self.find(slug).await?;
        let (_, s) = self.live_subscription(&t).await?;
        let key = format!("cancel-{}-{}-{cancel}-{}", t.id, s.subscription.id, super::random_hex(8));
        Ok(self.stripe()?.cancel_at_period_end(&s.subscription.id, cancel, &key).await?)
    }

    /// A plan's Stripe price and id, or why it cannot be bought.
    fn price_of(&self, plan: &str) -> Result<(String, String)> {
        let p = self.plans.plan(plan).map_err(|e| tikethet_runtime::domain::Invalid::new("plan", e.to_string()))?;
        let price = p.stripe_price.clone().ok_or_else(|| ControlError::NotForSale(p.name.clone()))?;
        Ok((price, p.id.clone()))
    }
}

/// Unix seconds as a time.
pub fn at(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single()
}
