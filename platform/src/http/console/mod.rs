//! The staff console at `/t/{slug}/admin/`: sign-in by a one-time link
//! (`/admin` in the bot), a session cookie per tenant (HttpOnly, SameSite
//! Lax so that the link opened from Telegram signs in, Secure in
//! production), a CSRF token on every form (an HMAC of the session) and a
//! check of `Origin` (all through the web kit, `super::web`); the queue, a ticket with reply, internal notes,
//! status and priority, the collision warning, and the staff member's
//! sessions. Pages are `tikethet_admin_console`'s; every change goes
//! through the desk (`TenantContext`) as the API's do.

pub mod analytics;
pub mod customers;
pub mod billing;
pub mod domain;
pub mod keys;
pub mod macros;
pub mod manage;
pub mod plugins;
pub mod teams;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem::http::{StatusCode, header};
use poem::web::cookie::SameSite;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tikethet_admin_console::{Choice, ErrorPage, Frame, MessageView, Queue, QueueRow, SessionRow, SessionsPage, TicketPage};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::context::TenantContext;
use tikethet_runtime::desk::service::Reply;
use tikethet_runtime::desk::changes::TicketChanges;
use tikethet_runtime::desk::list::{AssigneeFilter, Cursor, SearchText, TeamFilter, TicketQuery};
use tikethet_runtime::domain::{MessageBody, Priority, TicketId, TicketStatus};
use tikethet_runtime::storage::entities::users;

use super::web::{self, Refused, SessionCookie};
use crate::AppState;
use crate::config::Env;

/// Tickets per page of the queue.
const PAGE: u64 = 50;
/// The queue's default view: tickets still being worked on.
const ACTIVE: [TicketStatus; 3] = [TicketStatus::Open, TicketStatus::InProgress, TicketStatus::WaitingResponse];

fn cookie_name(slug: &str) -> String {
    format!("tikethet_console_{slug}")
}

/// The console's session cookie for a desk: on the whole site (the desk's
/// own domain serves it at `/admin`), SameSite Lax so that the link opened
/// from Telegram signs in.
fn session_cookie<'a>(state: &AppState, name: &'a str) -> SessionCookie<'a> {
    SessionCookie { name, path: "/", same_site: SameSite::Lax, secure: state.settings.env == Env::Production }
}

/// The console session's secret a request carries, if any (the live
/// socket signs in with it, `super::live`).
pub(crate) fn session_secret(state: &AppState, req: &Request, slug: &str) -> Option<String> {
    session_cookie(state, &cookie_name(slug)).read(req.cookie())
}

fn redirect(to: &str) -> Response {
    web::see_other(to)
}

use web::rendered;

/// Where the console's paths start: `/admin` on the tenant's own domain.
fn base(req: &Request, slug: &str) -> String {
    if req.extensions().get::<super::domains::OwnDomain>().is_some() { "/admin".to_owned() } else { format!("/t/{slug}/admin") }
}

fn error_page(state: &AppState, slug: &str, status: StatusCode, title: &str, message: &str) -> Response {
    let (desk, bot) = state.runtime.tenant_by_slug(slug).map(|t| (t.info.name.clone(), t.info.bot_username.clone())).unwrap_or_default();
    let bot = if status == StatusCode::UNAUTHORIZED { bot } else { String::new() };
    let lang = page_language();
    let (title, message) = (tikethet_admin_console::i18n::tr(lang, title), tikethet_admin_console::i18n::tr(lang, message));
    rendered(status, state.console_pages.error(&ErrorPage { lang: lang.into(), desk, bot, title: title.into(), message: message.into(), status: status.as_u16() }))
}

tokio::task_local! {
    /// The language of the console page being answered, for the pages made
    /// where no staff member is at hand (errors, refusals).
    static PAGE_LANGUAGE: &'static str;
}

/// The page language of this request: set by [`in_page_language`].
fn page_language() -> &'static str {
    PAGE_LANGUAGE.try_with(|l| *l).unwrap_or("en")
}

/// Answers a console request in its page language: the staff member's
/// choice (the cookie), else the browser's.
pub async fn in_page_language<E: poem::Endpoint>(ep: std::sync::Arc<E>, req: Request) -> poem::Result<Response> {
    let lang = lang_cookie(&req).unwrap_or_else(|| {
        let accepted = req.headers().get(poem::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(|h| h.split([',', ';']).next());
        tikethet_admin_console::i18n::lang_of(accepted)
    });
    PAGE_LANGUAGE.scope(lang, async move { ep.call(req).await.map(poem::IntoResponse::into_response) }).await
}

/// A refused control-plane action (billing, the domain) as a page titled
/// `title`, with the API's status for it; an internal failure is logged
/// and said in general words.
fn refused_by_control(state: &AppState, slug: &str, s: &Staff, title: &str, e: &crate::control::ControlError) -> Response {
    let status = super::error::control_status(e);
    let message = match e {
        crate::control::ControlError::Internal(inner) => {
            tracing::error!(error = %format!("{inner:#}"), page = title, "console action failed");
            "Something went wrong on our side; nothing was changed. Try again in a moment.".to_owned()
        }
        other => other.to_string(),
    };
    error_page(state, slug, status, &tr(s, title), &message)
}

/// The staff member holds `role` or above, or the page that refuses.
fn need(state: &AppState, slug: &str, s: &Staff, role: tikethet_runtime::domain::Role) -> Result<(), Response> {
    if s.ctx.viewer().role < role {
        return Err(desk_error(state, slug, &RuntimeError::Forbidden(format!("needs the {role} role"))));
    }
    Ok(())
}

/// A desk error as a page (what the API would answer, in words).
fn desk_error(state: &AppState, slug: &str, e: &RuntimeError) -> Response {
    // The status is the API's for the same error (one table, `error.rs`).
    let status = super::error::runtime_status(e);
    let title = match status {
        StatusCode::UNAUTHORIZED => "Sign in",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Not accepted",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::PAYMENT_REQUIRED => "Plan limit reached",
        StatusCode::LOCKED => "This desk is suspended",
        StatusCode::SERVICE_UNAVAILABLE => "Being upgraded",
        StatusCode::PAYLOAD_TOO_LARGE => "Too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Not a file the desk takes",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        StatusCode::BAD_GATEWAY => "Telegram did not answer",
        _ => "Something went wrong",
    };
    let message = match e {
        RuntimeError::Internal(_) => "Something went wrong on our side; nothing was changed. Try again in a moment.".to_owned(),
        RuntimeError::Unauthenticated(m) if m == "signed out" => "You are not signed in to this console.".to_owned(),
        // The rules' own words are English; another language gets what
        // the status means in its words.
        RuntimeError::NotFound(_) if page_language() != "en" => "It is not here: it was removed, or it is not yours to see.".to_owned(),
        RuntimeError::Forbidden(_) if page_language() != "en" => "Your role in this desk does not allow this.".to_owned(),
        RuntimeError::Unauthenticated(_) if page_language() != "en" => "You are not signed in to this console.".to_owned(),
        other => other.to_string(),
    };
    error_page(state, slug, status, title, &message)
}

fn csrf_of(state: &AppState, secret: &str) -> String {
    web::csrf_token(state.settings.jwt_secret.expose(), "console csrf", secret)
}

/// A signed-in staff member.
struct Staff {
    ctx: TenantContext,
    session_id: i64,
    csrf: String,
    secret: String,
    /// The console's language for them: their choice (a cookie), else
    /// their Telegram language.
    lang: &'static str,
}

const LANG_COOKIE: &str = "tikethet_console_lang";

fn lang_cookie(req: &Request) -> Option<&'static str> {
    req.cookie().get(LANG_COOKIE).map(|c| tikethet_admin_console::i18n::lang_of(Some(c.value_str())))
}

