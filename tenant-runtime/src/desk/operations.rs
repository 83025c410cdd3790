//! The tenant API's operations on the desk's tickets, messages,
//! categories and people, and its statistics: each opens one transaction
//! of the caller's tenant, checks what the caller may do, and calls the
//! functions of its resource's module.

use crate::desk::context::TenantContext;
use crate::desk::{analytics, audit, categories, changes, list, people, stats};
use crate::domain::{MessageText, Role, TicketId};
use sea_orm::EntityTrait as _;

use crate::storage::entities::{categories as category_rows, messages, users};
use crate::error::Result;

impl crate::Runtime {
    /// Changes a ticket by `user` in `txn` (the console, the API, a staff
    /// command in the ticket's topic): the rules of [`changes`], the audit
    /// entries, the customer's and the assignee's notices, the live event.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_changes(
        &self,
        tenant: &crate::storage::tenant::Tenant,
        txn: &sea_orm::DatabaseTransaction,
        user: &users::Model,
        viewer: &crate::desk::context::Viewer,
        ticket: crate::storage::entities::tickets::Model,
        ch: &changes::TicketChanges,
        effects: &mut crate::outbound::effects::Effects,
    ) -> Result<changes::Changed> {
        let before = ticket.clone();
        let changed = changes::change_ticket(txn, viewer, ticket, ch).await?;
        record_ticket_changes(txn, Some(user.id), &before, &changed.ticket).await?;
        if changed.status_changed {
            self.notify_status(tenant, txn, &changed.ticket, Some(user.id), effects).await?;
        }
        if changed.assignee_changed {
            self.notify_assigned(tenant, txn, &changed.ticket, Some(user), effects).await?;
        }
        effects.events.push(crate::live::Event::TicketUpdated { ticket: changed.ticket.clone() });
        Ok(changed)
    }
}

impl TenantContext {
    /// A page of the tickets the caller may see.
    pub async fn ticket_page(&self, q: &list::TicketQuery) -> Result<list::TicketPage> {
        list::list(&self.tenant.db, &self.viewer, q, self.tenant.info.sla.as_ref()).await
    }

