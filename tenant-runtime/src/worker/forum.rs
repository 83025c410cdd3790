//! The staff group: a Telegram forum supergroup where each ticket gets a
//! topic of its own (<https://core.telegram.org/bots/api#createforumtopic>).
//!
//! An admin adds the bot to a supergroup with topics turned on, makes it an
//! admin that may manage topics, and sends `/staffgroup` there
//! (`/staffgroup off` unlinks it). From then on:
//! - a new ticket's first post, and each later message of its customer, go
//!   into the ticket's topic; replies and notes written in the console or
//!   the Mini App are copied there too;
//! - what a staff member writes in a topic is their reply to the customer
//!   (`/note …` makes it a note only staff see), through the same path as
//!   a reply from the console: limits, notifications, live events;
//!   `/resolve` and `/assign @username` there change the ticket as the
//!   console does;
//! - the topic's name shows the ticket's status (`✅ #12 Title`), and it is
//!   closed when the ticket is resolved or closed and reopened with it.
//!
//! The topic itself is made by the sender, in the group's ordered lane,
//! just before the first message that goes into it (see `sender.rs`): a
//! Bot API call never runs inside a database transaction.
//!
//! The bot reads the group's messages only when it may: as an admin (or
//! with its privacy mode turned off in @BotFather).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Set};
use teloxide::types::{ChatKind, Message, PublicChatKind};
use tikethet_themes::BotText;

use crate::Runtime;
use crate::outbound::effects::Effects;
use crate::worker::incoming::Incoming;
use crate::worker::update::commit_finished;
use crate::domain::{MessageBody, Role};
use crate::storage::entities::{inbox, outbox, staff_forum, tickets, users};
use crate::error::RuntimeError;
use crate::outbound::notify::{name_of, quote};
use crate::storage::tenant::Tenant;
use crate::desk::context::Viewer;
use crate::desk::tickets::Button;


/// The desk's staff group, if one is linked.
pub(crate) async fn linked(txn: &DatabaseTransaction) -> Result<Option<staff_forum::Model>, RuntimeError> {
    Ok(staff_forum::Entity::find().one(txn).await?)
}

/// Whether a chat is a supergroup with topics.
fn is_forum(msg: &Message) -> bool {
    match &msg.chat.kind {
        ChatKind::Public(p) => matches!(&p.kind, PublicChatKind::Supergroup(s) if s.is_forum),
        ChatKind::Private(_) => false,
    }
}

/// The command word of a message in a group (`/note`, `/staffgroup@AcmeBot`),
/// lowercased; `None` for plain text or a command to another bot.
fn group_command<'a>(text: &'a str, bot_username: &str) -> Option<(String, &'a str)> {
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let word = word.strip_prefix('/')?;
    let (cmd, target) = word.split_once('@').unwrap_or((word, ""));
    if !target.is_empty() && !target.eq_ignore_ascii_case(bot_username) {
        return None;
    }
    Some((cmd.to_ascii_lowercase(), rest.trim()))
}

impl Runtime {
    /// Queues a post into a ticket's topic in the staff group.
    async fn post_in_topic(&self, txn: &DatabaseTransaction, forum: &staff_forum::Model, ticket: i64, text: String, buttons: &[Button], kicks: &mut Effects) -> Result<(), RuntimeError> {
        let row = crate::desk::tickets::enqueue_rows(txn, forum.chat_id, text, None, buttons, Some(ticket), None).await?;
        kicks.push(row.chat_id);
        Ok(())
    }

    /// The post that opens a ticket's topic: what the ticket is, who wrote,
    /// and the console's page of it.
    async fn open_topic(&self, tenant: &Tenant, txn: &DatabaseTransaction, forum: &staff_forum::Model, ticket: &tickets::Model, customer: &users::Model, text: &str, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let lang = forum.language.as_deref();
        let (buttons, link) = self.console_opening(tenant, lang, ticket.id)?;
        let vars = serde_json::json!({
            "number": ticket.id, "title": ticket.title, "customer": name_of(customer),
            "username": customer.username, "text": quote(text), "link": link,
        });
        let body = self.text(tenant, lang, BotText::TopicOpened, vars)?;
        self.post_in_topic(txn, forum, ticket.id, body, &buttons, kicks).await
    }

