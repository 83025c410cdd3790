//! The tenant API: `/t/{slug}/api/v1/…`, plus the Mini App and console
//! entry pages under `/t/{slug}/`.

use chrono::{DateTime, Utc};
use poem_openapi::auth::Bearer;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme, Tags};
use tikethet_runtime::desk::context::TenantContext;
use tikethet_runtime::desk::service::Session;
use tikethet_runtime::domain::{MessageBody, PluginConfig, PluginName, TicketId};
use tikethet_runtime::storage::entities::{messages, plugin_schedules, plugins, tickets, users};
use tikethet_runtime::worker::schedule::PluginSchedule;

use super::error::ApiError;
use crate::AppState;

#[derive(Tags)]
pub(crate) enum Tag {
    /// Sign-in with Telegram and sessions.
    Auth,
    /// Tickets and their conversations.
    Tickets,
    /// The desk's WASM plugins (admins).
    Plugins,
    /// Ticket categories (admins manage them).
    Categories,
    /// The desk's people and their roles.
    People,
    /// Desk statistics (moderators and up).
    Stats,
    /// The desk's theme and brand (admins set them).
    Theme,
    /// Attachments: uploads and downloads.
    Files,
}

#[derive(Debug, Object)]
pub struct PluginView {
    pub name: String,
    /// SHA-256 of the component.
    pub hash: String,
    /// The plugin contract version the component was built against.
    pub version: String,
    pub size_bytes: u64,
    pub enabled: bool,
    /// Plugins run in ascending position.
    pub position: i32,
    pub config: serde_json::Value,
    pub consecutive_failures: i32,
    /// Why the desk switched it off, if it did.
    #[oai(nullable)]
    pub disabled_reason: Option<String>,
    pub invocations: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the plugin's `on-schedule` runs (contract 1.2.0): a cron
    /// expression in UTC, or null for never.
    #[oai(nullable)]
    pub schedule: Option<String>,
    /// A scheduled run lists the tickets that have waited for their
    /// customer's answer at least this many minutes (null: no schedule).
    #[oai(nullable)]
    pub schedule_waiting_minutes: Option<i32>,
    /// The next due time not yet run.
    #[oai(nullable)]
    pub next_run_at: Option<DateTime<Utc>>,
    /// The due time of the last finished scheduled run.
    #[oai(nullable)]
    pub last_run_at: Option<DateTime<Utc>>,
    /// Finished scheduled runs since the schedule was set.
    pub scheduled_runs: i64,
}

impl PluginView {
    /// The view with the plugin's schedule, if it has one.
    fn with_schedule(mut self, s: Option<plugin_schedules::Model>) -> Self {
        if let Some(s) = s {
            self.schedule = Some(s.cron);
            self.schedule_waiting_minutes = Some(s.waiting_minutes);
            self.next_run_at = Some(s.next_due_at);
            self.last_run_at = s.last_run_at;
            self.scheduled_runs = s.runs;
        }
        self
    }
}

impl From<plugins::Model> for PluginView {
    fn from(p: plugins::Model) -> Self {
        PluginView {
            name: p.name,
            hash: p.hash,
            version: p.version,
            size_bytes: p.component.len() as u64,
            enabled: p.enabled,
            position: p.position,
            config: serde_json::from_str(&p.config).unwrap_or(serde_json::Value::Null),
            consecutive_failures: p.consecutive_failures,
            disabled_reason: p.disabled_reason,
            invocations: p.invocations,
            created_at: p.created_at,
            updated_at: p.updated_at,
            schedule: None,
            schedule_waiting_minutes: None,
            next_run_at: None,
            last_run_at: None,
            scheduled_runs: 0,
        }
    }
}

#[derive(Debug, Object)]
pub struct PluginList {
    pub items: Vec<PluginView>,
}

