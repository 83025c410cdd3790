//! The worker: turns stored updates into tickets and answers, one chat at a
//! time, and commits each update's effects together with its "done" mark so
//! that a crash never handles an update twice or loses one.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, EntityTrait};
use teloxide::types::{ChatKind, Message, Update, UpdateKind};
use tikethet_themes::BotText;

use crate::domain::{Priority, TicketDescription, TicketId, TicketTitle, UserId};
use tikethet_plugins::Action;
use crate::entities::{inbox, outbox};
use crate::error::RuntimeError;
use crate::tenant::{Tenant, TenantStatus};
use crate::tickets::{self, TelegramProfile};
use crate::{Runtime, WorkItem};

/// Attempts at one update before it is marked failed (a database outage,
/// not a bad update: those fail at once).
const ATTEMPTS: u32 = 3;

impl Runtime {
    pub(crate) async fn process(&self, item: WorkItem) {
        let Some(tenant) = self.tenants.get(&item.tenant) else { return };
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match self.process_once(&tenant, item.inbox_id).await {
                Ok(queued) => {
                    self.metrics.updates_processed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    for o in queued {
                        self.deliver(&tenant.info.id, o.chat_id, o.id);
                    }
                    return;
                }
                Err(e) if attempt < ATTEMPTS && matches!(e, RuntimeError::Internal(_)) => {
                    tracing::warn!(tenant = %tenant.info.id, inbox_id = item.inbox_id, attempt, error = %format!("{e:#}"), "update failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant.info.id, inbox_id = item.inbox_id, error = %format!("{e:#}"), "update failed");
                    self.metrics.updates_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Err(e2) = mark_failed(&tenant, item.inbox_id, &format!("{e:#}")).await {
                        tracing::error!(tenant = %tenant.info.id, inbox_id = item.inbox_id, error = %format!("{e2:#}"), "could not record the failure");
                    }
                    return;
                }
            }
        }
    }

    async fn process_once(&self, tenant: &Arc<Tenant>, inbox_id: i64) -> Result<Vec<outbox::Model>, RuntimeError> {
        let txn = tenant.db.begin().await?;
        let Some(row) = inbox::Entity::find_by_id(inbox_id).one(&txn).await? else { return Ok(vec![]) };
        if row.status != inbox::PENDING {
            return Ok(vec![]);
        }
        let update: Update = serde_json::from_str(&row.payload).context("stored update no longer parses")?;
        let mut queued = Vec::new();
        let outcome = match update.kind {
            UpdateKind::Message(msg) => self.on_message(tenant, &txn, &msg, &mut queued).await?,
            _ => inbox::IGNORED,
        };
        let mut am: inbox::ActiveModel = row.into();
        am.status = Set(outcome.to_owned());
        am.processed_at = Set(Some(Utc::now()));
        am.update(&txn).await?;
        txn.commit().await?;
        Ok(queued)
    }

    fn text(&self, tenant: &Tenant, which: BotText, ctx: impl serde::Serialize) -> Result<String, RuntimeError> {
        self.renderer
            .bot_text(which, tenant.info.theme, &tenant.info.name, ctx)
            .map_err(|e| RuntimeError::Internal(e.into()))
    }

    async fn on_message(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        msg: &Message,
        queued: &mut Vec<outbox::Model>,
    ) -> Result<&'static str, RuntimeError> {
        // A support desk talks to customers one to one; groups are ignored.
        if !matches!(msg.chat.kind, ChatKind::Private(_)) {
            return Ok(inbox::IGNORED);
        }
        let Some(from) = msg.from.as_ref().filter(|u| !u.is_bot) else { return Ok(inbox::IGNORED) };
        let chat = msg.chat.id.0;
        if tenant.info.status == TenantStatus::Suspended {
            let notice = self.text(tenant, BotText::Suspended, ())?;
            queued.push(tickets::enqueue(txn, chat, notice, None).await?);
            return Ok(inbox::IGNORED);
        }
        let profile = TelegramProfile {
            telegram_id: from.id.0 as i64,
            first_name: from.first_name.clone(),
            last_name: from.last_name.clone(),
            username: from.username.clone(),
            language_code: from.language_code.clone(),
        };
        let user = tickets::upsert_user(txn, &profile, tenant.info.owner_telegram_id).await?;
        if user.blocked {
            return Ok(inbox::IGNORED);
        }
        let first_name = user.first_name.clone();
        let Some(text) = msg.text().or(msg.caption()) else {
            let t = self.text(tenant, BotText::Unsupported, ())?;
            queued.push(tickets::enqueue(txn, chat, t, None).await?);
            return Ok(inbox::DONE);
        };
        if let Some(command) = command_of(text, &tenant.info.bot_username) {
            let reply = match command {
                "start" => self.text(tenant, BotText::Welcome, minijinja_ctx(&first_name))?,
                _ => self.text(tenant, BotText::Help, ())?,
            };
            queued.push(tickets::enqueue(txn, chat, reply, None).await?);
            return Ok(inbox::DONE);
        }

        let viewer = tickets::Viewer::from_user(&user)?;
        let active = tickets::active_ticket_of(txn, UserId(user.id)).await?;
        let event = tikethet_plugins::MessageEvent {
            ticket_id: active.as_ref().map(|t| t.id),
            customer_telegram_id: user.telegram_id,
            customer_name: user.first_name.clone(),
            customer_username: user.username.clone(),
            language_code: user.language_code.clone(),
            text: text.to_owned(),
            sent_at: msg.date.timestamp_millis().max(0) as u64,
        };
        let plan = self.plugins_on_message(tenant, txn, &event, queued).await?;
        for a in &plan.actions {
            if let Action::Reply { text, buttons } = a {
                let buttons: Vec<(String, String)> = buttons.iter().map(|b| (b.text.clone(), b.data.clone())).collect();
                queued.push(tickets::enqueue_with_buttons(txn, chat, text.clone(), &buttons).await?);
            }
        }
        let ticket = match (plan.stopped, active) {
            // A plugin handled it: the message is not added anywhere.
            (true, active) => active.map(|t| (t, false)),
            (false, Some(t)) => {
                let text = crate::domain::MessageText::parse(text)?;
                // A customer writing in their own ticket: nothing to deliver.
                tickets::add_message(txn, &viewer, t.clone(), &text, false, |_| Ok(String::new())).await?;
                Some((t, false))
            }
            (false, None) => {
                let ticket = tickets::create_ticket(
                    txn,
                    UserId(user.id),
                    &TicketTitle::from_message(text),
                    &TicketDescription::from_message(text),
                    Priority::Normal,
                )
                .await?;
                self.metrics.tickets_opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let reply = self.text(
                    tenant,
                    BotText::TicketOpened,
                    serde_json::json!({ "number": ticket.id, "title": ticket.title }),
                )?;
                queued.push(tickets::enqueue(txn, chat, reply, None).await?);
                Some((ticket, true))
            }
        };
        if let Some((ticket, created)) = ticket {
            let id = TicketId(ticket.id);
            for a in &plan.actions {
                apply_action(txn, id, a).await?;
            }
            if created {
                self.route_new_ticket(tenant, txn, &ticket, &user.first_name, user.telegram_id, queued).await?;
            }
        }
        Ok(inbox::DONE)
    }
}

