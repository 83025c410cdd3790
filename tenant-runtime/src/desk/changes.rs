//! Changing a ticket (status, priority, category, assignee, title) and the
//! messages in it (edit, delete), with the rules of who may do what.
//!
//! Status follows PRODUCT.md's lifecycle `open → in_progress →
//! waiting_response → resolved → closed`: staff move a ticket freely among
//! the active statuses and on to resolved or closed; a resolved or closed
//! ticket can only be reopened (a customer writing again reopens it, see
//! `tickets::add_message`). A customer may close their own ticket and change
//! its priority, nothing else.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::domain::{Invalid, MessageText, Priority, Role, TicketStatus, TicketTitle};
use crate::storage::entities::{categories, messages, teams, tickets, users};
use crate::error::{Result, RuntimeError};
use crate::desk::context::Viewer;

/// How long an author may edit or delete their own message.
pub const EDIT_WINDOW: Duration = Duration::hours(24);

/// What a request asks to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketChanges {
    pub title: Option<TicketTitle>,
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    /// `Some(None)` takes the ticket out of its category.
    pub category_id: Option<Option<i64>>,
    /// `Some(None)` unassigns.
    pub assignee_id: Option<Option<i64>>,
    /// `Some(None)` takes the ticket out of its team. Given to a team
    /// without an assignee named too, the team's rule picks one.
    pub team_id: Option<Option<i64>>,
}

impl TicketChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.status.is_none() && self.priority.is_none() && self.category_id.is_none() && self.assignee_id.is_none() && self.team_id.is_none()
    }
}

/// Whether staff may move a ticket from one status to another.
pub fn transition_allowed(from: TicketStatus, to: TicketStatus) -> bool {
    use TicketStatus::*;
    from == to
        || match from {
            Open | InProgress | WaitingResponse => true,
            Resolved => matches!(to, Closed | Open),
            Closed => to == Open,
        }
}

/// Moves a ticket to a status ([`transition_allowed`] said it may): a
/// finished ticket keeps when it was finished, a reopened one forgets it.
pub(crate) fn set_status(am: &mut tickets::ActiveModel, from: TicketStatus, to: TicketStatus, now: DateTime<Utc>) {
    am.status = Set(to);
    match to {
        TicketStatus::Resolved => am.resolved_at = Set(Some(now)),
        TicketStatus::Closed => am.closed_at = Set(Some(now)),
        _ if !from.is_active() => {
            am.resolved_at = Set(None);
            am.closed_at = Set(None);
        }
        _ => {}
    }
}

/// What changed, for the events and notices that follow the commit.
#[derive(Debug, Clone)]
pub struct Changed {
    pub ticket: tickets::Model,
    pub status_changed: bool,
    pub assignee_changed: bool,
}

/// Applies changes to a ticket the viewer can see (the caller fetched it
/// through the viewer's scope).
pub async fn change_ticket(txn: &DatabaseTransaction, viewer: &Viewer, ticket: tickets::Model, ch: &TicketChanges) -> Result<Changed> {
    if ch.is_empty() {
        return Err(Invalid::new("body", "names nothing to change").into());
    }
    let role = viewer.role;
    if role == Role::User {
        // A customer: their own ticket only (the scope made sure), closing
        // and priority only.
        if ch.title.is_some() || ch.category_id.is_some() || ch.assignee_id.is_some() || ch.team_id.is_some() {
            return Err(RuntimeError::Forbidden("customers may only close their ticket or change its priority".into()));
        }
        if let Some(s) = ch.status
            && s != TicketStatus::Closed
            && s != ticket.status
        {
            return Err(RuntimeError::Forbidden("customers may only close their ticket; writing in it reopens it".into()));
        }
    } else if role < Role::Moderator {
        return Err(RuntimeError::Forbidden("needs the moderator role".into()));
    }
    let now = Utc::now();
    let from = ticket.status;
    let old_assignee = ticket.assignee_id;
    let old_team = ticket.team_id;
    let mut am: tickets::ActiveModel = ticket.into();
    let mut status_changed = false;
    if let Some(to) = ch.status
        && to != from
    {
        if !transition_allowed(from, to) {
            return Err(RuntimeError::Conflict(format!("a {from} ticket cannot become {to}; reopen it first")));
        }
        status_changed = true;
        set_status(&mut am, from, to, now);
    }
    if let Some(p) = ch.priority {
        am.priority = Set(p);
    }
    if let Some(t) = &ch.title {
        am.title = Set(t.as_str().to_owned());
    }
    if let Some(c) = ch.category_id {
        if let Some(id) = c {
            let cat = categories::Entity::find_by_id(id).one(txn).await?;
            if cat.is_none() {
                return Err(Invalid::new("category_id", "no such category in this desk").into());
            }
        }
        am.category_id = Set(c);
    }
    if let Some(Some(id)) = ch.team_id
        && teams::Entity::find_by_id(id).one(txn).await?.is_none()
    {
        return Err(Invalid::new("team_id", "no such team in this desk").into());
    }
    if let Some(t) = ch.team_id {
        am.team_id = Set(t);
    }
    if let Some(a) = ch.assignee_id {
        if let Some(id) = a {
            let staff = users::Entity::find_by_id(id).one(txn).await?;
            let ok = staff.is_some_and(|u| !u.blocked && u.role.is_staff());
            if !ok {
                return Err(Invalid::new("assignee_id", "must be a staff member of this desk who is not blocked").into());
            }
        }
        am.assignee_id = Set(a);
    }
    am.updated_at = Set(now);
    let mut ticket = am.update(txn).await?;
    // A new team with no assignee named: the team's rule picks one.
    if let Some(Some(team)) = ch.team_id
        && Some(team) != old_team
        && ch.assignee_id.is_none()
    {
        ticket = crate::desk::teams::give(txn, ticket, team).await?;
    }
    let assignee_changed = ticket.assignee_id != old_assignee;
    Ok(Changed { ticket, status_changed, assignee_changed })
}