/// A label in the staff member's language.
fn tr(s: &Staff, text: &str) -> String {
    tikethet_admin_console::i18n::tr(s.lang, text).to_owned()
}

async fn staff(state: &AppState, req: &Request, slug: &str) -> Result<Staff, Response> {
    let Some(secret) = session_cookie(state, &cookie_name(slug)).read(req.cookie()) else {
        return Err(desk_error(state, slug, &RuntimeError::Unauthenticated("signed out".into())));
    };
    match state.runtime.console_context(slug, &secret).await {
        Ok((ctx, s)) => {
            let lang = lang_cookie(req).unwrap_or_else(|| tikethet_admin_console::i18n::lang_of(ctx.user().language_code.as_deref()));
            Ok(Staff { ctx, session_id: s.id, csrf: csrf_of(state, &secret), secret, lang })
        }
        Err(e) => Err(desk_error(state, slug, &e)),
    }
}

/// The staff member of the console's session, resolved before the
/// handler runs (the console's routes are `/t/{slug}/admin/…`, rewritten
/// so on a desk's own domain); refused with the page that says why.
impl<'a> poem::FromRequest<'a> for Staff {
    async fn from_request(req: &'a Request, _body: &mut poem::RequestBody) -> poem::Result<Self> {
        let Some(state) = req.data::<AppState>() else {
            return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let slug = req.raw_path_param("slug").unwrap_or_default();
        staff(state, req, slug).await.map_err(poem::Error::from_response)
    }
}

/// The typed form of the staff member's state change, or the page that
/// refuses it. The session was resolved (the [`Staff`] extractor) before
/// the body is read.
async fn posted<F: serde::de::DeserializeOwned>(state: &AppState, req: &Request, slug: &str, s: &Staff, body: Body) -> Result<F, Response> {
    web::posted(req, body, &s.csrf).await.map_err(|r| refused(state, slug, &r))
}

/// A state change whose form the handler reads itself (the plugin upload,
/// multipart): its origin and token, checked by the web kit.
fn checked(state: &AppState, req: &Request, slug: &str, s: &Staff, posted: Option<&str>) -> Result<(), Response> {
    web::check(req, &s.csrf, posted).map_err(|r| refused(state, slug, &r))
}

fn refused(state: &AppState, slug: &str, r: &Refused) -> Response {
    error_page(state, slug, r.status(), r.title(), &r.message())
}

/// A form whose fields the handler does not read (its CSRF token aside).
#[derive(Deserialize)]
struct NoFields {}

/// `?done=…`: what a finished action says.
#[derive(Default, Deserialize)]
struct Done {
    done: Option<String>,
}

/// A message as the ticket page shows it: its files by kind, a shared
/// place or contact as a card, a kind the desk cannot show named.
fn message_view(m: &tikethet_runtime::storage::entities::messages::Model, author: String, customer_id: i64, seen: Option<i64>) -> MessageView {
    use tikethet_admin_console::{ContactView, FileView, PlaceView};
    use tikethet_runtime::storage::entities::attachments;
    use tikethet_runtime::worker::incoming::{self, Details};
    let details = Details::parse(m.details.as_deref());
    let map_url = details.as_ref().and_then(Details::map_url).unwrap_or_default();
    let (mut place, mut contact, mut unsupported) = (None, None, None);
    match details {
        Some(Details::Location { latitude, longitude }) => place = Some(PlaceView { title: None, address: None, coords: format!("{latitude:.6}, {longitude:.6}"), map_url }),
        Some(Details::Venue { latitude, longitude, title, address }) => {
            place = Some(PlaceView { title: Some(title), address: Some(address), coords: format!("{latitude:.6}, {longitude:.6}"), map_url })
        }
        Some(Details::Contact { phone_number, first_name, last_name, .. }) => {
            contact = Some(ContactView { name: format!("{first_name}{}", last_name.map(|l| format!(" {l}")).unwrap_or_default()), phone: phone_number })
        }
        Some(Details::Unsupported { telegram_type }) => unsupported = Some(telegram_type),
        Some(Details::Sticker { .. } | Details::Media { .. }) | None => {}
    }
    // A place's, contact's or unsupported kind's text is the line that
    // names it, which the card replaces (a caption after it stays).
    let text = match m.kind.as_str() {
        incoming::LOCATION | incoming::VENUE | incoming::CONTACT => String::new(),
        incoming::UNSUPPORTED => m.text.split_once('\n').map(|(_, caption)| caption.to_owned()).unwrap_or_default(),
        _ => m.text.clone(),
    };
    MessageView {
        id: m.id,
        author,
        kind: if m.internal { "note" } else if m.author_id == Some(customer_id) { "customer" } else { "staff" }.to_owned(),
        text,
        at: when(m.created_at),
        files: tikethet_runtime::storage::files::refs_of(m.attachments.as_deref())
            .into_iter()
            .map(|f| FileView {
                shown: match f.kind.as_str() {
                    attachments::PHOTO if f.content_type.starts_with("image/") => "image",
                    attachments::STICKER if f.content_type.starts_with("image/") => "sticker",
                    attachments::VOICE | attachments::AUDIO => "audio",
                    attachments::VIDEO => "video",
                    attachments::ANIMATION | attachments::VIDEO_NOTE | attachments::STICKER if f.content_type.starts_with("video/") => "loop",
                    _ => "file",
                },
                size: tikethet_runtime::storage::files::human_size(u64::try_from(f.size).unwrap_or(0)),
                id: f.id,
                name: f.name,
            })
            .collect(),
        newer: seen.is_some_and(|seen| m.id > seen),
        place,
        contact,
        unsupported,
        edited: m.edited_at.is_some(),
        previous: tikethet_runtime::storage::entities::messages::revisions_of(m.revisions.as_deref()).into_iter().map(|r| r.text).collect(),
    }
}

fn name_of(u: Option<&users::Model>) -> String {
    match u {
        Some(u) => match &u.last_name {
            Some(l) if !l.is_empty() => format!("{} {l}", u.first_name),
            _ => u.first_name.clone(),
        },
        None => "someone".to_owned(),
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn status_label(lang: &str, s: &str) -> String {
    let en = match s {
        "open" => "Open",
        "in_progress" => "In progress",
        "waiting_response" => "Waiting for the customer",
        "resolved" => "Resolved",
        "closed" => "Closed",
        other => other,
    };
    tikethet_admin_console::i18n::tr(lang, en).to_owned()
}

fn priority_label(lang: &str, p: &str) -> String {
    let en = match p {
        "low" => "Low",
        "normal" => "Normal",
        "high" => "High",
        "critical" => "Critical",
        other => other,
    };
    tikethet_admin_console::i18n::tr(lang, en).to_owned()
}

async fn frame(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>) -> Frame {
    let info = &s.ctx.tenant();
    let banner = match state.control.billing_banner(info.id.as_str()).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "the console could not read the desk's billing");
            None
        }
    };
    Frame {
        desk: info.name.clone(),
        base: base(req, slug),
        csrf: s.csrf.clone(),
        me: name_of(Some(&s.ctx.user())),
        role: s.ctx.viewer().role.as_str().to_owned(),
        primary: info.branding.primary_color.clone().unwrap_or_else(|| info.theme.primary_color.to_owned()),
        accent: info.theme.accent_color.to_owned(),
        flash: flash.map(|(k, t)| (k.to_owned(), t)),
        banner,
        lang: s.lang.to_owned(),
        here: req.original_uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        away: s.ctx.user().away,
    }
}

