//! The console's customer pages (moderators and up): the list with
//! search, one customer's page (tickets, ratings, notes, attributes), and
//! opening a conversation with them. Every change goes through the desk's
//! rules (`TenantContext`), the same as the API's.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tikethet_admin_console::{CustomerPage, CustomersPage};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::customers::{Attributes, reachable};
use tikethet_runtime::desk::people::PeopleQuery;
use tikethet_runtime::domain::{Invalid, MessageText, Role, TicketTitle};

use super::manage::fixable;
use super::{Done, Staff, base, desk_error, frame, name_of, need, posted, redirect, rendered, status_label, tr, when};
use crate::AppState;
use crate::http::web;

/// Customers a page lists.
const PAGE: u64 = 50;

/// `GET /t/{slug}/admin/customers?q=&after=`
#[handler]
pub async fn list(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    if let Err(r) = need(state, &slug, &s, Role::Moderator) {
        return r;
    }
    #[derive(Default, Deserialize)]
    struct Q {
        q: Option<String>,
        after: Option<String>,
    }
    let q: Q = web::query(req);
    let query = q.q.map(|x| x.trim().to_owned()).unwrap_or_default();
    let pq = PeopleQuery { role: Some(Role::User), q: (!query.is_empty()).then(|| query.clone()), after: q.after.and_then(|a| a.parse().ok()), limit: PAGE, ..Default::default() };
    let (people, next) = match s.ctx.people(&pq).await {
        Ok(p) => p,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let rows = people.iter().map(|u| (u.id, name_of(Some(u)), u.username.clone(), when(u.created_at), u.blocked)).collect();
    let v = CustomersPage { frame: frame(state, req, &slug, &s, None).await, rows, query, next: next.map(|n| n.to_string()) };
    rendered(StatusCode::OK, state.console_pages.customers(&v))
}

fn flash_of(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    let text = match web::query::<Done>(req).done.as_deref() {
        Some("noted") => "Note kept.",
        Some("attributes") => "Attributes saved.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, id: i64, flash: Option<(&str, String)>, draft: (String, String), status: StatusCode) -> Response {
    if let Err(r) = need(state, slug, s, Role::Moderator) {
        return r;
    }
    let p = match s.ctx.customer_profile(id).await {
        Ok(p) => p,
        Err(e) => return desk_error(state, slug, &e),
    };
    let authors: Vec<i64> = p.notes.iter().filter_map(|n| n.author_id).collect();
    let people = s.ctx.people_by_ids(&authors).await.unwrap_or_default();
    let attributes: Vec<(String, String)> = p.attributes.map().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let v = CustomerPage {
        frame: frame(state, req, slug, s, flash).await,
        id: p.user.id,
        name: name_of(Some(&p.user)),
        username: p.user.username.clone(),
        telegram_id: p.user.telegram_id,
        language: p.user.language_code.clone(),
        blocked: p.user.blocked,
        since: when(p.user.created_at),
        unreachable: reachable(&p.user).err(),
        tickets: p.tickets.iter().map(|t| (t.id, t.title.clone(), t.status.to_string(), status_label(s.lang, t.status.as_str()), when(t.updated_at))).collect(),
        ratings: p.ratings.iter().map(|r| (r.ticket_id, r.rating.clamp(0, 5), r.comment.clone().unwrap_or_default())).collect(),
        notes: p.notes.iter().map(|n| (name_of(n.author_id.and_then(|a| people.get(&a))), when(n.created_at), n.text.clone())).collect(),
        attributes_text: attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"),
        attributes,
        draft_title: draft.0,
        draft_text: draft.1,
    };
    rendered(status, state.console_pages.customer(&v))
}

/// `GET /t/{slug}/admin/customers/{id}`
#[handler]
pub async fn show(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    page(state, req, &slug, &s, id, flash_of(req, &s), Default::default(), StatusCode::OK).await
}

async fn after(state: &AppState, req: &Request, slug: &str, s: &Staff, id: i64, result: Result<(), RuntimeError>, done: &str) -> Response {
    match result {
        Ok(()) => redirect(&format!("{}/customers/{id}?done={done}", base(req, slug))),
        Err(e) if fixable(&e) => page(state, req, slug, s, id, Some(("error", e.to_string())), Default::default(), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, slug, &e),
    }
}

/// `POST /t/{slug}/admin/customers/{id}/notes` (`text`)
#[handler]
pub async fn note(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Note {
        text: Option<String>,
    }
    let form: Note = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match MessageText::parse(form.text.as_deref().unwrap_or_default()) {
        Ok(t) => s.ctx.note_customer(id, &t).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    after(state, req, &slug, &s, id, result, "noted").await
}

/// `name=value` lines as attributes.
fn attribute_lines(text: &str) -> Result<Attributes, Invalid> {
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once('=') else {
            return Err(Invalid::new("attributes", format!("{line:?} is not name=value")));
        };
        map.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Attributes::parse(map)
}

/// `POST /t/{slug}/admin/customers/{id}/attributes` (`attributes`: lines)
#[handler]
pub async fn set_attributes(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Attrs {
        attributes: Option<String>,
    }
    let form: Attrs = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match attribute_lines(form.attributes.as_deref().unwrap_or_default()) {
        Ok(a) => s.ctx.set_attributes(id, a).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    after(state, req, &slug, &s, id, result, "attributes").await
}

/// `POST /t/{slug}/admin/customers/{id}/reach` (`title`, `text`): opens a
/// ticket with them; on to it.
#[handler]
pub async fn reach(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Reach {
        title: Option<String>,
        text: Option<String>,
    }
    let form: Reach = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (title, text) = (form.title.unwrap_or_default(), form.text.unwrap_or_default());
    let result = match (TicketTitle::parse(&title), MessageText::parse(&text)) {
        (Ok(t), Ok(x)) => s.ctx.reach_out(id, &t, &x).await,
        (Err(e), _) | (_, Err(e)) => Err(e.into()),
    };
    match result {
        Ok(t) => redirect(&format!("{}/tickets/{}?done=replied", base(req, &slug), t.id)),
        Err(e) if fixable(&e) => page(state, req, &slug, &s, id, Some(("error", e.to_string())), (title, text), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lines_read_as_name_value() {
        let a = attribute_lines("plan = gold\n\norder=A-1=2\n").unwrap();
        assert_eq!(a.map().get("plan").map(String::as_str), Some("gold"));
        assert_eq!(a.map().get("order").map(String::as_str), Some("A-1=2"));
        assert!(attribute_lines("no equals sign").is_err());
        assert!(attribute_lines("Bad Name=x").is_err());
    }
}
