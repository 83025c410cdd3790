//! HTTP: one poem app with the operator API, the tenant API, the Telegram
//! webhook, health and metrics, and the OpenAPI document.

pub mod access_log;
pub mod api;
pub mod compress;
pub mod billing;
pub mod bodies;
pub mod console;
pub mod dashboard;
pub mod demo;
pub mod domains;
pub mod error;
pub mod limits;
pub mod live;
pub mod local_hosts;
pub mod operator;
pub mod pages;
pub mod recorded;
pub mod signup;
pub mod web;

use poem::endpoint::make_sync;
use poem::http::StatusCode;
use poem::middleware::CatchPanic;
use poem::web::{Data, Path};
use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler};
use poem_openapi::OpenApiService;
use poem_openapi::payload::PlainText;
use tikethet_runtime::inbound::intake::MAX_UPDATE_BYTES;
use tikethet_runtime::Runtime;

use crate::AppState;

const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

pub struct SystemApi {
    pub state: AppState,
}

#[poem_openapi::OpenApi]
impl SystemApi {
    /// Liveness: the process answers.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Readiness: storage and (when configured) Redis answer
    ///
    /// 503 names what does not answer; a load balancer takes the node out.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self) -> Result<PlainText<&'static str>, error::ApiError> {
        use sea_orm::ConnectionTrait as _;
        let limit = std::time::Duration::from_secs(3);
        let storage = tokio::time::timeout(limit, self.state.storage.control().execute_unprepared("SELECT 1")).await;
        if !matches!(storage, Ok(Ok(_))) {
            let why = match storage {
                Ok(Err(e)) => format!("{e}"),
                _ => "timed out".to_owned(),
            };
            tracing::warn!(error = %why, "readiness: storage does not answer");
            return Err(error::ApiError::unavailable("storage does not answer"));
        }
        if !matches!(tokio::time::timeout(limit, self.state.runtime.limiter_ping()).await, Ok(Ok(()))) {
            return Err(error::ApiError::unavailable("Redis does not answer"));
        }
        Ok(PlainText("ready"))
    }

    /// Prometheus metrics
    ///
    /// `Authorization: Bearer $TIKETHET_OPERATOR_TOKEN`: the figures tell
    /// how many tenants a node serves and how busy it is.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self, auth: operator::OperatorAuth) -> Result<PlainText<String>, error::ApiError> {
        use subtle::ConstantTimeEq as _;
        if !bool::from(auth.0.token.as_bytes().ct_eq(self.state.settings.operator_token.expose().as_bytes())) {
            return Err(error::ApiError::unauthorized("invalid operator token"));
        }
        let mut out = render_metrics(&self.state.runtime, &self.state.storage);
        out.push_str(&self.state.runtime.metrics().encode_histograms());
        let read = self.state.body_bytes.load(std::sync::atomic::Ordering::Relaxed);
        out.push_str(&format!(
            "# HELP tikethet_request_body_bytes_total Bytes read from request bodies.\n# TYPE tikethet_request_body_bytes_total counter\ntikethet_request_body_bytes_total {read}\n"
        ));
        if let Some(age) = self.state.control.usage_report_age() {
            let secs = age.map_or(-1, |a| a.as_secs() as i64);
            out.push_str(&format!(
                "# HELP tikethet_usage_report_age_seconds Seconds since usage was last reported to Stripe in full (-1: not yet).\n# TYPE tikethet_usage_report_age_seconds gauge\ntikethet_usage_report_age_seconds {secs}\n"
            ));
        }
        Ok(PlainText(out))
    }
}

