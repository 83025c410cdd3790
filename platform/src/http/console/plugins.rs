//! The console's plugins page: upload (or replace) a component, configure,
//! order, switch on and off, set when `on-schedule` runs, and see recent
//! failures with their input, each replayable as a dry run against the
//! installed version. Every change goes through `TenantContext`, as the
//! API's do.

use poem::http::StatusCode;
use poem::web::{Data, Multipart, Path};
use poem::{Body, Request, Response, handler};
use tikethet_admin_console::{FailureRow, PluginRow, PluginsPage, ReplayView};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::domain::{Invalid, PluginConfig, PluginName};
use tikethet_runtime::worker::schedule::{PluginSchedule, has_on_schedule};

use super::manage::fixable;
use serde::Deserialize;

use super::{Done, Staff, base, checked, desk_error, error_page, frame, posted, redirect, rendered, tr, when};
use crate::http::web;
use crate::AppState;

fn flash_of(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    let text = match web::query::<Done>(req).done.as_deref() {
        Some("plugin") => "Plugin saved.",
        Some("installed") => "Plugin installed.",
        Some("deleted") => "Deleted.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, replay: Option<ReplayView>, status: StatusCode) -> Response {
    let list = match s.ctx.plugins().await {
        Ok(l) => l,
        Err(e) => return desk_error(state, slug, &e),
    };
    let mut schedules = match s.ctx.plugin_schedules().await {
        Ok(m) => m,
        Err(e) => return desk_error(state, slug, &e),
    };
    let mut rows = Vec::with_capacity(list.len());
    for p in list {
        let failures = match s.ctx.plugin_failures(&p.name, 5).await {
            Ok(f) => f,
            Err(e) => return desk_error(state, slug, &e),
        };
        let schedule = schedules.remove(&p.id);
        rows.push(PluginRow {
            failures: failures
                .into_iter()
                .map(|f| FailureRow { id: f.id, at: when(f.created_at), hook: f.hook, kind: f.kind, message: f.message, input: f.input.chars().take(2000).collect() })
                .collect(),
            schedulable: has_on_schedule(&p.version),
            schedule: schedule.as_ref().map(|s| s.cron.clone()).unwrap_or_default(),
            waiting_minutes: schedule.as_ref().map_or(0, |s| s.waiting_minutes),
            next_due: schedule.as_ref().map(|s| when(s.next_due_at)),
            last_run: schedule.as_ref().and_then(|s| s.last_run_at).map(when),
            runs: schedule.as_ref().map_or(0, |s| s.runs),
            name: p.name,
            version: p.version,
            enabled: p.enabled,
            position: p.position,
            disabled_reason: p.disabled_reason,
            invocations: p.invocations,
            config: p.config,
        });
    }
    let v = PluginsPage { frame: frame(state, req, slug, s, flash).await, rows, replay };
    rendered(status, state.console_pages.plugins(&v))
}

/// `GET /t/{slug}/admin/plugins`
#[handler]
pub async fn plugins(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    page(state, req, &slug, &s, flash_of(req, &s), None, StatusCode::OK).await
}

/// Largest `csrf` or `name` field of an upload.
const MAX_SMALL_FIELD: usize = 256;

/// A field's bytes, up to `max`; `None` when it is longer or broke off.
pub(super) async fn field_within(field: poem::web::Field, max: usize) -> Result<Vec<u8>, &'static str> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    let mut reader = std::pin::pin!(field.into_async_read().take(max as u64 + 1));
    reader.read_to_end(&mut bytes).await.map_err(|_| "interrupted")?;
    if bytes.len() > max {
        return Err("too large");
    }
    Ok(bytes)
}

