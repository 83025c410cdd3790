//! The operator API: `/api/platform/v1/tenants…`.

use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme, Tags};
use subtle::ConstantTimeEq;
use tikethet_billing::Overrides;
use tikethet_runtime::TenantStatus;
use tikethet_runtime::domain::{BotToken, TelegramUserId, TenantSlug};
use tikethet_themes::Theme;

use super::error::ApiError;
use crate::AppState;
use crate::control::{NewTenant, TenantChanges, TenantRecord, parse_name};

#[derive(Tags)]
enum Tag {
    /// Provisioning and lifecycle of tenants (operator only).
    Tenants,
}

/// `Authorization: Bearer $TIKETHET_OPERATOR_TOKEN`
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct OperatorAuth(pub Bearer);

#[derive(Object)]
pub struct CreateTenant {
    /// URL name: 3-40 lowercase letters, digits and single hyphens,
    /// starting with a letter and not ending with a hyphen.
    #[oai(validator(min_length = 3, max_length = 40, pattern = r"^[a-z](?:-?[a-z0-9])+$"))]
    pub slug: String,
    /// 1-200 characters, not blank, no NUL.
    #[oai(validator(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"))]
    pub name: String,
    /// The bot token from @BotFather (`<bot id>:<secret>`); stored
    /// encrypted, never returned.
    #[oai(validator(min_length = 1, max_length = 100, pattern = r"^\s*[0-9]{1,20}:[A-Za-z0-9_-]{20,100}\s*$"))]
    pub bot_token: String,
    /// Telegram user id of the tenant's owner.
    #[oai(validator(minimum(value = "1")))]
    pub owner_telegram_id: i64,
    /// A plan of the catalogue (`GET /api/platform/v1/plans`); its first,
    /// `free` as shipped, by default.
    #[oai(validator(min_length = 1, max_length = 40))]
    pub plan: Option<String>,
    /// `default` (default) or `midnight`.
    #[oai(validator(pattern = "^(default|midnight|sunrise)$"))]
    pub theme: Option<String>,
}

#[derive(Debug, Object)]
pub struct UpdateTenant {
    /// 1-200 characters, not blank, no NUL.
    #[oai(validator(min_length = 1, max_length = 200, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"))]
    pub name: Option<String>,
    #[oai(validator(minimum(value = "1")))]
    pub owner_telegram_id: Option<i64>,
    /// A plan of the catalogue (`GET /api/platform/v1/plans`).
    #[oai(validator(min_length = 1, max_length = 40))]
    pub plan: Option<String>,
    /// Overrides of the plan's limits for this tenant, replacing any
    /// earlier ones: `{"tickets_per_month": 500, "agents": null}` (a number,
    /// or `null` for unlimited; a limit not named keeps the plan's). `{}`
    /// removes every override.
    pub limits: Option<serde_json::Value>,
    #[oai(validator(pattern = "^(default|midnight|sunrise)$"))]
    pub theme: Option<String>,
    /// The tenant's own host name (`support.example.com`, no scheme, port
    /// or path): its desk answers there without `/t/{slug}`, and its
    /// webhook and Mini App links move there. `null` removes it.
    #[oai(validator(min_length = 1, max_length = 253))]
    pub custom_domain: poem_openapi::types::MaybeUndefined<String>,
}

#[derive(Object)]
pub struct ReplaceBotToken {
    /// The new token from @BotFather (`<bot id>:<secret>`).
    #[oai(validator(min_length = 1, max_length = 100, pattern = r"^\s*[0-9]{1,20}:[A-Za-z0-9_-]{20,100}\s*$"))]
    pub bot_token: String,
}

// Bot tokens never reach a log line through `{:?}`.
impl std::fmt::Debug for CreateTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateTenant")
            .field("slug", &self.slug)
            .field("name", &self.name)
            .field("bot_token", &"***")
            .field("owner_telegram_id", &self.owner_telegram_id)
            .field("plan", &self.plan)
            .field("theme", &self.theme)
            .finish()
    }
}

impl std::fmt::Debug for ReplaceBotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaceBotToken").field("bot_token", &"***").finish()
    }
}

