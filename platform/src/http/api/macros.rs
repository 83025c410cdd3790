//! Macros (admins write them, staff apply them to a ticket in one step)
//! and the queue's saved views shared by the desk's staff.

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::desk::macros::{Macro, MacroFields, MacroName, MacroReply};
use tikethet_runtime::desk::views::ViewFields;
use tikethet_runtime::domain::{Invalid, Priority, Role, TagName, TicketId, TicketStatus};
use tikethet_runtime::storage::entities::saved_views;

use super::tickets::TicketView;
use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct MacroView {
    pub id: i64,
    pub name: String,
    /// The answer sent to the customer; `{{ customer }}`, `{{ agent }}`
    /// and `{{ number }}` are filled in.
    #[oai(nullable)]
    pub reply: Option<String>,
    #[oai(nullable)]
    pub status: Option<String>,
    #[oai(nullable)]
    pub priority: Option<String>,
    /// Tags added to the ticket.
    pub tags: Vec<String>,
    /// The team the ticket is given to (its rule picks the agent unless
    /// `assign_to_me`).
    #[oai(nullable)]
    pub team_id: Option<i64>,
    /// The staff member applying it takes the ticket.
    pub assign_to_me: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<Macro> for MacroView {
    fn from(m: Macro) -> Self {
        MacroView { id: m.row.id, name: m.row.name, reply: m.row.reply, status: m.row.status, priority: m.row.priority, tags: m.tags, team_id: m.row.team_id, assign_to_me: m.row.assign_to_me, updated_at: m.row.updated_at }
    }
}

#[derive(Debug, Object)]
pub struct MacroList {
    pub items: Vec<MacroView>,
}

/// A macro as kept: the whole of it (a `PUT` replaces every field).
#[derive(Debug, Object)]
pub struct MacroInput {
    /// 1 to 64 characters on one line; unique in the desk.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: String,
    /// Up to 4,096 characters; placeholders `{{ customer }}`,
    /// `{{ agent }}`, `{{ number }}`.
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub reply: Option<String>,
    #[oai(validator(pattern = "^(open|in_progress|waiting_response|resolved|closed)$"))]
    pub status: Option<String>,
    #[oai(validator(pattern = "^(low|normal|high|critical)$"))]
    pub priority: Option<String>,
    /// Up to 10 tags to add.
    #[oai(validator(max_items = 10))]
    pub tags: Option<Vec<String>>,
    #[oai(validator(minimum(value = "1")))]
    pub team_id: Option<i64>,
    pub assign_to_me: Option<bool>,
}

impl MacroInput {
    fn fields(self) -> Result<MacroFields, Invalid> {
        Ok(MacroFields {
            name: MacroName::parse(&self.name)?,
            reply: self.reply.as_deref().map(MacroReply::parse).transpose()?,
            status: self.status.as_deref().map(TicketStatus::parse).transpose()?,
            priority: self.priority.as_deref().map(Priority::parse).transpose()?,
            tags: self.tags.unwrap_or_default().iter().map(|t| TagName::parse(t)).collect::<Result<_, _>>()?,
            team_id: self.team_id,
            assign_to_me: self.assign_to_me.unwrap_or(false),
        })
    }
}

#[derive(ApiResponse)]
pub enum MacroCreated {
    #[oai(status = 201)]
    Created(Json<MacroView>),
}

/// A ticket after a macro, with its tags.
#[derive(Debug, Object)]
pub struct MacroApplied {
    pub ticket: TicketView,
    pub tags: Vec<String>,
}

#[derive(Debug, Object)]
pub struct ViewView {
    pub id: i64,
    pub name: String,
    /// The queue's filters as a query string (`status=open&tag=vip`); the
    /// same filters `GET /tickets` takes.
    pub query: String,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
}

impl From<saved_views::Model> for ViewView {
    fn from(v: saved_views::Model) -> Self {
        ViewView { id: v.id, name: v.name, query: v.query, created_by: v.created_by, created_at: v.created_at }
    }
}

#[derive(Debug, Object)]
pub struct ViewList {
    pub items: Vec<ViewView>,
}

#[derive(Debug, Object)]
pub struct ViewInput {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: String,
    /// The filters (`status`, `q`, `assignee`, `tag`, `team`) as a query
    /// string; other keys are dropped.
    #[oai(validator(max_length = 1000))]
    pub query: String,
}

#[derive(ApiResponse)]
pub enum ViewCreated {
    #[oai(status = 201)]
    Created(Json<ViewView>),
}

pub struct MacrosApi {
    pub state: AppState,
}

#[OpenApi]
impl MacrosApi {
    /// List macros (staff)
    #[oai(path = "/t/:slug/api/v1/macros", method = "get", tag = "Tag::Tickets")]
    async fn macros(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<MacroList>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(Json(MacroList { items: ctx.macros().await?.into_iter().map(Into::into).collect() }))
    }

    /// Create a macro (admins)
    #[oai(path = "/t/:slug/api/v1/macros", method = "post", tag = "Tag::Tickets")]
    async fn create_macro(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<MacroInput>) -> Result<MacroCreated, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(MacroCreated::Created(Json(ctx.create_macro(body.0.fields()?).await?.into())))
    }

    /// Replace a macro (admins)
    #[oai(path = "/t/:slug/api/v1/macros/:id", method = "put", tag = "Tag::Tickets")]
    async fn update_macro(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<MacroInput>) -> Result<Json<MacroView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(ctx.update_macro(id.0, body.0.fields()?).await?.into()))
    }

    /// Delete a macro (admins)
    #[oai(path = "/t/:slug/api/v1/macros/:id", method = "delete", tag = "Tag::Tickets")]
    async fn delete_macro(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        ctx.delete_macro(id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Apply a macro to a ticket
    ///
    /// In one transaction: the answer, the changes (by the rules of
    /// `PATCH /tickets/{id}`; a refused one does nothing at all) and the
    /// tags. A macro that changes the ticket needs the moderator role.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/macros/:macro_id", method = "post", tag = "Tag::Tickets")]
    async fn apply_macro(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, macro_id: Path<i64>, auth: TenantAuth) -> Result<Json<MacroApplied>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        let (ticket, tags) = ctx.apply_macro(TicketId::new(id.0), macro_id.0).await?;
        Ok(Json(MacroApplied { ticket: ticket.into(), tags }))
    }

    /// List the desk's saved views (staff)
    #[oai(path = "/t/:slug/api/v1/views", method = "get", tag = "Tag::Tickets")]
    async fn views(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<ViewList>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(Json(ViewList { items: ctx.views().await?.into_iter().map(Into::into).collect() }))
    }

    /// Save a view for the whole desk (staff)
    #[oai(path = "/t/:slug/api/v1/views", method = "post", tag = "Tag::Tickets")]
    async fn save_view(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<ViewInput>) -> Result<ViewCreated, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(ViewCreated::Created(Json(ctx.save_view(ViewFields::parse(&body.0.name, &body.0.query)?).await?.into())))
    }

    /// Delete a saved view (its author or an admin)
    #[oai(path = "/t/:slug/api/v1/views/:id", method = "delete", tag = "Tag::Tickets")]
    async fn delete_view(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        ctx.delete_view(id.0).await?;
        Ok(NoContent::NoContent)
    }
}
