//! The operator's dashboard at `/operator/`: sign-in, the overview, a
//! tenant's page and the actions on it. The pages are the billing crate's
//! (`tikethet_billing::dashboard`); here they are filled from the control
//! plane and served. Every page needs a session; every form post needs the
//! session's CSRF token; actions are audited and answered with a redirect
//! (so that reloading a page never repeats one).

pub(crate) mod session;
mod views;

use std::collections::HashMap;

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use tikethet_billing::dashboard::{ErrorPage, Flash, LoginPage, ProvisionForm};
use tikethet_runtime::TenantStatus;
use tikethet_runtime::domain::{BotToken, TelegramUserId, TenantSlug};

use crate::AppState;
use crate::control::{ControlError, NewTenant, TenantChanges, parse_name};

pub use session::Session;

/// Our pages load only from us; nothing may frame them.
const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The largest form we read.
const MAX_FORM: usize = 16 * 1024;

fn html(status: StatusCode, body: String) -> Response {
    super::pages::html_page(status, CSP, body)
}

fn redirect(to: &str) -> Response {
    super::pages::see_other(to)
}

fn rendered(status: StatusCode, r: Result<String, tikethet_billing::dashboard::RenderError>) -> Response {
    match r {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "failed to render an operator page");
            html(StatusCode::INTERNAL_SERVER_ERROR, "<!doctype html><title>Error</title><p>The page could not be rendered; the server log says why.</p>".into())
        }
    }
}

fn error_page(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    rendered(status, state.pages.error(&ErrorPage { title: title.into(), message: message.into() }))
}

/// What an action's failure says on the page (never an internal detail).
fn say(e: &ControlError) -> String {
    match e {
        ControlError::Internal(_) => "Something went wrong on our side; the server log says what. Nothing was changed.".into(),
        other => other.to_string(),
    }
}

/// Where a signed-out visitor goes to sign in, coming back to `path`.
fn to_login(req: &Request) -> Response {
    let back = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/operator/");
    let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
    redirect(&format!("/operator/login?next={next}"))
}

/// A `next` that stays on the dashboard.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/operator/") && !n.starts_with("/operator//") && !n.contains('\\') => n.to_owned(),
        _ => "/operator/".to_owned(),
    }
}

fn query(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()).into_owned().collect()
}

async fn read_form(body: Body) -> Result<HashMap<String, String>, ()> {
    let bytes = body.into_bytes_limit(MAX_FORM).await.map_err(|_| ())?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// The session and the form of a state change, or the page that refuses it.
async fn posted(state: &AppState, req: &Request, body: Body) -> Result<(Session, HashMap<String, String>), Response> {
    let Some(s) = session::of(state, req).await else { return Err(to_login(req)) };
    let Ok(form) = read_form(body).await else {
        return Err(error_page(state, StatusCode::PAYLOAD_TOO_LARGE, "Form too large", "That form was larger than the dashboard takes."));
    };
    match session::check_post(req, &s, form.get("csrf").map(String::as_str)) {
        Ok(()) => Ok((s, form)),
        Err(session::Refused::CrossOrigin) => {
            Err(error_page(state, StatusCode::FORBIDDEN, "Refused", "This request came from another site; nothing was changed."))
        }
        Err(session::Refused::BadToken) => Err(error_page(
            state,
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's security token is missing or out of date (a page left open too long?). Nothing was changed: reload the page and try again.",
        )),
    }
}

/// `GET /operator`: to the overview.
#[handler]
pub async fn root() -> Response {
    redirect("/operator/")
}

/// `GET /operator/login`
#[handler]
pub async fn login_page(req: &Request, Data(state): Data<&AppState>) -> Response {
    let q = query(req);
    let next = safe_next(q.get("next").map(String::as_str));
    if session::of(state, req).await.is_some() {
        return redirect(&next);
    }
    let error = q.contains_key("ended").then(|| "You are signed out.".to_owned());
    rendered(StatusCode::OK, state.pages.login(&LoginPage { error, next }))
}

/// `POST /operator/login`: the operator token, once, for a session cookie.
#[handler]
pub async fn login(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let form = read_form(body).await.unwrap_or_default();
    let next = safe_next(form.get("next").map(String::as_str));
    if !session::token_matches(state, form.get("token").map(String::as_str).unwrap_or_default()) {
        tracing::warn!(remote = %req.remote_addr(), "operator dashboard: a sign-in with a wrong token");
        return rendered(StatusCode::UNAUTHORIZED, state.pages.login(&LoginPage { error: Some("That is not the operator token.".into()), next }));
    }
    let (_, cookie) = session::start(state);
    let mut r = redirect(&next);
    r.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("a header value"));
    r
}

