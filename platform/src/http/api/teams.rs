//! The desk's teams, their members and assignment rules (admins manage
//! them; staff list them to filter the queue).

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::desk::teams::{Rule, Team, TeamFields, TeamName};
use tikethet_runtime::domain::{Invalid, Role};

use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct TeamMemberView {
    pub user_id: i64,
    pub first_name: String,
    #[oai(nullable)]
    pub username: Option<String>,
    /// Away: the team's rule passes them over.
    pub away: bool,
    /// Their open, in-progress and waiting tickets.
    pub open_tickets: u64,
}

#[derive(Debug, Object)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    /// `manual`, `round_robin` or `fewest_open`.
    pub rule: String,
    /// New tickets that no plugin routed go to this team.
    pub takes_new: bool,
    pub members: Vec<TeamMemberView>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        TeamView {
            id: t.row.id,
            name: t.row.name,
            rule: t.row.rule,
            takes_new: t.row.takes_new,
            created_at: t.row.created_at,
            members: t
                .members
                .into_iter()
                .map(|m| TeamMemberView { user_id: m.user.id, first_name: m.user.first_name, username: m.user.username, away: m.user.away, open_tickets: m.open_tickets })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct TeamList {
    pub items: Vec<TeamView>,
}

#[derive(Debug, Object)]
pub struct TeamInput {
    /// 1 to 64 characters on one line, not starting with `@`; unique in
    /// the desk (without case). Plugins assign to a team by this name.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// `manual` (default), `round_robin` or `fewest_open`.
    #[oai(validator(pattern = "^(manual|round_robin|fewest_open)$"))]
    pub rule: Option<String>,
    /// Whether new tickets that no plugin routed go to this team (one team
    /// at most: setting it here takes it from another).
    pub takes_new: Option<bool>,
}

impl TeamInput {
    fn fields(self) -> Result<TeamFields, Invalid> {
        Ok(TeamFields { name: self.name.as_deref().map(TeamName::parse).transpose()?, rule: self.rule.as_deref().map(Rule::parse).transpose()?, takes_new: self.takes_new })
    }
}

#[derive(ApiResponse)]
pub enum TeamCreated {
    #[oai(status = 201)]
    Created(Json<TeamView>),
}

pub struct TeamsApi {
    pub state: AppState,
}

#[OpenApi]
impl TeamsApi {
    /// List teams (staff)
    #[oai(path = "/t/:slug/api/v1/teams", method = "get", tag = "Tag::People")]
    async fn teams(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<TeamList>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(Json(TeamList { items: ctx.teams().await?.into_iter().map(Into::into).collect() }))
    }

    /// Create a team (admins)
    #[oai(path = "/t/:slug/api/v1/teams", method = "post", tag = "Tag::People")]
    async fn create_team(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<TeamInput>) -> Result<TeamCreated, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(TeamCreated::Created(Json(ctx.create_team(body.0.fields()?).await?.into())))
    }

    /// Show a team (staff)
    #[oai(path = "/t/:slug/api/v1/teams/:id", method = "get", tag = "Tag::People")]
    async fn team(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<TeamView>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(Json(ctx.team(id.0).await?.into()))
    }

    /// Change a team (admins)
    #[oai(path = "/t/:slug/api/v1/teams/:id", method = "patch", tag = "Tag::People")]
    async fn update_team(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<TeamInput>) -> Result<Json<TeamView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(ctx.update_team(id.0, body.0.fields()?).await?.into()))
    }

    /// Delete a team (admins)
    ///
    /// Its tickets keep their assignees, without a team.
    #[oai(path = "/t/:slug/api/v1/teams/:id", method = "delete", tag = "Tag::People")]
    async fn delete_team(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        ctx.delete_team(id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Add a member to a team (admins)
    ///
    /// A staff member who is not blocked; adding one twice changes nothing.
    #[oai(path = "/t/:slug/api/v1/teams/:id/members/:user_id", method = "put", tag = "Tag::People")]
    async fn add_member(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, user_id: Path<i64>, auth: TenantAuth) -> Result<Json<TeamView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(ctx.add_team_member(id.0, user_id.0).await?.into()))
    }

    /// Take a member out of a team (admins)
    ///
    /// Their tickets stay theirs.
    #[oai(path = "/t/:slug/api/v1/teams/:id/members/:user_id", method = "delete", tag = "Tag::People")]
    async fn remove_member(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, user_id: Path<i64>, auth: TenantAuth) -> Result<Json<TeamView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(ctx.remove_team_member(id.0, user_id.0).await?.into()))
    }
}
