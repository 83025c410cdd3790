//! The staff console at `/t/{slug}/admin/`: sign-in by a one-time link
//! (`/admin` in the bot), a session cookie per tenant (HttpOnly, SameSite
//! Lax so that the link opened from Telegram signs in, Secure in
//! production), a CSRF token on every form (an HMAC of the session) and a
//! check of `Origin`; the queue, a ticket with reply, internal notes,
//! status and priority, the collision warning, and the staff member's
//! sessions. Pages are `tikethet_admin_console`'s; every change goes
//! through the desk (`TenantContext`) as the API's do.

pub mod analytics;
pub mod manage;
pub mod plugins;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tikethet_admin_console::{Choice, ErrorPage, Frame, MessageView, Queue, QueueRow, SessionRow, SessionsPage, TicketPage};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::context::TenantContext;
use tikethet_runtime::desk::service::Reply;
use tikethet_runtime::desk::changes::TicketChanges;
use tikethet_runtime::desk::list::{AssigneeFilter, Cursor, SearchText, TicketQuery};
use tikethet_runtime::domain::{MessageBody, Priority, TicketId, TicketStatus};
use tikethet_runtime::storage::entities::users;

use crate::AppState;
use crate::config::Env;

/// Our pages load only from us; nothing may frame them.
const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const MAX_FORM: usize = 64 * 1024;
/// Tickets per page of the queue.
const PAGE: u64 = 50;
/// The queue's default view: tickets still being worked on.
const ACTIVE: [TicketStatus; 3] = [TicketStatus::Open, TicketStatus::InProgress, TicketStatus::WaitingResponse];

fn cookie_name(slug: &str) -> String {
    format!("tikethet_console_{slug}")
}

fn html(status: StatusCode, body: String) -> Response {
    super::pages::html_page(status, CSP, body)
}

fn redirect(to: &str) -> Response {
    super::pages::see_other(to)
}

fn rendered(status: StatusCode, r: Result<String, tikethet_admin_console::RenderError>) -> Response {
    match r {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "failed to render a console page");
            html(StatusCode::INTERNAL_SERVER_ERROR, "<!doctype html><title>Error</title><p>The page could not be rendered; the server log says why.</p>".into())
        }
    }
}

/// Where the console's paths start: `/admin` on the tenant's own domain.
fn base(req: &Request, slug: &str) -> String {
    if req.extensions().get::<super::domains::OwnDomain>().is_some() { "/admin".to_owned() } else { format!("/t/{slug}/admin") }
}

fn error_page(state: &AppState, slug: &str, status: StatusCode, title: &str, message: &str) -> Response {
    let (desk, bot) = state.runtime.tenant_by_slug(slug).map(|t| (t.info.name.clone(), t.info.bot_username.clone())).unwrap_or_default();
    let bot = if status == StatusCode::UNAUTHORIZED { bot } else { String::new() };
    rendered(status, state.console_pages.error(&ErrorPage { desk, bot, title: title.into(), message: message.into(), status: status.as_u16() }))
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
        other => other.to_string(),
    };
    error_page(state, slug, status, title, &message)
}

fn csrf_of(state: &AppState, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.settings.jwt_secret.expose()).expect("any key length");
    mac.update(b"console csrf\0");
    mac.update(secret.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..20])
}

fn cookie_of(req: &Request, slug: &str) -> Option<String> {
    let name = cookie_name(slug);
    req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (n, v) = c.trim().split_once('=')?;
        (n == name && !v.is_empty()).then(|| v.to_owned())
    })
}

fn set_cookie(state: &AppState, slug: &str, value: &str, max_age: i64) -> String {
    let secure = if state.settings.env == Env::Production { "; Secure" } else { "" };
    format!("{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}", cookie_name(slug))
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
    req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (n, v) = c.trim().split_once('=')?;
        (n == LANG_COOKIE).then(|| tikethet_admin_console::i18n::lang_of(Some(v)))
    })
}

/// A label in the staff member's language.
fn tr(s: &Staff, text: &str) -> String {
    tikethet_admin_console::i18n::tr(s.lang, text).to_owned()
}

