//! Macros: named actions that admins write and staff apply to a ticket in
//! one step: an answer to the customer (with `{{ customer }}`,
//! `{{ agent }}` and `{{ number }}` filled in), a status, a priority, tags
//! to add, a team, and taking the ticket.
//!
//! Applying one is one transaction: the answer, the changes (by the same
//! rules as a `PATCH`, so a refused status change sends nothing) and the
//! tags commit together or not at all, each audited as if done by hand,
//! plus `macro.applied`. A macro that changes the ticket needs the
//! moderator role (as changing it by hand does); one that only answers and
//! tags is for every staff member who may answer the ticket.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryOrder};

use crate::desk::changes::{self, TicketChanges};
use crate::desk::context::TenantContext;
use crate::desk::{audit, tags, tickets};
use crate::domain::{Invalid, MessageBody, MessageText, Priority, Role, TagName, TicketId, TicketStatus};
use crate::error::{Result, RuntimeError};
use crate::storage::entities::{macros, teams};

/// Macros one desk keeps at most.
pub const MAX_MACROS: u64 = 200;
/// Tags one macro adds at most.
pub const MAX_TAGS: usize = 10;
/// What an answer may say between `{{` and `}}`.
pub const PLACEHOLDERS: [&str; 3] = ["customer", "agent", "number"];

/// A macro's name: 1 to 64 characters on one line, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroName(String);