/// A tenant's billing.
#[derive(Debug, Object)]
pub struct BillingView {
    pub plan: String,
    #[oai(nullable)]
    pub stripe_customer_id: Option<String>,
    #[oai(nullable)]
    pub stripe_subscription_id: Option<String>,
    /// Stripe's subscription status (`active`, `past_due`, …); `null`
    /// without a subscription (offline billing, or none bought).
    #[oai(nullable)]
    pub subscription_status: Option<String>,
    /// Since when the subscription is unpaid; the desk runs until
    /// `grace_ends_at`, then is suspended until paid.
    #[oai(nullable)]
    pub unpaid_since: Option<chrono::DateTime<chrono::Utc>>,
    #[oai(nullable)]
    pub grace_ends_at: Option<chrono::DateTime<chrono::Utc>>,
    pub suspended_by_billing: bool,
    /// Latest Stripe events about this tenant, newest first.
    pub events: Vec<BillingEventView>,
}

#[derive(Debug, Object)]
pub struct BillingEventView {
    pub id: String,
    /// The event's `type`.
    pub kind: String,
    /// When Stripe created it (Unix seconds).
    pub created: i64,
    /// What it did here.
    pub outcome: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// A plan of the catalogue.
#[derive(Debug, Object)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub monthly_price_cents: u64,
    pub currency: String,
    /// The Stripe Price a Checkout Session subscribes to (`null`: not sold).
    #[oai(nullable)]
    pub stripe_price: Option<String>,
    pub limits: crate::control::TenantLimits,
}

#[derive(Debug, Object)]
pub struct PlanList {
    pub items: Vec<PlanView>,
}

#[derive(Debug, Object)]
pub struct TenantList {
    pub items: Vec<TenantRecord>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The tenant is provisioned and its webhook registered.
    #[oai(status = 201)]
    Created(Json<TenantRecord>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// The tenant and all its data are gone.
    #[oai(status = 204)]
    NoContent,
}

#[derive(Debug, Object)]
pub struct FailedUpdateView {
    pub inbox_id: i64,
    #[oai(nullable)]
    pub update_id: Option<i64>,
    pub kind: String,
    pub attempts: i32,
    pub error: String,
}

/// A tenant's queues: what waits and what was given up on.
#[derive(Debug, Object)]
pub struct QueueView {
    /// Updates acknowledged and not yet processed.
    pub inbox_pending: u64,
    /// Of those, updates that failed and wait for a retry (with backoff).
    pub inbox_retrying: u64,
    /// Updates given up on after repeated failures or a panic.
    pub inbox_failed: u64,
    /// Bot messages waiting to be sent.
    pub outbox_pending: u64,
    /// Bot messages Telegram refused or that were given up on.
    pub outbox_failed: u64,
    /// The latest updates given up on, newest first, with the reason.
    pub recent_failures: Vec<FailedUpdateView>,
}

pub struct OperatorApi {
    pub state: AppState,
}

impl OperatorApi {
    fn check(&self, auth: &OperatorAuth) -> Result<(), ApiError> {
        let expected = self.state.settings.operator_token.expose().as_bytes();
        if bool::from(auth.0.token.as_bytes().ct_eq(expected)) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("invalid operator token"))
        }
    }

    /// Records an action done through the API in the operator audit (the
    /// dashboard shows it); a failure to record is logged, the action stands.
    async fn audited(&self, action: &str, slug: &str, detail: &str) {
        if let Err(e) = self.state.control.audit("api", action, Some(slug), detail).await {
            tracing::error!(error = %e, action, "failed to record an operator action in the audit");
        }
    }
}

fn parse_limits(v: Option<&serde_json::Value>) -> Result<Option<Overrides>, ApiError> {
    v.map(|v| Overrides::from_json(v).map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))).transpose()
}

fn parse_theme(t: Option<&str>) -> Result<Option<Theme>, ApiError> {
    t.map(|t| Theme::parse(t).map_err(|e| ApiError::bad_request("invalid_request", format!("theme: {e}")))).transpose()
}