    /// Changes a ticket the caller may see, under the rules of [`changes`].
    pub async fn change_ticket(&self, id: TicketId, ch: &changes::TicketChanges) -> Result<changes::Changed> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, id).await?;
        let mut effects = crate::outbound::effects::Effects::default();
        let changed = self.runtime.apply_changes(&self.tenant, &txn, &self.user, &self.viewer, t, ch, &mut effects).await?;
        txn.commit().await?;
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(changed)
    }

    pub async fn edit_message(&self, ticket: TicketId, message: i64, text: &MessageText) -> Result<messages::Model> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, ticket).await?;
        let before = messages::Entity::find_by_id(message).one(&txn).await?.map(|m| m.text).unwrap_or_default();
        let m = changes::edit_message(&txn, &self.viewer, &t, message, text).await?;
        audit::record(&txn, Some(self.user.id), "message.edited", Some(t.id), format!("message {}: {} → {}", m.id, audit::quoted(&before), audit::quoted(&m.text))).await?;
        // A staff answer the customer has changes in their chat too.
        let mut effects = crate::outbound::effects::Effects::default();
        self.runtime.carry_edit(&self.tenant, &txn, &t, &m, &mut effects).await?;
        txn.commit().await?;
        effects.events.push(crate::live::Event::MessageUpdated { audience: (&t).into(), message: m.clone() });
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(m)
    }

    /// Deletes a message; a staff answer leaves the customer's chat too
    /// (within Telegram's 48 hours; past them only with `desk_only`, the
    /// chat keeping it).
    pub async fn delete_message(&self, ticket: TicketId, message: i64, desk_only: bool) -> Result<messages::Model> {
        let txn = self.tenant.db.begin().await?;
        let t = crate::desk::tickets::get_ticket(&txn, &self.viewer, ticket).await?;
        let before = messages::Entity::find_by_id(message).one(&txn).await?;
        let m = changes::delete_message(&txn, &self.viewer, &t, message).await?;
        let mut effects = crate::outbound::effects::Effects::default();
        if let Some(b) = before.filter(|b| b.deleted_at.is_none()) {
            self.runtime.carry_deletion(&txn, &b, desk_only, &mut effects).await?;
            audit::record(&txn, Some(self.user.id), "message.deleted", Some(t.id), format!("message {}: {}", m.id, audit::quoted(&b.text))).await?;
        }
        txn.commit().await?;
        effects.events.push(crate::live::Event::MessageUpdated { audience: (&t).into(), message: m.clone() });
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(m)
    }

    pub async fn categories(&self) -> Result<Vec<category_rows::Model>> {
        let txn = self.tenant.db.begin().await?;
        let out = categories::list(&txn, &self.viewer).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub async fn create_category(&self, f: categories::CategoryFields) -> Result<category_rows::Model> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let c = categories::create(&txn, f).await?;
        audit::record(&txn, Some(self.user.id), "category.created", None, c.name.clone()).await?;
        txn.commit().await?;
        Ok(c)
    }

    pub async fn update_category(&self, id: i64, f: categories::CategoryFields) -> Result<category_rows::Model> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let c = categories::update(&txn, id, f).await?;
        audit::record(&txn, Some(self.user.id), "category.changed", None, format!("{} ({}{})", c.name, if c.active { "offered" } else { "not offered" }, c.icon.as_deref().map(|i| format!(", {i}")).unwrap_or_default())).await?;
        txn.commit().await?;
        Ok(c)
    }

    pub async fn delete_category(&self, id: i64) -> Result<()> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let name = category_rows::Entity::find_by_id(id).one(&txn).await?.map(|c| c.name).unwrap_or_else(|| format!("category {id}"));
        categories::delete(&txn, id).await?;
        audit::record(&txn, Some(self.user.id), "category.deleted", None, name).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The desk's people (moderators and up).
    pub async fn people(&self, q: &people::PeopleQuery) -> Result<(Vec<users::Model>, Option<i64>)> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let out = people::list(&txn, q).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub async fn person(&self, id: i64) -> Result<users::Model> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let u = people::get(&txn, id).await?;
        txn.commit().await?;
        Ok(u)
    }

    pub async fn change_person(&self, id: i64, role: Option<Role>, blocked: Option<bool>) -> Result<users::Model> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let before = people::get(&txn, id).await?;
        let u = people::change(&txn, &self.viewer, id, role, blocked).await?;
        let who = match &u.username {
            Some(n) => format!("{} (@{n})", u.first_name),
            None => u.first_name.clone(),
        };
        if before.role != u.role {
            audit::record(&txn, Some(self.user.id), "person.role", None, format!("{who}: {} → {}", before.role, u.role)).await?;
        }
        if before.blocked != u.blocked {
            audit::record(&txn, Some(self.user.id), "person.blocked", None, format!("{who}: {}", if u.blocked { "blocked" } else { "unblocked" })).await?;
        }
        if role.is_some_and(Role::is_staff) && !before.role.is_staff() {
            // Counted after the change, in its transaction: the new agent
            // included.
            let agents = crate::desk::usage::agents(&txn).await?;
            crate::desk::usage::within(&self.tenant.info, "agents", self.tenant.info.quotas.agents, agents - 1, 1)?;
        }
        txn.commit().await?;
        if before.role != u.role || before.blocked != u.blocked {
            // Their open sockets check their access again (on every node).
            self.runtime.inner.live.publish(&self.tenant.info.id, crate::live::Event::AccessChanged { user_id: Some(u.id) }).await;
        }
        Ok(u)
    }

    /// Analytics over the last `days` days, with the statistics
    /// (moderators and up).
    pub async fn analytics(&self, days: i64) -> Result<(analytics::Analytics, stats::Stats)> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let a = analytics::analytics(&txn, days, chrono::Utc::now()).await?;
        let s = stats::stats(&txn, self.tenant.info.sla.as_ref()).await?;
        txn.commit().await?;
        Ok((a, s))
    }

    /// A page of the tickets' export (moderators and up).
    pub async fn export_page(&self, after: i64, limit: u64) -> Result<Vec<analytics::ExportRow>> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let rows = analytics::export_page(&txn, after, limit).await?;
        txn.commit().await?;
        Ok(rows)
    }

    /// Desk statistics (moderators and up).
    pub async fn stats(&self) -> Result<stats::Stats> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let s = stats::stats(&txn, self.tenant.info.sla.as_ref()).await?;
        txn.commit().await?;
        Ok(s)
    }
}

/// Audits what a change did to a ticket, field by field, before and after.
pub(crate) async fn record_ticket_changes(txn: &sea_orm::DatabaseTransaction, me: Option<i64>, before: &crate::storage::entities::tickets::Model, after: &crate::storage::entities::tickets::Model) -> Result<()> {
    let tid = Some(after.id);
    if before.status != after.status {
        audit::record(txn, me, "ticket.status", tid, format!("{} → {}", before.status, after.status)).await?;
        if !before.status.is_active() && after.status.is_active() {
            let by = if me.is_some() { "staff" } else { "a plugin" };
            audit::record(txn, me, "ticket.reopened", tid, format!("{} → {} by {by}", before.status, after.status)).await?;
        }
    }
    if before.assignee_id != after.assignee_id {
        let who = match after.assignee_id {
            Some(a) => people::get(txn, a).await.map(|u| u.first_name).unwrap_or_else(|_| format!("user {a}")),
            None => "nobody".into(),
        };
        audit::record(txn, me, "ticket.assigned", tid, format!("to {who}")).await?;
    }
    if before.priority != after.priority {
        audit::record(txn, me, "ticket.priority", tid, format!("{} → {}", before.priority, after.priority)).await?;
    }
    if before.category_id != after.category_id {
        audit::record(txn, me, "ticket.category", tid, format!("{:?} → {:?}", before.category_id, after.category_id)).await?;
    }
    if before.team_id != after.team_id {
        let detail = format!("{} → {}", crate::desk::teams::name_of(txn, before.team_id).await?, crate::desk::teams::name_of(txn, after.team_id).await?);
        audit::record(txn, me, "ticket.team", tid, detail).await?;
    }
    if before.title != after.title {
        audit::record(txn, me, "ticket.title", tid, format!("{:?} → {:?}", before.title, after.title)).await?;
    }
    Ok(())
}