/// A ticket's next service-level target as the queue shows it: "reply
/// due in 1 h 20 min", "resolution overdue by 2 h", with its state.
fn sla_badge(s: &Staff, kind: &str, due: DateTime<Utc>, from: DateTime<Utc>, now: DateTime<Utc>) -> (String, String) {
    let (d, h, min) = (tr(s, "d"), tr(s, "h"), tr(s, "min"));
    let span = |m: i64| if m >= 60 * 24 { format!("{} {d} {} {h}", m / 1440, m % 1440 / 60) } else if m >= 60 { format!("{} {h} {} {min}", m / 60, m % 60) } else { format!("{} {min}", m.max(1)) };
    let what = tr(s, if kind == "first_response" { "Reply" } else { "Resolution" });
    let left = (due - now).num_minutes();
    if due <= now {
        (format!("{what} {} {}", tr(s, "overdue by"), span(-left)), "breached".into())
    } else {
        let quarter = (due - from).num_minutes() / 4;
        (format!("{what} {} {}", tr(s, "due in"), span(left)), if left <= quarter { "soon" } else { "ok" }.into())
    }
}

/// What a finished action says.
fn done_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "replied" => "Reply sent to the customer.",
        "noted" => "Note added (staff only).",
        "changed" => "Ticket updated.",
        "revoked" => "That session is signed out.",
        "merged" => "Merged: the other ticket's messages are here, and it is closed.",
        "bulk" => "Tickets updated.",
        "tagged" => "Tag added.",
        "untagged" => "Tag removed.",
        "macro" => "Macro applied.",
        "view" => "View saved for the desk.",
        "view-deleted" => "View deleted.",
        _ => return None,
    })
}

/// The flash of a finished action (`?done=…`), in the staff member's language.
fn flash_done(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    let d: Done = web::query(req);
    d.done.as_deref().and_then(done_text).map(|t| ("ok", tr(s, t)))
}

/// `GET /t/{slug}/admin/login?token=…`: the one-time link from `/admin`.
/// It only shows a button that spends the link: Telegram's link previews
/// and mail scanners open links with a GET, and must not use it up (or get
/// a session).
#[handler]
pub async fn login_page(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let token = web::query::<Token>(req).token.unwrap_or_default();
    let Ok(tenant) = state.runtime.tenant_by_slug(&slug) else {
        return error_page(state, &slug, StatusCode::NOT_FOUND, "Not found", "There is no such desk.");
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return desk_error(state, &slug, &RuntimeError::Unauthenticated("this sign-in link is incomplete; send /admin to the bot for a new one".into()));
    }
    let v = tikethet_admin_console::LoginPage { desk: tenant.info.name.clone(), token, action: format!("{}/login", base(req, &slug)) };
    // The token is in this page's address; its referrer policy
    // (same-origin) keeps it from any other site.
    rendered(StatusCode::OK, state.console_pages.login(&v))
}

/// The one-time link's token (`?token=`, then the form that spends it).
#[derive(Default, Deserialize)]
struct Token {
    token: Option<String>,
}

