//! The desk's audit log: each change staff and admins make, written in the
//! transaction that makes it (so the log never claims what did not happen,
//! nor misses what did), and read back newest first, filtered.
//!
//! Actions: `ticket.status`, `ticket.assigned`, `ticket.priority`,
//! `ticket.category`, `ticket.title`, `ticket.merged`, `ticket.tagged`,
//! `ticket.untagged`, `tag.renamed`, `ticket.reopened`
//! (by the customer writing in a finished ticket), `person.role`,
//! `person.blocked`, `category.created`, `category.changed`,
//! `category.deleted`, `canned.created`, `canned.changed`,
//! `canned.deleted`, `staff_group.linked`, `staff_group.unlinked`,
//! `broadcast.sent`, `broadcast.stopped`, `message.edited`,
//! `message.deleted`, `plugin.installed`, `plugin.replaced`,
//! `plugin.changed`, `plugin.removed`, `plugin.scheduled`, and the desk's
//! settings kept by the control plane, recorded after it keeps them
//! ([`TenantContext::record_change`], `Runtime::record_for_desk`):
//! `theme.changed`, `bot_texts.changed`, `bot_token.changed`,
//! `sla.changed`, `conversations.changed`, `domain.*`, `billing.*` and the
//! operator's `operator.*`.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::desk::context::TenantContext;
use crate::domain::Role;
use crate::storage::entities::audit_log;
use crate::error::Result;

/// Entries per page of the log.
pub const PAGE: u64 = 100;

/// Records one action.
pub async fn record(txn: &DatabaseTransaction, actor: Option<i64>, action: &str, ticket: Option<i64>, detail: impl Into<String>) -> Result<()> {
    audit_log::ActiveModel { at: Set(Utc::now()), actor_id: Set(actor), action: Set(action.to_owned()), ticket_id: Set(ticket), detail: Set(detail.into()), ..Default::default() }
        .insert(txn)
        .await?;
    Ok(())
}

/// A text as the log quotes it: at most 120 characters.
pub fn quoted(text: &str) -> String {
    let mut q: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        q.push('…');
    }
    format!("{q:?}")
}

/// A filter on the log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// An action, or a family of them (`ticket.` takes every ticket action).
    pub action: Option<String>,
    pub actor: Option<i64>,
    pub ticket: Option<i64>,
    /// Entries before this id (keyset pages, newest first).
    pub before: Option<i64>,
}

pub async fn list(txn: &DatabaseTransaction, q: &AuditQuery) -> Result<Vec<audit_log::Model>> {
    let mut c = Condition::all();
    if let Some(a) = q.action.as_deref().filter(|a| !a.is_empty()) {
        c = c.add(if a.ends_with('.') { audit_log::Column::Action.starts_with(a) } else { audit_log::Column::Action.eq(a) });
    }
    if let Some(a) = q.actor {
        c = c.add(audit_log::Column::ActorId.eq(a));
    }
    if let Some(t) = q.ticket {
        c = c.add(audit_log::Column::TicketId.eq(t));
    }
    if let Some(b) = q.before {
        c = c.add(audit_log::Column::Id.lt(b));
    }
    Ok(audit_log::Entity::find().filter(c).order_by_desc(audit_log::Column::Id).limit(PAGE).all(txn).await?)
}

/// Reopenings per day (`YYYY-MM-DD`) since `first`.
pub async fn reopened_per_day(txn: &DatabaseTransaction, first: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
    Ok(audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::At)
        .filter(audit_log::Column::Action.eq("ticket.reopened"))
        .filter(audit_log::Column::At.gte(first))
        .into_tuple()
        .all(txn)
        .await?)
}

impl TenantContext {
    /// Records a change this staff member made to what the control plane
    /// keeps for the desk (its theme, texts, token, service levels, domain,
    /// plan), once it is kept there.
    pub async fn record_change(&self, action: &str, detail: impl Into<String>) -> Result<()> {
        let txn = self.tenant.db.begin().await?;
        record(&txn, Some(self.user.id), action, None, detail).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A page of the desk's audit log (admins and up).
    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<audit_log::Model>> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let rows = list(&txn, q).await?;
        txn.commit().await?;
        Ok(rows)
    }
}

impl crate::Runtime {
    /// Records a change to a desk made by no one of the desk (the
    /// platform's operator, Stripe, the daily domain check), with no actor.
    pub async fn record_for_desk(&self, tenant: &crate::domain::TenantId, action: &str, detail: impl Into<String>) -> Result<()> {
        let t = self.inner.tenants.get(tenant).ok_or(crate::error::RuntimeError::NotFound("tenant"))?;
        let txn = t.db.begin().await?;
        record(&txn, None, action, None, detail).await?;
        txn.commit().await?;
        Ok(())
    }
}
