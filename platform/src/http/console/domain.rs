//! The console's domain page, `/t/{slug}/admin/domain` (owner and admins):
//! the desk's own domain, self-served. The admin enters a domain and is
//! shown the DNS TXT record that proves it and the CNAME that points it
//! here; "Check now" looks the record up and routes the domain once it
//! holds (see `control::domains`); "Remove" stops routing it.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tikethet_admin_console::{DomainPage, DomainRequest};
use tikethet_runtime::domain::{CustomDomain, Role};

use super::{NoFields, Staff, base, frame, need, posted, redirect, refused_by_control, rendered, tr};
use crate::AppState;
use crate::control::ControlError;
use crate::control::domains::status;

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The staff member is an admin or the owner, or the page that refuses.
fn admin(state: &AppState, slug: &str, s: &Staff) -> Result<(), Response> {
    need(state, slug, s, Role::Admin)
}

fn control_error(state: &AppState, slug: &str, s: &Staff, e: &ControlError) -> Response {
    refused_by_control(state, slug, s, "Domain", e)
}

/// What a finished action says (`?done=`).
fn done(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    #[derive(Default, Deserialize)]
    struct Q {
        done: Option<String>,
    }
    let q: Q = crate::http::web::query(req);
    let text = match q.done.as_deref() {
        Some("requested") => "Publish the TXT record below, then check it.",
        Some("verified") => "The domain is proven: the desk answers on it now.",
        Some("removed") => "The domain is removed: the desk answers on the platform's address only.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, typed: Option<String>, code: StatusCode) -> Response {
    if let Err(r) = admin(state, slug, s) {
        return r;
    }
    let d = match state.control.desk_domain(slug).await {
        Ok(d) => d,
        Err(e) => return control_error(state, slug, s, &e),
    };
    let flash = flash.or_else(|| done(req, s));
    let v = DomainPage {
        frame: frame(state, req, slug, s, flash).await,
        routed: d.routed.clone(),
        platform_host: state.settings.public_url.host_str().unwrap_or_default().to_owned(),
        request: d.request.as_ref().map(|r| DomainRequest {
            domain: r.domain.clone(),
            status: r.status.clone(),
            record_name: r.record_name(),
            record_value: r.record_value(),
            checked_at: r.checked_at.map(when),
            verified_at: r.verified_at.map(when),
            last_error: r.last_error.clone(),
            routed: d.routed.as_deref() == Some(r.domain.as_str()),
            revoked: r.status == status::REVOKED,
        }),
        typed: typed.unwrap_or_default(),
    };
    rendered(code, state.console_pages.domain(&v))
}

/// `GET /t/{slug}/admin/domain`
#[handler]
pub async fn show(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    page(state, req, &slug, &s, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct Asked {
    domain: String,
}

/// `POST /t/{slug}/admin/domain` (`domain`): asks for a domain. A name that
/// is not one comes back on the same page, as typed, with the reason.
#[handler]
pub async fn request(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let Asked { domain } = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = admin(state, &slug, &s) {
        return r;
    }
    let refused = |e: String, code| page(state, req, &slug, &s, Some(("error", e)), Some(domain.clone()), code);
    let d = match CustomDomain::parse(&domain) {
        Ok(d) => d,
        Err(e) => return refused(format!("{}: {}", tr(&s, "Domain"), e.reason), StatusCode::BAD_REQUEST).await,
    };
    let before = match state.control.desk_domain(&slug).await {
        Ok(d) => d.request,
        Err(e) => return control_error(state, &slug, &s, &e),
    };
    match state.control.request_domain(&slug, &d).await {
        Ok(asked) => {
            if before.is_none_or(|b| b.token != asked.token) {
                crate::http::recorded::by_staff(&s.ctx, "domain.requested", format!("{} (not routed until its TXT record holds)", asked.domain)).await;
            }
            redirect(&format!("{}/domain?done=requested", base(req, &slug)))
        }
        Err(ControlError::Invalid(e)) => refused(format!("{}: {}", tr(&s, "Domain"), e.reason), StatusCode::BAD_REQUEST).await,
        Err(e @ ControlError::DomainTaken(_)) => refused(e.to_string(), StatusCode::CONFLICT).await,
        Err(e) => control_error(state, &slug, &s, &e),
    }
}

/// `POST /t/{slug}/admin/domain/check`: looks the record up now.
#[handler]
pub async fn check(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = admin(state, &slug, &s) {
        return r;
    }
    let routed = s.ctx.tenant().custom_domain.clone();
    match state.control.check_domain(&slug).await {
        Ok(r) if r.status == status::VERIFIED && r.last_error.is_none() => {
            if routed.as_deref() != Some(r.domain.as_str()) {
                crate::http::recorded::by_staff(&s.ctx, "domain.verified", format!("{} → {} (its TXT record holds)", routed.as_deref().unwrap_or("the platform's address"), r.domain)).await;
            }
            redirect(&format!("{}/domain?done=verified", base(req, &slug)))
        }
        // The reason is on the request, and the page shows it.
        Ok(_) => page(state, req, &slug, &s, Some(("error", tr(&s, "The record does not hold yet; see below."))), None, StatusCode::OK).await,
        Err(e) => control_error(state, &slug, &s, &e),
    }
}

/// `POST /t/{slug}/admin/domain/remove`
#[handler]
pub async fn remove(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = admin(state, &slug, &s) {
        return r;
    }
    let had = match state.control.desk_domain(&slug).await {
        Ok(d) => d.routed.or(d.request.map(|r| r.domain)),
        Err(e) => return control_error(state, &slug, &s, &e),
    };
    match state.control.remove_domain(&slug).await {
        Ok(()) => {
            if let Some(d) = had {
                crate::http::recorded::by_staff(&s.ctx, "domain.removed", format!("{d} → the platform's address")).await;
            }
            redirect(&format!("{}/domain?done=removed", base(req, &slug)))
        }
        Err(e) => control_error(state, &slug, &s, &e),
    }
}