/// `POST /t/{slug}/admin/login`: spends the link, opens the session.
#[handler]
pub async fn login(Path(slug): Path<String>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let token = match web::posted_anonymously::<Token>(req, body, super::bodies::PRE_AUTH_BODY).await {
        Ok(t) => t.token.unwrap_or_default(),
        Err(r @ Refused::CrossOrigin) => return refused(state, &slug, &r),
        Err(_) => String::new(),
    };
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    match state.runtime.redeem_console_link(&slug, &token, agent).await {
        Ok(secret) => {
            let ttl = tikethet_runtime::auth::console::SESSION_TTL.to_std().unwrap_or_default();
            session_cookie(state, &cookie_name(&slug)).set(req.cookie(), &secret, ttl);
            redirect(&format!("{}/", base(req, &slug)))
        }
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/logout`
#[handler]
pub async fn logout(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = state.runtime.end_console_session(&slug, &s.secret).await {
        return desk_error(state, &slug, &e);
    }
    session_cookie(state, &cookie_name(&slug)).end(req.cookie());
    error_page(state, &slug, StatusCode::UNAUTHORIZED, "Signed out", "You are signed out of this console.")
}

/// A page of tickets as the queue lists them (the queue page, and the
/// ticket page's left pane).
async fn queue_rows(s: &Staff, page: &tikethet_runtime::desk::list::TicketPage, desk_teams: &[tikethet_runtime::storage::entities::teams::Model]) -> Vec<QueueRow> {
    let ids: Vec<i64> = page.items.iter().flat_map(|t| [Some(t.customer_id), t.assignee_id]).flatten().collect();
    let people = s.ctx.people_by_ids(&ids).await.unwrap_or_default();
    let last: HashMap<i64, &str> = page.last_messages.iter().map(|m| (m.ticket_id, m.text.as_str())).collect();
    let policy = s.ctx.tenant().sla.clone();
    let now = chrono::Utc::now();
    let team_name = |id: Option<i64>| id.and_then(|id| desk_teams.iter().find(|t| t.id == id)).map(|t| t.name.clone());
    page.items
        .iter()
        .map(|t| QueueRow {
            id: t.id,
            title: t.title.clone(),
            status: t.status.to_string(),
            status_label: status_label(s.lang, t.status.as_str()),
            priority_label: priority_label(s.lang, t.priority.as_str()),
            priority: t.priority.to_string(),
            customer: name_of(people.get(&t.customer_id)),
            assignee: t.assignee_id.map(|a| name_of(people.get(&a))),
            updated: when(t.updated_at),
            preview: last.get(&t.id).map(|m| m.chars().take(140).collect()).unwrap_or_default(),
            due: policy.as_ref().and_then(|p| p.next_due(t)).map(|(kind, due)| sla_badge(s, kind, due, t.created_at, now)),
            team: team_name(t.team_id),
            stamp: t.updated_at.timestamp_millis(),
        })
        .collect()
}

/// Tickets the ticket page's left pane lists (wide screens).
const PANE: u64 = 30;

/// The queue's filters and page.
#[derive(Default, Deserialize)]
struct QueueQuery {
    status: Option<String>,
    q: Option<String>,
    assignee: Option<String>,
    tag: Option<String>,
    team: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

/// The queue's orders: the query's value, the list's sort, the label.
const QUEUE_SORTS: [(&str, &str, &str); 4] =
    [("", "-updated_at", "Recently updated"), ("due", "due", "Time to breach"), ("oldest", "created_at", "Oldest first"), ("priority", "-priority", "Highest priority")];

/// `GET /t/{slug}/admin/`: the queue.
#[handler]
pub async fn queue(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let q: QueueQuery = web::query(req);
    let status = q.status.unwrap_or_default();
    let search = q.q.map(|x| x.trim().to_owned()).unwrap_or_default();
    let assignee = q.assignee.unwrap_or_default();
    let tag = q.tag.map(|t| t.trim().to_owned()).unwrap_or_default();
    let team = q.team.map(|t| t.trim().to_owned()).unwrap_or_default();
    let sort = q.sort.map(|t| t.trim().to_owned()).unwrap_or_default();
    let Some((_, sort_key, _)) = QUEUE_SORTS.iter().find(|(v, ..)| *v == sort) else {
        let e = tikethet_runtime::domain::Invalid::new("sort", format!("must be one of: {}", QUEUE_SORTS.iter().map(|s| s.0).filter(|v| !v.is_empty()).collect::<Vec<_>>().join(", ")));
        return desk_error(state, &slug, &e.into());
    };
    let mut tq = TicketQuery { limit: PAGE, tag: (!tag.is_empty()).then(|| tag.clone()), ..TicketQuery::default() };
    tq.statuses = match status.as_str() {
        "" => ACTIVE.to_vec(),
        "all" => Vec::new(),
        s => match TicketStatus::parse(s) {
            Ok(s) => vec![s],
            Err(e) => return desk_error(state, &slug, &e.into()),
        },
    };
    let parsed = (|| -> Result<(), RuntimeError> {
        tq.sort = tikethet_runtime::desk::list::Sort::parse(sort_key)?;
        tq.search = SearchText::parse(&search)?;
        tq.assignee = match assignee.as_str() {
            "" => None,
            a => Some(AssigneeFilter::parse(a)?),
        };
        tq.team = match team.as_str() {
            "" => None,
            t => Some(TeamFilter::parse(t)?),
        };
        if let Some(c) = &q.cursor {
            tq.cursor = Some(Cursor::parse(c, tq.sort)?);
        }
        Ok(())
    })();
    if let Err(e) = parsed {
        return desk_error(state, &slug, &e);
    }
    let page = match s.ctx.ticket_page(&tq).await {
        Ok(p) => p,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let desk_teams = match s.ctx.team_rows().await {
        Ok(t) => t,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let rows = queue_rows(&s, &page, &desk_teams).await;
    let active: u64 = ACTIVE.iter().map(|st| page.counts.of(*st)).sum();
    let all: u64 = TicketStatus::ALL.iter().map(|st| page.counts.of(*st)).sum();
    let mut statuses = vec![Choice { value: String::new(), label: tr(&s, "Active"), count: Some(active), selected: status.is_empty() }];
    statuses.extend(TicketStatus::ALL.iter().map(|st| Choice { value: st.as_str().into(), label: status_label(s.lang, st.as_str()), count: Some(page.counts.of(*st)), selected: status == st.as_str() }));
    statuses.push(Choice { value: "all".into(), label: tr(&s, "All"), count: Some(all), selected: status == "all" });
    let assignees = [("", "Anyone"), ("me", "Assigned to me"), ("none", "Unassigned")]
        .into_iter()
        .map(|(v, l)| Choice { value: v.into(), label: tr(&s, l), count: None, selected: assignee == v })
        .collect();
    let filters: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("status", &status).append_pair("q", &search).append_pair("assignee", &assignee).append_pair("tag", &tag).append_pair("team", &team).append_pair("sort", &sort).finish();
    // Customers never reach the console; every viewer here may filter by tag.
    let tags = match s.ctx.desk_tags().await {
        Ok(t) => t.into_iter().map(|g| Choice { selected: g.tag == tag, value: g.tag.clone(), label: g.tag, count: Some(g.tickets) }).collect(),
        Err(e) => return desk_error(state, &slug, &e),
    };
    let flash = q.done.as_deref().and_then(done_text).map(|t| ("ok", tr(&s, t)));
    let bulk_assignees = if s.ctx.viewer().role >= tikethet_runtime::domain::Role::Moderator {
        let pq = tikethet_runtime::desk::people::PeopleQuery { staff: true, blocked: Some(false), limit: 100, ..Default::default() };
        let (staff, _) = match s.ctx.people(&pq).await {
            Ok(p) => p,
            Err(e) => return desk_error(state, &slug, &e),
        };
        let mut choices = vec![Choice { value: String::new(), label: tr(&s, "Nobody"), count: None, selected: false }];
        choices.extend(staff.iter().map(|u| Choice { value: u.id.to_string(), label: name_of(Some(u)), count: None, selected: false }));
        choices
    } else {
        Vec::new()
    };
    let teams = if desk_teams.is_empty() {
        Vec::new()
    } else {
        let mut choices = vec![Choice { value: "none".into(), label: tr(&s, "No team"), count: None, selected: team == "none" }];
        choices.extend(desk_teams.iter().map(|t| Choice { value: t.id.to_string(), label: t.name.clone(), count: None, selected: team == t.id.to_string() }));
        choices
    };
    let views = match s.ctx.views().await {
        Ok(v) => v
            .into_iter()
            .map(|w| tikethet_admin_console::SavedView { can_delete: w.created_by == s.ctx.user().id || s.ctx.viewer().role >= tikethet_runtime::domain::Role::Admin, id: w.id, name: w.name, query: w.query })
            .collect(),
        Err(e) => return desk_error(state, &slug, &e),
    };
    let sorts = QUEUE_SORTS.iter().map(|(v, _, l)| Choice { value: (*v).into(), label: tr(&s, l), count: None, selected: *v == sort }).collect();
    let v = Queue { frame: frame(state, req, &slug, &s, flash).await, rows, statuses, assignees, query: search, filters, total: page.total, next: page.next_cursor, bulk_assignees, tags, tag, teams, team, views, sorts };
    rendered(StatusCode::OK, state.console_pages.queue(&v))
}

async fn ticket_view(state: &AppState, req: &Request, slug: &str, s: &Staff, id: i64, flash: Option<(&str, String)>, draft: (String, String), seen: Option<i64>) -> Result<TicketPage, RuntimeError> {
    let t = s.ctx.ticket(TicketId::new(id)).await?;
    let messages = s.ctx.messages(TicketId::new(id)).await?;
    let ids: Vec<i64> = messages.iter().filter_map(|m| m.author_id).chain([t.customer_id]).chain(t.assignee_id).collect();
    let people = s.ctx.people_by_ids(&ids).await?;
    let latest = messages.iter().map(|m| m.id).max().unwrap_or(0);
    let views = messages
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| message_view(m, name_of(m.author_id.and_then(|a| people.get(&a))), t.customer_id, seen))
        .collect();
    let customer = people.get(&t.customer_id);
    // Moderators and up assign; the choice is the desk's staff.
    let assignees = if s.ctx.viewer().role >= tikethet_runtime::domain::Role::Moderator {
        let q = tikethet_runtime::desk::people::PeopleQuery { staff: true, blocked: Some(false), limit: 100, ..Default::default() };
        let (staff, _) = s.ctx.people(&q).await?;
        let mut choices = vec![Choice { value: String::new(), label: tr(s, "Nobody"), count: None, selected: t.assignee_id.is_none() }];
        choices.extend(staff.iter().map(|u| Choice { value: u.id.to_string(), label: name_of(Some(u)), count: None, selected: t.assignee_id == Some(u.id) }));
        choices
    } else {
        Vec::new()
    };
    let canned = s.ctx.canned().await?.into_iter().map(|c| (c.shortcut, c.text)).collect();
    let merge_into = s
        .ctx
        .merge_candidates(TicketId::new(id))
        .await?
        .into_iter()
        .map(|m| Choice { value: m.id.to_string(), label: format!("#{} {}", m.id, m.title.chars().take(60).collect::<String>()), count: None, selected: false })
        .collect();
    // Moderators and up change the category (as they change the rest).
    let categories = if s.ctx.viewer().role >= tikethet_runtime::domain::Role::Moderator {
        let mut choices = vec![Choice { value: String::new(), label: tr(s, "No category"), count: None, selected: t.category_id.is_none() }];
        // Inactive categories are offered only when the ticket is in one.
        choices.extend(s.ctx.categories().await?.into_iter().filter(|c| c.active || t.category_id == Some(c.id)).map(|c| Choice {
            selected: t.category_id == Some(c.id),
            value: c.id.to_string(),
            label: c.icon.map(|i| format!("{i} {}", c.name)).unwrap_or(c.name),
            count: None,
        }));
        choices
    } else {
        Vec::new()
    };
    let desk_teams = s.ctx.team_rows().await?;
    let team = t.team_id.and_then(|id| desk_teams.iter().find(|d| d.id == id)).map(|d| d.name.clone());
    let pane_page = s.ctx.ticket_page(&TicketQuery { statuses: ACTIVE.to_vec(), limit: PANE, ..TicketQuery::default() }).await?;
    let pane = queue_rows(s, &pane_page, &desk_teams).await;
    // Moderators and up give the ticket to a team (as they assign).
    let teams = if s.ctx.viewer().role >= tikethet_runtime::domain::Role::Moderator && !desk_teams.is_empty() {
        let mut choices = vec![Choice { value: String::new(), label: tr(s, "No team"), count: None, selected: t.team_id.is_none() }];
        choices.extend(desk_teams.iter().map(|d| Choice { value: d.id.to_string(), label: d.name.clone(), count: None, selected: t.team_id == Some(d.id) }));
        choices
    } else {
        Vec::new()
    };
    let tags = s.ctx.tags(TicketId::new(id)).await?;
    let can_tag = s.ctx.viewer().role.is_staff();
    let desk_tags = if can_tag { s.ctx.desk_tags().await?.into_iter().map(|g| g.tag).collect() } else { Vec::new() };
    // Macros that change the ticket are for moderators and up.
    let may_change = s.ctx.viewer().role >= tikethet_runtime::domain::Role::Moderator;
    let macros = s.ctx.macros().await?.into_iter().filter(|m| may_change || !m.changes_ticket()).map(|m| Choice { value: m.row.id.to_string(), label: m.row.name, count: None, selected: false }).collect();
    Ok(TicketPage {
        pane,
        customer_id: t.customer_id,
        customer_link: may_change,
        macros,
        teams,
        team,
        categories,
        tags,
        desk_tags,
        can_tag,
        merge_into,
        assignees,
        canned,
        frame: frame(state, req, slug, s, flash).await,
        id: t.id,
        title: t.title.clone(),
        status: t.status.to_string(),
        status_label: status_label(s.lang, t.status.as_str()),
        priority: t.priority.to_string(),
        customer: name_of(customer),
        customer_username: customer.and_then(|c| c.username.clone()),
        assignee: t.assignee_id.map(|a| name_of(people.get(&a))),
        created: when(t.created_at),
        messages: views,
        seen: latest,
        statuses: TicketStatus::ALL.iter().map(|st| Choice { value: st.as_str().into(), label: status_label(s.lang, st.as_str()), count: None, selected: t.status == *st }).collect(),
        priorities: Priority::ALL.iter().map(|p| Choice { value: p.as_str().into(), label: priority_label(s.lang, p.as_str()), count: None, selected: t.priority == *p }).collect(),
        draft: draft.0,
        note_draft: draft.1,
    })
}

/// `GET /t/{slug}/admin/tickets/{id}`
#[handler]
pub async fn ticket(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let flash = flash_done(req, &s);
    match ticket_view(state, req, &slug, &s, id, flash, Default::default(), None).await {
        Ok(v) => rendered(StatusCode::OK, state.console_pages.ticket(&v)),
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// The ticket page again, with what went wrong and the staff member's
/// draft kept (`draft`: the reply's and the note's), after a refused action.
#[allow(clippy::too_many_arguments)]
async fn again(state: &AppState, req: &Request, slug: &str, s: &Staff, id: i64, flash: String, draft: (String, String), seen: Option<i64>, status: StatusCode) -> Response {
    match ticket_view(state, req, slug, s, id, Some(("error", flash)), draft, seen).await {
        Ok(v) => rendered(status, state.console_pages.ticket(&v)),
        Err(e) => desk_error(state, slug, &e),
    }
}

/// A reply or a note as written in the ticket page's box.
#[derive(Deserialize, Default)]
struct Written {
    #[serde(default)]
    text: String,
    /// The newest message the page showed (replies only).
    seen: Option<i64>,
    /// Files attached (a `multipart/form-data` post): name and bytes.
    #[serde(skip)]
    files: Vec<(String, Vec<u8>)>,
}

/// Files one reply or note carries at most.
const MAX_FILES: usize = 10;

/// A reply or note posted as `multipart/form-data` (with files). As with
/// the plugin upload, who is asking is settled before a file is read: the
/// session before any field, the CSRF token (the `csrf` field, which the
/// form sends first) before the first file.
async fn written_with_files(state: &AppState, req: &Request, slug: &str, s: &Staff, body: Body) -> Result<Written, Response> {
    use poem::FromRequest as _;
    let mut rb = poem::RequestBody::new(body);
    let not_an_upload = || error_page(state, slug, StatusCode::BAD_REQUEST, "Not sent", "The form did not arrive whole; nothing was sent. Try again.");
    let mut form = poem::web::Multipart::from_request(req, &mut rb).await.map_err(|_| not_an_upload())?;
    let mut trusted = false;
    let mut w = Written::default();
    while let Some(field) = form.next_field().await.map_err(|_| not_an_upload())? {
        let which = field.name().unwrap_or_default().to_owned();
        let name = field.file_name().map(str::to_owned);
        if which == "files" && !trusted {
            checked(state, req, slug, s, None)?;
            trusted = true;
        }
        let max = if which == "files" { super::api::files::MAX_UPLOAD_BODY } else { 64 * 1024 };
        let bytes = match plugins::field_within(field, max).await {
            Ok(b) => b,
            Err("too large") => return Err(error_page(state, slug, StatusCode::PAYLOAD_TOO_LARGE, "Too large", "A file was larger than the desk takes; nothing was sent.")),
            Err(_) => return Err(not_an_upload()),
        };
        match which.as_str() {
            "csrf" if !trusted => {
                checked(state, req, slug, s, Some(&String::from_utf8_lossy(&bytes)))?;
                trusted = true;
            }
            "text" => w.text = String::from_utf8_lossy(&bytes).into_owned(),
            "seen" => w.seen = String::from_utf8_lossy(&bytes).trim().parse().ok(),
            // An empty file input still sends a part with no name and no bytes.
            "files" if !bytes.is_empty() => {
                if w.files.len() >= MAX_FILES {
                    return Err(error_page(state, slug, StatusCode::BAD_REQUEST, "Too many files", &format!("A message carries at most {MAX_FILES} files; nothing was sent.")));
                }
                w.files.push((name.unwrap_or_else(|| "file".into()), bytes));
            }
            _ => {}
        }
    }
    if !trusted {
        checked(state, req, slug, s, None)?;
    }
    Ok(w)
}

/// `POST /t/{slug}/admin/tickets/{id}/reply`: a reply to the customer.
#[handler]
pub async fn reply(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    write(state, req, &slug, s, id, body, false).await
}

/// `POST /t/{slug}/admin/tickets/{id}/note`: a note only staff see.
#[handler]
pub async fn note(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    write(state, req, &slug, s, id, body, true).await
}

#[allow(clippy::too_many_arguments)]
async fn write(state: &AppState, req: &Request, slug: &str, s: Staff, id: i64, body: Body, internal: bool) -> Response {
    let multipart = req.content_type().is_some_and(|c| c.starts_with("multipart/form-data"));
    let form: Written = match if multipart { written_with_files(state, req, slug, &s, body).await } else { posted(state, req, slug, &s, body).await } {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("{}/tickets/{id}", base(req, slug));
    let draft_of = |text: &str| if internal { (String::new(), text.to_owned()) } else { (text.to_owned(), String::new()) };
    // A message that is just `/shortcut` (no script to insert it) is sent
    // as its canned response.
    let canned = if form.text.trim_start().starts_with('/') { s.ctx.canned().await.unwrap_or_default() } else { Vec::new() };
    let text = tikethet_runtime::desk::canned::expand(&form.text, &canned).map(str::to_owned).unwrap_or(form.text);
    // Each file through the same checks as the Mini App's uploads (its
    // real type, the plan's size), then sent with the message.
    let mut ids = Vec::with_capacity(form.files.len());
    for (name, bytes) in form.files {
        match s.ctx.upload(&name, bytes).await {
            Ok(a) => ids.push(a.id),
            Err(e) => return again(state, req, slug, &s, id, format!("{name}: {e}"), draft_of(&text), None, super::error::runtime_status(&e)).await,
        }
    }
    let message = match MessageBody::parse(&text, &ids) {
        Ok(b) => b,
        Err(e) => return again(state, req, slug, &s, id, e.to_string(), draft_of(&text), None, StatusCode::BAD_REQUEST).await,
    };
    // A reply written on a page that missed newer messages is not sent
    // (checked in the reply's own transaction): the agent reads them first.
    let seen = form.seen.unwrap_or(0);
    let posted = if internal { s.ctx.post_message(TicketId::new(id), &message, true).await.map(Reply::Sent) } else { s.ctx.reply_if_current(TicketId::new(id), &message, seen).await };
    match posted {
        Ok(Reply::Sent(_)) => redirect(&format!("{back}?done={}", if internal { "noted" } else { "replied" })),
        Ok(Reply::Newer(newer)) => {
            let said = format!(
                "Not sent: {} new message{} arrived while you were writing (highlighted below). Read {} and send your reply again.",
                newer.len(),
                if newer.len() == 1 { "" } else { "s" },
                if newer.len() == 1 { "it" } else { "them" }
            );
            again(state, req, slug, &s, id, said, (text, String::new()), Some(seen), StatusCode::CONFLICT).await
        }
        Err(e @ (RuntimeError::PlanLimit(_) | RuntimeError::Conflict(_) | RuntimeError::Invalid(_))) => {
            again(state, req, slug, &s, id, e.to_string(), draft_of(&text), None, super::error::runtime_status(&e)).await
        }
        Err(e) => desk_error(state, slug, &e),
    }
}

/// A ticket's status, priority and assignee as the page's selects post
/// them (an assignee of `""` is nobody).
#[derive(Deserialize)]
struct Change {
    status: Option<String>,
    priority: Option<String>,
    assignee: Option<String>,
    /// A category id, or empty for none.
    category: Option<String>,
    /// A team id, or empty for none.
    team: Option<String>,
}

/// `POST /t/{slug}/admin/tickets/{id}/change`: what differs from the
/// ticket as it is now is changed, by the desk's rules.
#[handler]
pub async fn change(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: Change = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let back = format!("{}/tickets/{id}", base(req, &slug));
    let current = match s.ctx.ticket(TicketId::new(id)).await {
        Ok(t) => t,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let parsed = (|| -> Result<TicketChanges, RuntimeError> {
        let mut ch = TicketChanges::default();
        if let Some(st) = form.status.as_deref().map(TicketStatus::parse).transpose()?.filter(|st| *st != current.status) {
            ch.status = Some(st);
        }
        if let Some(p) = form.priority.as_deref().map(Priority::parse).transpose()?.filter(|p| *p != current.priority) {
            ch.priority = Some(p);
        }
        if let Some(a) = form.assignee.as_deref() {
            let to = match a {
                "" => None,
                a => Some(a.parse::<i64>().map_err(|_| tikethet_runtime::domain::Invalid::new("assignee", "must be a person of the desk"))?),
            };
            if to != current.assignee_id {
                ch.assignee_id = Some(to);
            }
        }
        if let Some(c) = form.category.as_deref() {
            let to = match c {
                "" => None,
                c => Some(c.parse::<i64>().map_err(|_| tikethet_runtime::domain::Invalid::new("category", "must be a category of the desk"))?),
            };
            if to != current.category_id {
                ch.category_id = Some(to);
            }
        }
        if let Some(c) = form.team.as_deref() {
            let to = match c {
                "" => None,
                c => Some(c.parse::<i64>().map_err(|_| tikethet_runtime::domain::Invalid::new("team", "must be a team of the desk"))?),
            };
            if to != current.team_id {
                // The form posts the assignee it showed: with a new team,
                // an unchanged assignee (no `assignee_id` change) is the
                // team rule's to pick.
                ch.team_id = Some(to);
            }
        }
        Ok(ch)
    })();
    match parsed {
        Ok(ch) if ch.is_empty() => redirect(&back),
        Ok(ch) => match s.ctx.change_ticket(TicketId::new(id), &ch).await {
            Ok(_) => redirect(&format!("{back}?done=changed")),
            Err(e @ (RuntimeError::Conflict(_) | RuntimeError::Invalid(_) | RuntimeError::Forbidden(_))) => {
                again(state, req, &slug, &s, id, e.to_string(), Default::default(), None, super::error::runtime_status(&e)).await
            }
            Err(e) => desk_error(state, &slug, &e),
        },
        Err(e) => again(state, req, &slug, &s, id, e.to_string(), Default::default(), None, StatusCode::BAD_REQUEST).await,
    }
}

/// `POST /t/{slug}/admin/tickets/{id}/merge`: into another ticket of the
/// same customer's (`into`).
#[handler]
pub async fn merge(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Merge {
        into: Option<String>,
    }
    let form: Merge = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(into) = form.into.and_then(|x| x.parse::<i64>().ok()) else {
        return again(state, req, &slug, &s, id, "Choose the ticket to merge into.".into(), Default::default(), None, StatusCode::BAD_REQUEST).await;
    };
    match s.ctx.merge_tickets(TicketId::new(id), TicketId::new(into)).await {
        Ok(m) => redirect(&format!("{}/tickets/{}?done=merged", base(req, &slug), m.into.id)),
        Err(e @ (RuntimeError::Conflict(_) | RuntimeError::Forbidden(_) | RuntimeError::NotFound(_))) => {
            again(state, req, &slug, &s, id, e.to_string(), Default::default(), None, super::error::runtime_status(&e)).await
        }
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/tickets/{id}/presence` (the page's script while
/// its live socket is down, every few seconds; `?leave` when the page
/// closes): who else has the ticket open or is typing, and its newest
/// message, as JSON. Told to the other staff through the live events, as a
/// socket's presence is.
#[handler]
pub async fn presence(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Typing {
        typing: Option<String>,
    }
    #[derive(Default, Deserialize)]
    struct Leave {
        leave: Option<String>,
    }
    let form: Typing = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // One read: the ticket (may this staff member see it?) and its newest message.
    let (latest, t) = match s.ctx.newer_messages(TicketId::new(id), i64::MAX).await {
        Ok((_, latest, t)) => (latest, t),
        Err(e) => return desk_error(state, &slug, &e),
    };
    let leaving = web::query::<Leave>(req).leave.is_some();
    let typing = form.typing.as_deref() == Some("1");
    let others = match s.ctx.presence(&state.presence, TicketId::new(id), typing, leaving).await {
        Ok(o) => o,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let body = serde_json::json!({ "others": others, "latest": latest, "status": t.status });
    Response::builder().content_type("application/json").header(header::CACHE_CONTROL, "no-store").body(body.to_string())
}

/// `POST /t/{slug}/admin/bulk`: a status and/or an assignee for the
/// selected tickets (`ids`, repeated), each by the desk's rules. Those
/// refused are named with the reason; the others are changed.
#[handler]
pub async fn bulk(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    // The form's fields in order, as `ids` repeats.
    let fields: Vec<(String, String)> = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ids: Vec<i64> = fields.iter().filter(|(k, _)| k == "ids").filter_map(|(_, v)| v.parse().ok()).take(PAGE as usize).collect();
    let form: HashMap<String, String> = fields.into_iter().filter(|(k, _)| k != "ids").collect();
    let back = format!("{}/?{}", base(req, &slug), form.get("back").map(String::as_str).unwrap_or_default());
    let parsed = (|| -> Result<TicketChanges, RuntimeError> {
        let mut ch = TicketChanges::default();
        if let Some(st) = form.get("status").filter(|st| !st.is_empty()) {
            ch.status = Some(TicketStatus::parse(st)?);
        }
        match form.get("assignee").map(String::as_str) {
            None | Some("keep") => {}
            Some("") => ch.assignee_id = Some(None),
            Some(a) => ch.assignee_id = Some(Some(a.parse::<i64>().map_err(|_| tikethet_runtime::domain::Invalid::new("assignee", "must be a person of the desk"))?)),
        }
        Ok(ch)
    })();
    let ch = match parsed {
        Ok(ch) => ch,
        Err(e) => return desk_error(state, &slug, &e),
    };
    if ids.is_empty() || ch.is_empty() {
        return error_page(state, &slug, StatusCode::BAD_REQUEST, "Nothing to change", "Tick the tickets to change and choose a status or an assignee for them.");
    }
    let mut refused = Vec::new();
    for id in &ids {
        let current = match s.ctx.ticket(TicketId::new(*id)).await {
            Ok(t) => t,
            Err(e) => {
                refused.push(format!("#{id}: {e}"));
                continue;
            }
        };
        // Only what differs: a ticket already so is left alone.
        let mut one = ch.clone();
        if one.status.is_some_and(|st| st == current.status) {
            one.status = None;
        }
        if one.assignee_id.is_some_and(|a| a == current.assignee_id) {
            one.assignee_id = None;
        }
        if one.is_empty() {
            continue;
        }
        match s.ctx.change_ticket(TicketId::new(*id), &one).await {
            Ok(_) => {}
            Err(e @ RuntimeError::Internal(_)) => return desk_error(state, &slug, &e),
            Err(e) => refused.push(format!("#{id}: {e}")),
        }
    }
    if refused.is_empty() {
        let sep = if back.ends_with('?') { "" } else { "&" };
        return redirect(&format!("{back}{sep}done=bulk"));
    }
    let message = format!("{} of {} tickets changed. Not changed: {}.", ids.len() - refused.len(), ids.len(), refused.join("; "));
    error_page(state, &slug, StatusCode::CONFLICT, "Some tickets were not changed", &message)
}

/// `GET /t/{slug}/admin/lang?to=ru&back=…`: the console's language for
/// this browser (a cookie: a preference, not a change to the desk), then
/// back to the page it was chosen on (only a page of this console).
#[handler]
pub async fn set_lang(Path(slug): Path<String>, req: &Request) -> Response {
    #[derive(Default, Deserialize)]
    struct Lang {
        to: Option<String>,
        back: Option<String>,
    }
    let q: Lang = web::query(req);
    let lang = tikethet_admin_console::i18n::lang_of(q.to.as_deref());
    let back = back_to(req, &slug, q.back);
    // A preference, readable by nothing but us; not a secret.
    let mut c = poem::web::cookie::Cookie::new_with_str(LANG_COOKIE, lang);
    c.set_path("/");
    c.set_max_age(std::time::Duration::from_secs(365 * 24 * 3600));
    c.set_same_site(SameSite::Lax);
    req.cookie().add(c);
    redirect(&back)
}

/// Where a switch in the header returns to: a page of this console
/// (never another site), else the queue.
fn back_to(req: &Request, slug: &str, back: Option<String>) -> String {
    let home = format!("{}/", base(req, slug));
    back.filter(|b| b.starts_with(&home) && !b.contains("//") && !b.contains('\\')).unwrap_or(home)
}

/// `GET /t/{slug}/admin/attachments/{id}`: a file of a message the staff
/// member may see, served as the API serves it.
#[handler]
pub async fn attachment(Path((slug, id)): Path<(String, i64)>, s: Staff, Data(state): Data<&AppState>) -> Response {
    match s.ctx.attachment(id).await {
        Ok((a, bytes)) => {
            let (content_type, disposition) = super::api::files::served_as(&a);
            Response::builder()
                .header(header::CONTENT_TYPE, content_type)
                .header(header::CONTENT_DISPOSITION, disposition)
                .header("X-Content-Type-Options", "nosniff")
                .header("Content-Security-Policy", "default-src 'none'; sandbox")
                .header(header::CACHE_CONTROL, "private, max-age=3600")
                .body(bytes)
        }
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `GET /t/{slug}/admin/sessions`
#[handler]
pub async fn sessions(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let rows = match s.ctx.console_sessions().await {
        Ok(r) => r,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let sessions = rows
        .into_iter()
        .map(|r| SessionRow { id: r.id, browser: r.user_agent.unwrap_or_else(|| "unknown browser".into()), started: when(r.created_at), last_seen: when(r.last_seen_at), current: r.id == s.session_id })
        .collect();
    let flash = flash_done(req, &s);
    let v = SessionsPage { frame: frame(state, req, &slug, &s, flash).await, sessions };
    rendered(StatusCode::OK, state.console_pages.sessions(&v))
}

/// `POST /t/{slug}/admin/sessions/{id}/revoke`
#[handler]
pub async fn revoke(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match s.ctx.revoke_console_session(id).await {
        Ok(()) => redirect(&format!("{}/sessions?done=revoked", base(req, &slug))),
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// A tag as the ticket page's forms post it.
#[derive(Deserialize)]
struct TagForm {
    #[serde(default)]
    tag: String,
}

/// `POST /t/{slug}/admin/tickets/{id}/tags` (`tag`): tags the ticket; a tag
/// refused comes back on the page with the reason.
#[handler]
pub async fn add_tag(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: TagForm = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let result = match tikethet_runtime::domain::TagName::parse(&form.tag) {
        Ok(tag) => s.ctx.tag_ticket(TicketId::new(id), &tag).await,
        Err(e) => Err(e.into()),
    };
    tagged(state, req, &slug, &s, id, result, "tagged").await
}

/// `POST /t/{slug}/admin/tickets/{id}/untag` (`tag`)
#[handler]
pub async fn remove_tag(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: TagForm = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let result = s.ctx.untag_ticket(TicketId::new(id), &form.tag).await;
    tagged(state, req, &slug, &s, id, result, "untagged").await
}

async fn tagged(state: &AppState, req: &Request, slug: &str, s: &Staff, id: i64, result: Result<Vec<String>, RuntimeError>, done: &str) -> Response {
    match result {
        Ok(_) => redirect(&format!("{}/tickets/{id}?done={done}", base(req, slug))),
        Err(e @ (RuntimeError::Conflict(_) | RuntimeError::Invalid(_) | RuntimeError::Forbidden(_) | RuntimeError::NotFound(_))) => {
            again(state, req, slug, s, id, e.to_string(), Default::default(), None, super::error::runtime_status(&e)).await
        }
        Err(e) => desk_error(state, slug, &e),
    }
}

/// `GET /t/{slug}/admin/assets/{file}`
#[handler]
pub async fn asset(Path((_slug, file)): Path<(String, String)>) -> Response {
    asset_named(&file)
}

/// `GET /admin/assets/{file}`: the same files for the pages that have no
/// desk frame (the one-time link's page, error pages). The path works on
/// the platform's host and, rewritten, on a desk's own domain.
#[handler]
pub async fn shared_asset(Path(file): Path<String>) -> Response {
    asset_named(&file)
}

fn asset_named(file: &str) -> Response {
    match tikethet_admin_console::asset(file) {
        Some((content_type, body)) => Response::builder()
            .content_type(content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(body),
        None => super::error::json_error(StatusCode::NOT_FOUND, "not_found", "no such asset"),
    }
}