#[derive(Debug, Object)]
pub struct PluginChanges {
    /// The plugin's configuration (a JSON object).
    pub config: Option<serde_json::Value>,
    /// Enabling also clears the failure streak.
    pub enabled: Option<bool>,
    /// Plugins run in ascending position: -10,000 to 10,000.
    #[oai(validator(minimum(value = "-10000"), maximum(value = "10000")))]
    pub position: Option<i32>,
    /// When the plugin's `on-schedule` runs (plugins of contract 1.2.0 and
    /// later): a cron expression in UTC, 5 fields (`minute hour
    /// day-of-month month day-of-week`, e.g. `0 * * * *` hourly) or 6 with
    /// seconds first, or `@hourly`/`@daily`/`@weekly`/`@monthly`. `null`
    /// clears the schedule; left out, it stays as it is. The first run is
    /// at the expression's next due time; each due time runs at most once.
    pub schedule: MaybeUndefined<String>,
    /// With a schedule: a run lists the tickets that have waited for their
    /// customer's answer at least this many minutes, 0 to 525,600 (a new
    /// schedule: 0, every waiting ticket).
    #[oai(validator(minimum(value = "0"), maximum(value = "525600")))]
    pub schedule_waiting_minutes: Option<i32>,
}

#[derive(Debug, Object)]
pub struct PluginFailureView {
    pub id: i64,
    /// `on-message`, `on-ticket-created`, `on-button` or `on-schedule`.
    pub hook: String,
    /// `out_of_fuel`, `timeout`, `out_of_memory`, `trap`, `bad_output`, `invalid`, `input_too_large`.
    pub kind: String,
    pub message: String,
    /// The event that caused it, replayable with `tikethet plugin run --event`.
    pub input: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct PluginFailureList {
    pub items: Vec<PluginFailureView>,
}

#[derive(Debug, Object)]
pub struct TagList {
    pub items: Vec<String>,
}

/// `Authorization: Bearer <access_token>` from `/auth/telegram`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct TenantAuth(Bearer);

#[derive(Object)]
pub struct TelegramSignIn {
    /// `Telegram.WebApp.initData`, verbatim.
    #[oai(validator(min_length = 1, max_length = 8192))]
    pub init_data: String,
}

#[derive(Debug, Object)]
pub struct DevSignIn {
    /// A Telegram user id.
    #[oai(validator(minimum(value = "1"), maximum(value = "9007199254740991")))]
    pub telegram_id: i64,
    #[oai(validator(min_length = 1, max_length = 64, pattern = r"^[^\x00]+$"))]
    pub first_name: String,
    /// `en`, `ru`, …
    #[oai(validator(pattern = "^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})?$"))]
    pub language_code: Option<String>,
}

#[derive(Object)]
pub struct RefreshRequest {
    #[oai(validator(min_length = 1, max_length = 256))]
    pub refresh_token: String,
}

// Credentials never reach a log line through `{:?}`.
impl std::fmt::Debug for TelegramSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramSignIn").field("init_data", &"***").finish()
    }
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").field("refresh_token", &"***").finish()
    }
}

#[derive(Debug, Object)]
pub struct UserView {
    pub id: i64,
    pub telegram_id: i64,
    pub role: String,
    pub first_name: String,
    #[oai(nullable)]
    pub last_name: Option<String>,
    #[oai(nullable)]
    pub username: Option<String>,
    pub blocked: bool,
}

impl From<users::Model> for UserView {
    fn from(u: users::Model) -> Self {
        UserView {
            id: u.id,
            telegram_id: u.telegram_id,
            role: u.role,
            first_name: u.first_name,
            last_name: u.last_name,
            username: u.username,
            blocked: u.blocked,
        }
    }
}

#[derive(Debug, Object)]
pub struct SessionView {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserView,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            token_type: "Bearer".into(),
            expires_in: s.expires_in,
            user: s.user.into(),
        }
    }
}

#[derive(Debug, Object)]
pub struct TicketView {
    /// The ticket's id, used in paths.
    pub id: i64,
    /// What customers see ("#42"): the ticket's number in this desk.
    pub number: i64,
    pub customer_id: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    #[oai(nullable)]
    pub category_id: Option<i64>,
    #[oai(nullable)]
    pub assignee_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(nullable)]
    pub first_response_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub closed_at: Option<DateTime<Utc>>,
    /// In lists: the newest public message.
    #[oai(nullable)]
    pub last_message: Option<MessagePreview>,
}

