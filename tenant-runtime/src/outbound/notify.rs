//! Notifications through the tenant's bot, queued in the transaction that
//! makes the news (so a crash never loses or repeats one) and sent by the
//! rate-limited sender: a new ticket to the staff who see every ticket
//! (moderators and up), an assignment to the assignee, a customer's
//! message to the ticket's assignee, an @mention in a note to the one
//! mentioned, a plugin's reminder to the assignee (or the moderators), and
//! a status change to the customer (resolved: with the
//! request to rate it, see `crate::worker::csat`). Staff notifications
//! carry a button that opens the ticket in the console; a customer's, the
//! Mini App. Nobody is told of their own doing.

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tikethet_themes::BotText;

use crate::Runtime;
use crate::outbound::effects::Effects;
use crate::domain::Role;
use crate::storage::entities::{tickets, users};
use crate::error::RuntimeError;
use crate::storage::tenant::Tenant;
use crate::desk::tickets::{Button, enqueue_with_buttons};

/// Staff told of one new ticket at most (the first by id).
pub const MAX_NEW_TICKET_RECIPIENTS: u64 = 50;
/// Longest quote of a message in a notification, in characters.
const QUOTE_CHARS: usize = 300;

pub(crate) fn name_of(u: &users::Model) -> String {
    match &u.last_name {
        Some(l) if !l.is_empty() => format!("{} {l}", u.first_name),
        _ => u.first_name.clone(),
    }
}

pub(crate) fn quote(text: &str) -> String {
    let mut q: String = text.chars().take(QUOTE_CHARS).collect();
    if text.chars().count() > QUOTE_CHARS {
        q.push('…');
    }
    q
}