fn render_metrics(rt: &Runtime, storage: &tikethet_runtime::storage::Storage) -> String {
    let m = &rt.metrics();
    let (work, send) = rt.backlog();
    let mut out = String::new();
    let mut put = |name: &str, kind: &str, help: &str, v: u64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"));
    };
    put("tikethet_tenants", "gauge", "Tenants served by this node.", rt.tenants().all().len() as u64);
    put("tikethet_tenants_held", "gauge", "Tenants whose storage is being migrated (their updates held until it is ready).", rt.held_tenants() as u64);
    put("tikethet_updates_processed_total", "counter", "Telegram updates handled.", Runtime::counter(&m.updates_processed));
    put("tikethet_updates_failed_total", "counter", "Telegram updates whose handling failed.", Runtime::counter(&m.updates_failed));
    put("tikethet_updates_over_limit_total", "counter", "Customer messages kept for later: they would open a ticket over the plan's monthly limit.", Runtime::counter(&m.updates_over_limit));
    put("tikethet_tickets_opened_total", "counter", "Tickets opened, from the bot or the API.", Runtime::counter(&m.tickets_opened));
    put("tikethet_messages_sent_total", "counter", "Bot messages delivered.", Runtime::counter(&m.messages_sent));
    put("tikethet_messages_failed_total", "counter", "Bot messages given up on.", Runtime::counter(&m.messages_failed));
    put("tikethet_plugin_failures_total", "counter", "Plugin calls that failed.", Runtime::counter(&m.plugin_failures));
    put("tikethet_updates_retried_total", "counter", "Update tries that failed and will be retried.", Runtime::counter(&m.updates_retried));
    put("tikethet_updates_panicked_total", "counter", "Updates whose handler panicked (marked failed).", Runtime::counter(&m.updates_panicked));
    put("tikethet_sla_passes_total", "counter", "Service-level passes over the desks that set targets.", Runtime::counter(&m.sla_passes));
    put("tikethet_sla_alerts_total", "counter", "Service-level reminders and escalations sent.", Runtime::counter(&m.sla_alerts));
    put("tikethet_sends_rate_limited_locally_total", "counter", "Sends paced by this node alone because the shared rate limits (Redis) did not answer.", Runtime::counter(&m.sends_rate_limited_locally));
    put("tikethet_rows_pruned_total", "counter", "Finished rows removed by retention.", Runtime::counter(&m.rows_pruned));
    put("tikethet_lanes_refused_total", "counter", "Chats left to the sweep because too many had work at once.", rt.lanes_refused());
    put("tikethet_worker_backlog", "gauge", "Chats with updates queued or running.", work as u64);
    put("tikethet_sender_backlog", "gauge", "Chats with messages queued or sending.", send as u64);
    if let Some(n) = storage.spare_schemas_ready() {
        put("tikethet_pg_spare_schemas", "gauge", "Spare tenant schemas ready for provisioning (PostgreSQL).", n as u64);
    }
    if let Some(h) = storage.sqlite_handles() {
        put("tikethet_sqlite_open", "gauge", "Tenant databases open now (SQLite).", h.open as u64);
        put("tikethet_sqlite_open_max", "gauge", "Tenant databases that may be open at once (SQLite).", h.capacity as u64);
        put("tikethet_sqlite_opened_total", "counter", "Tenant databases opened (SQLite).", h.opened_total);
        put("tikethet_sqlite_closed_total", "counter", "Tenant databases closed to make room or when idle (SQLite).", h.closed_total);
    }
    out
}

/// `POST /tg/{route}`: Telegram's webhook for one tenant's bot.
/// The route and the secret are checked before a byte of the body is read,
/// so nobody without the secret can make the server read (or store) anything.
#[handler]
async fn webhook(Path(route): Path<String>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let secret = req.headers().get(SECRET_HEADER).and_then(|v| v.to_str().ok());
    let target = match state.runtime.webhook_target(&route, secret) {
        Ok(t) => t,
        Err(tikethet_runtime::inbound::intake::IntakeError::UnknownRoute) => return unclaimed(&route, secret, req, body, state).await,
        Err(e) => return error::intake_response(&e),
    };
    let declared = req.headers().get(poem::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPDATE_BYTES) {
        return error::intake_response(&tikethet_runtime::inbound::intake::IntakeError::TooLarge);
    }
    let bytes = match body.into_bytes_limit(MAX_UPDATE_BYTES).await {
        Ok(b) => b,
        Err(_) => return error::intake_response(&tikethet_runtime::inbound::intake::IntakeError::TooLarge),
    };
    match state.runtime.take_update(&route, &target, &bytes).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => error::intake_response(&e),
    }
}