/// `POST /operator/logout`
#[handler]
pub async fn logout(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (s, _) = match posted(state, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = session::end(state, &s).await {
        tracing::warn!(error = %e, "operator sign-out: the session could not be revoked; its cookie is removed");
    }
    let mut r = redirect("/operator/login?ended=1");
    r.headers_mut().insert(header::SET_COOKIE, session::end_cookie(state).parse().expect("a header value"));
    r
}

/// `GET /operator/`: the overview.
#[handler]
pub async fn overview(req: &Request, Data(state): Data<&AppState>) -> Response {
    let Some(s) = session::of(state, req).await else { return to_login(req) };
    let q = query(req);
    let flash = q.get("done").and_then(|d| views::done_text(d)).map(Flash::ok);
    match views::overview(state, &s, flash, &q, ProvisionForm::default()).await {
        Ok(v) => rendered(StatusCode::OK, state.pages.overview(&v)),
        Err(e) => error_page(state, StatusCode::INTERNAL_SERVER_ERROR, "The overview could not be read", &say(&e)),
    }
}

/// `GET /operator/tenants/{slug}`
#[handler]
pub async fn tenant(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let Some(s) = session::of(state, req).await else { return to_login(req) };
    let flash = query(req).get("done").and_then(|d| views::done_text(d)).map(Flash::ok);
    tenant_response(state, &s, &slug, flash, None, None).await
}

async fn tenant_response(state: &AppState, s: &Session, slug: &str, flash: Option<Flash>, limits: Option<(HashMap<String, String>, String)>, status: Option<StatusCode>) -> Response {
    match views::tenant(state, s, slug, flash, limits).await {
        Ok(v) => rendered(status.unwrap_or(StatusCode::OK), state.pages.tenant(&v)),
        Err(ControlError::NotFound(_)) => error_page(state, StatusCode::NOT_FOUND, "No such tenant", &format!("There is no tenant {slug:?}.")),
        Err(e) => error_page(state, StatusCode::INTERNAL_SERVER_ERROR, "The tenant could not be read", &say(&e)),
    }
}

/// `POST /operator/tenants`: provisions a tenant from the overview's form.
#[handler]
pub async fn provision(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (s, form) = match posted(state, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let field = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let keep = ProvisionForm { slug: field("slug"), name: field("name"), owner_telegram_id: field("owner_telegram_id"), plan: field("plan"), error: None };
    let new = (|| -> Result<NewTenant, ControlError> {
        let owner: i64 = keep.owner_telegram_id.parse().map_err(|_| tikethet_runtime::domain::Invalid::new("owner_telegram_id", "must be a Telegram user id (a whole number)"))?;
        Ok(NewTenant {
            slug: TenantSlug::parse(&keep.slug)?,
            name: parse_name(&keep.name)?,
            bot_token: BotToken::parse(&field("bot_token"))?,
            owner_telegram_id: TelegramUserId::parse(owner)?,
            plan: (!keep.plan.is_empty()).then(|| keep.plan.clone()),
            theme: tikethet_themes::Theme::default_theme(),
        })
    })();
    let result = match new {
        Ok(new) => state.control.create(new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(rec) => {
            audit(state, "provision", Some(&rec.slug), &format!("plan {}, bot @{}", rec.plan, rec.bot_username)).await;
            redirect(&format!("/operator/tenants/{}?done=provisioned", rec.slug))
        }
        Err(e) => {
            let status = super::error::control_status(&e);
            let form = ProvisionForm { error: Some(say(&e)), ..keep };
            match views::overview(state, &s, None, &HashMap::new(), form).await {
                Ok(v) => rendered(status, state.pages.overview(&v)),
                Err(e) => error_page(state, StatusCode::INTERNAL_SERVER_ERROR, "The overview could not be read", &say(&e)),
            }
        }
    }
}

/// `POST /operator/tenants/{slug}/{action}`: suspend, resume, plan, limits.
#[handler]
pub async fn act(Path((slug, action)): Path<(String, String)>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (s, form) = match posted(state, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let result = match action.as_str() {
        "suspend" => state.control.set_status(&slug, TenantStatus::Suspended).await.map(|_| ("suspended", String::new())),
        "resume" => state.control.set_status(&slug, TenantStatus::Active).await.map(|_| ("resumed", String::new())),
        "plan" => {
            let plan = form.get("plan").cloned().unwrap_or_default();
            state.control.update(&slug, TenantChanges { plan: Some(plan.clone()), ..TenantChanges::default() }).await.map(|r| ("plan", format!("plan {}", r.plan)))
        }
        "limits" => match views::parse_limits(&form) {
            Ok((overrides, said)) => {
                state.control.update(&slug, TenantChanges { limits: Some(overrides), ..TenantChanges::default() }).await.map(|_| ("limits", said))
            }
            Err(why) => return tenant_response(state, &s, &slug, None, Some((form, why)), Some(StatusCode::BAD_REQUEST)).await,
        },
        _ => return error_page(state, StatusCode::NOT_FOUND, "No such action", "The dashboard has no such action."),
    };
    match result {
        Ok((done, detail)) => {
            audit(state, done, Some(&slug), &detail).await;
            redirect(&format!("/operator/tenants/{slug}?done={done}"))
        }
        Err(ControlError::NotFound(_)) => error_page(state, StatusCode::NOT_FOUND, "No such tenant", &format!("There is no tenant {slug:?}.")),
        Err(e) => {
            let status = super::error::control_status(&e);
            tenant_response(state, &s, &slug, Some(Flash::error(say(&e))), None, Some(status)).await
        }
    }
}

/// Records an action; a failure to record is logged, the action stands.
async fn audit(state: &AppState, action: &str, slug: Option<&str>, detail: &str) {
    if let Err(e) = state.control.audit("dashboard", action, slug, detail).await {
        tracing::error!(error = %e, action, "failed to record an operator action in the audit");
    }
}

/// `GET /operator/assets/operator.css`
#[handler]
pub async fn css() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(tikethet_billing::dashboard::CSS)
}
