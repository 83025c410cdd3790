//! The operator's dashboard at `/operator/`: sign-in, the overview, a
//! tenant's page and the actions on it. The pages are the billing crate's
//! (`tikethet_billing::dashboard`); here they are filled from the control
//! plane and served. Every page needs a session; every form post needs the
//! session's CSRF token; actions are audited and answered with a redirect
//! (so that reloading a page never repeats one).
//!
//! A page speaks the operator's language ([`Ui`]): `?lang=xx` (remembered in
//! the `tikethet_operator_lang` cookie), else that cookie, else the first
//! of the dashboard's languages the browser's `Accept-Language` names,
//! else English.

pub(crate) mod session;
mod views;

use std::collections::HashMap;

use poem::http::{Method, StatusCode, header};
use serde::Deserialize;
use poem::web::cookie::SameSite;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use tikethet_billing::dashboard::{self as d, ErrorPage, Flash, LoginPage, ProvisionForm};
use tikethet_runtime::TenantStatus;
use tikethet_runtime::domain::{BotToken, TelegramUserId, TenantSlug};

use crate::AppState;
use crate::control::{ControlError, NewTenant, TenantChanges, parse_name};

pub use session::Session;

use super::web::{self, rendered};

fn redirect(to: &str) -> Response {
    web::see_other(to)
}

/// Remembers the language an operator picked (`?lang=`), for a year.
pub const LANG_COOKIE: &str = "tikethet_operator_lang";

/// The page's language and its address, for the language switch.
#[derive(Debug, Clone)]
pub struct Ui {
    /// One of the dashboard's languages (`tikethet_billing::dashboard::LANGUAGES`).
    pub lang: &'static str,
    /// The page's address without `lang` (and `done`): where the switch
    /// comes back to.
    pub here: String,
}

#[derive(Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// The request's [`Ui`]: `?lang=` (then remembered in a cookie), else the
/// cookie, else `Accept-Language`, else English.
fn ui(state: &AppState, req: &Request) -> Ui {
    let asked = web::query::<LangQuery>(req).lang.as_deref().and_then(d::language);
    if let Some(lang) = asked {
        let cookie = web::SessionCookie { name: LANG_COOKIE, path: "/operator", same_site: SameSite::Lax, secure: state.settings.env == crate::config::Env::Production };
        cookie.set(req.cookie(), lang, std::time::Duration::from_secs(365 * 24 * 3600));
    }
    let lang = asked
        .or_else(|| req.cookie().get(LANG_COOKIE).and_then(|c| d::language(c.value_str())))
        .unwrap_or_else(|| d::lang_of(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|h| h.to_str().ok())));
    Ui { lang, here: here_of(req) }
}

/// The page a request shows, as an address to come back to: a page's own
/// (its query kept, but for `lang` and `done`), or for a form's post the
/// page of the form.
fn here_of(req: &Request) -> String {
    let path = req.uri().path();
    if req.method() != Method::GET {
        return match path.strip_prefix("/operator/tenants/").and_then(|rest| rest.split_once('/')) {
            Some((slug, _)) => format!("/operator/tenants/{slug}"),
            None if path == "/operator/login" => path.to_owned(),
            None => "/operator/".to_owned(),
        };
    }
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()).into_owned().filter(|(k, _)| k != "lang" && k != "done").collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish())
    }
}

/// An error page; `title` and `message` are translated when they are
/// texts of the dashboard's (a message with values comes translated).
fn error_page(state: &AppState, ui: &Ui, status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage { title: d::tr(ui.lang, title).into(), message: d::tr(ui.lang, message).into(), lang: ui.lang, here: ui.here.clone() };
    rendered(status, state.pages.error(&page))
}

/// The page of a refused form post.
fn refused(state: &AppState, ui: &Ui, r: &web::Refused) -> Response {
    let message = match r {
        web::Refused::Malformed(why) => d::trv(ui.lang, "the-form-could-not-be-read", &serde_json::json!({ "why": why })),
        other => other.message(),
    };
    error_page(state, ui, r.status(), r.title(), &message)
}

/// "There is no tenant …".
fn no_such_tenant(state: &AppState, ui: &Ui, slug: &str) -> Response {
    error_page(state, ui, StatusCode::NOT_FOUND, "No such tenant", &d::trv(ui.lang, "there-is-no-tenant", &serde_json::json!({ "slug": format!("{slug:?}") })))
}