#[OpenApi(prefix_path = "/api/platform/v1", tag = "Tag::Tenants")]
impl OperatorApi {
    /// Provision a tenant
    ///
    /// Checks the bot token with Telegram's `getMe`, creates and migrates the
    /// tenant's schema, stores the token encrypted and registers the webhook.
    #[oai(path = "/tenants", method = "post")]
    async fn create(&self, auth: OperatorAuth, body: Json<CreateTenant>) -> Result<Created, ApiError> {
        self.check(&auth)?;
        let b = body.0;
        let new = NewTenant {
            slug: TenantSlug::parse(&b.slug)?,
            name: parse_name(&b.name)?,
            bot_token: BotToken::parse(&b.bot_token)?,
            owner_telegram_id: TelegramUserId::parse(b.owner_telegram_id)?,
            plan: b.plan,
            theme: parse_theme(b.theme.as_deref())?.unwrap_or_else(Theme::default_theme),
        };
        let rec = self.state.control.create(new).await?;
        self.audited("provision", &rec.slug, &format!("plan {}, bot @{}", rec.plan, rec.bot_username)).await;
        Ok(Created::Created(Json(rec)))
    }

    /// The plans on offer
    ///
    /// From `billing/plans.toml` as built in, or `TIKETHET_PLANS_FILE`.
    #[oai(path = "/plans", method = "get")]
    async fn plans(&self, auth: OperatorAuth) -> Result<Json<PlanList>, ApiError> {
        self.check(&auth)?;
        let items = self
            .state
            .control
            .plans()
            .plans()
            .iter()
            .map(|p| PlanView {
                id: p.id.clone(),
                name: p.name.clone(),
                monthly_price_cents: p.monthly_price_cents,
                currency: p.currency.clone(),
                stripe_price: p.stripe_price.clone(),
                limits: p.limits.into(),
            })
            .collect();
        Ok(Json(PlanList { items }))
    }

    /// List tenants
    #[oai(path = "/tenants", method = "get")]
    async fn list(&self, auth: OperatorAuth) -> Result<Json<TenantList>, ApiError> {
        self.check(&auth)?;
        let items = self.state.control.list().await?;
        Ok(Json(TenantList { items }))
    }

    /// Show a tenant
    #[oai(path = "/tenants/:slug", method = "get")]
    async fn show(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        Ok(Json(self.state.control.get(&slug.0).await?))
    }