/// The @usernames a note mentions (letters, digits and `_`, 5 to 32 long,
/// as Telegram allows), lowercased, each once.
pub fn mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in text.match_indices('@') {
        if text[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // an e-mail address, not a mention
        }
        let name: String = text[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if (5..=32).contains(&name.len()) {
            let name = name.to_ascii_lowercase();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

impl Runtime {
    /// The console's page of a ticket, and the button (or, where Telegram
    /// would refuse the address, the link for the text) that opens it.
    pub(crate) fn console_opening(&self, tenant: &Tenant, lang: Option<&str>, ticket: i64) -> Result<(Vec<Button>, Option<String>), RuntimeError> {
        let url = format!("{}tickets/{ticket}", self.console_url(tenant));
        if url.starts_with("https://") {
            Ok((vec![Button::Url { text: self.text(tenant, lang, BotText::ButtonOpenInConsole, ())?, url }], None))
        } else {
            Ok((Vec::new(), Some(url)))
        }
    }

    pub(crate) async fn tell_staff(&self, tenant: &Tenant, txn: &DatabaseTransaction, to: &users::Model, text: BotText, ticket: i64, vars: serde_json::Value, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let lang = to.language_code.as_deref();
        let (buttons, link) = self.console_opening(tenant, lang, ticket)?;
        let mut vars = vars;
        vars["number"] = ticket.into();
        vars["link"] = link.into();
        let body = self.text(tenant, lang, text, vars)?;
        kicks.push(enqueue_with_buttons(txn, to.telegram_id, body, None, &buttons).await?.chat_id);
        Ok(())
    }

    /// A new ticket: every moderator, admin and owner but the customer.
    /// `files`: the customer's uploads with it, posted in its topic.
    pub(crate) async fn notify_new_ticket(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, customer: &users::Model, files: &[i64], kicks: &mut Effects) -> Result<(), RuntimeError> {
        self.topic_new_ticket(tenant, txn, ticket, customer, files, kicks).await?;
        let staff = users::Entity::find()
            .filter(users::Column::Role.is_in([Role::Moderator, Role::Admin, Role::Owner].map(|r| r.as_str())))
            .filter(users::Column::Blocked.eq(false))
            .filter(users::Column::Id.ne(customer.id))
            .order_by_asc(users::Column::Id)
            .limit(MAX_NEW_TICKET_RECIPIENTS)
            .all(txn)
            .await?;
        for s in &staff {
            let vars = serde_json::json!({ "title": ticket.title, "customer": name_of(customer) });
            self.tell_staff(tenant, txn, s, BotText::NotifyNewTicket, ticket.id, vars, kicks).await?;
        }
        Ok(())
    }

    /// A ticket assigned: its new assignee, unless they did it.
    pub(crate) async fn notify_assigned(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, by: Option<&users::Model>, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let Some(assignee) = ticket.assignee_id else { return Ok(()) };
        if by.is_some_and(|b| b.id == assignee) {
            return Ok(());
        }
        let Some(a) = users::Entity::find_by_id(assignee).one(txn).await?.filter(|a| !a.blocked) else { return Ok(()) };
        let vars = serde_json::json!({ "title": ticket.title, "by": by.map(name_of) });
        self.tell_staff(tenant, txn, &a, BotText::NotifyAssigned, ticket.id, vars, kicks).await
    }

    /// A customer's message: the ticket's assignee (an unassigned ticket's
    /// news reached its staff when it opened).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn notify_customer_message(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, customer: &users::Model, text: &str, files: &[i64], kicks: &mut Effects) -> Result<(), RuntimeError> {
        self.topic_customer_message(tenant, txn, ticket, customer, text, files, kicks).await?;
        let Some(assignee) = ticket.assignee_id.filter(|a| *a != customer.id) else { return Ok(()) };
        let Some(a) = users::Entity::find_by_id(assignee).one(txn).await?.filter(|a| !a.blocked) else { return Ok(()) };
        let vars = serde_json::json!({ "title": ticket.title, "customer": name_of(customer), "text": quote(text) });
        self.tell_staff(tenant, txn, &a, BotText::NotifyCustomerMessage, ticket.id, vars, kicks).await
    }

    /// A note's @mentions: each staff member named, but its author.
    pub(crate) async fn notify_mentions(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, author: &users::Model, text: &str, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let names = mentions(text);
        if names.is_empty() {
            return Ok(());
        }
        let staff = [Role::Helper, Role::Moderator, Role::Admin, Role::Owner].map(|r| r.as_str());
        let found = users::Entity::find().filter(users::Column::Role.is_in(staff)).filter(users::Column::Blocked.eq(false)).filter(users::Column::Username.is_not_null()).all(txn).await?;
        // Helpers see only the tickets assigned to them: a note on another
        // is not theirs to read.
        let may_see = |u: &users::Model| u.role != Role::Helper || ticket.assignee_id == Some(u.id);
        for u in found.iter().filter(|u| u.id != author.id && may_see(u) && u.username.as_deref().is_some_and(|n| names.contains(&n.to_ascii_lowercase()))) {
            let vars = serde_json::json!({ "title": ticket.title, "author": name_of(author), "text": quote(text) });
            self.tell_staff(tenant, txn, u, BotText::NotifyMention, ticket.id, vars, kicks).await?;
        }
        Ok(())
    }

    /// A plugin's reminder (contract 1.3.0's `remind`): the ticket's
    /// assignee, or the moderators and up when it has none.
    pub(crate) async fn notify_reminder(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, text: &str, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let to: Vec<users::Model> = match ticket.assignee_id {
            Some(a) => users::Entity::find_by_id(a).all(txn).await?,
            None => {
                users::Entity::find()
                    .filter(users::Column::Role.is_in([Role::Moderator, Role::Admin, Role::Owner].map(|r| r.as_str())))
                    .order_by_asc(users::Column::Id)
                    .limit(MAX_NEW_TICKET_RECIPIENTS)
                    .all(txn)
                    .await?
            }
        };
        for u in to.iter().filter(|u| !u.blocked && u.role.is_staff()) {
            let vars = serde_json::json!({ "title": ticket.title, "text": quote(text) });
            self.tell_staff(tenant, txn, u, BotText::NotifyReminder, ticket.id, vars, kicks).await?;
        }
        Ok(())
    }

    /// A status change: the customer, unless they made it, and the ticket's
    /// topic in the staff group.
    /// `by`: who made it (`None`: a plugin).
    pub(crate) async fn notify_status(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, by: Option<i64>, kicks: &mut Effects) -> Result<(), RuntimeError> {
        // The staff group's topic shows it, whoever made it.
        self.topic_status(txn, ticket, kicks).await?;
        if by == Some(ticket.customer_id) {
            return Ok(());
        }
        let Some(c) = users::Entity::find_by_id(ticket.customer_id).one(txn).await?.filter(|c| !c.blocked) else { return Ok(()) };
        let lang = c.language_code.as_deref();
        let body = self.text(tenant, lang, BotText::NotifyStatus, serde_json::json!({ "number": ticket.id, "title": ticket.title, "status": ticket.status }))?;
        let buttons = self.ticket_buttons(tenant, lang, ticket.id)?;
        kicks.push(crate::desk::tickets::enqueue_about(txn, c.telegram_id, body, ticket.id, &buttons).await?.chat_id);
        if ticket.status == crate::domain::TicketStatus::Resolved {
            self.ask_rating(tenant, txn, ticket, &c, kicks).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_telegram_usernames_not_mail_addresses() {
        assert_eq!(mentions("@Ann_Lee please check, cc @bob_smith and @Ann_Lee"), vec!["ann_lee", "bob_smith"]);
        assert!(mentions("write to help@acme.com").is_empty(), "an e-mail address");
        assert!(mentions("@bob and @").is_empty(), "shorter than Telegram allows");
        assert_eq!(quote(&"x".repeat(400)).chars().count(), QUOTE_CHARS + 1);
    }
}
