//! API keys: made, listed and revoked by owners and admins (`/api-keys`),
//! and which scope each route of the tenant API needs from a key
//! ([`needs`]), checked at the door (`super::signed_in`) in one place.

use chrono::{DateTime, Utc};
use poem::http::Method;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::auth::keys::KeyScope;
use tikethet_runtime::desk::keys::{KeyInfo, NewKeyRequest};

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

/// What a route asks of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any key (who am I).
    Any,
    Scope(KeyScope),
    /// Not with a key: sign-in, console links, the keys themselves.
    Never,
}

/// The scope a request needs from a key, by method and path
/// (`/t/{slug}/api/v1/…`). Reads and writes of tickets, messages, customers
/// and tags have their own scopes; the desk's settings need `admin`.
pub fn needs(method: &Method, path: &str) -> Need {
    let rest = path.split_once("/api/v1/").map_or("", |(_, r)| r);
    let seg: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let read = method == Method::GET || method == Method::HEAD;
    use KeyScope::*;
    match (read, seg.as_slice()) {
        (true, ["auth", "me"]) => Need::Any,
        (_, ["auth", ..] | ["console", ..] | ["api-keys", ..]) => Need::Never,
        (true, ["tickets", _, "messages", ..] | ["attachments", ..]) => Need::Scope(MessagesRead),
        (true, ["tickets", ..] | ["tags"] | ["categories"] | ["canned"] | ["macros"] | ["stats"] | ["views"] | ["teams", ..]) => Need::Scope(TicketsRead),
        (true, ["users", ..]) => Need::Scope(CustomersRead),
        (false, ["tickets", _, "messages", ..] | ["uploads"]) => Need::Scope(MessagesWrite),
        (false, ["tickets", _, "tags", ..] | ["tags", _]) => Need::Scope(TagsWrite),
        (false, ["tickets"] | ["tickets", _] | ["tickets", _, "merge"] | ["tickets", _, "macros", _]) => Need::Scope(TicketsWrite),
        (false, ["users", _, "notes" | "attributes" | "tickets"]) => Need::Scope(CustomersWrite),
        _ => Need::Scope(Admin),
    }
}

/// Refuses (403) a key without what the route needs; a person passes.
pub fn check(ctx: &tikethet_runtime::desk::context::TenantContext, method: &Method, path: &str) -> Result<(), ApiError> {
    let Some(scopes) = ctx.key_scopes() else { return Ok(()) };
    match needs(method, path) {
        Need::Any => Ok(()),
        Need::Never => Err(ApiError::forbidden("key_not_allowed", "this route is not open to API keys; sign in as a person")),
        Need::Scope(s) if scopes.contains(&s) => Ok(()),
        Need::Scope(s) => Err(ApiError::forbidden("insufficient_scope", format!("this API key lacks the {} scope", s.as_str()))),
    }
}

/// An API key as listed (its secret is never shown again).
#[derive(Debug, Object)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The key's public part: keys are `tkh_{prefix}_{secret}`.
    pub prefix: String,
    pub scopes: Vec<String>,
    /// The staff member it acts for (a user id).
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyInfo> for ApiKeyView {
    fn from(k: KeyInfo) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_by: k.created_by,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

/// A new key.
#[derive(Debug, Object)]
pub struct ApiKeyInput {
    /// What it is for (1 to 80 characters).
    pub name: String,
    /// `tickets:read`, `tickets:write`, `messages:read`, `messages:write`,
    /// `customers:read`, `customers:write`, `tags:write`, `admin`.
    pub scopes: Vec<String>,
    /// When it stops working; none: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just made: the token is shown here once.
#[derive(Debug, Object)]
pub struct ApiKeyCreatedView {
    /// `Authorization: Bearer {token}` on the tenant API.
    pub token: String,
    pub key: ApiKeyView,
}

#[derive(ApiResponse)]
pub enum ApiKeyCreated {
    #[oai(status = 201)]
    Created(Json<ApiKeyCreatedView>),
}

pub struct KeysApi {
    pub state: AppState,
}

#[OpenApi]
impl KeysApi {
    /// The desk's API keys (admins)
    #[oai(path = "/t/:slug/api/v1/api-keys", method = "get", tag = "Tag::Auth")]
    async fn keys(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<ApiKeyList>, ApiError> {
        Ok(Json(ApiKeyList { items: auth.0.api_keys().await?.into_iter().map(Into::into).collect() }))
    }

    /// Make an API key (admins)
    ///
    /// It acts for you, with your role as it is when used (never more) and
    /// only within its scopes; the token is in this answer only.
    #[oai(path = "/t/:slug/api/v1/api-keys", method = "post", tag = "Tag::Auth")]
    async fn create_key(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<ApiKeyInput>) -> Result<ApiKeyCreated, ApiError> {
        let b = body.0;
        let req = NewKeyRequest::parse(&b.name, &b.scopes, b.expires_at).map_err(|e| ApiError::bad_request("invalid_request", format!("{}: {}", e.field, e.reason)))?;
        let (key, token) = auth.0.create_api_key(req).await?;
        Ok(ApiKeyCreated::Created(Json(ApiKeyCreatedView { token, key: key.into() })))
    }

    /// Revoke an API key (admins)
    ///
    /// Its next request is refused (401); revoking again changes nothing.
    #[oai(path = "/t/:slug/api/v1/api-keys/:id", method = "delete", tag = "Tag::Auth")]
    async fn revoke_key(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<ApiKeyView>, ApiError> {
        Ok(Json(auth.0.revoke_api_key(id.0).await?.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_its_scope() {
        let n = |m: Method, p: &str| needs(&m, &format!("/t/acme/api/v1/{p}"));
        assert_eq!(n(Method::GET, "tickets"), Need::Scope(KeyScope::TicketsRead));
        assert_eq!(n(Method::GET, "tickets/4/messages"), Need::Scope(KeyScope::MessagesRead));
        assert_eq!(n(Method::POST, "tickets"), Need::Scope(KeyScope::TicketsWrite));
        assert_eq!(n(Method::PATCH, "tickets/4"), Need::Scope(KeyScope::TicketsWrite));
        assert_eq!(n(Method::POST, "tickets/4/messages"), Need::Scope(KeyScope::MessagesWrite));
        assert_eq!(n(Method::POST, "tickets/4/tags"), Need::Scope(KeyScope::TagsWrite));
        assert_eq!(n(Method::PUT, "users/9/attributes"), Need::Scope(KeyScope::CustomersWrite));
        assert_eq!(n(Method::GET, "users"), Need::Scope(KeyScope::CustomersRead));
        assert_eq!(n(Method::PUT, "theme"), Need::Scope(KeyScope::Admin));
        assert_eq!(n(Method::GET, "audit"), Need::Scope(KeyScope::Admin));
        assert_eq!(n(Method::GET, "auth/me"), Need::Any);
        assert_eq!(n(Method::POST, "auth/refresh"), Need::Never);
        assert_eq!(n(Method::POST, "api-keys"), Need::Never);
        assert_eq!(n(Method::POST, "console/link"), Need::Never);
    }
}
