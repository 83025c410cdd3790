//! The desk's usage against its plan, its billing (plan, trial,
//! subscription, invoices), and for its owner: Stripe's Checkout (the first
//! time), plan changes on the same subscription with the prorated amount
//! previewed first, cancelling at the period's end and taking it back, and
//! Stripe's Customer Portal.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::domain::Role;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

/// One limit of the plan and how much of it is used.
#[derive(Debug, Object)]
pub struct UsageLineView {
    /// `agents`, `tickets_per_month`, `messages_per_month`, `plugins` or
    /// `storage_bytes`.
    pub limit: String,
    pub used: u64,
    /// `null`: unlimited.
    #[oai(nullable)]
    pub allowed: Option<u64>,
}

/// The desk's usage against its plan.
#[derive(Debug, Object)]
pub struct UsageView {
    /// The plan's id and name.
    pub plan: String,
    pub plan_name: String,
    /// The first day of the month the monthly figures count (UTC).
    pub month: String,
    pub usage: Vec<UsageLineView>,
    /// Plugin calls this month (metered for billing, not limited).
    pub plugin_invocations: u64,
    /// The largest single file the plan takes, in bytes.
    pub max_attachment_bytes: u64,
}

/// A plan to buy.
#[derive(Debug, Object)]
pub struct CheckoutRequest {
    /// A plan of the catalogue that is sold through Stripe.
    #[oai(validator(min_length = 1, max_length = 40))]
    pub plan: String,
}

/// Where to send the owner to pay.
#[derive(Debug, Object)]
pub struct CheckoutView {
    /// The Checkout Session's id.
    pub id: String,
    /// Stripe's payment page; the desk's plan changes once Stripe reports
    /// the payment (its webhook), not before.
    pub url: String,
}

/// Stripe's Customer Portal for this desk.
#[derive(Debug, Object)]
pub struct PortalView {
    pub url: String,
}

/// A plan on offer.
#[derive(Debug, Object)]
pub struct PlanOfferView {
    pub id: String,
    pub name: String,
    pub monthly_price_cents: u64,
    pub currency: String,
    /// Bought through Stripe (Free is not).
    pub for_sale: bool,
    /// The desk's plan now.
    pub current: bool,
}

/// The desk's trial (a desk opened by signup).
#[derive(Debug, Object)]
pub struct DeskTrialView {
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// Whole days left, counted up.
    pub days_left: i64,
}

/// The desk's subscription.
#[derive(Debug, Object)]
pub struct DeskSubscriptionView {
    /// Stripe's status: `active`, `trialing`, `past_due`, `unpaid`, …
    pub status: String,
    /// The plan its price buys, when the catalogue has it.
    #[oai(nullable)]
    pub plan: Option<String>,
    /// It ends at the period's end (cancelled; `resume` takes it back).
    pub cancel_at_period_end: bool,
    #[oai(nullable)]
    pub current_period_end: Option<chrono::DateTime<chrono::Utc>>,
}

/// The next invoice, estimated from the plan's price.
#[derive(Debug, Object)]
pub struct DeskNextInvoiceView {
    pub amount_cents: u64,
    pub currency: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// An invoice Stripe reported.
#[derive(Debug, Object)]
pub struct DeskInvoiceView {
    pub id: String,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: String,
    pub amount_due_cents: i64,
    pub amount_paid_cents: i64,
    pub currency: String,
    pub created: chrono::DateTime<chrono::Utc>,
    /// Stripe's hosted invoice page.
    #[oai(nullable)]
    pub url: Option<String>,
    /// Its payment failed.
    pub failed: bool,
}

/// The desk's billing.
#[derive(Debug, Object)]
pub struct DeskBillingView {
    pub plan: String,
    pub plan_name: String,
    /// No Stripe keys: plans are set by the operator, nothing is charged.
    pub offline: bool,
    #[oai(nullable)]
    pub trial: Option<DeskTrialView>,
    #[oai(nullable)]
    pub subscription: Option<DeskSubscriptionView>,
    /// Unpaid since (the desk is suspended after the grace period).
    #[oai(nullable)]
    pub unpaid_since: Option<chrono::DateTime<chrono::Utc>>,
    #[oai(nullable)]
    pub next_invoice: Option<DeskNextInvoiceView>,
    pub usage: Vec<UsageLineView>,
    pub invoices: Vec<DeskInvoiceView>,
    pub plans: Vec<PlanOfferView>,
    /// Stripe could not be asked for the subscription's period just now.
    #[oai(nullable)]
    pub stripe_error: Option<String>,
}

/// A plan to move the subscription to.
#[derive(Debug, Object)]
pub struct PlanChoice {
    #[oai(validator(min_length = 1, max_length = 40))]
    pub plan: String,
}

/// What a plan change charges now: the rest of this period on the new
/// plan less the rest on the old (negative: a credit).
#[derive(Debug, Object)]
pub struct PlanPreviewView {
    pub plan: String,
    /// Charged at once.
    pub amount_due_cents: i64,
    /// The proration's total; negative is a credit for later invoices.
    pub total_cents: i64,
    pub currency: String,
    /// Hand it back with the change, so that what is charged is what was shown.
    pub proration_date: i64,
}

/// A plan change, as previewed.
#[derive(Debug, Object)]
pub struct PlanChange {
    #[oai(validator(min_length = 1, max_length = 40))]
    pub plan: String,
    /// The preview's `proration_date` (of the last hour).
    pub proration_date: i64,
}

pub struct BillingApi {
    pub state: AppState,
}

fn subscription_view(state: &AppState, s: &tikethet_billing::stripe::client::SubscriptionState) -> DeskSubscriptionView {
    DeskSubscriptionView {
        status: s.subscription.status.as_str().to_owned(),
        plan: s.subscription.price.as_deref().and_then(|p| state.control.plans().by_stripe_price(p)).map(|p| p.id.clone()),
        cancel_at_period_end: s.cancel_at_period_end,
        current_period_end: s.current_period_end.and_then(crate::control::subscription::at),
    }
}

impl BillingApi {
    /// The desk's console, where the owner comes back from Stripe.
    fn console_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/admin/", self.state.settings.public_url.as_str().trim_end_matches('/'))
    }
}