async fn staff(state: &AppState, req: &Request, slug: &str) -> Result<Staff, Response> {
    let Some(secret) = cookie_of(req, slug) else {
        return Err(desk_error(state, slug, &RuntimeError::Unauthenticated("signed out".into())));
    };
    match state.runtime.console_context(slug, &secret).await {
        Ok((ctx, s)) => {
            let lang = lang_cookie(req).unwrap_or_else(|| tikethet_admin_console::i18n::lang_of(ctx.user.language_code.as_deref()));
            Ok(Staff { ctx, session_id: s.id, csrf: csrf_of(state, &secret), secret, lang })
        }
        Err(e) => Err(desk_error(state, slug, &e)),
    }
}

fn form_of(bytes: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

/// The staff member and the form of a state change, or the refusal.
async fn posted(state: &AppState, req: &Request, slug: &str, body: Body) -> Result<(Staff, HashMap<String, String>), Response> {
    let s = staff(state, req, slug).await?;
    let Ok(bytes) = body.into_bytes_limit(MAX_FORM).await else {
        return Err(error_page(state, slug, StatusCode::PAYLOAD_TOO_LARGE, "Too long", "That was longer than the console takes."));
    };
    let form = form_of(&bytes);
    let token = form.get("csrf").cloned();
    checked(state, req, slug, &s, token)?;
    Ok((s, form))
}

/// Refuses a change posted from another site, or without the session's
/// CSRF token (the `X-CSRF-Token` header, or the form's `csrf` field).
fn checked(state: &AppState, req: &Request, slug: &str, s: &Staff, form_token: Option<String>) -> Result<(), Response> {
    if !super::same_origin(req) {
        return Err(error_page(state, slug, StatusCode::FORBIDDEN, "Refused", "This request came from another site; nothing was changed."));
    }
    let token = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned).or(form_token);
    match token {
        Some(t) if bool::from(t.as_bytes().ct_eq(s.csrf.as_bytes())) => Ok(()),
        _ => Err(error_page(
            state,
            slug,
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's security token is missing or out of date (a page left open too long?). Nothing was changed: reload the page and try again.",
        )),
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
    let info = &s.ctx.tenant.info;
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
        me: name_of(Some(&s.ctx.user)),
        role: s.ctx.viewer.role.as_str().to_owned(),
        primary: info.branding.primary_color.clone().unwrap_or_else(|| info.theme.primary_color.to_owned()),
        accent: info.theme.accent_color.to_owned(),
        flash: flash.map(|(k, t)| (k.to_owned(), t)),
        banner,
        lang: s.lang.to_owned(),
        here: req.original_uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default(),
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
        _ => return None,
    })
}

fn query(req: &Request) -> HashMap<String, String> {
    form_of(req.uri().query().unwrap_or_default().as_bytes())
}

