//! Canned responses: answers staff insert by typing `/shortcut`.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::domain::{MessageText, Role};

use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

/// An answer staff insert by typing `/shortcut` in a reply.
#[derive(Debug, Object)]
pub struct CannedView {
    pub id: i64,
    /// Typed after `/`: 1 to 32 lowercase letters, digits, `_` and `-`.
    pub shortcut: String,
    pub text: String,
    pub updated_at: DateTime<Utc>,
}

impl From<tikethet_runtime::storage::entities::canned_responses::Model> for CannedView {
    fn from(m: tikethet_runtime::storage::entities::canned_responses::Model) -> Self {
        CannedView { id: m.id, shortcut: m.shortcut, text: m.text, updated_at: m.updated_at }
    }
}

#[derive(Debug, Object)]
pub struct CannedList {
    pub items: Vec<CannedView>,
}

/// A new canned response.
#[derive(Debug, Object)]
pub struct CannedInput {
    #[oai(validator(min_length = 1, max_length = 33))]
    pub shortcut: String,
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub text: String,
}

/// Changes to a canned response; a field left out stays.
#[derive(Debug, Object)]
pub struct CannedPatch {
    #[oai(validator(min_length = 1, max_length = 33))]
    pub shortcut: Option<String>,
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub text: Option<String>,
}

#[derive(ApiResponse)]
pub enum CannedCreated {
    #[oai(status = 201)]
    Created(Json<CannedView>),
}

pub struct CannedApi {
    pub state: AppState,
}

#[OpenApi]
impl CannedApi {
    /// Canned responses (staff)
    #[oai(path = "/t/:slug/api/v1/canned", method = "get", tag = "Tag::Categories")]
    async fn canned(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<CannedList>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(Json(CannedList { items: ctx.canned().await?.into_iter().map(Into::into).collect() }))
    }

    /// Add a canned response (admins)
    ///
    /// `409` when the shortcut is taken.
    #[oai(path = "/t/:slug/api/v1/canned", method = "post", tag = "Tag::Categories")]
    async fn create_canned(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<CannedInput>) -> Result<CannedCreated, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let shortcut = tikethet_runtime::desk::canned::Shortcut::parse(&body.0.shortcut)?;
        let text = MessageText::parse(&body.0.text)?;
        Ok(CannedCreated::Created(Json(ctx.create_canned(&shortcut, &text).await?.into())))
    }

    /// Change a canned response (admins)
    #[oai(path = "/t/:slug/api/v1/canned/:id", method = "patch", tag = "Tag::Categories")]
    async fn update_canned(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<CannedPatch>) -> Result<Json<CannedView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let shortcut = body.0.shortcut.as_deref().map(tikethet_runtime::desk::canned::Shortcut::parse).transpose()?;
        let text = body.0.text.as_deref().map(MessageText::parse).transpose()?;
        Ok(Json(ctx.update_canned(id.0, shortcut.as_ref(), text.as_ref()).await?.into()))
    }

    /// Remove a canned response (admins)
    #[oai(path = "/t/:slug/api/v1/canned/:id", method = "delete", tag = "Tag::Categories")]
    async fn delete_canned(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        ctx.delete_canned(id.0).await?;
        Ok(NoContent::NoContent)
    }
}
