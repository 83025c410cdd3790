//! Tags on tickets, by staff: added and removed on a ticket the staff
//! member may see, listed with how many tickets carry each, and renamed by
//! admins (a rename onto a tag that exists merges the two). The ticket list
//! filters by one (`list::TicketQuery::tag`). Plugins and merges add tags
//! through [`crate::desk::tickets::add_tag`]. Every change is in the audit
//! log (`ticket.tagged`, `ticket.untagged`, `tag.renamed`) and reaches the
//! desk's live events as a ticket update.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::desk::context::TenantContext;
use crate::desk::{audit, tickets};
use crate::domain::{Role, TagName, TicketId};
use crate::error::{Result, RuntimeError};
use crate::storage::entities::ticket_tags;

/// Tags one ticket may carry.
pub const MAX_PER_TICKET: u64 = 20;

/// A tag of the desk and how many tickets carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskTag {
    pub tag: String,
    pub tickets: u64,
}

async fn touch(txn: &DatabaseTransaction, ticket: TicketId) -> Result<crate::storage::entities::tickets::Model> {
    use crate::storage::entities::tickets as rows;
    rows::Entity::update_many()
        .col_expr(rows::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(rows::Column::Id.eq(ticket.get()))
        .exec(txn)
        .await?;
    rows::Entity::find_by_id(ticket.get()).one(txn).await?.ok_or(RuntimeError::NotFound("ticket"))
}

impl TenantContext {
    /// Adds a tag to a ticket the staff member may see; its tags after.
    pub async fn tag_ticket(&self, id: TicketId, tag: &TagName) -> Result<Vec<String>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        tickets::get_ticket(&txn, &self.viewer, id).await?;
        let had = tickets::tags_of(&txn, id).await?;
        if had.iter().any(|t| t == tag.as_str()) {
            txn.commit().await?;
            return Ok(had);
        }
        if had.len() as u64 >= MAX_PER_TICKET {
            return Err(RuntimeError::Conflict(format!("a ticket carries at most {MAX_PER_TICKET} tags; remove one first")));
        }
        tickets::add_tag(&txn, id, tag.as_str()).await?;
        audit::record(&txn, Some(self.user.id), "ticket.tagged", Some(id.get()), tag.as_str()).await?;
        self.tags_changed(txn, id).await
    }

    /// Removes a tag (as stored, whoever added it) from a ticket the staff
    /// member may see; its tags after. 404 when the ticket has no such tag.
    pub async fn untag_ticket(&self, id: TicketId, tag: &str) -> Result<Vec<String>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        tickets::get_ticket(&txn, &self.viewer, id).await?;
        let gone = ticket_tags::Entity::delete_many()
            .filter(ticket_tags::Column::TicketId.eq(id.get()))
            .filter(ticket_tags::Column::Tag.eq(tag))
            .exec(&txn)
            .await?
            .rows_affected;
        if gone == 0 {
            return Err(RuntimeError::NotFound("tag on this ticket"));
        }
        audit::record(&txn, Some(self.user.id), "ticket.untagged", Some(id.get()), tag).await?;
        self.tags_changed(txn, id).await
    }

    /// Commits a tag change: the ticket counts as updated (the list's
    /// order, live views), and its tags are answered.
    async fn tags_changed(&self, txn: DatabaseTransaction, id: TicketId) -> Result<Vec<String>> {
        let ticket = touch(&txn, id).await?;
        let tags = tickets::tags_of(&txn, id).await?;
        txn.commit().await?;
        let mut effects = crate::outbound::effects::Effects::default();
        effects.events.push(crate::live::Event::TicketUpdated { ticket });
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(tags)
    }

    /// The desk's tags with how many tickets carry each, by name (staff).
    pub async fn desk_tags(&self) -> Result<Vec<DeskTag>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let rows: Vec<(String, i64)> = ticket_tags::Entity::find()
            .select_only()
            .column(ticket_tags::Column::Tag)
            .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
            .group_by(ticket_tags::Column::Tag)
            .order_by_asc(ticket_tags::Column::Tag)
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(rows.into_iter().map(|(tag, n)| DeskTag { tag, tickets: u64::try_from(n).unwrap_or(0) }).collect())
    }

    /// Renames a tag on every ticket (admins); onto an existing tag, the
    /// two merge. The new tag and how many tickets carry it now.
    pub async fn rename_tag(&self, from: &str, to: &TagName) -> Result<DeskTag> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let carrying: Vec<i64> = ticket_tags::Entity::find()
            .select_only()
            .column(ticket_tags::Column::TicketId)
            .filter(ticket_tags::Column::Tag.eq(from))
            .into_tuple()
            .all(&txn)
            .await?;
        if carrying.is_empty() {
            return Err(RuntimeError::NotFound("tag"));
        }
        if from != to.as_str() {
            // Insert the new name where it is missing, then drop the old:
            // a ticket that had both keeps one.
            let rows = carrying.iter().map(|t| ticket_tags::ActiveModel { ticket_id: sea_orm::ActiveValue::Set(*t), tag: sea_orm::ActiveValue::Set(to.as_str().to_owned()) });
            let res = ticket_tags::Entity::insert_many(rows)
                .on_conflict(OnConflict::columns([ticket_tags::Column::TicketId, ticket_tags::Column::Tag]).do_nothing().to_owned())
                .exec(&txn)
                .await;
            match res {
                Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
                Err(e) => return Err(e.into()),
            }
            ticket_tags::Entity::delete_many().filter(ticket_tags::Column::Tag.eq(from)).exec(&txn).await?;
            let n = carrying.len();
            audit::record(&txn, Some(self.user.id), "tag.renamed", None, format!("{from} → {}, {n} ticket{}", to.as_str(), if n == 1 { "" } else { "s" })).await?;
        }
        let n = ticket_tags::Entity::find().filter(ticket_tags::Column::Tag.eq(to.as_str())).count(&txn).await?;
        txn.commit().await?;
        Ok(DeskTag { tag: to.as_str().to_owned(), tickets: n })
    }
}