/// The newest public message of a ticket, in lists.
#[derive(Debug, Object)]
pub struct MessagePreview {
    pub text: String,
    pub author_role: String,
    pub created_at: DateTime<Utc>,
}

impl From<tickets::Model> for TicketView {
    fn from(t: tickets::Model) -> Self {
        TicketView {
            id: t.id,
            number: t.id,
            last_message: None,
            customer_id: t.customer_id,
            title: t.title,
            description: t.description,
            status: t.status,
            priority: t.priority,
            category_id: t.category_id,
            assignee_id: t.assignee_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
        }
    }
}


#[derive(Debug, Object)]
pub struct NewTicket {
    /// Required, at most 200 characters, one line, no NUL (surrounding
    /// whitespace is trimmed).
    #[oai(validator(min_length = 1, max_length = 200, pattern = r"^\s*[^\s\x00](?:[^\n\x00]*[^\s\x00])?\s*$"))]
    pub title: String,
    /// Required (not blank), at most 2000 characters, no NUL.
    #[oai(validator(min_length = 1, max_length = 2000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"))]
    pub description: String,
    /// `low`, `normal` (default), `high` or `critical`.
    #[oai(validator(pattern = "^(low|normal|high|critical)$"))]
    pub priority: Option<String>,
    /// An active category of the desk (see `GET …/categories`).
    #[oai(validator(minimum(value = "1"), maximum(value = "9007199254740991")))]
    pub category_id: Option<i64>,
    /// Uploads (`POST …/uploads`) sent with the description, at most 10.
    #[oai(validator(max_items = 10, unique_items = true))]
    pub attachment_ids: Option<Vec<i64>>,
}

#[derive(Debug, Object)]
pub struct MessageView {
    pub id: i64,
    pub ticket_id: i64,
    #[oai(nullable)]
    pub author_id: Option<i64>,
    /// The author's role when they wrote it.
    pub author_role: String,
    pub text: String,
    /// Internal notes are visible to staff only.
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub edited_at: Option<DateTime<Utc>>,
    /// A deleted message keeps its place with its text removed.
    pub deleted: bool,
    /// Its files, in the order they were sent.
    pub attachments: Vec<super::files::AttachmentView>,
}

