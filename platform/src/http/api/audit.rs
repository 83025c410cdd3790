//! The desk's audit log through the API (admins and up): who changed what,
//! when, before and after, newest first, in pages of 100 (see
//! `tikethet_runtime::desk::audit` for the actions).

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::desk::audit::{AuditQuery, PAGE};
use tikethet_runtime::domain::Role;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

/// One change.
#[derive(Debug, Object)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The person of the desk who made it; `null` for the platform (its
    /// operator, the daily domain check, a plugin's actions).
    #[oai(nullable)]
    pub actor_id: Option<i64>,
    #[oai(nullable)]
    pub actor_name: Option<String>,
    /// `ticket.status`, `plugin.installed`, `theme.changed`, …
    pub action: String,
    #[oai(nullable)]
    pub ticket_id: Option<i64>,
    /// What changed, before and after.
    pub detail: String,
}

/// A page of the log.
#[derive(Debug, Object)]
pub struct AuditPageView {
    pub items: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; `null` on the last.
    #[oai(nullable)]
    pub next_before: Option<i64>,
}

pub struct AuditApi {
    pub state: AppState,
}

#[OpenApi]
impl AuditApi {
    /// The desk's audit log (admins and up)
    ///
    /// `action` is one action (`ticket.status`) or a family ending in a dot
    /// (`plugin.`); `actor` a person's id; `ticket` a ticket's number.
    #[oai(path = "/t/:slug/api/v1/audit", method = "get", tag = "Tag::People")]
    async fn audit(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        auth: TenantAuth,
        #[oai(validator(min_length = 1, max_length = 64, pattern = "^[a-z_]+(\\.[a-z_]*)?$"))] action: Query<Option<String>>,
        #[oai(validator(minimum(value = "1")))] actor: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1")))] ticket: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1")))] before: Query<Option<i64>>,
    ) -> Result<Json<AuditPageView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let rows = ctx.audit(&AuditQuery { action: action.0, actor: actor.0, ticket: ticket.0, before: before.0 }).await?;
        let ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
        let people = ctx.people_by_ids(&ids).await?;
        let next_before = (rows.len() as u64 == PAGE).then(|| rows.last().map(|r| r.id)).flatten();
        let items = rows
            .into_iter()
            .map(|r| AuditEntryView {
                actor_name: r.actor_id.and_then(|a| people.get(&a)).map(|u| u.first_name.clone()),
                id: r.id,
                at: r.at,
                actor_id: r.actor_id,
                action: r.action,
                ticket_id: r.ticket_id,
                detail: r.detail,
            })
            .collect();
        Ok(Json(AuditPageView { items, next_before }))
    }
}