    /// The customer's files after their words, each as a photo or document
    /// in the ticket's topic (sent by the sender as it sends them to a chat).
    async fn files_in_topic(&self, txn: &DatabaseTransaction, forum: &staff_forum::Model, ticket: i64, files: &[i64], kicks: &mut Effects) -> Result<(), RuntimeError> {
        for file in files {
            let row = outbox::ActiveModel {
                chat_id: Set(forum.chat_id),
                text: Set(String::new()),
                attachment_id: Set(Some(*file)),
                topic_ticket_id: Set(Some(ticket)),
                status: Set(outbox::PENDING.to_owned()),
                attempts: Set(0),
                created_at: Set(chrono::Utc::now()),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            kicks.push(row.chat_id);
        }
        Ok(())
    }

    /// A new ticket: its topic opens with the customer's first message and
    /// its files.
    pub(crate) async fn topic_new_ticket(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, customer: &users::Model, files: &[i64], kicks: &mut Effects) -> Result<(), RuntimeError> {
        let Some(forum) = linked(txn).await? else { return Ok(()) };
        self.open_topic(tenant, txn, &forum, ticket, customer, &ticket.description, kicks).await?;
        self.files_in_topic(txn, &forum, ticket.id, files, kicks).await
    }

    /// A customer's later message, in the ticket's topic (opened first for
    /// a ticket older than the group's link), its files after it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn topic_customer_message(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, customer: &users::Model, text: &str, files: &[i64], kicks: &mut Effects) -> Result<(), RuntimeError> {
        let Some(forum) = linked(txn).await? else { return Ok(()) };
        if ticket.forum_topic_id.is_none() && outbox::Entity::find().filter(outbox::Column::TopicTicketId.eq(ticket.id)).count(txn).await? == 0 {
            self.open_topic(tenant, txn, &forum, ticket, customer, text, kicks).await?;
        } else if !(text.trim().is_empty() && !files.is_empty()) {
            // (A file without a caption goes alone.)
            let body = self.text(tenant, forum.language.as_deref(), BotText::TopicCustomerMessage, serde_json::json!({ "customer": name_of(customer), "text": text }))?;
            self.post_in_topic(txn, &forum, ticket.id, body, &[], kicks).await?;
        }
        self.files_in_topic(txn, &forum, ticket.id, files, kicks).await
    }

    /// A reply or note written outside the topic (console, Mini App), so the
    /// topic keeps the whole conversation. Only into a topic that exists or
    /// is on its way: a staff answer alone does not open one.
    pub(crate) async fn topic_staff_message(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, author: &users::Model, text: &str, note: bool, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let Some(forum) = linked(txn).await? else { return Ok(()) };
        if ticket.forum_topic_id.is_none() && outbox::Entity::find().filter(outbox::Column::TopicTicketId.eq(ticket.id)).count(txn).await? == 0 {
            return Ok(());
        }
        let vars = serde_json::json!({ "author": name_of(author), "text": text, "note": note });
        let body = self.text(tenant, forum.language.as_deref(), BotText::TopicStaffMessage, vars)?;
        self.post_in_topic(txn, &forum, ticket.id, body, &[], kicks).await
    }

