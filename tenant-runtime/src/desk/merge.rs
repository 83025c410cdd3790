//! Merging two tickets of one customer: the customer wrote twice about the
//! same thing. The source's messages move into the target in their own
//! time order (their ids are kept, so every link to them still works), its
//! tags join the target's, and the source is closed with a note that
//! points to the target; the target gets a note of what came in. Staff
//! who see every ticket (moderators and up) merge.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::desk::context::TenantContext;
use crate::domain::{Role, TicketId, TicketStatus};
use crate::storage::entities::{messages, tickets};
use crate::error::{Result, RuntimeError};
use crate::desk::context::Viewer;

/// What a merge left.
#[derive(Debug, Clone)]
pub struct Merged {
    pub from: tickets::Model,
    pub into: tickets::Model,
    /// Messages moved.
    pub moved: u64,
}

async fn note(txn: &DatabaseTransaction, viewer: &Viewer, ticket: i64, text: String) -> Result<()> {
    messages::ActiveModel {
        ticket_id: Set(ticket),
        author_id: Set(Some(viewer.user_id.get())),
        author_role: Set(viewer.role.as_str().to_owned()),
        text: Set(text),
        internal: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Merges `from` into `into` inside `txn` (both fetched through the viewer's scope).
pub async fn merge(txn: &DatabaseTransaction, viewer: &Viewer, from: tickets::Model, into: tickets::Model) -> Result<Merged> {
    if viewer.role < Role::Moderator {
        return Err(RuntimeError::Forbidden("merging tickets needs the moderator role".into()));
    }
    if from.id == into.id {
        return Err(RuntimeError::Conflict("a ticket cannot be merged into itself".into()));
    }
    if from.customer_id != into.customer_id {
        return Err(RuntimeError::Conflict(format!("#{} and #{} belong to different customers; only one customer's tickets merge", from.id, into.id)));
    }
    if into.status == TicketStatus::Closed {
        return Err(RuntimeError::Conflict(format!("#{} is closed; merge into an open ticket (or reopen it first)", into.id)));
    }
    let moved = messages::Entity::update_many()
        .col_expr(messages::Column::TicketId, Expr::value(into.id))
        .filter(messages::Column::TicketId.eq(from.id))
        .exec(txn)
        .await?
        .rows_affected;
    for tag in crate::desk::tickets::tags_of(txn, TicketId::new(from.id)).await? {
        crate::desk::tickets::add_tag(txn, TicketId::new(into.id), &tag).await?;
    }
    note(txn, viewer, into.id, format!("Merged #{} ({}) into this ticket: {moved} message(s) moved here.", from.id, from.title)).await?;
    note(txn, viewer, from.id, format!("Merged into #{} ({}).", into.id, into.title)).await?;
    let now = Utc::now();
    let mut am: tickets::ActiveModel = from.into();
    am.status = Set(TicketStatus::Closed);
    am.closed_at = Set(Some(now));
    am.updated_at = Set(now);
    let from = am.update(txn).await?;
    let first_response = match (into.first_response_at, from.first_response_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut am: tickets::ActiveModel = into.into();
    am.first_response_at = Set(first_response);
    am.updated_at = Set(now);
    let into = am.update(txn).await?;
    super::audit::record(txn, Some(viewer.user_id.get()), "ticket.merged", Some(into.id), format!("#{} merged in ({moved} messages)", from.id)).await?;
    Ok(Merged { from, into, moved })
}

impl TenantContext {
    /// Merges ticket `from` into `into` (moderators and up, one customer's tickets).
    pub async fn merge_tickets(&self, from: TicketId, into: TicketId) -> Result<Merged> {
        if self.viewer.role < Role::Moderator {
            // Before the tickets are read: a helper learns nothing of tickets not theirs.
            return Err(RuntimeError::Forbidden("merging tickets needs the moderator role".into()));
        }
        let txn = self.tenant.db.begin().await?;
        let a = crate::desk::tickets::get_ticket(&txn, &self.viewer, from).await?;
        let b = crate::desk::tickets::get_ticket(&txn, &self.viewer, into).await?;
        let merged = merge(&txn, &self.viewer, a, b).await?;
        txn.commit().await?;
        let mut effects = crate::outbound::effects::Effects::default();
        effects.events.push(crate::live::Event::TicketUpdated { ticket: merged.from.clone() });
        effects.events.push(crate::live::Event::TicketUpdated { ticket: merged.into.clone() });
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(merged)
    }

    /// The customer's other tickets a ticket could be merged into (not
    /// closed), newest first.
    pub async fn merge_candidates(&self, id: TicketId) -> Result<Vec<tickets::Model>> {
        use sea_orm::{QueryOrder, QuerySelect};
        if self.viewer.role < Role::Moderator {
            return Ok(Vec::new());
        }
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let list = tickets::Entity::find()
            .filter(tickets::Column::CustomerId.eq(t.customer_id))
            .filter(tickets::Column::Id.ne(t.id))
            .filter(tickets::Column::Status.ne(TicketStatus::Closed.as_str()))
            .order_by_desc(tickets::Column::Id)
            .limit(50)
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(list)
    }
}