/// `POST /t/{slug}/admin/plugins`: a `multipart/form-data` upload with
/// `csrf`, `name` and the component in `component`. A plugin of that name is
/// replaced (keeping its configuration, order and store).
///
/// Who is asking is settled before the component is read: the session and
/// its role (admin) before any field, the CSRF token (the `X-CSRF-Token`
/// header, or the `csrf` field, which the form sends first) before the
/// component. Each field has its own limit.
#[handler]
pub async fn upload(Path(slug): Path<String>, req: &Request, s: Staff, mut form: Multipart, Data(state): Data<&AppState>) -> Response {
    if let Err(e) = s.ctx.require(tikethet_runtime::domain::Role::Admin) {
        return desk_error(state, &slug, &e);
    }
    let header_token = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut trusted = header_token.is_some() && checked(state, req, &slug, &s, None).is_ok();
    let (mut name, mut component) = (None, None);
    let interrupted = || error_page(state, &slug, StatusCode::BAD_REQUEST, "Upload interrupted", "The upload did not arrive whole; nothing was installed. Try again.");
    let too_large = |what: &str| error_page(state, &slug, StatusCode::PAYLOAD_TOO_LARGE, "Too large", &format!("The {what} was larger than the console takes; nothing was installed."));
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return error_page(state, &slug, StatusCode::BAD_REQUEST, "Not an upload", "The form did not arrive as an upload; nothing was installed."),
        };
        let which = field.name().unwrap_or_default().to_owned();
        let max = if which == "component" { tikethet_plugins::limits::MAX_COMPONENT_BYTES } else { MAX_SMALL_FIELD };
        if which == "component" && !trusted {
            // Nothing large is read before the token is known (the form
            // sends `csrf` first).
            if let Err(r) = checked(state, req, &slug, &s, None) {
                return r;
            }
            trusted = true;
        }
        let bytes = match field_within(field, max).await {
            Ok(b) => b,
            Err("too large") => return too_large(if which == "component" { "component" } else { "form" }),
            Err(_) => return interrupted(),
        };
        match which.as_str() {
            "csrf" if !trusted => {
                if let Err(r) = checked(state, req, &slug, &s, Some(&String::from_utf8_lossy(&bytes))) {
                    return r;
                }
                trusted = true;
            }
            "name" => name = Some(String::from_utf8_lossy(&bytes).trim().to_owned()),
            "component" => component = Some(bytes),
            _ => {}
        }
    }
    if !trusted {
        if let Err(r) = checked(state, req, &slug, &s, None) {
            return r;
        }
    }
    let result = async {
        let name = PluginName::parse(name.as_deref().unwrap_or_default())?;
        let bytes = component.filter(|b| !b.is_empty()).ok_or_else(|| Invalid::new("component", "choose a .wasm file to upload"))?;
        s.ctx.install_plugin(&name, &bytes).await
    }
    .await;
    match result {
        Ok(_) => redirect(&format!("{}/plugins?done=installed", base(req, &slug))),
        Err(e) if fixable(&e) => page(state, req, &slug, &s, Some(("error", e.to_string())), None, crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// A plugin's form: what to do, and the fields of a save or a replay.
#[derive(Deserialize)]
struct PluginForm {
    #[serde(rename = "do")]
    action: Option<String>,
    failure: Option<String>,
    config: Option<String>,
    position: Option<String>,
    /// Sent only for plugins with `on-schedule`.
    schedule: Option<String>,
    waiting: Option<String>,
}

/// `POST /t/{slug}/admin/plugins/{name}`: `do=save` (config, order,
/// schedule), `enable`, `disable`, `remove`, or `replay` with `failure`.
#[handler]
pub async fn plugin(Path((slug, name)): Path<(String, String)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: PluginForm = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (result, done) = match form.action.as_deref() {
        Some("enable") => (s.ctx.update_plugin(&name, None, Some(true), None).await.map(|_| ()), "plugin"),
        Some("disable") => (s.ctx.update_plugin(&name, None, Some(false), None).await.map(|_| ()), "plugin"),
        Some("remove") => (s.ctx.remove_plugin(&name).await, "deleted"),
        Some("replay") => {
            let Some(id) = form.failure.as_deref().and_then(|f| f.parse::<i64>().ok()) else {
                return error_page(state, &slug, StatusCode::BAD_REQUEST, "Which failure?", "The replay did not say which failure to run again.");
            };
            return match s.ctx.replay_plugin_failure(&name, id).await {
                Ok(r) => {
                    let view = ReplayView {
                        plugin: name.clone(),
                        failure_id: r.failure.id,
                        failed_at: when(r.failure.created_at),
                        hook: r.failure.hook.clone(),
                        version: r.version,
                        ok: r.output.is_ok(),
                        output: r.output.unwrap_or_else(|e| e),
                        logs: r.logs,
                        elapsed_ms: format!("{:.1}", r.elapsed_ms),
                    };
                    page(state, req, &slug, &s, None, Some(view), StatusCode::OK).await
                }
                Err(e) if fixable(&e) => page(state, req, &slug, &s, Some(("error", e.to_string())), None, crate::http::error::runtime_status(&e)).await,
                Err(e) => desk_error(state, &slug, &e),
            };
        }
        _ => (save(&s, &name, &form).await, "plugin"),
    };
    match result {
        Ok(()) => redirect(&format!("{}/plugins?done={done}", base(req, &slug))),
        Err(e) if fixable(&e) => page(state, req, &slug, &s, Some(("error", e.to_string())), None, crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// Saves the configuration, the order and (for plugins with `on-schedule`)
/// the schedule. Everything is checked before anything is written; the
/// schedule is written only when it changed, so saving the configuration
/// does not move its next due time.
async fn save(s: &Staff, name: &str, form: &PluginForm) -> Result<(), RuntimeError> {
    let raw = form.config.as_deref().filter(|c| !c.trim().is_empty()).unwrap_or("{}");
    let json: serde_json::Value = serde_json::from_str(raw).map_err(|e| Invalid::new("config", format!("is not JSON: {e}")))?;
    let config = PluginConfig::parse(&json)?;
    let position = form
        .position
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<i32>().map_err(|_| Invalid::new("position", "must be a whole number")))
        .transpose()?;
    if let Some(cron) = &form.schedule {
        let cron = cron.trim();
        let wanted = if cron.is_empty() { None } else { Some(PluginSchedule::parse(cron)?) };
        let waiting = form
            .waiting
            .as_deref()
            .filter(|w| !w.trim().is_empty())
            .map(|w| w.trim().parse::<i32>().map_err(|_| Invalid::new("schedule_waiting_minutes", "must be a whole number of minutes")))
            .transpose()?;
        let installed = s.ctx.plugins().await?.into_iter().find(|p| p.name == name).ok_or(RuntimeError::NotFound("plugin"))?;
        let current = s.ctx.plugin_schedule(installed.id).await?;
        let same_cron = current.as_ref().map(|c| c.cron.as_str()) == wanted.as_ref().map(PluginSchedule::as_str);
        let same_wait = waiting.is_none() || current.as_ref().map(|c| c.waiting_minutes) == waiting;
        if !(same_cron && same_wait) {
            match (&wanted, same_cron) {
                // Only the wait changed: the due time stays.
                (Some(_), true) => s.ctx.set_plugin_schedule(name, None, waiting).await?,
                (w, _) => s.ctx.set_plugin_schedule(name, Some(w.as_ref()), waiting.filter(|_| w.is_some())).await?,
            };
        }
    }
    s.ctx.update_plugin(name, Some(&config), None, position).await?;
    Ok(())
}