impl Runtime {
    /// Runs the `on-ticket-created` plugins for a new ticket and applies
    /// their routing in the tenant's plugin order (later plugins win).
    pub(crate) async fn route_new_ticket(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        ticket: &crate::entities::tickets::Model,
        customer_name: &str,
        customer_telegram_id: i64,
        queued: &mut Vec<outbox::Model>,
    ) -> Result<(), RuntimeError> {
        let event = tikethet_plugins::TicketEvent {
            ticket_id: ticket.id,
            title: ticket.title.clone(),
            description: ticket.description.clone(),
            priority: plugin_priority(&ticket.priority),
            customer_telegram_id,
            customer_name: customer_name.to_owned(),
        };
        let id = TicketId(ticket.id);
        for r in self.plugins_on_ticket_created(tenant, txn, &event, queued).await? {
            if let Some(c) = &r.category {
                tickets::set_category(txn, id, c).await?;
            }
            if let Some(p) = r.priority {
                tickets::set_priority(txn, id, domain_priority(p)).await?;
            }
            if let Some(a) = &r.assignee {
                tickets::assign_by_username(txn, id, a).await?;
            }
            for t in &r.tags {
                tickets::add_tag(txn, id, t).await?;
            }
        }
        Ok(())
    }
}

fn plugin_priority(p: &str) -> tikethet_plugins::Priority {
    match Priority::parse(p).unwrap_or(Priority::Normal) {
        Priority::Low => tikethet_plugins::Priority::Low,
        Priority::Normal => tikethet_plugins::Priority::Normal,
        Priority::High => tikethet_plugins::Priority::High,
        Priority::Critical => tikethet_plugins::Priority::Critical,
    }
}