impl From<messages::Model> for MessageView {
    fn from(m: messages::Model) -> Self {
        MessageView {
            id: m.id,
            ticket_id: m.ticket_id,
            author_id: m.author_id,
            author_role: m.author_role,
            text: m.text,
            internal: m.internal,
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted: m.deleted_at.is_some(),
            attachments: tikethet_runtime::storage::files::refs_of(m.attachments.as_deref()).into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct MessageList {
    pub items: Vec<MessageView>,
}

#[derive(Debug, Object)]
pub struct NewMessage {
    /// At most 4096 characters, no NUL; not blank unless files go with it.
    #[oai(validator(max_length = 4096, pattern = r"^[^\x00]*$"))]
    pub text: String,
    /// Uploads (`POST …/uploads`) sent with the message, at most 10.
    #[oai(validator(max_items = 10, unique_items = true))]
    pub attachment_ids: Option<Vec<i64>>,
    /// Staff only: a note the customer never sees.
    pub internal: Option<bool>,
}

#[derive(ApiResponse)]
pub enum TicketCreated {
    #[oai(status = 201)]
    Created(Json<TicketView>),
}

#[derive(ApiResponse)]
pub enum MessageCreated {
    /// Stored; a staff answer is on its way to the customer's chat.
    #[oai(status = 201)]
    Created(Json<MessageView>),
}

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    NoContent,
}

pub struct TenantApi {
    pub state: AppState,
}

impl TenantApi {
    pub(crate) async fn ctx(&self, slug: &str, auth: &TenantAuth) -> Result<TenantContext, ApiError> {
        Ok(self.state.runtime.context(slug, &auth.0.token).await?)
    }
}

#[OpenApi]
impl TenantApi {
    /// Sign in with Telegram Mini App initData
    ///
    /// initData is checked with HMAC-SHA256 against this tenant's bot token
    /// and refused when older than 24 hours.
    #[oai(path = "/t/:slug/api/v1/auth/telegram", method = "post", tag = "Tag::Auth")]
    async fn sign_in(&self, slug: Path<String>, body: Json<TelegramSignIn>) -> Result<Json<SessionView>, ApiError> {
        Ok(Json(self.state.runtime.sign_in_telegram(&slug.0, &body.0.init_data).await?.into()))
    }

    /// Development sign-in (off unless turned on)
    ///
    /// Signs in as a Telegram user without initData, so that the Mini App
    /// can be opened in an ordinary browser. Only with
    /// `TIKETHET_DEV_SIGN_IN=on` on a loopback `http://` public URL outside
    /// production; otherwise 403.
    #[oai(path = "/t/:slug/api/v1/auth/dev", method = "post", tag = "Tag::Auth")]
    async fn sign_in_dev(&self, slug: Path<String>, body: Json<DevSignIn>) -> Result<Json<SessionView>, ApiError> {
        if !self.state.settings.dev_sign_in {
            return Err(tikethet_runtime::RuntimeError::Forbidden(
                "the development sign-in is off (TIKETHET_DEV_SIGN_IN=on turns it on, on a loopback http:// public URL outside production); open the Mini App from the bot".into(),
            )
            .into());
        }
        let b = body.0;
        let profile = tikethet_runtime::desk::tickets::TelegramProfile {
            telegram_id: b.telegram_id,
            first_name: b.first_name,
            last_name: None,
            username: None,
            language_code: b.language_code,
        };
        Ok(Json(self.state.runtime.sign_in_for_development(&slug.0, profile).await?.into()))
    }

    /// Exchange a refresh token for new tokens (the old one stops working)
    #[oai(path = "/t/:slug/api/v1/auth/refresh", method = "post", tag = "Tag::Auth")]
    async fn refresh(&self, slug: Path<String>, body: Json<RefreshRequest>) -> Result<Json<SessionView>, ApiError> {
        Ok(Json(self.state.runtime.refresh_session(&slug.0, &body.0.refresh_token).await?.into()))
    }

    /// Sign out
    ///
    /// Revokes the refresh token with every token rotated from the same
    /// sign-in and, when the request carries `Authorization: Bearer
    /// <access_token>`, that access token too.
    #[oai(path = "/t/:slug/api/v1/auth/logout", method = "post", tag = "Tag::Auth")]
    async fn logout(&self, slug: Path<String>, req: &poem::Request, body: Json<RefreshRequest>) -> Result<NoContent, ApiError> {
        let access = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        self.state.runtime.sign_out(&slug.0, &body.0.refresh_token, access).await?;
        Ok(NoContent::NoContent)
    }

    /// The signed-in user
    #[oai(path = "/t/:slug/api/v1/auth/me", method = "get", tag = "Tag::Auth")]
    async fn me(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<UserView>, ApiError> {
        Ok(Json(self.ctx(&slug.0, &auth).await?.user.into()))
    }

    /// A ticket's conversation
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages", method = "get", tag = "Tag::Tickets")]
    async fn messages(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<MessageList>, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        let items = ctx.messages(TicketId(id.0)).await?.into_iter().map(Into::into).collect();
        Ok(Json(MessageList { items }))
    }

    /// Write in a ticket
    ///
    /// A staff member's message (not internal) is sent to the customer
    /// through the desk's bot.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages", method = "post", tag = "Tag::Tickets")]
    async fn post_message(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<NewMessage>) -> Result<MessageCreated, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        let message = MessageBody::parse(&body.0.text, body.0.attachment_ids.as_deref().unwrap_or_default())?;
        let m = ctx.post_message(TicketId(id.0), &message, body.0.internal.unwrap_or(false)).await?;
        Ok(MessageCreated::Created(Json(m.into())))
    }

    /// A ticket's tags
    #[oai(path = "/t/:slug/api/v1/tickets/:id/tags", method = "get", tag = "Tag::Tickets")]
    async fn tags(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<TagList>, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        Ok(Json(TagList { items: ctx.tags(TicketId(id.0)).await? }))
    }

    /// Upload a plugin (or replace one)
    ///
    /// The body is the component (`application/octet-stream`), at most
    /// 4 MiB. It is validated (contract version, imports) before it is stored.
    #[oai(path = "/t/:slug/api/v1/plugins/:name", method = "put", tag = "Tag::Plugins")]
    async fn put_plugin(
        &self,
        slug: Path<String>,
        /// 1 to 64 lowercase letters, digits and hyphens.
        #[oai(validator(min_length = 1, max_length = 64, pattern = "^[a-z0-9-]+$"))]
        name: Path<String>,
        auth: TenantAuth,
        body: Binary<Vec<u8>>,
    ) -> Result<Json<PluginView>, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        let name = PluginName::parse(&name.0)?;
        let p = ctx.install_plugin(&name, &body.0).await?;
        let schedule = ctx.plugin_schedule(p.id).await?;
        Ok(Json(PluginView::from(p).with_schedule(schedule)))
    }

    /// List the desk's plugins
    #[oai(path = "/t/:slug/api/v1/plugins", method = "get", tag = "Tag::Plugins")]
    async fn list_plugins(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<PluginList>, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        let mut schedules = ctx.plugin_schedules().await?;
        let items = ctx
            .plugins()
            .await?
            .into_iter()
            .map(|p| {
                let s = schedules.remove(&p.id);
                PluginView::from(p).with_schedule(s)
            })
            .collect();
        Ok(Json(PluginList { items }))
    }

    /// Configure, order, enable or disable a plugin
    #[oai(path = "/t/:slug/api/v1/plugins/:name", method = "patch", tag = "Tag::Plugins")]
    async fn patch_plugin(&self, slug: Path<String>, name: Path<String>, auth: TenantAuth, body: Json<PluginChanges>) -> Result<Json<PluginView>, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        let config = body.0.config.as_ref().map(PluginConfig::parse).transpose()?;
        let schedule = match &body.0.schedule {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(s) => Some(Some(PluginSchedule::parse(s)?)),
        };
        // The schedule first: its checks (the plugin's contract, the wait)
        // refuse a request before anything of it changes.
        let s = ctx.set_plugin_schedule(&name.0, schedule.as_ref().map(Option::as_ref), body.0.schedule_waiting_minutes).await?;
        let p = ctx.update_plugin(&name.0, config.as_ref(), body.0.enabled, body.0.position).await?;
        Ok(Json(PluginView::from(p).with_schedule(s)))
    }

