//! Customers as the desk knows them: a profile with their tickets, their
//! ratings, notes staff keep about them (not about one ticket), custom
//! attributes set through the API; and staff reaching out, opening a
//! ticket with a customer who has talked to the bot before.
//!
//! Telegram lets a bot write only to people who have started a chat with
//! it, and not to those who blocked it since: a conversation is opened
//! only with someone the worker saw write to the bot in a private chat
//! (`bot_started_at`), and who has not blocked it (`bot_blocked_at`),
//! refused with a reason that says what to do otherwise.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::desk::audit;
use crate::desk::context::TenantContext;
use crate::domain::{Invalid, MessageBody, MessageText, Priority, Role, TicketStatus, TicketTitle};
use crate::error::{Result, RuntimeError};
use crate::storage::entities::{customer_notes, ticket_ratings, tickets, users};

/// Stores a customer's attributes, and when they changed, the audit entry
/// (`actor`: who; `None` for a plugin; `ticket`: the ticket it came from).
pub(crate) async fn replace_attributes(txn: &DatabaseTransaction, actor: Option<i64>, ticket: Option<i64>, u: users::Model, attrs: &Attributes) -> Result<users::Model> {
    let before = Attributes::of(&u);
    let name = u.first_name.clone();
    let mut am: users::ActiveModel = u.into();
    am.attributes = Set(attrs.json());
    am.updated_at = Set(Utc::now());
    let u = am.update(txn).await?;
    if before != *attrs {
        audit::record(txn, actor, "customer.attributes", ticket, format!("{name}: {} → {}", before.json(), attrs.json())).await?;
    }
    Ok(u)
}

/// Attributes one customer carries at most.
pub const MAX_ATTRIBUTES: usize = 50;
/// Tickets the profile lists (newest first).
pub const PROFILE_TICKETS: u64 = 50;

/// Custom attributes: names of 1 to 64 lowercase letters, digits and `_`,
/// values of up to 500 characters on one line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, Invalid> {
        if map.len() > MAX_ATTRIBUTES {
            return Err(Invalid::new("attributes", format!("at most {MAX_ATTRIBUTES}")));
        }
        for (k, v) in &map {
            if k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return Err(Invalid::new("attributes", format!("{k:?}: a name is 1 to 64 lowercase letters, digits and _")));
            }
            if v.chars().count() > 500 || v.chars().any(char::is_control) {
                return Err(Invalid::new("attributes", format!("{k}: a value is up to 500 characters on one line")));
            }
        }
        Ok(Attributes(map))
    }

    /// As stored (a JSON object); anything unreadable reads as none.
    pub fn of(user: &users::Model) -> Attributes {
        Attributes(serde_json::from_str(&user.attributes).unwrap_or_default())
    }

    pub fn map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub(crate) fn json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }
}

/// A customer as their page shows them.
#[derive(Debug, Clone)]
pub struct Profile {
    pub user: users::Model,
    pub tickets: Vec<tickets::Model>,
    /// `(ticket, score 1 to 5, comment)`, newest first.
    pub ratings: Vec<ticket_ratings::Model>,
    pub notes: Vec<customer_notes::Model>,
    pub attributes: Attributes,
}

/// Whether a bot may write to them first, and if not, why.
pub fn reachable(u: &users::Model) -> Result<(), String> {
    if let Some(at) = u.bot_blocked_at {
        return Err(format!("{} blocked the bot on {}; Telegram delivers nothing to them until they write to it again", u.first_name, at.format("%Y-%m-%d")));
    }
    if u.bot_started_at.is_none() {
        return Err(format!("{} has not started a chat with the bot; Telegram lets a bot write only to people who have. Ask them to open the bot and press Start", u.first_name));
    }
    Ok(())
}

async fn customer(txn: &DatabaseTransaction, id: i64) -> Result<users::Model> {
    users::Entity::find_by_id(id).one(txn).await?.ok_or(RuntimeError::NotFound("user"))
}