/// `GET /t/{slug}/admin/login?token=…`: the one-time link from `/admin`.
/// It only shows a button that spends the link: Telegram's link previews
/// and mail scanners open links with a GET, and must not use it up (or get
/// a session).
#[handler]
pub async fn login_page(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let token = query(req).remove("token").unwrap_or_default();
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

/// `POST /t/{slug}/admin/login`: spends the link, opens the session.
#[handler]
pub async fn login(Path(slug): Path<String>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    if !super::same_origin(req) {
        return error_page(state, &slug, StatusCode::FORBIDDEN, "Refused", "This request came from another site; nothing was changed.");
    }
    let token = match body.into_bytes_limit(MAX_FORM).await {
        Ok(b) => form_of(&b).remove("token").unwrap_or_default(),
        Err(_) => String::new(),
    };
    let agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    match state.runtime.redeem_console_link(&slug, &token, agent).await {
        Ok(secret) => {
            let mut r = redirect(&format!("{}/", base(req, &slug)));
            let cookie = set_cookie(state, &slug, &secret, tikethet_runtime::auth::console::SESSION_TTL.num_seconds());
            r.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("a header value"));
            r
        }
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/logout`
#[handler]
pub async fn logout(Path(slug): Path<String>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (s, _) = match posted(state, req, &slug, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = state.runtime.end_console_session(&slug, &s.secret).await {
        return desk_error(state, &slug, &e);
    }
    let mut r = error_page(state, &slug, StatusCode::UNAUTHORIZED, "Signed out", "You are signed out of this console.");
    r.headers_mut().insert(header::SET_COOKIE, set_cookie(state, &slug, "", 0).parse().expect("a header value"));
    r
}

/// `GET /t/{slug}/admin/`: the queue.
#[handler]
pub async fn queue(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let s = match staff(state, req, &slug).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = query(req);
    let status = q.get("status").cloned().unwrap_or_default();
    let search = q.get("q").map(|x| x.trim().to_owned()).unwrap_or_default();
    let assignee = q.get("assignee").cloned().unwrap_or_default();
    let mut tq = TicketQuery { limit: PAGE, ..TicketQuery::default() };
    tq.statuses = match status.as_str() {
        "" => ACTIVE.to_vec(),
        "all" => Vec::new(),
        s => match TicketStatus::parse(s) {
            Ok(s) => vec![s],
            Err(e) => return desk_error(state, &slug, &e.into()),
        },
    };
    let parsed = (|| -> Result<(), RuntimeError> {
        tq.search = SearchText::parse(&search)?;
        tq.assignee = match assignee.as_str() {
            "" => None,
            a => Some(AssigneeFilter::parse(a)?),
        };
        if let Some(c) = q.get("cursor") {
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
    let ids: Vec<i64> = page.items.iter().flat_map(|t| [Some(t.customer_id), t.assignee_id]).flatten().collect();
    let people = s.ctx.people_by_ids(&ids).await.unwrap_or_default();
    let last: HashMap<i64, &str> = page.last_messages.iter().map(|m| (m.ticket_id, m.text.as_str())).collect();
    let rows = page
        .items
        .iter()
        .map(|t| QueueRow {
            id: t.id,
            title: t.title.clone(),
            status: t.status.clone(),
            status_label: status_label(s.lang, &t.status),
            priority_label: priority_label(s.lang, &t.priority),
            priority: t.priority.clone(),
            customer: name_of(people.get(&t.customer_id)),
            assignee: t.assignee_id.map(|a| name_of(people.get(&a))),
            updated: when(t.updated_at),
            preview: last.get(&t.id).map(|m| m.chars().take(140).collect()).unwrap_or_default(),
        })
        .collect();
    let active: u64 = ACTIVE.iter().map(|st| page.counts.of(*st)).sum();
    let all: u64 = TicketStatus::ALL.iter().map(|st| page.counts.of(*st)).sum();
    let mut statuses = vec![Choice { value: String::new(), label: tr(&s, "Active"), count: Some(active), selected: status.is_empty() }];
    statuses.extend(TicketStatus::ALL.iter().map(|st| Choice { value: st.as_str().into(), label: status_label(s.lang, st.as_str()), count: Some(page.counts.of(*st)), selected: status == st.as_str() }));
    statuses.push(Choice { value: "all".into(), label: tr(&s, "All"), count: Some(all), selected: status == "all" });
    let assignees = [("", "Anyone"), ("me", "Assigned to me"), ("none", "Unassigned")]
        .into_iter()
        .map(|(v, l)| Choice { value: v.into(), label: tr(&s, l), count: None, selected: assignee == v })
        .collect();
    let filters: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("status", &status).append_pair("q", &search).append_pair("assignee", &assignee).finish();
    let flash = q.get("done").and_then(|d| done_text(d)).map(|t| ("ok", tr(&s, t)));
    let bulk_assignees = if s.ctx.viewer.role >= tikethet_runtime::domain::Role::Moderator {
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
    let v = Queue { frame: frame(state, req, &slug, &s, flash).await, rows, statuses, assignees, query: search, filters, total: page.total, next: page.next_cursor, bulk_assignees };
    rendered(StatusCode::OK, state.console_pages.queue(&v))
}

async fn ticket_view(state: &AppState, req: &Request, slug: &str, s: &Staff, id: i64, flash: Option<(&str, String)>, draft: (String, String), seen: Option<i64>) -> Result<TicketPage, RuntimeError> {
    let t = s.ctx.ticket(TicketId(id)).await?;
    let messages = s.ctx.messages(TicketId(id)).await?;
    let ids: Vec<i64> = messages.iter().filter_map(|m| m.author_id).chain([t.customer_id]).chain(t.assignee_id).collect();
    let people = s.ctx.people_by_ids(&ids).await?;
    let latest = messages.iter().map(|m| m.id).max().unwrap_or(0);
    let views = messages
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| MessageView {
            id: m.id,
            author: name_of(m.author_id.and_then(|a| people.get(&a))),
            kind: if m.internal { "note" } else if m.author_id == Some(t.customer_id) { "customer" } else { "staff" }.to_owned(),
            text: m.text.clone(),
            at: when(m.created_at),
            files: m
                .attachments
                .as_deref()
                .and_then(|a| serde_json::from_str::<Vec<tikethet_runtime::storage::files::FileRef>>(a).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.name)
                .collect(),
            newer: seen.is_some_and(|seen| m.id > seen),
        })
        .collect();
    let customer = people.get(&t.customer_id);
    // Moderators and up assign; the choice is the desk's staff.
    let assignees = if s.ctx.viewer.role >= tikethet_runtime::domain::Role::Moderator {
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
        .merge_candidates(TicketId(id))
        .await?
        .into_iter()
        .map(|m| Choice { value: m.id.to_string(), label: format!("#{} {}", m.id, m.title.chars().take(60).collect::<String>()), count: None, selected: false })
        .collect();
    Ok(TicketPage {
        merge_into,
        assignees,
        canned,
        frame: frame(state, req, slug, s, flash).await,
        id: t.id,
        title: t.title.clone(),
        status: t.status.clone(),
        status_label: status_label(s.lang, &t.status),
        priority: t.priority.clone(),
        customer: name_of(customer),
        customer_username: customer.and_then(|c| c.username.clone()),
        assignee: t.assignee_id.map(|a| name_of(people.get(&a))),
        created: when(t.created_at),
        messages: views,
        seen: latest,
        statuses: TicketStatus::ALL.iter().map(|st| Choice { value: st.as_str().into(), label: status_label(s.lang, st.as_str()), count: None, selected: t.status == st.as_str() }).collect(),
        priorities: Priority::ALL.iter().map(|p| Choice { value: p.as_str().into(), label: priority_label(s.lang, p.as_str()), count: None, selected: t.priority == p.as_str() }).collect(),
        draft: draft.0,
        note_draft: draft.1,
    })
}

/// `GET /t/{slug}/admin/tickets/{id}`
#[handler]
pub async fn ticket(Path((slug, id)): Path<(String, i64)>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let s = match staff(state, req, &slug).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = query(req).get("done").and_then(|d| done_text(d)).map(|t| ("ok", tr(&s, t)));
    match ticket_view(state, req, &slug, &s, id, flash, Default::default(), None).await {
        Ok(v) => rendered(StatusCode::OK, state.console_pages.ticket(&v)),
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/tickets/{id}/{action}`: reply, note, change,
/// presence.
#[handler]
pub async fn act(Path((slug, id, action)): Path<(String, i64, String)>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (s, form) = match posted(state, req, &slug, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let text = form.get("text").cloned().unwrap_or_default();
    let back = format!("{}/tickets/{id}", base(req, &slug));
    let again = |flash: String, draft: (String, String), seen: Option<i64>, status: StatusCode| {
        let s = &s;
        let req = &req;
        let slug = &slug;
        async move {
            match ticket_view(state, req, slug, s, id, Some(("error", flash)), draft, seen).await {
                Ok(v) => rendered(status, state.console_pages.ticket(&v)),
                Err(e) => desk_error(state, slug, &e),
            }
        }
    };
    match action.as_str() {
        "reply" | "note" => {
            let internal = action == "note";
            // A reply that is just `/shortcut` (no script to insert it) is
            // sent as its canned response.
            let canned = if text.trim_start().starts_with('/') { s.ctx.canned().await.unwrap_or_default() } else { Vec::new() };
            let text = tikethet_runtime::desk::canned::expand(&text, &canned).map(str::to_owned).unwrap_or(text);
            let body = match MessageBody::parse(&text, &[]) {
                Ok(b) => b,
                Err(e) => {
                    let draft = if internal { (String::new(), text.clone()) } else { (text.clone(), String::new()) };
                    return again(e.to_string(), draft, None, StatusCode::BAD_REQUEST).await;
                }
            };
            // A reply written on a page that missed newer messages is not
            // sent (checked in the reply's own transaction): the agent
            // reads them first.
            let seen: i64 = form.get("seen").and_then(|x| x.parse().ok()).unwrap_or(0);
            let posted = if internal {
                s.ctx.post_message(TicketId(id), &body, true).await.map(Reply::Sent)
            } else {
                s.ctx.reply_if_current(TicketId(id), &body, seen).await
            };
            match posted {
                Ok(Reply::Sent(_)) => redirect(&format!("{back}?done={}", if internal { "noted" } else { "replied" })),
                Ok(Reply::Newer(newer)) => {
                    let said = format!(
                        "Not sent: {} new message{} arrived while you were writing (highlighted below). Read {} and send your reply again.",
                        newer.len(),
                        if newer.len() == 1 { "" } else { "s" },
                        if newer.len() == 1 { "it" } else { "them" }
                    );
                    again(said, (text.clone(), String::new()), Some(seen), StatusCode::CONFLICT).await
                }
                Err(e @ (RuntimeError::PlanLimit(_) | RuntimeError::Conflict(_) | RuntimeError::Invalid(_))) => {
                    let draft = if internal { (String::new(), text.clone()) } else { (text.clone(), String::new()) };
                    again(e.to_string(), draft, None, super::error::runtime_status(&e)).await
                }
                Err(e) => desk_error(state, &slug, &e),
            }
        }
        "change" => {
            let current = match s.ctx.ticket(TicketId(id)).await {
                Ok(t) => t,
                Err(e) => return desk_error(state, &slug, &e),
            };
            let parsed = (|| -> Result<TicketChanges, RuntimeError> {
                let mut ch = TicketChanges::default();
                if let Some(st) = form.get("status").filter(|st| **st != current.status) {
                    ch.status = Some(TicketStatus::parse(st)?);
                }
                if let Some(p) = form.get("priority").filter(|p| **p != current.priority) {
                    ch.priority = Some(Priority::parse(p)?);
                }
                if let Some(a) = form.get("assignee") {
                    let to = match a.as_str() {
                        "" => None,
                        a => Some(a.parse::<i64>().map_err(|_| tikethet_runtime::domain::Invalid::new("assignee", "must be a person of the desk"))?),
                    };
                    if to != current.assignee_id {
                        ch.assignee_id = Some(to);
                    }
                }
                Ok(ch)
            })();
            match parsed {
                Ok(ch) if ch.is_empty() => redirect(&back),
                Ok(ch) => match s.ctx.change_ticket(TicketId(id), &ch).await {
                    Ok(_) => redirect(&format!("{back}?done=changed")),
                    Err(e @ (RuntimeError::Conflict(_) | RuntimeError::Invalid(_) | RuntimeError::Forbidden(_))) => {
                        again(e.to_string(), Default::default(), None, super::error::runtime_status(&e)).await
                    }
                    Err(e) => desk_error(state, &slug, &e),
                },
                Err(e) => again(e.to_string(), Default::default(), None, StatusCode::BAD_REQUEST).await,
            }
        }
        "merge" => {
            let Some(into) = form.get("into").and_then(|x| x.parse::<i64>().ok()) else {
                return again("Choose the ticket to merge into.".into(), Default::default(), None, StatusCode::BAD_REQUEST).await;
            };
            match s.ctx.merge_tickets(TicketId(id), TicketId(into)).await {
                Ok(m) => redirect(&format!("{}/tickets/{}?done=merged", base(req, &slug), m.into.id)),
                Err(e @ (RuntimeError::Conflict(_) | RuntimeError::Forbidden(_) | RuntimeError::NotFound(_))) => {
                    again(e.to_string(), Default::default(), None, super::error::runtime_status(&e)).await
                }
                Err(e) => desk_error(state, &slug, &e),
            }
        }
        "presence" => {
            // One read: the ticket (may this staff member see it?) and its newest message.
            let (latest, t) = match s.ctx.newer_messages(TicketId(id), i64::MAX).await {
                Ok((_, latest, t)) => (latest, t),
                Err(e) => return desk_error(state, &slug, &e),
            };
            let leaving = query(req).contains_key("leave");
            let typing = form.get("typing").is_some_and(|v| v == "1");
            let others = state.presence.report(s.ctx.tenant.info.id.as_str(), id, s.ctx.user.id, &name_of(Some(&s.ctx.user)), typing, leaving).await;
            let body = serde_json::json!({ "others": others, "latest": latest, "status": t.status });
            Response::builder().content_type("application/json").header(header::CACHE_CONTROL, "no-store").body(body.to_string())
        }
        _ => error_page(state, &slug, StatusCode::NOT_FOUND, "Not found", "The console has no such action."),
    }
}

/// `POST /t/{slug}/admin/bulk`: a status and/or an assignee for the
/// selected tickets (`ids`, repeated), each by the desk's rules. Those
/// refused are named with the reason; the others are changed.
#[handler]
pub async fn bulk(Path(slug): Path<String>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let Ok(bytes) = body.into_bytes_limit(MAX_FORM).await else {
        return error_page(state, &slug, StatusCode::PAYLOAD_TOO_LARGE, "Too long", "That was longer than the console takes.");
    };
    // The form's fields, with `ids` repeated (the map of `posted` keeps one).
    let ids: Vec<i64> = url::form_urlencoded::parse(&bytes).filter(|(k, _)| k == "ids").filter_map(|(_, v)| v.parse().ok()).take(PAGE as usize).collect();
    let (s, form) = match posted(state, req, &slug, Body::from(bytes.clone())).await {
        Ok(p) => p,
        Err(r) => return r,
    };
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
        let current = match s.ctx.ticket(TicketId(*id)).await {
            Ok(t) => t,
            Err(e) => {
                refused.push(format!("#{id}: {e}"));
                continue;
            }
        };
        // Only what differs: a ticket already so is left alone.
        let mut one = ch.clone();
        if one.status.is_some_and(|st| st.as_str() == current.status) {
            one.status = None;
        }
        if one.assignee_id.is_some_and(|a| a == current.assignee_id) {
            one.assignee_id = None;
        }
        if one.is_empty() {
            continue;
        }
        match s.ctx.change_ticket(TicketId(*id), &one).await {
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
    let q = query(req);
    let lang = tikethet_admin_console::i18n::lang_of(q.get("to").map(String::as_str));
    let home = format!("{}/", base(req, &slug));
    let back = q.get("back").filter(|b| b.starts_with(&home) && !b.contains("//") && !b.contains('\\')).cloned().unwrap_or(home);
    let mut r = redirect(&back);
    let cookie = format!("{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax");
    r.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("a header value"));
    r
}

/// `GET /t/{slug}/admin/sessions`
#[handler]
pub async fn sessions(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let s = match staff(state, req, &slug).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rows = match s.ctx.console_sessions().await {
        Ok(r) => r,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let sessions = rows
        .into_iter()
        .map(|r| SessionRow { id: r.id, browser: r.user_agent.unwrap_or_else(|| "unknown browser".into()), started: when(r.created_at), last_seen: when(r.last_seen_at), current: r.id == s.session_id })
        .collect();
    let flash = query(req).get("done").and_then(|d| done_text(d)).map(|t| ("ok", tr(&s, t)));
    let v = SessionsPage { frame: frame(state, req, &slug, &s, flash).await, sessions };
    rendered(StatusCode::OK, state.console_pages.sessions(&v))
}

/// `POST /t/{slug}/admin/sessions/{id}/revoke`
#[handler]
pub async fn revoke(Path((slug, id)): Path<(String, i64)>, req: &Request, body: Body, Data(state): Data<&AppState>) -> Response {
    let (s, _) = match posted(state, req, &slug, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match s.ctx.revoke_console_session(id).await {
        Ok(()) => redirect(&format!("{}/sessions?done=revoked", base(req, &slug))),
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `GET /t/{slug}/admin/assets/{file}`
#[handler]
pub async fn asset(Path((_slug, file)): Path<(String, String)>) -> Response {
    match tikethet_admin_console::asset(&file) {
        Some((content_type, body)) => Response::builder()
            .content_type(content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(body),
        None => super::error::json_error(StatusCode::NOT_FOUND, "not_found", "no such asset"),
    }
}