    /// Remove a plugin
    #[oai(path = "/t/:slug/api/v1/plugins/:name", method = "delete", tag = "Tag::Plugins")]
    async fn delete_plugin(&self, slug: Path<String>, name: Path<String>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        ctx.remove_plugin(&name.0).await?;
        Ok(NoContent::NoContent)
    }

    /// A plugin's recent failures, newest first
    #[oai(path = "/t/:slug/api/v1/plugins/:name/failures", method = "get", tag = "Tag::Plugins")]
    async fn plugin_failures(
        &self,
        slug: Path<String>,
        name: Path<String>,
        auth: TenantAuth,
        /// 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<Json<PluginFailureList>, ApiError> {
        let ctx = self.ctx(&slug.0, &auth).await?;
        let items = ctx
            .plugin_failures(&name.0, limit.0.unwrap_or(20))
            .await?
            .into_iter()
            .map(|f| PluginFailureView {
                id: f.id,
                hook: f.hook,
                kind: f.kind,
                message: f.message,
                input: serde_json::from_str(&f.input).unwrap_or(serde_json::Value::Null),
                created_at: f.created_at,
            })
            .collect();
        Ok(Json(PluginFailureList { items }))
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_print_credentials() {
        let s = TelegramSignIn { init_data: "user=%7B%7D&hash=deadbeef0123".into() };
        assert!(!format!("{s:?}").contains("deadbeef0123"));
        let r = RefreshRequest { refresh_token: "rt_secret_value_42".into() };
        assert!(!format!("{r:?}").contains("rt_secret_value_42"));
    }
}