/// What an action's failure says on the page (never an internal detail).
/// The control plane's own messages are its API's, in English.
fn say(e: &ControlError, lang: &str) -> String {
    match e {
        ControlError::Internal(_) => d::tr(lang, "Something went wrong on our side; the server log says what. Nothing was changed.").into(),
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

/// The session and the typed form of a state change, or the page that
/// refuses it. The session is resolved before the body is read.
async fn posted<F: serde::de::DeserializeOwned>(state: &AppState, ui: &Ui, req: &Request, body: Body) -> Result<(Session, F), Response> {
    let Some(s) = session::of(state, req).await else { return Err(to_login(req)) };
    match web::posted(req, body, &s.csrf).await {
        Ok(form) => Ok((s, form)),
        Err(r) => Err(refused(state, ui, &r)),
    }
}

/// `?done=…`: what a finished action says.
#[derive(Default, Deserialize)]
struct Done {
    done: Option<String>,
}

/// The sign-in page's query and form.
#[derive(Default, Deserialize)]
struct SignIn {
    next: Option<String>,
    ended: Option<String>,
    token: Option<String>,
}

/// The provisioning form of the overview.
#[derive(Default, Deserialize)]
struct Provision {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    owner_telegram_id: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    bot_token: String,
}

/// `GET /operator`: to the overview.
#[handler]
pub async fn root() -> Response {
    redirect("/operator/")
}

/// `GET /operator/login`
#[handler]
pub async fn login_page(req: &Request, Data(state): Data<&AppState>) -> Response {
    let ui = ui(state, req);
    let q: SignIn = web::query(req);
    let next = safe_next(q.next.as_deref());
    if session::of(state, req).await.is_some() {
        return redirect(&next);
    }
    let error = q.ended.is_some().then(|| d::tr(ui.lang, "You are signed out.").to_owned());
    rendered(StatusCode::OK, state.pages.login(&LoginPage { error, next, lang: ui.lang, here: ui.here }))
}

/// `POST /operator/login`: the operator token, once, for a session cookie.
#[handler]
pub async fn login(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let ui = ui(state, req);
    let form = match web::posted_anonymously::<SignIn>(req, body, super::bodies::PRE_AUTH_BODY).await {
        Ok(f) => f,
        Err(r @ web::Refused::CrossOrigin) => return refused(state, &ui, &r),
        Err(_) => SignIn::default(),
    };
    let next = safe_next(form.next.as_deref());
    if !session::token_matches(state, form.token.as_deref().unwrap_or_default()) {
        tracing::warn!(remote = %req.remote_addr(), "operator dashboard: a sign-in with a wrong token");
        return rendered(StatusCode::UNAUTHORIZED, state.pages.login(&LoginPage { error: Some(d::tr(ui.lang, "That is not the operator token.").into()), next, lang: ui.lang, here: ui.here }));
    }
    session::start(state, req.cookie());
    redirect(&next)
}

/// `POST /operator/logout`
#[handler]
pub async fn logout(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let ui = ui(state, req);
    let (s, Done { .. }) = match posted(state, &ui, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = session::end(state, &s).await {
        tracing::warn!(error = %e, "operator sign-out: the session could not be revoked; its cookie is removed");
    }
    session::end_cookie(state, req.cookie());
    redirect("/operator/login?ended=1")
}

/// `GET /operator/`: the overview.
#[handler]
pub async fn overview(req: &Request, Data(state): Data<&AppState>) -> Response {
    let Some(s) = session::of(state, req).await else { return to_login(req) };
    let ui = ui(state, req);
    let q: views::OverviewQuery = web::query(req);
    let flash = q.done.as_deref().and_then(views::done_text).map(|t| Flash::ok(d::tr(ui.lang, t)));
    match views::overview(state, &s, &ui, flash, &q, ProvisionForm::default()).await {
        Ok(v) => rendered(StatusCode::OK, state.pages.overview(&v)),
        Err(e) => error_page(state, &ui, StatusCode::INTERNAL_SERVER_ERROR, "The overview could not be read", &say(&e, ui.lang)),
    }
}

/// `GET /operator/tenants/{slug}`
#[handler]
pub async fn tenant(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let Some(s) = session::of(state, req).await else { return to_login(req) };
    let ui = ui(state, req);
    let flash = web::query::<Done>(req).done.as_deref().and_then(views::done_text).map(|t| Flash::ok(d::tr(ui.lang, t)));
    tenant_response(state, &s, &ui, &slug, flash, None, None).await
}

async fn tenant_response(state: &AppState, s: &Session, ui: &Ui, slug: &str, flash: Option<Flash>, limits: Option<(HashMap<String, String>, String)>, status: Option<StatusCode>) -> Response {
    match views::tenant(state, s, ui, slug, flash, limits).await {
        Ok(v) => rendered(status.unwrap_or(StatusCode::OK), state.pages.tenant(&v)),
        Err(ControlError::NotFound(_)) => no_such_tenant(state, ui, slug),
        Err(e) => error_page(state, ui, StatusCode::INTERNAL_SERVER_ERROR, "The tenant could not be read", &say(&e, ui.lang)),
    }
}

/// `POST /operator/tenants`: provisions a tenant from the overview's form.
#[handler]
pub async fn provision(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let ui = ui(state, req);
    let (s, form): (Session, Provision) = match posted(state, &ui, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let keep = ProvisionForm {
        slug: form.slug.trim().to_owned(),
        name: form.name.trim().to_owned(),
        owner_telegram_id: form.owner_telegram_id.trim().to_owned(),
        plan: form.plan.trim().to_owned(),
        error: None,
    };
    let new = (|| -> Result<NewTenant, ControlError> {
        let owner: i64 = keep.owner_telegram_id.parse().map_err(|_| tikethet_runtime::domain::Invalid::new("owner_telegram_id", d::tr(ui.lang, "must be a Telegram user id (a whole number)")))?;
        Ok(NewTenant {
            slug: TenantSlug::parse(&keep.slug)?,
            name: parse_name(&keep.name)?,
            bot_token: BotToken::parse(form.bot_token.trim())?,
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
            let form = ProvisionForm { error: Some(say(&e, ui.lang)), ..keep };
            match views::overview(state, &s, &ui, None, &views::OverviewQuery::default(), form).await {
                Ok(v) => rendered(status, state.pages.overview(&v)),
                Err(e) => error_page(state, &ui, StatusCode::INTERNAL_SERVER_ERROR, "The overview could not be read", &say(&e, ui.lang)),
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct NewInvite {
    #[serde(default)]
    note: String,
}

/// `POST /operator/invites`: makes an invitation code for
/// `TIKETHET_SIGNUP=invite` and shows it once, on the overview (never in
/// an address a browser keeps).
#[handler]
pub async fn invite(req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let ui = ui(state, req);
    let (s, form): (Session, NewInvite) = match posted(state, &ui, req, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let made = state.control.create_invite(&form.note).await;
    let (status, flash, code) = match made {
        Ok(code) => {
            audit(state, "invite", None, form.note.trim()).await;
            (StatusCode::CREATED, None, Some(code))
        }
        Err(e) => (super::error::control_status(&e), Some(Flash::error(say(&e, ui.lang))), None),
    };
    match views::overview(state, &s, &ui, flash, &views::OverviewQuery::default(), ProvisionForm::default()).await {
        Ok(mut v) => {
            v.signups.new_invite = code;
            rendered(status, state.pages.overview(&v))
        }
        Err(e) => error_page(state, &ui, StatusCode::INTERNAL_SERVER_ERROR, "The overview could not be read", &say(&e, ui.lang)),
    }
}

/// `POST /operator/tenants/{slug}/{action}`: suspend, resume, plan, limits.
#[handler]
pub async fn act(Path((slug, action)): Path<(String, String)>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    // `limits` names one field per limit: the form as its fields.
    let ui = ui(state, req);
    let (s, form): (Session, HashMap<String, String>) = match posted(state, &ui, req, body).await {
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
        "revoke-domain" => state.control.revoke_domain(&slug).await.map(|d| ("domain_revoked", d)),
        "limits" => match views::parse_limits(&form, ui.lang) {
            Ok((overrides, said)) => {
                state.control.update(&slug, TenantChanges { limits: Some(overrides), ..TenantChanges::default() }).await.map(|_| ("limits", said))
            }
            Err(why) => return tenant_response(state, &s, &ui, &slug, None, Some((form, why)), Some(StatusCode::BAD_REQUEST)).await,
        },
        _ => return error_page(state, &ui, StatusCode::NOT_FOUND, "No such action", "The dashboard has no such action."),
    };
    match result {
        Ok((done, detail)) => {
            audit(state, done, Some(&slug), &detail).await;
            redirect(&format!("/operator/tenants/{slug}?done={done}"))
        }
        Err(ControlError::NotFound(_)) => no_such_tenant(state, &ui, &slug),
        Err(e) => {
            let status = super::error::control_status(&e);
            tenant_response(state, &s, &ui, &slug, Some(Flash::error(say(&e, ui.lang))), None, Some(status)).await
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
