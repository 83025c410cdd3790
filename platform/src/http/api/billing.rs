//! The desk's usage against its plan, and Stripe's Checkout and Customer Portal for its owner.

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

pub struct BillingApi {
    pub state: AppState,
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
    /// without a Stripe price.
    #[oai(path = "/t/:slug/api/v1/billing/checkout", method = "post", tag = "Tag::Stats")]
    async fn checkout(&self, slug: Path<String>, auth: TenantAuth, body: Json<CheckoutRequest>) -> Result<Json<CheckoutView>, ApiError> {
        let _ctx = auth.0.at_least(Role::Owner)?;
        let back = self.console_url(&slug.0);
        let c = self.state.control.checkout(&slug.0, &body.0.plan, &format!("{back}?billing=paid"), &format!("{back}?billing=cancelled")).await?;
        Ok(Json(CheckoutView { id: c.id, url: c.url }))
    }

    /// Stripe's Customer Portal: payment methods, invoices, cancelling (the owner)
    #[oai(path = "/t/:slug/api/v1/billing/portal", method = "post", tag = "Tag::Stats")]
    async fn portal(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<PortalView>, ApiError> {
        let _ctx = auth.0.at_least(Role::Owner)?;
        let url = self.state.control.portal(&slug.0, &self.console_url(&slug.0)).await?;
        Ok(Json(PortalView { url }))
    }
}