    /// A message in a group: `/staffgroup` links (or unlinks) it; in the
    /// linked group, a staff member's message in a ticket's topic is their
    /// answer. Everything else in groups is ignored.
    pub(crate) async fn on_group_message(&self, tenant: &Tenant, txn: DatabaseTransaction, row: &inbox::Model, msg: &Message, from: &teloxide::types::User) -> Result<Effects, RuntimeError> {
        let mut kicks = Effects::default();
        let chat = msg.chat.id.0;
        let text = msg.text().or(msg.caption()).unwrap_or("").replace('\0', "");
        let command = group_command(&text, &tenant.info.bot_username);
        let forum = linked(&txn).await?;
        let here = forum.as_ref().filter(|f| f.chat_id == chat);
        if let Some(("staffgroup", args)) = command.as_ref().map(|(c, a)| (c.as_str(), *a)) {
            // Whoever links the group talks to the bot: known from now on
            // (the desk's owner is recognised by their Telegram id).
            let user = crate::desk::tickets::upsert_user(&txn, &crate::worker::process::profile_of(from), tenant.info.owner_telegram_id).await?;
            let admin = !user.blocked && user.role >= Role::Admin;
            let outcome = if !admin {
                "not_admin"
            } else if args.eq_ignore_ascii_case("off") {
                match here {
                    Some(g) => {
                        staff_forum::Entity::delete_many().exec(&txn).await?;
                        crate::desk::audit::record(&txn, Some(user.id), "staff_group.unlinked", None, format!("{} ({})", g.title, g.chat_id)).await?;
                        "unlinked"
                    }
                    None => "not_linked",
                }
            } else if !is_forum(msg) {
                "not_forum"
            } else {
                // One staff group per desk: linking another moves the desk there.
                staff_forum::Entity::delete_many().exec(&txn).await?;
                let title = match &msg.chat.kind {
                    ChatKind::Public(p) => p.title.clone().unwrap_or_default(),
                    ChatKind::Private(_) => String::new(),
                };
                staff_forum::ActiveModel {
                    chat_id: Set(chat),
                    title: Set(title.chars().take(255).collect::<String>()),
                    linked_by: Set(user.id),
                    linked_at: Set(Utc::now()),
                    language: Set(user.language_code.clone()),
                }
                .insert(&txn)
                .await?;
                crate::desk::audit::record(&txn, Some(user.id), "staff_group.linked", None, format!("{title} ({chat})")).await?;
                tracing::info!(tenant = %tenant.info.id, chat, by = user.id, "staff group linked");
                "linked"
            };
            let lang = user.language_code.as_deref();
            let body = self.text(tenant, lang, BotText::StaffGroup, serde_json::json!({ "outcome": outcome, "desk": tenant.info.name }))?;
            kicks.push(crate::desk::tickets::enqueue(&txn, chat, body, None).await?.chat_id);
            return commit_finished(txn, row.id, inbox::DONE, kicks).await;
        }
        let Some(forum) = here.cloned() else { return commit_finished(txn, row.id, inbox::IGNORED, kicks).await };
        let thread = msg.thread_id.filter(|_| msg.is_topic_message).map(|t| i64::from(t.0.0));
        let ticket = match thread {
            Some(t) => tickets::Entity::find().filter(tickets::Column::ForumTopicId.eq(t)).one(&txn).await?,
            None => None,
        };
        // Staff known to the desk only: a group member who never signed in
        // or wrote to the bot has no role here.
        let user = users::Entity::find().filter(users::Column::TelegramId.eq(from.id.0 as i64)).one(&txn).await?;
        let (Some(ticket), Some(user)) = (ticket, user) else { return commit_finished(txn, row.id, inbox::IGNORED, kicks).await };
        let viewer = Viewer::from_user(&user)?;
        if user.blocked || !viewer.role.is_staff() {
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        }
        if let Some((c @ ("resolve" | "assign"), args)) = command.as_ref().map(|(c, a)| (c.as_str(), *a)) {
            return self.topic_command(tenant, txn, row, &forum, &user, &viewer, ticket, c, args).await;
        }
        let (note, said) = match command.as_ref().map(|(c, a)| (c.as_str(), *a)) {
            Some(("note", rest)) => (true, rest.to_owned()),
            _ => (false, text.clone()),
        };
        let file = Incoming::of(msg).and_then(|i| i.file);
        let files = match &file {
            Some(f) => vec![f.store(&txn, user.id).await?],
            None => Vec::new(),
        };
        let refused = match MessageBody::parse(&said, &files) {
            Ok(body) => match crate::desk::tickets::visible_to(&viewer, Some(ticket.clone())) {
                Ok(t) => match self.write_message(tenant, &txn, &user, &viewer, t, &body, note, false, &mut kicks).await {
                    Ok(_) => None,
                    Err(RuntimeError::Internal(e)) => return Err(RuntimeError::Internal(e)),
                    Err(e) => Some(e.to_string()),
                },
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = refused {
            // Said where it was written, and nothing else changes.
            let body = self.text(tenant, forum.language.as_deref(), BotText::TopicRefused, serde_json::json!({ "reason": reason }))?;
            let mut told = Effects::default();
            drop(txn);
            let txn = tenant.db.begin().await?;
            self.post_in_topic(&txn, &forum, ticket.id, body, &[], &mut told).await?;
            return commit_finished(txn, row.id, inbox::DONE, told).await;
        }
        commit_finished(txn, row.id, inbox::DONE, kicks).await
    }
}

impl Runtime {
    /// `/resolve` or `/assign @username` written in a ticket's topic by a
    /// staff member: the change as the console makes it (the desk's rules,
    /// the audit, the customer's and the assignee's notices), said in the
    /// topic; a refusal said there with its reason.
    #[allow(clippy::too_many_arguments)]
    async fn topic_command(
        &self,
        tenant: &Tenant,
        txn: DatabaseTransaction,
        row: &inbox::Model,
        forum: &staff_forum::Model,
        user: &users::Model,
        viewer: &Viewer,
        ticket: tickets::Model,
        command: &str,
        args: &str,
    ) -> Result<Effects, RuntimeError> {
        let mut kicks = Effects::default();
        let mut changes = crate::desk::changes::TicketChanges::default();
        let mut assignee_name = String::new();
        let refused = if command == "resolve" {
            changes.status = Some(crate::domain::TicketStatus::Resolved);
            None
        } else {
            let wanted = args.trim().trim_start_matches('@');
            let staff = if wanted.is_empty() {
                None
            } else {
                users::Entity::find().filter(users::Column::Username.eq(wanted)).one(&txn).await?.filter(|u| !u.blocked && u.role.is_staff())
            };
            match staff {
                Some(u) => {
                    assignee_name = name_of(&u);
                    changes.assignee_id = Some(Some(u.id));
                    None
                }
                None if wanted.is_empty() => Some("name the staff member: /assign @username".to_owned()),
                None => Some(format!("@{wanted} is not a staff member of this desk")),
            }
        };
        let outcome = match refused {
            Some(reason) => Err(reason),
            None => match crate::desk::tickets::visible_to(viewer, Some(ticket.clone())) {
                Ok(t) => match self.apply_changes(tenant, &txn, user, viewer, t, &changes, &mut kicks).await {
                    Ok(_) => Ok(()),
                    Err(RuntimeError::Internal(e)) => return Err(RuntimeError::Internal(e)),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            },
        };
        let vars = match &outcome {
            Ok(()) => serde_json::json!({ "outcome": if command == "resolve" { "resolved" } else { "assigned" }, "author": name_of(user), "assignee": assignee_name }),
            Err(reason) => serde_json::json!({ "outcome": "refused", "reason": reason }),
        };
        let body = self.text(tenant, forum.language.as_deref(), BotText::TopicCommand, vars)?;
        if outcome.is_err() {
            // Said where it was written, and nothing else changes.
            drop(txn);
            let txn = tenant.db.begin().await?;
            let mut told = Effects::default();
            self.post_in_topic(&txn, forum, ticket.id, body, &[], &mut told).await?;
            return commit_finished(txn, row.id, inbox::DONE, told).await;
        }
        self.post_in_topic(&txn, forum, ticket.id, body, &[], &mut kicks).await?;
        commit_finished(txn, row.id, inbox::DONE, kicks).await
    }

    /// A ticket's status changed: its topic (if it has one, or one on its
    /// way) is renamed to show it (`✅ #12 Title` once resolved), closed
    /// when the ticket is resolved or closed, and reopened with it. Queued
    /// in the group's ordered lane after what went before.
    pub(crate) async fn topic_status(&self, txn: &DatabaseTransaction, ticket: &tickets::Model, kicks: &mut Effects) -> Result<(), RuntimeError> {
        let Some(forum) = linked(txn).await? else { return Ok(()) };
        if ticket.forum_topic_id.is_none() && outbox::Entity::find().filter(outbox::Column::TopicTicketId.eq(ticket.id)).count(txn).await? == 0 {
            return Ok(());
        }
        let name = crate::outbound::sender::topic_name_with_status(ticket.id, &ticket.title, ticket.status);
        let close = if ticket.status.is_active() { outbox::REOPEN_TOPIC } else { outbox::CLOSE_TOPIC };
        for (action, text) in [(outbox::RENAME_TOPIC, name), (close, String::new())] {
            outbox::ActiveModel {
                chat_id: Set(forum.chat_id),
                text: Set(text),
                status: Set(outbox::PENDING.to_owned()),
                attempts: Set(0),
                created_at: Set(Utc::now()),
                topic_ticket_id: Set(Some(ticket.id)),
                action: Set(Some(action.to_owned())),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
        kicks.push(forum.chat_id);
        Ok(())
    }
}

impl crate::desk::context::TenantContext {
    /// The desk's staff group, if linked (admins and up).
    pub async fn staff_group(&self) -> Result<Option<staff_forum::Model>, RuntimeError> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let g = linked(&txn).await?;
        txn.commit().await?;
        Ok(g)
    }

    /// Unlinks the staff group (admins and up): tickets stop going there;
    /// the group and its topics stay as they are in Telegram.
    pub async fn unlink_staff_group(&self) -> Result<bool, RuntimeError> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let g = linked(&txn).await?;
        let n = staff_forum::Entity::delete_many().exec(&txn).await?.rows_affected;
        if let Some(g) = g {
            crate::desk::audit::record(&txn, Some(self.user.id), "staff_group.unlinked", None, format!("{} ({})", g.title, g.chat_id)).await?;
        }
        txn.commit().await?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_commands_are_read_for_this_bot_only() {
        assert_eq!(group_command("/note check the logs", "AcmeBot"), Some(("note".into(), "check the logs")));
        assert_eq!(group_command("/StaffGroup@acmebot off", "AcmeBot"), Some(("staffgroup".into(), "off")));
        assert_eq!(group_command("/staffgroup@OtherBot", "AcmeBot"), None);
        assert_eq!(group_command("hello /note", "AcmeBot"), None);
    }
}