    /// Change a tenant's name, owner, plan, limits, theme or own domain
    #[oai(path = "/tenants/:slug", method = "patch")]
    async fn update(&self, auth: OperatorAuth, slug: Path<String>, body: Json<UpdateTenant>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        let b = body.0;
        let named: Vec<&str> = [
            ("name", b.name.is_some()),
            ("owner", b.owner_telegram_id.is_some()),
            ("plan", b.plan.is_some()),
            ("limits", b.limits.is_some()),
            ("theme", b.theme.is_some()),
            ("custom domain", !b.custom_domain.is_undefined()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect();
        let detail = match (&b.plan, &b.limits) {
            (Some(p), _) => format!("changed {}; plan {p}", named.join(", ")),
            (None, Some(l)) => format!("changed {}; limits {l}", named.join(", ")),
            _ => format!("changed {}", named.join(", ")),
        };
        let changes = TenantChanges {
            name: b.name.as_deref().map(parse_name).transpose()?,
            owner_telegram_id: b.owner_telegram_id.map(TelegramUserId::parse).transpose()?,
            plan: b.plan,
            limits: parse_limits(b.limits.as_ref())?,
            theme: parse_theme(b.theme.as_deref())?,
            custom_domain: match b.custom_domain {
                poem_openapi::types::MaybeUndefined::Undefined => None,
                poem_openapi::types::MaybeUndefined::Null => Some(None),
                poem_openapi::types::MaybeUndefined::Value(d) => Some(Some(tikethet_runtime::domain::CustomDomain::parse(&d)?)),
            },
        };
        let rec = self.state.control.update(&slug.0, changes).await?;
        self.audited("update", &rec.slug, &detail).await;
        Ok(Json(rec))
    }

    /// Delete a tenant and all its data
    ///
    /// Irreversible: `confirm` must repeat the slug.
    #[oai(path = "/tenants/:slug", method = "delete")]
    async fn delete(&self, auth: OperatorAuth, slug: Path<String>, confirm: Query<Option<String>>) -> Result<Deleted, ApiError> {
        self.check(&auth)?;
        self.state.control.delete(&slug.0, confirm.0.as_deref()).await?;
        self.audited("delete", &slug.0, "the tenant and all its data").await;
        Ok(Deleted::NoContent)
    }

    /// Suspend a tenant
    ///
    /// Updates are still acknowledged; customers get a polite notice and
    /// nothing else is processed until the tenant is resumed.
    #[oai(path = "/tenants/:slug/suspend", method = "post")]
    async fn suspend(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        let rec = self.state.control.set_status(&slug.0, TenantStatus::Suspended).await?;
        self.audited("suspended", &rec.slug, "").await;
        Ok(Json(rec))
    }

    /// A tenant's billing
    ///
    /// Its Stripe customer and subscription as the webhooks told it, the
    /// grace period of an unpaid subscription, and its latest Stripe events.
    #[oai(path = "/tenants/:slug/billing", method = "get")]
    async fn billing(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<BillingView>, ApiError> {
        self.check(&auth)?;
        let (t, account, events) = self.state.control.billing_of(&slug.0, 50).await?;
        let a = account.as_ref();
        Ok(Json(BillingView {
            plan: t.plan,
            stripe_customer_id: a.and_then(|a| a.stripe_customer_id.clone()),
            stripe_subscription_id: a.and_then(|a| a.stripe_subscription_id.clone()),
            subscription_status: a.and_then(|a| a.subscription_status.clone()),
            unpaid_since: a.and_then(|a| a.unpaid_since),
            grace_ends_at: a.and_then(|a| a.unpaid_since).map(|s| s + crate::control::billing::GRACE_PERIOD),
            suspended_by_billing: a.is_some_and(|a| a.suspended_by_billing),
            events: events
                .into_iter()
                .map(|e| BillingEventView { id: e.id, kind: e.kind, created: e.created, outcome: e.outcome, received_at: e.received_at })
                .collect(),
        }))
    }

    /// Resume a suspended tenant
    #[oai(path = "/tenants/:slug/resume", method = "post")]
    async fn resume(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        let rec = self.state.control.set_status(&slug.0, TenantStatus::Active).await?;
        self.audited("resumed", &rec.slug, "").await;
        Ok(Json(rec))
    }

    /// A tenant's queues
    ///
    /// Pending, retrying and given-up updates and messages, with the latest
    /// failures and their reasons.
    #[oai(path = "/tenants/:slug/queues", method = "get")]
    async fn queues(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<QueueView>, ApiError> {
        self.check(&auth)?;
        let t = self.state.runtime.tenant_by_slug(&slug.0)?;
        let q = self.state.runtime.queue_stats(&t).await.map_err(|e| ApiError::from(tikethet_runtime::RuntimeError::Internal(e)))?;
        Ok(Json(QueueView {
            inbox_pending: q.inbox_pending,
            inbox_retrying: q.inbox_retrying,
            inbox_failed: q.inbox_failed,
            outbox_pending: q.outbox_pending,
            outbox_failed: q.outbox_failed,
            recent_failures: q
                .recent_failures
                .into_iter()
                .map(|f| FailedUpdateView { inbox_id: f.inbox_id, update_id: f.update_id, kind: f.kind, attempts: f.attempts, error: f.error })
                .collect(),
        }))
    }

    /// Replace a tenant's bot token
    ///
    /// The new token is checked with `getMe`; the webhook moves to it with a
    /// fresh secret.
    #[oai(path = "/tenants/:slug/bot-token", method = "put")]
    async fn bot_token(&self, auth: OperatorAuth, slug: Path<String>, body: Json<ReplaceBotToken>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        let token = BotToken::parse(&body.0.bot_token)?;
        Ok(Json(self.state.control.replace_bot_token(&slug.0, token).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_print_bot_tokens() {
        let token = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let create = CreateTenant {
            slug: "acme".into(),
            name: "Acme".into(),
            bot_token: token.into(),
            owner_telegram_id: 1,
            plan: None,
            theme: None,
        };
        let shown = format!("{create:?}");
        assert!(!shown.contains("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") && shown.contains("acme"), "{shown}");
        let replace = ReplaceBotToken { bot_token: token.into() };
        assert!(!format!("{replace:?}").contains("AAHdq"));
    }
}
