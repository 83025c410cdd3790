//! The desk's people, their roles and blocks, and a staff member's one-time console link.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::desk::people::PeopleQuery;
use tikethet_runtime::domain::Role;
use tikethet_runtime::storage::entities::users;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct UserView {
    pub id: i64,
    pub telegram_id: i64,
    pub role: String,
    pub first_name: String,
    #[oai(nullable)]
    pub last_name: Option<String>,
    #[oai(nullable)]
    pub username: Option<String>,
    pub blocked: bool,
    /// Staff who are away are passed over by teams' assignment rules.
    pub away: bool,
    /// Custom attributes (`PUT /users/{id}/attributes`).
    pub attributes: std::collections::BTreeMap<String, String>,
    /// When they first wrote to the bot in a private chat; staff may open
    /// a conversation only with people who have (and have not blocked it
    /// since: `bot_blocked_at`).
    #[oai(nullable)]
    pub bot_started_at: Option<chrono::DateTime<chrono::Utc>>,
    #[oai(nullable)]
    pub bot_blocked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `en`, `ru`, … as Telegram last said.
    #[oai(nullable)]
    pub language_code: Option<String>,
}

impl From<users::Model> for UserView {
    fn from(u: users::Model) -> Self {
        let attributes = tikethet_runtime::desk::customers::Attributes::of(&u).map().clone();
        UserView {
            id: u.id,
            telegram_id: u.telegram_id,
            role: u.role.to_string(),
            first_name: u.first_name,
            last_name: u.last_name,
            username: u.username,
            blocked: u.blocked,
            away: u.away,
            attributes,
            bot_started_at: u.bot_started_at,
            bot_blocked_at: u.bot_blocked_at,
            language_code: u.language_code,
        }
    }
}

#[derive(Debug, Object)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `after` for the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_after: Option<i64>,
}

#[derive(Debug, Object)]
pub struct UserPatch {
    /// `user`, `helper`, `moderator` or `admin`, below the caller's own role.
    #[oai(validator(pattern = "^(user|helper|moderator|admin|owner)$"))]
    pub role: Option<String>,
    pub blocked: Option<bool>,
}

/// A one-time sign-in link to the staff console.
#[derive(Debug, Object)]
pub struct ConsoleLinkView {
    /// Opens the console signed in, once, within ten minutes.
    pub url: String,
}

pub struct PeopleApi {
    pub state: AppState,
}

#[OpenApi]
impl PeopleApi {
    /// List the desk's people (moderators and up)
    #[oai(path = "/t/:slug/api/v1/users", method = "get", tag = "Tag::People")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        auth: TenantAuth,
        #[oai(validator(pattern = "^(user|helper|moderator|admin|owner)$"))] role: Query<Option<String>>,
        /// Staff only (helpers and up).
        staff: Query<Option<bool>>,
        blocked: Query<Option<bool>>,
        /// Part of a name or username.
        #[oai(validator(max_length = 64))]
        q: Query<Option<String>>,
        /// `next_after` of the page before.
        #[oai(validator(minimum(value = "0")))]
        after: Query<Option<i64>>,
        /// 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<Json<UserPage>, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        let query = PeopleQuery {
            role: role.0.as_deref().map(Role::parse).transpose()?,
            staff: staff.0.unwrap_or(false),
            blocked: blocked.0,
            q: q.0.filter(|s| !s.contains('\0')),
            after: after.0,
            limit: limit.0.unwrap_or(50),
        };
        let (items, next_after) = ctx.people(&query).await?;
        Ok(Json(UserPage { items: items.into_iter().map(Into::into).collect(), next_after }))
    }

    /// Show one person (moderators and up)
    #[oai(path = "/t/:slug/api/v1/users/:id", method = "get", tag = "Tag::People")]
    async fn user(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<UserView>, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        Ok(Json(ctx.person(id.0).await?.into()))
    }

    /// Change a person's role or block them
    ///
    /// Only someone above the person's current role, and only to a role
    /// below their own. The owner role follows the desk's owner account.
    #[oai(path = "/t/:slug/api/v1/users/:id", method = "patch", tag = "Tag::People")]
    async fn change_user(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<UserPatch>) -> Result<Json<UserView>, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        let role = body.0.role.as_deref().map(Role::parse).transpose()?;
        Ok(Json(ctx.change_person(id.0, role, body.0.blocked).await?.into()))
    }

    /// A one-time sign-in link to the staff console (staff)
    ///
    /// What `/admin` in the bot answers with, for staff who are in the Mini
    /// App: it opens the console signed in, once, within ten minutes.
    #[oai(path = "/t/:slug/api/v1/console/link", method = "post", tag = "Tag::People")]
    async fn console_link(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<ConsoleLinkView>, ApiError> {
        let ctx = auth.0;
        Ok(Json(ConsoleLinkView { url: ctx.console_link().await? }))
    }
}