#[OpenApi]
impl BillingApi {
    /// The desk's usage against its plan (admins and up)
    ///
    /// Going over a limit is refused with `402 plan_limit_reached`, except a
    /// customer's message: it is always kept (one that would open a ticket
    /// over the month's limit waits until the limit lifts).
    #[oai(path = "/t/:slug/api/v1/usage", method = "get", tag = "Tag::Stats")]
    async fn usage(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<UsageView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let u = ctx.usage().await?;
        Ok(Json(UsageView {
            plan: u.plan,
            plan_name: u.plan_name,
            month: u.month,
            usage: u.lines.into_iter().map(|l| UsageLineView { limit: l.limit.to_owned(), used: l.used, allowed: l.allowed }).collect(),
            plugin_invocations: u.plugin_invocations,
            max_attachment_bytes: u.max_attachment_bytes,
        }))
    }

    /// Subscribe, or change plan, through Stripe Checkout (the owner)
    ///
    /// `409 billing_offline` when the platform runs without Stripe keys
    /// (the operator sets plans then); `409 plan_not_for_sale` for a plan
    /// without a Stripe price; `409 already_subscribed` when the desk has a
    /// subscription (change its plan instead: two would both bill).
    #[oai(path = "/t/:slug/api/v1/billing/checkout", method = "post", tag = "Tag::Stats")]
    async fn checkout(&self, slug: Path<String>, auth: TenantAuth, body: Json<CheckoutRequest>) -> Result<Json<CheckoutView>, ApiError> {
        let _ctx = auth.0.at_least(Role::Owner)?;
        let back = self.console_url(&slug.0);
        let c = self.state.control.checkout(&slug.0, &body.0.plan, &format!("{back}?billing=paid"), &format!("{back}?billing=cancelled")).await?;
        Ok(Json(CheckoutView { id: c.id, url: c.url }))
    }

