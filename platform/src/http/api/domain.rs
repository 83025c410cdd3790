//! The desk's own domain (admins and up): ask for one, read the DNS TXT
//! record that proves it, check it now, remove it. The console's Domain
//! page does the same (see `control::domains`).

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::domain::{CustomDomain, Role};

use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::control::domains::DeskDomain;
use crate::http::error::ApiError;

/// A domain to ask for.
#[derive(Debug, Object)]
pub struct DomainAsked {
    /// A host name such as `support.example.com` (no scheme, port or path).
    #[oai(validator(min_length = 1, max_length = 253))]
    pub domain: String,
}

/// The desk's request for a domain and the records that prove it.
#[derive(Debug, Object)]
pub struct DomainRequestView {
    pub domain: String,
    /// `pending` (not proven yet), `verified`, `failing` (the daily check
    /// failed; still routed), `removed` (three failed checks) or `revoked`
    /// (by the operator).
    pub status: String,
    /// The TXT record to publish: its name ...
    pub record_name: String,
    /// ... and its text.
    pub record_value: String,
    /// Where the domain's CNAME points (the platform's host).
    pub cname_target: String,
    #[oai(nullable)]
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    #[oai(nullable)]
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last check did not prove it.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// Daily checks failed in a row.
    pub failures: i32,
}

/// The desk's own domain.
#[derive(Debug, Object)]
pub struct DomainView {
    /// The domain the desk answers on now.
    #[oai(nullable)]
    pub routed: Option<String>,
    /// Its request, if it made one.
    #[oai(nullable)]
    pub request: Option<DomainRequestView>,
}

pub struct DomainApi {
    pub state: AppState,
}

impl DomainApi {
    fn view(&self, d: DeskDomain) -> DomainView {
        let target = self.state.settings.public_url.host_str().unwrap_or_default().to_owned();
        DomainView {
            routed: d.routed,
            request: d.request.map(|r| DomainRequestView {
                record_name: r.record_name(),
                record_value: r.record_value(),
                cname_target: target,
                domain: r.domain,
                status: r.status,
                checked_at: r.checked_at,
                verified_at: r.verified_at,
                last_error: r.last_error,
                failures: r.failures,
            }),
        }
    }
}

#[OpenApi]
impl DomainApi {
    /// The desk's own domain and its request (admins and up)
    #[oai(path = "/t/:slug/api/v1/domain", method = "get", tag = "Tag::Domain")]
    async fn domain(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<DomainView>, ApiError> {
        let _admin = auth.0.at_least(Role::Admin)?;
        Ok(Json(self.view(self.state.control.desk_domain(&slug.0).await?)))
    }

    /// Ask for a domain (admins and up)
    ///
    /// The answer holds the TXT record to publish; nothing is routed until
    /// `POST …/domain/check` finds it. Asking again for the same domain keeps
    /// its token. `409 domain_taken` when another desk is served on it.
    #[oai(path = "/t/:slug/api/v1/domain", method = "put", tag = "Tag::Domain")]
    async fn ask(&self, slug: Path<String>, auth: TenantAuth, body: Json<DomainAsked>) -> Result<Json<DomainView>, ApiError> {
        let admin = auth.0.at_least(Role::Admin)?;
        let d = CustomDomain::parse(&body.0.domain)?;
        let before = self.state.control.desk_domain(&slug.0).await?.request;
        let asked = self.state.control.request_domain(&slug.0, &d).await?;
        if before.is_none_or(|b| b.token != asked.token) {
            crate::http::recorded::by_staff(&admin, "domain.requested", format!("{} (not routed until its TXT record holds)", asked.domain)).await;
        }
        Ok(Json(self.view(self.state.control.desk_domain(&slug.0).await?)))
    }

    /// Look the domain's TXT record up now (admins and up)
    ///
    /// When it holds, the domain is routed and `status` is `verified`;
    /// otherwise `last_error` says why and nothing changes.
    #[oai(path = "/t/:slug/api/v1/domain/check", method = "post", tag = "Tag::Domain")]
    async fn check(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<DomainView>, ApiError> {
        let admin = auth.0.at_least(Role::Admin)?;
        let routed = admin.tenant().custom_domain.clone();
        let checked = self.state.control.check_domain(&slug.0).await?;
        if checked.last_error.is_none() && routed.as_deref() != Some(checked.domain.as_str()) {
            crate::http::recorded::by_staff(&admin, "domain.verified", format!("{} → {} (its TXT record holds)", routed.as_deref().unwrap_or("the platform's address"), checked.domain)).await;
        }
        Ok(Json(self.view(self.state.control.desk_domain(&slug.0).await?)))
    }

    /// Remove the desk's domain (admins and up)
    ///
    /// It stops being routed at once; the desk answers on the platform's
    /// address only.
    #[oai(path = "/t/:slug/api/v1/domain", method = "delete", tag = "Tag::Domain")]
    async fn remove(&self, slug: Path<String>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let admin = auth.0.at_least(Role::Admin)?;
        let had = self.state.control.desk_domain(&slug.0).await?;
        self.state.control.remove_domain(&slug.0).await?;
        if let Some(d) = had.routed.or(had.request.map(|r| r.domain)) {
            crate::http::recorded::by_staff(&admin, "domain.removed", format!("{d} → the platform's address")).await;
        }
        Ok(NoContent::NoContent)
    }
}