impl MacroName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
            return Err(Invalid::new("name", "must be 1 to 64 characters on one line"));
        }
        Ok(MacroName(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An answer with placeholders, checked: a message's text whose every
/// `{{ … }}` names a known placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroReply(String);

impl MacroReply {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let text = MessageText::parse(s).map_err(|e| Invalid::new("reply", e.to_string()))?;
        let mut rest = text.as_str();
        while let Some(at) = rest.find("{{") {
            let after = &rest[at + 2..];
            let Some(end) = after.find("}}") else {
                return Err(Invalid::new("reply", "has a {{ without its }}"));
            };
            let name = after[..end].trim();
            if !PLACEHOLDERS.contains(&name) {
                return Err(Invalid::new("reply", format!("{{{{ {name} }}}} is not a placeholder; use {}", PLACEHOLDERS.map(|p| format!("{{{{ {p} }}}}")).join(", "))));
            }
            rest = &after[end + 2..];
        }
        Ok(MacroReply(text.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer with its placeholders filled in.
pub fn fill(reply: &str, customer: &str, agent: &str, number: i64) -> String {
    let mut out = String::with_capacity(reply.len());
    let mut rest = reply;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find("}}") {
            Some(end) => {
                match after[..end].trim() {
                    "customer" => out.push_str(customer),
                    "agent" => out.push_str(agent),
                    "number" => out.push_str(&number.to_string()),
                    // Checked when kept; anything else stays as written.
                    other => out.push_str(&format!("{{{{ {other} }}}}")),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A macro to keep: every field checked. All empty is refused (a macro
/// that does nothing).
#[derive(Debug, Clone)]
pub struct MacroFields {
    pub name: MacroName,
    pub reply: Option<MacroReply>,
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    pub tags: Vec<TagName>,
    pub team_id: Option<i64>,
    pub assign_to_me: bool,
}

impl MacroFields {
    fn does_something(&self) -> bool {
        self.reply.is_some() || self.status.is_some() || self.priority.is_some() || !self.tags.is_empty() || self.team_id.is_some() || self.assign_to_me
    }
}

/// A macro as kept.
#[derive(Debug, Clone)]
pub struct Macro {
    pub row: macros::Model,
    pub tags: Vec<String>,
}

impl Macro {
    fn of(row: macros::Model) -> Macro {
        let tags = serde_json::from_str(&row.tags).unwrap_or_default();
        Macro { row, tags }
    }

    /// Whether applying it changes the ticket (moderators and up).
    pub fn changes_ticket(&self) -> bool {
        self.row.status.is_some() || self.row.priority.is_some() || self.row.team_id.is_some() || self.row.assign_to_me
    }
}

async fn row(txn: &DatabaseTransaction, id: i64) -> Result<macros::Model> {
    macros::Entity::find_by_id(id).one(txn).await?.ok_or(RuntimeError::NotFound("macro"))
}

async fn checked(txn: &DatabaseTransaction, f: &MacroFields) -> Result<()> {
    if !f.does_something() {
        return Err(Invalid::new("body", "a macro must answer, change or tag something").into());
    }
    if f.tags.len() > MAX_TAGS {
        return Err(Invalid::new("tags", format!("at most {MAX_TAGS}")).into());
    }
    if let Some(t) = f.team_id
        && teams::Entity::find_by_id(t).one(txn).await?.is_none()
    {
        return Err(Invalid::new("team_id", "no such team in this desk").into());
    }
    Ok(())
}

fn taken(e: sea_orm::DbErr, name: &MacroName) -> RuntimeError {
    if crate::is_unique_violation(&e) { RuntimeError::Conflict(format!("a macro named {:?} exists", name.as_str())) } else { e.into() }
}

fn tags_json(tags: &[TagName]) -> String {
    let mut v: Vec<&str> = tags.iter().map(TagName::as_str).collect();
    v.dedup();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

/// What a macro does, in words, for the log.
fn said(m: &macros::Model) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &m.reply {
        parts.push(format!("answers {}", audit::quoted(r)));
    }
    if let Some(s) = &m.status {
        parts.push(format!("status {s}"));
    }
    if let Some(p) = &m.priority {
        parts.push(format!("priority {p}"));
    }
    if m.tags != "[]" {
        parts.push(format!("tags {}", m.tags));
    }
    if let Some(t) = m.team_id {
        parts.push(format!("team {t}"));
    }
    if m.assign_to_me {
        parts.push("takes the ticket".into());
    }
    format!("{}: {}", m.name, parts.join(", "))
}

impl TenantContext {
    /// The desk's macros by name (staff).
    pub async fn macros(&self) -> Result<Vec<Macro>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let rows = macros::Entity::find().order_by_asc(macros::Column::Name).all(&txn).await?;
        txn.commit().await?;
        Ok(rows.into_iter().map(Macro::of).collect())
    }

    /// Keeps a new macro (admins).
    pub async fn create_macro(&self, f: MacroFields) -> Result<Macro> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        checked(&txn, &f).await?;
        if macros::Entity::find().count(&txn).await? >= MAX_MACROS {
            return Err(RuntimeError::Conflict(format!("a desk keeps at most {MAX_MACROS} macros")));
        }
        let now = Utc::now();
        let m = macros::ActiveModel {
            name: Set(f.name.0.clone()),
            reply: Set(f.reply.map(|r| r.0)),
            status: Set(f.status.map(|s| s.as_str().to_owned())),
            priority: Set(f.priority.map(|p| p.as_str().to_owned())),
            tags: Set(tags_json(&f.tags)),
            team_id: Set(f.team_id),
            assign_to_me: Set(f.assign_to_me),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| taken(e, &f.name))?;
        audit::record(&txn, Some(self.user.id), "macro.created", None, said(&m)).await?;
        txn.commit().await?;
        Ok(Macro::of(m))
    }

    /// Replaces what a macro does (admins).
    pub async fn update_macro(&self, id: i64, f: MacroFields) -> Result<Macro> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        checked(&txn, &f).await?;
        let before = row(&txn, id).await?;
        let mut am: macros::ActiveModel = before.clone().into();
        am.name = Set(f.name.0.clone());
        am.reply = Set(f.reply.map(|r| r.0));
        am.status = Set(f.status.map(|s| s.as_str().to_owned()));
        am.priority = Set(f.priority.map(|p| p.as_str().to_owned()));
        am.tags = Set(tags_json(&f.tags));
        am.team_id = Set(f.team_id);
        am.assign_to_me = Set(f.assign_to_me);
        am.updated_at = Set(Utc::now());
        let m = am.update(&txn).await.map_err(|e| taken(e, &f.name))?;
        audit::record(&txn, Some(self.user.id), "macro.changed", None, format!("{} → {}", said(&before), said(&m))).await?;
        txn.commit().await?;
        Ok(Macro::of(m))
    }

    /// Deletes a macro (admins).
    pub async fn delete_macro(&self, id: i64) -> Result<()> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let m = row(&txn, id).await?;
        macros::Entity::delete_by_id(id).exec(&txn).await?;
        audit::record(&txn, Some(self.user.id), "macro.deleted", None, said(&m)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Applies a macro to a ticket the caller may see, in one transaction;
    /// the ticket and its tags after.
    pub async fn apply_macro(&self, ticket: TicketId, id: i64) -> Result<(crate::storage::entities::tickets::Model, Vec<String>)> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let m = Macro::of(row(&txn, id).await?);
        if m.changes_ticket() && self.viewer.role < Role::Moderator {
            return Err(RuntimeError::Forbidden(format!("the macro {:?} changes the ticket, which needs the moderator role", m.row.name)));
        }
        let t = tickets::get_ticket(&txn, &self.viewer, ticket).await?;
        let before = t.clone();
        let mut effects = crate::outbound::effects::Effects::default();
        // The answer first: the macro's status then stands (a staff reply
        // may move the status itself).
        let t = match &m.row.reply {
            Some(reply) => {
                let customer = crate::desk::people::get(&txn, t.customer_id).await?;
                let text = fill(reply, &customer.first_name, &self.user.first_name, t.id);
                let body = MessageBody::parse(&text, &[])?;
                self.runtime.write_message(&self.tenant, &txn, &self.user, &self.viewer, t, &body, false, true, &mut effects).await?.ticket
            }
            None => t,
        };
        let ch = TicketChanges {
            status: m.row.status.as_deref().map(TicketStatus::parse).transpose()?,
            priority: m.row.priority.as_deref().map(Priority::parse).transpose()?,
            team_id: m.row.team_id.map(Some),
            assignee_id: m.row.assign_to_me.then_some(Some(self.user.id)),
            ..Default::default()
        };
        let t = if ch.is_empty() {
            t
        } else {
            let changed = changes::change_ticket(&txn, &self.viewer, t, &ch).await?;
            if changed.status_changed {
                self.runtime.notify_status(&self.tenant, &txn, &changed.ticket, Some(self.user.id), &mut effects).await?;
            }
            if changed.assignee_changed {
                self.runtime.notify_assigned(&self.tenant, &txn, &changed.ticket, Some(&self.user), &mut effects).await?;
            }
            changed.ticket
        };
        crate::desk::operations::record_ticket_changes(&txn, Some(self.user.id), &before, &t).await?;
        let had = tickets::tags_of(&txn, ticket).await?;
        let mut count = had.len();
        for tag in m.tags.iter().filter(|g| !had.contains(g)) {
            if count as u64 >= tags::MAX_PER_TICKET {
                return Err(RuntimeError::Conflict(format!("a ticket carries at most {} tags; remove one first", tags::MAX_PER_TICKET)));
            }
            tickets::add_tag(&txn, ticket, tag).await?;
            audit::record(&txn, Some(self.user.id), "ticket.tagged", Some(t.id), tag.as_str()).await?;
            count += 1;
        }
        audit::record(&txn, Some(self.user.id), "macro.applied", Some(t.id), m.row.name.clone()).await?;
        let t = tickets::tickets_by_id(&txn, t.id).await?.ok_or(RuntimeError::NotFound("ticket"))?;
        let tags = tickets::tags_of(&txn, ticket).await?;
        txn.commit().await?;
        effects.events.push(crate::live::Event::TicketUpdated { ticket: t.clone() });
        self.runtime.after_commit(&self.tenant.info.id, effects).await;
        Ok((t, tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_checked_when_kept_and_filled_when_applied() {
        let r = MacroReply::parse("Hi {{ customer }}, {{agent}} here about #{{ number }}.").unwrap();
        assert_eq!(fill(r.as_str(), "Ann", "Bob", 42), "Hi Ann, Bob here about #42.");
        assert!(MacroReply::parse("Hi {{ name }}").unwrap_err().to_string().contains("not a placeholder"));
        assert!(MacroReply::parse("Hi {{ customer").is_err());
        assert!(MacroReply::parse("").is_err());
        assert_eq!(fill("no placeholders {", "a", "b", 1), "no placeholders {");
        assert_eq!(fill("{{ customer }}{{ customer }}", "Ann", "b", 1), "AnnAnn");
        assert!(MacroName::parse(" ").is_err() && MacroName::parse("Close as solved").is_ok());
    }
}