    /// The desk's billing: plan, trial, subscription, usage, invoices and
    /// the plans on offer (owner and admins)
    #[oai(path = "/t/:slug/api/v1/billing", method = "get", tag = "Tag::Stats")]
    async fn billing(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<DeskBillingView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let u = ctx.usage().await?;
        let b = self.state.control.desk_billing(&slug.0).await?;
        let plans = self.state.control.plans();
        let now = chrono::Utc::now();
        let current = plans.plan(&b.plan).ok();
        let subscription = b.subscription.as_ref().map(|s| subscription_view(&self.state, s));
        let next_invoice = match (&b.subscription, current) {
            (Some(s), Some(p)) if !s.cancel_at_period_end && p.monthly_price_cents > 0 => s
                .current_period_end
                .and_then(crate::control::subscription::at)
                .map(|at| DeskNextInvoiceView { amount_cents: p.monthly_price_cents, currency: p.currency.clone(), at }),
            _ => None,
        };
        Ok(Json(DeskBillingView {
            plan: b.plan.clone(),
            plan_name: current.map(|p| p.name.clone()).unwrap_or_else(|| b.plan.clone()),
            offline: b.offline,
            trial: b.trial_ends_at.filter(|e| *e > now).map(|e| DeskTrialView { ends_at: e, days_left: ((e - now).num_seconds() + 86_399) / 86_400 }),
            subscription,
            unpaid_since: b.unpaid_since,
            next_invoice,
            usage: u.lines.into_iter().map(|l| UsageLineView { limit: l.limit.to_owned(), used: l.used, allowed: l.allowed }).collect(),
            invoices: b
                .invoices
                .into_iter()
                .map(|(i, failed)| DeskInvoiceView {
                    created: crate::control::subscription::at(i.created).unwrap_or(now),
                    id: i.id,
                    status: i.status,
                    amount_due_cents: i.amount_due,
                    amount_paid_cents: i.amount_paid,
                    currency: i.currency,
                    url: i.hosted_invoice_url,
                    failed,
                })
                .collect(),
            plans: plans
                .plans()
                .iter()
                .map(|p| PlanOfferView {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    monthly_price_cents: p.monthly_price_cents,
                    currency: p.currency.clone(),
                    for_sale: p.stripe_price.is_some(),
                    current: p.id == b.plan,
                })
                .collect(),
            stripe_error: b.stripe_error,
        }))
    }

    /// What moving the subscription to another plan charges now (the owner)
    ///
    /// Stripe's invoice preview of the change, prorated to this moment.
    /// `409 no_subscription` without one (use Checkout), `409 same_plan`.
    #[oai(path = "/t/:slug/api/v1/billing/preview", method = "post", tag = "Tag::Stats")]
    async fn preview(&self, slug: Path<String>, auth: TenantAuth, body: Json<PlanChoice>) -> Result<Json<PlanPreviewView>, ApiError> {
        let _ctx = auth.0.at_least(Role::Owner)?;
        let (plan, p) = self.state.control.preview_plan(&slug.0, &body.0.plan).await?;
        Ok(Json(PlanPreviewView { plan, amount_due_cents: p.amount_due, total_cents: p.total, currency: p.currency, proration_date: p.proration_date }))
    }

    /// Move the subscription to another plan (the owner)
    ///
    /// The same subscription, prorated at the preview's `proration_date`
    /// and invoiced at once. The desk's plan changes when Stripe reports
    /// the change (its webhook).
    #[oai(path = "/t/:slug/api/v1/billing/plan", method = "post", tag = "Tag::Stats")]
    async fn change_plan(&self, slug: Path<String>, auth: TenantAuth, body: Json<PlanChange>) -> Result<Json<DeskSubscriptionView>, ApiError> {
        let ctx = auth.0.at_least(Role::Owner)?;
        let s = self.state.control.change_plan(&slug.0, &body.0.plan, body.0.proration_date).await?;
        crate::http::recorded::by_staff(&ctx, "billing.plan", format!("{} → {} (prorated, on the same subscription)", ctx.tenant().plan, body.0.plan)).await;
        Ok(Json(subscription_view(&self.state, &s)))
    }

    /// Cancel the subscription at the end of the period (the owner)
    #[oai(path = "/t/:slug/api/v1/billing/cancel", method = "post", tag = "Tag::Stats")]
    async fn cancel(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<DeskSubscriptionView>, ApiError> {
        let ctx = auth.0.at_least(Role::Owner)?;
        let s = self.state.control.set_cancel_at_period_end(&slug.0, true).await?;
        crate::http::recorded::by_staff(&ctx, "billing.cancelled", format!("the {} subscription ends at the period's end", ctx.tenant().plan)).await;
        Ok(Json(subscription_view(&self.state, &s)))
    }

    /// Take a cancellation back before the period ends (the owner)
    #[oai(path = "/t/:slug/api/v1/billing/resume", method = "post", tag = "Tag::Stats")]
    async fn resume(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<DeskSubscriptionView>, ApiError> {
        let ctx = auth.0.at_least(Role::Owner)?;
        let s = self.state.control.set_cancel_at_period_end(&slug.0, false).await?;
        crate::http::recorded::by_staff(&ctx, "billing.resumed", format!("the {} subscription continues", ctx.tenant().plan)).await;
        Ok(Json(subscription_view(&self.state, &s)))
    }

    /// Stripe's Customer Portal: payment methods, invoices, cancelling (the owner)
    #[oai(path = "/t/:slug/api/v1/billing/portal", method = "post", tag = "Tag::Stats")]
    async fn portal(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<PortalView>, ApiError> {
        let _ctx = auth.0.at_least(Role::Owner)?;
        let url = self.state.control.portal(&slug.0, &self.console_url(&slug.0)).await?;
        Ok(Json(PortalView { url }))
    }
}