fn domain_priority(p: tikethet_plugins::Priority) -> Priority {
    match p {
        tikethet_plugins::Priority::Low => Priority::Low,
        tikethet_plugins::Priority::Normal => Priority::Normal,
        tikethet_plugins::Priority::High => Priority::High,
        tikethet_plugins::Priority::Critical => Priority::Critical,
    }
}

/// Applies one of a plugin's ticket actions (replies were sent already).
async fn apply_action(txn: &DatabaseTransaction, id: TicketId, a: &Action) -> Result<(), RuntimeError> {
    match a {
        Action::Reply { .. } | Action::Stop => {}
        Action::Tag { tag } => tickets::add_tag(txn, id, tag).await?,
        Action::SetPriority { priority } => tickets::set_priority(txn, id, domain_priority(*priority)).await?,
        Action::SetCategory { category } => tickets::set_category(txn, id, category).await?,
        Action::Assign { to } => {
            tickets::assign_by_username(txn, id, to).await?;
        }
        Action::Note { text } => tickets::add_note(txn, id, text).await?,
    }
    Ok(())
}

fn minijinja_ctx(first_name: &str) -> serde_json::Value {
    serde_json::json!({ "first_name": first_name })
}

/// The command of a message (`/start`, `/help@AcmeBot`), lowercased; `None`
/// for plain text or a command addressed to another bot.
fn command_of<'a>(text: &'a str, bot_username: &str) -> Option<&'a str> {
    let word = text.split_whitespace().next()?.strip_prefix('/')?;
    let (cmd, target) = word.split_once('@').unwrap_or((word, ""));
    if !target.is_empty() && !target.eq_ignore_ascii_case(bot_username) {
        return None;
    }
    Some(match cmd.to_ascii_lowercase().as_str() {
        "start" => "start",
        "help" => "help",
        _ => "unknown",
    })
}

async fn mark_failed(tenant: &Tenant, inbox_id: i64, error: &str) -> anyhow::Result<()> {
    let txn = tenant.db.begin().await?;
    if let Some(row) = inbox::Entity::find_by_id(inbox_id).one(&txn).await? {
        let mut am: inbox::ActiveModel = row.into();
        am.status = Set(inbox::FAILED.to_owned());
        am.error = Set(Some(error.chars().take(2000).collect()));
        am.processed_at = Set(Some(Utc::now()));
        am.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::command_of;

    #[test]
    fn commands() {
        assert_eq!(command_of("/start", "AcmeBot"), Some("start"));
        assert_eq!(command_of("/HELP@acmebot now", "AcmeBot"), Some("help"));
        assert_eq!(command_of("/start@OtherBot", "AcmeBot"), None);
        assert_eq!(command_of("/whatever", "AcmeBot"), Some("unknown"));
        assert_eq!(command_of("hello /start", "AcmeBot"), None);
    }
}