/// The message, if the viewer may see it in a ticket they can see.
async fn visible_message(txn: &DatabaseTransaction, viewer: &Viewer, ticket: &tickets::Model, id: i64) -> Result<messages::Model> {
    let m = messages::Entity::find_by_id(id)
        .filter(messages::Column::TicketId.eq(ticket.id))
        .one(txn)
        .await?
        .ok_or(RuntimeError::NotFound("message"))?;
    if m.internal && !viewer.role.is_staff() {
        return Err(RuntimeError::NotFound("message"));
    }
    Ok(m)
}

fn within_window(m: &messages::Model, now: DateTime<Utc>) -> bool {
    now - m.created_at <= EDIT_WINDOW
}

/// Edits a message: only its author, within [`EDIT_WINDOW`], and never a
/// deleted one. (A staff answer already delivered is edited in the
/// customer's Telegram chat by the caller: `Runtime::carry_edit`.)
pub async fn edit_message(txn: &DatabaseTransaction, viewer: &Viewer, ticket: &tickets::Model, id: i64, text: &MessageText) -> Result<messages::Model> {
    let m = visible_message(txn, viewer, ticket, id).await?;
    if m.author_id != Some(viewer.user_id.get()) {
        return Err(RuntimeError::Forbidden("only the author may edit a message".into()));
    }
    if m.deleted_at.is_some() {
        return Err(RuntimeError::Conflict("this message was deleted".into()));
    }
    let now = Utc::now();
    if !within_window(&m, now) {
        return Err(RuntimeError::Forbidden(format!("a message can be edited for {} hours after it was written", EDIT_WINDOW.num_hours())));
    }
    let mut am: messages::ActiveModel = m.into();
    am.text = Set(text.as_str().to_owned());
    am.edited_at = Set(Some(now));
    Ok(am.update(txn).await?)
}

/// Deletes a message: its author within [`EDIT_WINDOW`], or a moderator and
/// up at any time. The row stays (the conversation keeps its shape) with
/// its text removed.
pub async fn delete_message(txn: &DatabaseTransaction, viewer: &Viewer, ticket: &tickets::Model, id: i64) -> Result<messages::Model> {
    let m = visible_message(txn, viewer, ticket, id).await?;
    if m.deleted_at.is_some() {
        return Ok(m);
    }
    let now = Utc::now();
    let own = m.author_id == Some(viewer.user_id.get());
    let allowed = viewer.role >= Role::Moderator || (own && within_window(&m, now));
    if !allowed {
        return Err(RuntimeError::Forbidden(if own {
            format!("a message can be deleted for {} hours after it was written", EDIT_WINDOW.num_hours())
        } else {
            "only the author or a moderator may delete a message".into()
        }));
    }
    let mut am: messages::ActiveModel = m.into();
    am.text = Set(String::new());
    // Its files go too (the retention job removes their bytes), and the
    // texts it had before an edit.
    am.attachments = Set(None);
    am.revisions = Set(None);
    am.deleted_at = Set(Some(now));
    Ok(am.update(txn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;

    #[test]
    fn closed_and_resolved_tickets_can_only_be_reopened() {
        for from in [Open, InProgress, WaitingResponse] {
            for to in TicketStatus::ALL {
                assert!(transition_allowed(from, *to), "{from} -> {to}");
            }
        }
        assert!(transition_allowed(Resolved, Closed) && transition_allowed(Resolved, Open) && transition_allowed(Resolved, Resolved));
        assert!(!transition_allowed(Resolved, InProgress) && !transition_allowed(Resolved, WaitingResponse));
        assert!(transition_allowed(Closed, Open) && transition_allowed(Closed, Closed));
        for to in [InProgress, WaitingResponse, Resolved] {
            assert!(!transition_allowed(Closed, to), "closed -> {to}");
        }
    }
}