/// A webhook for a route the runtime does not serve: a desk opened by
/// signup and not yet claimed is answered by the control plane; once an
/// update claims it, the desk is served and the same update goes on to
/// the runtime like any other (which answers its owner).
async fn unclaimed(route: &str, secret: Option<&str>, req: &Request, body: Body, state: &AppState) -> Response {
    use crate::control::signup::UnclaimedUpdate;
    use tikethet_runtime::inbound::intake::IntakeError;
    if !state.control.is_unclaimed(route) {
        return error::intake_response(&IntakeError::UnknownRoute);
    }
    let declared = req.headers().get(poem::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPDATE_BYTES) {
        return error::intake_response(&IntakeError::TooLarge);
    }
    let Ok(bytes) = body.into_bytes_limit(MAX_UPDATE_BYTES).await else { return error::intake_response(&IntakeError::TooLarge) };
    match state.control.unclaimed_update(route, secret, &bytes).await {
        Ok(UnclaimedUpdate::Unknown) => error::intake_response(&IntakeError::UnknownRoute),
        Ok(UnclaimedUpdate::BadSecret) => error::intake_response(&IntakeError::BadSecret),
        Ok(UnclaimedUpdate::Answered) => StatusCode::OK.into_response(),
        Ok(UnclaimedUpdate::Claimed) => {
            let taken = match state.runtime.webhook_target(route, secret) {
                Ok(target) => state.runtime.take_update(route, &target, &bytes).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match taken {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => error::intake_response(&e),
            }
        }
        Err(e) => {
            // Telegram delivers it again; the claim is idempotent.
            tracing::error!(route, error = %format!("{e:#}"), "an update to an unclaimed desk failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The whole HTTP app.
pub fn app(state: AppState) -> impl Endpoint {
    let server_url = state.settings.public_url.as_str().trim_end_matches('/').to_owned();
    let api = OpenApiService::new(
        (
            operator::OperatorApi { state: state.clone() },
            api::apis(&state),
            signup::SignupApi { state: state.clone() },
            SystemApi { state: state.clone() },
        ),
        "TiketHet",
        env!("CARGO_PKG_VERSION"),
    )
    .description("White-label helpdesk platform for Telegram. Errors are `{\"error\": {\"code\", \"message\"}}`.")
    .server(server_url);
    let spec = api.spec();
    let throttled = state.clone();
    let hosts = state.clone();
    let local = state.clone();
    let bodies = state.clone();
    let timed = state.runtime.clone();
    let docs = api.swagger_ui();
    Route::new()
        .at("/tg/:route", webhook.data(state.clone()))
        .at("/tls/ask", poem::get(domains::ask).data(state.clone()))
        .at("/signup", poem::get(signup::page).post(signup::submit).data(state.clone()))
        .at("/billing/stripe/webhook", poem::post(billing::stripe_webhook).data(state.clone()))
        .at("/demo/", poem::get(demo::index).data(state.clone()))
        .at("/demo/app/:slug", poem::get(demo::app).data(state.clone()))
        .at("/demo/console/:slug", poem::get(demo::console).data(state.clone()))
        .at("/demo/operator", poem::get(demo::operator).data(state.clone()))
        .at("/demo/chat", poem::get(demo::chat).data(state.clone()))
        .at("/demo/chat/:slug/feed", poem::get(demo::feed).data(state.clone()))
        .at("/demo/chat/:slug/send", poem::post(demo::send).data(state.clone()))
        .at("/demo/chat/:slug/press", poem::post(demo::press).data(state.clone()))
        .at("/demo/assets/chat.js", poem::get(demo::chat_js))
        .at("/operator", poem::get(dashboard::root))
        .at("/operator/", poem::get(dashboard::overview).data(state.clone()))
        .at("/operator/login", poem::get(dashboard::login_page).post(dashboard::login).data(state.clone()))
        .at("/operator/logout", poem::post(dashboard::logout).data(state.clone()))
        .at("/operator/tenants", poem::post(dashboard::provision).data(state.clone()))
        .at("/operator/invites", poem::post(dashboard::invite).data(state.clone()))
        .at("/operator/tenants/:slug", poem::get(dashboard::tenant).data(state.clone()))
        .at("/operator/tenants/:slug/:action", poem::post(dashboard::act).data(state.clone()))
        .at("/operator/assets/operator.css", poem::get(dashboard::css))
        .at("/t/:slug/admin", poem::get(pages::admin_redirect))
        .at("/t/:slug/admin/", poem::get(console::queue).data(state.clone()))
        .at("/t/:slug/admin/login", poem::get(console::login_page).post(console::login).data(state.clone()))
        .at("/t/:slug/admin/logout", poem::post(console::logout).data(state.clone()))
        .at("/t/:slug/admin/sessions", poem::get(console::sessions).data(state.clone()))
        .at("/t/:slug/admin/keys", poem::get(console::keys::keys).post(console::keys::create).data(state.clone()))
        .at("/t/:slug/admin/keys/:id/revoke", poem::post(console::keys::revoke).data(state.clone()))
        .at("/t/:slug/admin/analytics", poem::get(console::analytics::page).data(state.clone()))
        .at("/t/:slug/admin/analytics/tickets.csv", poem::get(console::analytics::tickets_csv).data(state.clone()))
        .at("/t/:slug/admin/analytics/:table", poem::get(console::analytics::table_csv).data(state.clone()))
        .at("/t/:slug/admin/sessions/:id/revoke", poem::post(console::revoke).data(state.clone()))
        .at("/t/:slug/admin/people", poem::get(console::manage::people).data(state.clone()))
        .at("/t/:slug/admin/people/:id", poem::post(console::manage::person).data(state.clone()))
        .at("/t/:slug/admin/categories", poem::get(console::manage::categories).post(console::manage::add_category).data(state.clone()))
        .at("/t/:slug/admin/categories/:id", poem::post(console::manage::category).data(state.clone()))
        .at("/t/:slug/admin/tags", poem::post(console::manage::rename_tag).data(state.clone()))
        .at("/t/:slug/admin/teams", poem::get(console::teams::show).post(console::teams::add).data(state.clone()))
        .at("/t/:slug/admin/teams/:id", poem::post(console::teams::team).data(state.clone()))
        .at("/t/:slug/admin/teams/:id/members", poem::post(console::teams::members).data(state.clone()))
        .at("/t/:slug/admin/away", poem::post(console::teams::away).data(state.clone()))
        .at("/t/:slug/admin/attachments/:id", poem::get(console::attachment).data(state.clone()))
        .at("/t/:slug/admin/customers", poem::get(console::customers::list).data(state.clone()))
        .at("/t/:slug/admin/customers/:id", poem::get(console::customers::show).data(state.clone()))
        .at("/t/:slug/admin/customers/:id/notes", poem::post(console::customers::note).data(state.clone()))
        .at("/t/:slug/admin/customers/:id/attributes", poem::post(console::customers::set_attributes).data(state.clone()))
        .at("/t/:slug/admin/customers/:id/reach", poem::post(console::customers::reach).data(state.clone()))
        .at("/t/:slug/admin/macros", poem::get(console::macros::show).post(console::macros::add).data(state.clone()))
        .at("/t/:slug/admin/macros/:id", poem::post(console::macros::one).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/macro", poem::post(console::macros::apply).data(state.clone()))
        .at("/t/:slug/admin/views", poem::post(console::macros::save_view).data(state.clone()))
        .at("/t/:slug/admin/views/:id/delete", poem::post(console::macros::delete_view).data(state.clone()))
        .at("/t/:slug/admin/canned", poem::get(console::manage::canned).post(console::manage::add_canned).data(state.clone()))
        .at("/t/:slug/admin/canned/:id", poem::post(console::manage::canned_one).data(state.clone()))
        .at("/t/:slug/admin/plugins", poem::get(console::plugins::plugins).post(console::plugins::upload).data(state.clone()))
        .at("/t/:slug/admin/plugins/:name", poem::post(console::plugins::plugin).data(state.clone()))
        .at("/t/:slug/admin/settings", poem::get(console::manage::settings).data(state.clone()))
        .at("/t/:slug/admin/audit", poem::get(console::manage::audit).data(state.clone()))
        .at("/t/:slug/admin/audit.csv", poem::get(console::manage::audit_csv).data(state.clone()))
        .at("/t/:slug/admin/billing", poem::get(console::billing::show).data(state.clone()))
        .at("/t/:slug/admin/billing/checkout", poem::post(console::billing::checkout).data(state.clone()))
        .at("/t/:slug/admin/billing/preview", poem::post(console::billing::preview).data(state.clone()))
        .at("/t/:slug/admin/billing/plan", poem::post(console::billing::change).data(state.clone()))
        .at("/t/:slug/admin/billing/cancel", poem::post(console::billing::cancel).data(state.clone()))
        .at("/t/:slug/admin/billing/resume", poem::post(console::billing::resume).data(state.clone()))
        .at("/t/:slug/admin/billing/portal", poem::post(console::billing::portal).data(state.clone()))
        .at("/t/:slug/admin/domain", poem::get(console::domain::show).post(console::domain::request).data(state.clone()))
        .at("/t/:slug/admin/domain/check", poem::post(console::domain::check).data(state.clone()))
        .at("/t/:slug/admin/domain/remove", poem::post(console::domain::remove).data(state.clone()))
        .at("/t/:slug/admin/lang", poem::get(console::set_lang))
        .at("/t/:slug/admin/bulk", poem::post(console::bulk).data(state.clone()))
        .at("/t/:slug/admin/look", poem::get(console::manage::look).data(state.clone()))
        .at("/t/:slug/admin/look/:what", poem::post(console::manage::look_save).data(state.clone()))
        .at("/t/:slug/admin/settings/staff-group", poem::post(console::manage::staff_group).data(state.clone()))
        .at("/t/:slug/admin/settings/sla", poem::post(console::manage::save_sla).data(state.clone()))
        .at("/t/:slug/admin/settings/conversations", poem::post(console::manage::save_conversations).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id", poem::get(console::ticket).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/reply", poem::post(console::reply).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/note", poem::post(console::note).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/change", poem::post(console::change).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/merge", poem::post(console::merge).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/tags", poem::post(console::add_tag).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/untag", poem::post(console::remove_tag).data(state.clone()))
        .at("/t/:slug/admin/tickets/:id/presence", poem::post(console::presence).data(state.clone()))
        .at("/t/:slug/admin/assets/:file", poem::get(console::asset))
        .at("/admin/assets/:file", poem::get(console::shared_asset))
        .at("/t/:slug/app", poem::get(pages::mini_app_redirect))
        .at("/t/:slug/app/", poem::get(pages::mini_app).data(state.clone()))
        .at("/t/:slug/app/assets/:file", poem::get(pages::asset))
        .at("/t/:slug/app/logo", poem::get(pages::logo).data(state.clone()))
        .at("/t/:slug/app/strings/:file", poem::get(pages::mini_app_strings).data(state.clone()))
        .at("/t/:slug/ws", poem::get(live::socket).data(state.clone()))
        .at(
            "/api/openapi.json",
            make_sync(move |_| Response::builder().content_type("application/json").body(spec.clone())),
        )
        .nest("/api/docs", docs)
        .nest("/", api.data(state.clone()).around(move |ep, req| limits::throttle(throttled.clone(), ep, req)))
        .catch_all_error(error::render_poem_error)
        .around(|ep, req| async move {
            // Console pages made without a staff member (errors) speak the page's language.
            if req.uri().path().contains("/admin") { console::in_page_language(ep, req).await } else { ep.call(req).await.map(poem::IntoResponse::into_response) }
        })
        // The console's and the dashboard's cookies (`web::SessionCookie`).
        .with(poem::middleware::CookieJarManager::new())
        .around(move |ep, req| bodies::guard(bodies.clone(), ep, req))
        .around(move |ep, req| domains::route(hosts.clone(), ep, req))
        .around(move |ep, req| local_hosts::check(local.clone(), ep, req))
        .with(CatchPanic::new().with_handler(error::panic_response))
        .around(compress::compress)
        .around(move |ep, req| access_log::log(Some(timed.clone()), ep, req))
}
