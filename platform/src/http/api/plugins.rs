//! The desk's WASM plugins (admins): upload, configure, order, schedule, remove, and their failures.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::domain::{PluginConfig, PluginName, Role};
use tikethet_runtime::storage::entities::{plugin_schedules, plugins};
use tikethet_runtime::worker::schedule::PluginSchedule;

use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

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

pub struct PluginsApi {
    pub state: AppState,
}

#[OpenApi]
impl PluginsApi {
    /// Upload a plugin (or replace one)
    ///
    /// The body is the component (`application/octet-stream`), at most
    /// 4 MiB. It is validated (contract version, imports) before it is stored.
    #[oai(path = "/t/:slug/api/v1/plugins/:name", method = "put", tag = "Tag::Plugins")]
    async fn put_plugin(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        /// 1 to 64 lowercase letters, digits and hyphens.
        #[oai(validator(min_length = 1, max_length = 64, pattern = "^[a-z0-9-]+$"))]
        name: Path<String>,
        auth: TenantAuth,
        body: Binary<Vec<u8>>,
    ) -> Result<Json<PluginView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let name = PluginName::parse(&name.0)?;
        let p = ctx.install_plugin(&name, &body.0).await?;
        let schedule = ctx.plugin_schedule(p.id).await?;
        Ok(Json(PluginView::from(p).with_schedule(schedule)))
    }

    /// List the desk's plugins
    #[oai(path = "/t/:slug/api/v1/plugins", method = "get", tag = "Tag::Plugins")]
    async fn list_plugins(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<PluginList>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
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
    async fn patch_plugin(&self, #[oai(name = "slug")] _slug: Path<String>, name: Path<String>, auth: TenantAuth, body: Json<PluginChanges>) -> Result<Json<PluginView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
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
    async fn delete_plugin(&self, #[oai(name = "slug")] _slug: Path<String>, name: Path<String>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        ctx.remove_plugin(&name.0).await?;
        Ok(NoContent::NoContent)
    }

    /// A plugin's recent failures, newest first
    #[oai(path = "/t/:slug/api/v1/plugins/:name/failures", method = "get", tag = "Tag::Plugins")]
    async fn plugin_failures(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        name: Path<String>,
        auth: TenantAuth,
        /// 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<Json<PluginFailureList>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
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