impl TenantContext {
    /// A customer's page (moderators and up, who see every ticket).
    pub async fn customer_profile(&self, id: i64) -> Result<Profile> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let user = customer(&txn, id).await?;
        let tickets = tickets::Entity::find().filter(tickets::Column::CustomerId.eq(id)).order_by_desc(tickets::Column::Id).limit(PROFILE_TICKETS).all(&txn).await?;
        let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
        let ratings = if ids.is_empty() {
            Vec::new()
        } else {
            ticket_ratings::Entity::find().filter(ticket_ratings::Column::TicketId.is_in(ids)).order_by_desc(ticket_ratings::Column::TicketId).all(&txn).await?
        };
        let notes = customer_notes::Entity::find().filter(customer_notes::Column::UserId.eq(id)).order_by_desc(customer_notes::Column::Id).limit(100).all(&txn).await?;
        txn.commit().await?;
        let attributes = Attributes::of(&user);
        Ok(Profile { user, tickets, ratings, notes, attributes })
    }

    /// Keeps a note about a customer (moderators and up).
    pub async fn note_customer(&self, id: i64, text: &MessageText) -> Result<customer_notes::Model> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let u = customer(&txn, id).await?;
        let n = customer_notes::ActiveModel { user_id: Set(u.id), author_id: Set(Some(self.user.id)), text: Set(text.as_str().to_owned()), created_at: Set(Utc::now()), ..Default::default() }
            .insert(&txn)
            .await?;
        audit::record(&txn, Some(self.user.id), "customer.noted", None, format!("{}: {}", u.first_name, audit::quoted(text.as_str()))).await?;
        txn.commit().await?;
        Ok(n)
    }

    /// Replaces a customer's custom attributes (moderators and up).
    pub async fn set_attributes(&self, id: i64, attrs: Attributes) -> Result<users::Model> {
        self.require(Role::Moderator)?;
        let txn = self.tenant.db.begin().await?;
        let u = customer(&txn, id).await?;
        let u = replace_attributes(&txn, Some(self.user.id), None, u, &attrs).await?;
        txn.commit().await?;
        Ok(u)
    }

    /// Opens a ticket with a customer, its first message the staff
    /// member's, sent through the bot; assigned to whoever opened it. Only
    /// with a customer the bot may write to ([`reachable`]), else 409
    /// with the reason.
    pub async fn reach_out(&self, id: i64, title: &TicketTitle, text: &MessageText) -> Result<tickets::Model> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let u = customer(&txn, id).await?;
        if u.role != Role::User {
            return Err(Invalid::new("user", "conversations are opened with customers; staff talk in the console").into());
        }
        if u.blocked {
            return Err(RuntimeError::Conflict(format!("{} is blocked in this desk; unblock them first", u.first_name)));
        }
        reachable(&u).map_err(RuntimeError::Conflict)?;
        crate::desk::usage::within_month(&txn, &self.tenant.info, "tickets a month", self.tenant.info.quotas.tickets_per_month, crate::desk::usage::TICKETS).await?;
        let now = Utc::now();
        let ticket = tickets::ActiveModel {
            customer_id: Set(u.id),
            title: Set(title.as_str().to_owned()),
            description: Set(text.as_str().to_owned()),
            status: Set(TicketStatus::Open),
            priority: Set(Priority::Normal),
            assignee_id: Set(Some(self.user.id)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        crate::desk::usage::count_all(&txn, &[(crate::desk::usage::TICKETS, 1)]).await?;
        let mut effects = crate::outbound::effects::Effects::default();
        effects.events.push(crate::live::Event::TicketCreated { ticket: ticket.clone() });
        let body = MessageBody::parse(text.as_str(), &[])?;
        let added = self.runtime.write_message(&self.tenant, &txn, &self.user, &self.viewer, ticket, &body, false, true, &mut effects).await?;
        audit::record(&txn, Some(self.user.id), "ticket.opened_by_staff", Some(added.ticket.id), format!("with {}: {}", u.first_name, audit::quoted(title.as_str()))).await?;
        txn.commit().await?;
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok(added.ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_checked() {
        let ok: BTreeMap<String, String> = [("plan".to_owned(), "gold".to_owned()), ("order_42".to_owned(), "shipped".to_owned())].into();
        assert!(Attributes::parse(ok).is_ok());
        for (k, v) in [("Plan", "x"), ("", "x"), ("a b", "x"), ("ok", "line\nbreak")] {
            let m: BTreeMap<String, String> = [(k.to_owned(), v.to_owned())].into();
            assert!(Attributes::parse(m).is_err(), "{k:?}={v:?}");
        }
        let many: BTreeMap<String, String> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(Attributes::parse(many).is_err());
    }
}
