//! The console's API keys page (admins): the desk's keys with their last
//! use, a form that makes one (shown once, on the page that answers the
//! form), and revoking. Through the same rules as the API (`desk::keys`).

use chrono::Utc;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use tikethet_admin_console::{Choice, KeyRow, KeysPage};
use tikethet_runtime::auth::keys::KeyScope;
use tikethet_runtime::desk::keys::NewKeyRequest;
use tikethet_runtime::desk::people::PeopleQuery;
use tikethet_runtime::domain::Role;

use super::{NoFields, Staff, base, desk_error, frame, name_of, posted, redirect, rendered, tr, when};
use crate::AppState;
use crate::http::web;

/// A scope's words on the page.
fn scope_label(s: &Staff, k: KeyScope) -> String {
    tr(
        s,
        match k {
            KeyScope::TicketsRead => "Read tickets",
            KeyScope::TicketsWrite => "Open and change tickets",
            KeyScope::MessagesRead => "Read messages",
            KeyScope::MessagesWrite => "Write messages",
            KeyScope::CustomersRead => "Read customers",
            KeyScope::CustomersWrite => "Change customers",
            KeyScope::TagsWrite => "Tag tickets",
            KeyScope::Admin => "The desk's settings",
        },
    )
}

/// What the form sent back, to show again with an error.
#[derive(Default)]
struct Typed {
    name: String,
    scopes: Vec<String>,
    expires_days: String,
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode, token: Option<String>, typed: Typed) -> Response {
    if let Err(r) = super::need(state, slug, s, Role::Admin) {
        return r;
    }
    let listed = match s.ctx.api_keys().await {
        Ok(k) => k,
        Err(e) => return desk_error(state, slug, &e),
    };
    let people = s.ctx.people(&PeopleQuery { staff: true, limit: 100, ..Default::default() }).await.map(|(p, _)| p).unwrap_or_default();
    let now = Utc::now();
    let never = tr(s, "never");
    let rows = listed
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            scopes: k.scopes.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" "),
            created_by: people.iter().find(|p| p.id == k.created_by).map_or_else(|| format!("#{}", k.created_by), |p| name_of(Some(p))),
            created: when(k.created_at),
            expires: k.expires_at.map_or_else(|| never.clone(), when),
            last_used: k.last_used_at.map_or_else(|| never.clone(), when),
            state: if k.revoked_at.is_some() {
                "revoked".into()
            } else if k.expires_at.is_some_and(|at| at <= now) {
                "expired".into()
            } else {
                String::new()
            },
            name: k.name,
            prefix: k.prefix,
        })
        .collect();
    let scopes = KeyScope::ALL.into_iter().map(|k| Choice { value: k.as_str().into(), label: scope_label(s, k), count: None, selected: typed.scopes.iter().any(|x| x == k.as_str()) }).collect();
    let v = KeysPage { frame: frame(state, req, slug, s, flash).await, keys: rows, scopes, token, name: typed.name, expires_days: typed.expires_days };
    rendered(status, state.console_pages.keys(&v))
}

/// `GET /t/{slug}/admin/keys`
#[handler]
pub async fn keys(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let flash = match web::query::<super::Done>(req).done.as_deref() {
        Some("revoked") => Some(("ok", tr(&s, "The key is revoked."))),
        _ => None,
    };
    page(state, req, &slug, &s, flash, StatusCode::OK, None, Typed::default()).await
}

/// `POST /t/{slug}/admin/keys` (`name`, `scope` repeated, `expires_days`):
/// makes a key and shows it once.
#[handler]
pub async fn create(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: Vec<(String, String)> = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let typed = Typed { name: field("name"), scopes: form.iter().filter(|(n, _)| n == "scope").map(|(_, v)| v.clone()).collect(), expires_days: field("expires_days") };
    let expires_at = match typed.expires_days.as_str() {
        "" => Ok(None),
        d => d.parse::<u32>().ok().filter(|d| (1..=3650).contains(d)).map(|d| Some(Utc::now() + chrono::Duration::days(d.into()))).ok_or_else(|| tr(&s, "Expires after: a whole number of days from 1 to 3650, or empty")),
    };
    let made = match expires_at {
        Err(e) => Err(e),
        Ok(at) => match NewKeyRequest::parse(&typed.name, &typed.scopes, at) {
            Err(e) => Err(format!("{}: {}", e.field, e.reason)),
            Ok(req) => s.ctx.create_api_key(req).await.map_err(|e| e.to_string()),
        },
    };
    match made {
        Ok((_, token)) => page(state, req, &slug, &s, Some(("ok", tr(&s, "Key made."))), StatusCode::CREATED, Some(token), Typed::default()).await,
        Err(message) => page(state, req, &slug, &s, Some(("error", message)), StatusCode::BAD_REQUEST, None, typed).await,
    }
}

/// `POST /t/{slug}/admin/keys/{id}/revoke`
#[handler]
pub async fn revoke(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match s.ctx.revoke_api_key(id).await {
        Ok(_) => redirect(&format!("{}/keys?done=revoked", base(req, &slug))),
        Err(e) => desk_error(state, &slug, &e),
    }
}
