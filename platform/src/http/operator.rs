//! The operator API: `/api/platform/v1/tenants…`.

use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme, Tags};
use subtle::ConstantTimeEq;
use tikethet_billing::Plan;
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
pub struct OperatorAuth(Bearer);

#[derive(Debug, Object)]
pub struct CreateTenant {
    /// URL name: 3-40 lowercase letters, digits, hyphens.
    pub slug: String,
    pub name: String,
    /// The bot token from @BotFather; stored encrypted, never returned.
    pub bot_token: String,
    /// Telegram user id of the tenant's owner.
    pub owner_telegram_id: i64,
    /// `free` (default), `starter` or `business`.
    pub plan: Option<String>,
    /// `default` (default) or `midnight`.
    pub theme: Option<String>,
}

#[derive(Debug, Object)]
pub struct UpdateTenant {
    pub name: Option<String>,
    pub owner_telegram_id: Option<i64>,
    pub plan: Option<String>,
    pub theme: Option<String>,
}

#[derive(Debug, Object)]
pub struct ReplaceBotToken {
    pub bot_token: String,
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
}

fn parse_plan(p: Option<&str>) -> Result<Option<Plan>, ApiError> {
    p.map(|p| Plan::parse(p).map_err(|e| ApiError::bad_request("invalid_request", format!("plan: {e}")))).transpose()
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
            plan: parse_plan(b.plan.as_deref())?.unwrap_or(Plan::DEFAULT),
            theme: parse_theme(b.theme.as_deref())?.unwrap_or_else(Theme::default_theme),
        };
        let rec = self.state.control.create(new).await?;
        Ok(Created::Created(Json(rec)))
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

    /// Change a tenant's name, owner, plan or theme
    #[oai(path = "/tenants/:slug", method = "patch")]
    async fn update(&self, auth: OperatorAuth, slug: Path<String>, body: Json<UpdateTenant>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        let b = body.0;
        let changes = TenantChanges {
            name: b.name.as_deref().map(parse_name).transpose()?,
            owner_telegram_id: b.owner_telegram_id.map(TelegramUserId::parse).transpose()?,
            plan: parse_plan(b.plan.as_deref())?,
            theme: parse_theme(b.theme.as_deref())?,
        };
        Ok(Json(self.state.control.update(&slug.0, changes).await?))
    }

    /// Delete a tenant and all its data
    ///
    /// Irreversible: `confirm` must repeat the slug.
    #[oai(path = "/tenants/:slug", method = "delete")]
    async fn delete(&self, auth: OperatorAuth, slug: Path<String>, confirm: Query<Option<String>>) -> Result<Deleted, ApiError> {
        self.check(&auth)?;
        self.state.control.delete(&slug.0, confirm.0.as_deref()).await?;
        Ok(Deleted::NoContent)
    }

    /// Suspend a tenant
    ///
    /// Updates are still acknowledged; customers get a polite notice and
    /// nothing else is processed until the tenant is resumed.
    #[oai(path = "/tenants/:slug/suspend", method = "post")]
    async fn suspend(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        Ok(Json(self.state.control.set_status(&slug.0, TenantStatus::Suspended).await?))
    }

    /// Resume a suspended tenant
    #[oai(path = "/tenants/:slug/resume", method = "post")]
    async fn resume(&self, auth: OperatorAuth, slug: Path<String>) -> Result<Json<TenantRecord>, ApiError> {
        self.check(&auth)?;
        Ok(Json(self.state.control.set_status(&slug.0, TenantStatus::Active).await?))
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
