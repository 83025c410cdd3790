//! The tenant API, `/t/{slug}/api/v1/…`: one file per resource, each with
//! its request and answer types and its operations. Rules live in
//! `tikethet_runtime::desk`; these files read requests and shape answers.
//!
//! Scoping happens at the door: an operation that needs a signed-in caller
//! takes [`TenantAuth`], which resolves the bearer token to the desk of the
//! path's `slug` and the person signed in before the handler runs, and
//! hands the handler that [`TenantContext`] (never the token). The role an
//! operation needs is declared in it, first thing
//! (`auth.0.at_least(Role::Admin)?`); the runtime's operations check it
//! again.

pub mod audit;
pub mod auth;
pub mod billing;
pub mod canned;
pub mod domain;
pub mod categories;
pub mod customers;
pub mod files;
pub mod keys;
pub mod macros;
pub mod messages;
pub mod people;
pub mod plugins;
pub mod sla;
pub mod stats;
pub mod teams;
pub mod theme;
pub mod tickets;

use poem::IntoResponse as _;
use poem_openapi::auth::Bearer;
use poem_openapi::{ApiResponse, SecurityScheme, Tags};
use tikethet_runtime::desk::context::TenantContext;

use super::error::ApiError;
use crate::AppState;

#[derive(Tags)]
pub(crate) enum Tag {
    /// Sign-in with Telegram and sessions.
    Auth,
    /// Tickets and their conversations.
    Tickets,
    /// The desk's WASM plugins (admins).
    Plugins,
    /// Ticket categories (admins manage them).
    Categories,
    /// The desk's people and their roles.
    People,
    /// Desk statistics (moderators and up).
    Stats,
    /// The desk's theme and brand (admins set them).
    Theme,
    /// Attachments: uploads and downloads.
    Files,
    /// The desk's own domain (admins).
    Domain,
}

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    NoContent,
}

/// `Authorization: Bearer <access_token>` from `/auth/telegram`, or an API
/// key (`tkh_…`, made at `/api-keys`), resolved to the desk of the path's
/// `slug` and the person it was issued to (a key: its maker, within the
/// key's scopes).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "signed_in")]
pub struct TenantAuth(pub TenantContext);

/// The checker behind [`TenantAuth`]: a token of another desk, expired,
/// revoked or of a blocked person is refused with the API's own error
/// (`401`, `403`, `423` for a suspended desk …).
async fn signed_in(req: &poem::Request, bearer: Bearer) -> poem::Result<TenantContext> {
    let Some(state) = req.data::<AppState>() else {
        return Err(refused(ApiError::internal(&anyhow::anyhow!("the tenant API runs without its state"))));
    };
    // Every operation's path is `/t/{slug}/api/v1/…` (poem-openapi names its
    // path parameters by position inside, so the path is read itself).
    let slug = req.uri().path().strip_prefix("/t/").and_then(|p| p.split('/').next()).unwrap_or_default();
    let ctx = state.runtime.context(slug, &bearer.token).await.map_err(|e| refused(e.into()))?;
    keys::check(&ctx, req.method(), req.uri().path()).map_err(refused)?;
    Ok(ctx)
}

fn refused(e: ApiError) -> poem::Error {
    poem::Error::from_response(e.into_response())
}

/// The tenant API's operations, for the OpenAPI service.
pub fn apis(state: &AppState) -> impl poem_openapi::OpenApi {
    let s = || state.clone();
    (
        auth::AuthApi { state: s() },
        tickets::TicketsApi { state: s() },
        messages::MessagesApi { state: s() },
        files::FilesApi { state: s() },
        categories::CategoriesApi { state: s() },
        canned::CannedApi { state: s() },
        people::PeopleApi { state: s() },
        // (A tuple of APIs is one; poem-openapi takes at most 16 a tuple.)
        (teams::TeamsApi { state: s() }, macros::MacrosApi { state: s() }, customers::CustomersApi { state: s() }),
        plugins::PluginsApi { state: s() },
        stats::StatsApi { state: s() },
        (sla::SlaApi { state: s() }, sla::ConversationsApi { state: s() }, keys::KeysApi { state: s() }),
        billing::BillingApi { state: s() },
        theme::ThemeApi { state: s() },
        domain::DomainApi { state: s() },
        audit::AuditApi { state: s() },
    )
}
