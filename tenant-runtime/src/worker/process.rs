//! The worker: turns stored updates into tickets and answers, one chat at a
//! time, and commits each update's effects together with its "done" mark so
//! that a crash never handles an update twice or loses one.
//!
//! A chat's lane ([`Runtime::process_next`]) takes the chat's oldest pending
//! update. A storage failure leaves it pending with a backoff (the chat waits
//! behind it, in order) and after [`MAX_UPDATE_ATTEMPTS`] it is given up as
//! `failed` with the reason; a panic marks it failed at once; either way the
//! chat goes on. Plugins run between transactions: first the update's reads
//! are committed, then the plugins run on their pool, then one transaction
//! records their results with the effects and the "done" mark. An update
//! that opens a ticket with routing plugins enabled records `route:<id>` as
//! its stage, so a retry resumes at the routing instead of opening a second
//! ticket.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use futures::FutureExt as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use teloxide::types::{CallbackQuery, ChatKind, Message, Update, UpdateKind};
use tikethet_plugins::{Action, HookEvent};
use tikethet_themes::BotText;

use crate::Runtime;
use crate::domain::{Invalid, Priority, TenantId, TicketDescription, TicketId, TicketTitle, UserId};
use crate::storage::entities::{inbox, tickets as tickets_rows, users};
use crate::error::RuntimeError;
use crate::worker::bot::{self, Command, SupportStep};
use crate::worker::incoming::{self, Incoming};
use crate::worker::claims::{self, Claim, ClaimLost, Taken};
use crate::worker::hooks::{actions_of, domain_priority, plugin_priority, queue_replies, routings_of};
use crate::worker::update::{HOLD_BEFORE_ROUTING, Pressed, claimed, commit_finished, finish, test_hold};
use crate::live;
use crate::outbound::effects::Effects;
use crate::worker::lanes::Step;
use crate::storage::tenant::{Tenant, TenantStatus};
use crate::desk::tickets::{self, TelegramProfile};

/// Tries at one update before it is given up as failed (storage outages;
/// a bad update or a panic fails at once).
pub const MAX_UPDATE_ATTEMPTS: i32 = 5;

/// Wait before try `attempt + 1`: 1 s, 4 s, 16 s, 64 s.
fn retry_backoff(attempt: i32) -> Duration {
    Duration::from_secs(4u64.saturating_pow(attempt.clamp(1, 6) as u32 - 1))
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "a non-string panic".into())
}

impl Runtime {
    /// One unit of a chat's lane: its oldest pending update, if due.
    pub(crate) async fn process_next(&self, tenant: TenantId, chat: Option<i64>) -> Step {
        let Some(tenant) = self.inner.tenants.get(&tenant) else { return Step::Park };
        let (row, claim) = match next_pending(&tenant, chat, &self.inner.work.node_id, self.inner.work.claim_lease, &self.inner.work.dead_nodes.now()).await {
            Ok(Next::Row(r, claim)) => (r, claim),
            Ok(Next::Idle { wanted }) => {
                if wanted {
                    let wake = crate::live::wakeups::Wake { tenant: tenant.info.id.clone(), lane: claims::UPDATES, chat: claims::chat_key(chat) };
                    self.inner.work.wakeups.publish(&wake).await;
                }
                return Step::Idle;
            }
            // Another node works this chat; look again when it gives the
            // chat up (woken), or when its lease lapses (if it died), or
            // after a while (a wake-up lost on the way).
            Ok(Next::Held(left)) => return Step::Held(left.clamp(claims::POLL / 4, self.inner.work.wakeups.poll())),
            Err(e) => {
                tracing::warn!(tenant = %tenant.info.id, error = %format!("{e:#}"), "processing paused: storage failed");
                return Step::Park;
            }
        };
        if let Some(wait) = row.next_attempt_at.and_then(|at| (at - Utc::now()).to_std().ok()).filter(|w| !w.is_zero()) {
            // The claim stays for the wait (renewed when the lane comes
            // back), so the retry keeps its place at the head of the chat.
            return Step::Later(wait.min(self.inner.work.claim_lease / 2));
        }
        claims::under(claim, self.process_claimed(tenant, row)).await
    }

    /// Processes one update under its chat's claim; every transaction that
    /// finishes it checks the claim first.
    async fn process_claimed(&self, tenant: Arc<Tenant>, row: inbox::Model) -> Step {
        let (id, attempts) = (row.id, row.attempts);
        let started = std::time::Instant::now();
        let outcome = AssertUnwindSafe(self.process_row(&tenant, row)).catch_unwind().await;
        let judged = match &outcome {
            Ok(Ok(_)) => "done",
            Ok(Err(RuntimeError::Internal(e))) if e.downcast_ref::<ClaimLost>().is_some() => "left",
            Ok(Err(RuntimeError::Internal(_))) if attempts + 1 < MAX_UPDATE_ATTEMPTS => "retry",
            _ => "failed",
        };
        self.inner.metrics.observe_processing(judged, started);
        let recorded = match outcome {
            Ok(Ok(effects)) => {
                self.inner.metrics.updates_processed.fetch_add(1, Ordering::Relaxed);
                self.after_commit(&tenant.info.id, effects).await;
                return Step::More;
            }
            Ok(Err(RuntimeError::Internal(e))) if e.downcast_ref::<ClaimLost>().is_some() => {
                tracing::warn!(tenant = %tenant.info.id, inbox_id = id, error = %e, "update left to the node that took its chat over");
                return Step::Later(claims::POLL);
            }
            Ok(Err(e @ RuntimeError::Internal(_))) => {
                let attempt = attempts + 1;
                let why = format!("{e:#}");
                if attempt >= MAX_UPDATE_ATTEMPTS {
                    tracing::error!(tenant = %tenant.info.id, inbox_id = id, attempt, error = %why, "update given up after repeated failures");
                    self.inner.metrics.updates_failed.fetch_add(1, Ordering::Relaxed);
                    mark_failed(&tenant, id, attempt, &why).await
                } else {
                    let wait = retry_backoff(attempt);
                    tracing::warn!(tenant = %tenant.info.id, inbox_id = id, attempt, wait_ms = wait.as_millis() as u64, error = %why, "update failed; will retry");
                    self.inner.metrics.updates_retried.fetch_add(1, Ordering::Relaxed);
                    schedule_retry(&tenant, id, attempt, wait, &why).await
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(tenant = %tenant.info.id, inbox_id = id, error = %e, "update refused");
                self.inner.metrics.updates_failed.fetch_add(1, Ordering::Relaxed);
                mark_failed(&tenant, id, attempts, &e.to_string()).await
            }
            Err(panic) => {
                let why = format!("the handler panicked: {}", panic_message(panic.as_ref()));
                tracing::error!(tenant = %tenant.info.id, inbox_id = id, error = %why, "update handler panicked");
                self.inner.metrics.updates_panicked.fetch_add(1, Ordering::Relaxed);
                self.inner.metrics.updates_failed.fetch_add(1, Ordering::Relaxed);
                mark_failed(&tenant, id, attempts, &why).await
            }
        };
        match recorded {
            Ok(()) => Step::More,
            Err(e) if e.downcast_ref::<ClaimLost>().is_some() => Step::Later(claims::POLL),
            Err(e) => {
                tracing::warn!(tenant = %tenant.info.id, inbox_id = id, error = %format!("{e:#}"), "could not record a failed update; the sweep will retry it");
                Step::Park
            }
        }
    }

    /// Handles one pending update; returns the chats that got messages.
    async fn process_row(&self, tenant: &Arc<Tenant>, row: inbox::Model) -> Result<Effects, RuntimeError> {
        if cfg!(debug_assertions) && row.payload.contains("tikethet-test-panic") {
            // Lets the end-to-end tests prove that a panicking handler is
            // caught; never compiled into release builds.
            panic!("test panic requested by the update");
        }
        let update: Update =
            serde_json::from_str(&row.payload).map_err(|e| Invalid::new("update", format!("the stored update no longer parses: {e}")))?;
        match update.kind {
            UpdateKind::Message(msg) => self.on_message(tenant, &row, &msg).await,
            UpdateKind::CallbackQuery(q) => self.on_button_press(tenant, &row, &q).await,
            UpdateKind::EditedMessage(msg) => self.on_edited(tenant, &row, &msg).await,
            // teloxide keeps nothing of an update it cannot read: the
            // stored payload is read again as plain JSON.
            UpdateKind::Error(_) => {
                let raw: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
                self.on_unreadable(tenant, &row, &raw).await
            }
            _ => {
                let txn = tenant.db.begin().await?;
                if finish(&txn, row.id, inbox::IGNORED).await? {
                    txn.commit().await?;
                }
                Ok(Effects::default())
            }
        }
    }

    async fn on_message(&self, tenant: &Arc<Tenant>, row: &inbox::Model, msg: &Message) -> Result<Effects, RuntimeError> {
        let mut kicks = Effects::default();
        let chat = msg.chat.id.0;
        let txn = tenant.db.begin().await?;
        // A support desk talks to customers one to one; in groups only the
        // staff group's topics and `/staffgroup` are heard (see `forum`).
        let from = msg.from.as_ref().filter(|u| !u.is_bot);
        let (true, Some(from)) = (matches!(msg.chat.kind, ChatKind::Private(_)), from) else {
            if let (Some(from), ChatKind::Public(_), TenantStatus::Active) = (from, &msg.chat.kind, tenant.info.status) {
                return self.on_group_message(tenant, txn, row, msg, from).await;
            }
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        };
        if tenant.info.status == TenantStatus::Suspended {
            let notice = self.text(tenant, from.language_code.as_deref(), BotText::Suspended, ())?;
            kicks.push(tickets::enqueue(&txn, chat, notice, None).await?.chat_id);
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        }
        let user = tickets::upsert_chat_user(&txn, &profile_of(from), tenant.info.owner_telegram_id).await?;
        if user.blocked {
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        }
        // Service messages (a pinned message, a payment) are not the
        // customer speaking.
        let read = match &msg.kind {
            // A kind teloxide does not know: named from the stored update.
            teloxide::types::MessageKind::Empty {} => {
                let raw: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
                Some(Incoming::unreadable(&raw["message"]))
            }
            _ => Incoming::of(msg),
        };
        let Some(mut incoming) = read else { return commit_finished(txn, row.id, inbox::IGNORED, kicks).await };
        // What a customer sends is kept, not refused: only the NUL
        // character, which text columns cannot hold, is dropped.
        incoming.text = incoming.text.replace('\0', "");
        self.on_customer_message(tenant, txn, row, chat, user, &incoming, msg.date.timestamp_millis(), kicks).await
    }

    /// A customer edited a message in their private chat: the desk's copy
    /// takes the new text (or caption), the one before kept in its
    /// revisions, and staff see it as edited. An edit of something the desk
    /// never kept (a command, a message from before) changes nothing.
    async fn on_edited(&self, tenant: &Arc<Tenant>, row: &inbox::Model, msg: &Message) -> Result<Effects, RuntimeError> {
        let mut kicks = Effects::default();
        let txn = tenant.db.begin().await?;
        let from = msg.from.as_ref().filter(|u| !u.is_bot);
        let (true, Some(from), TenantStatus::Active) = (matches!(msg.chat.kind, ChatKind::Private(_)), from, tenant.info.status) else {
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        };
        let Some(user) = users::Entity::find().filter(users::Column::TelegramId.eq(from.id.0 as i64)).one(&txn).await? else {
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        };
        let text = msg.text().or(msg.caption()).unwrap_or_default().replace('\0', "");
        match tickets::edit_by_customer(&txn, &user, i64::from(msg.id.0), &text).await? {
            Some((ticket, message)) => {
                kicks.events.push(live::Event::MessageUpdated { audience: (&ticket).into(), message });
                commit_finished(txn, row.id, inbox::DONE, kicks).await
            }
            None => commit_finished(txn, row.id, inbox::IGNORED, kicks).await,
        }
    }

    /// A message Telegram sent in a shape the Bot API client cannot read
    /// (a kind added after it was written): from a customer in a private
    /// chat it is kept as an unsupported message in their ticket; anything
    /// else is ignored as before.
    async fn on_unreadable(&self, tenant: &Arc<Tenant>, row: &inbox::Model, raw: &serde_json::Value) -> Result<Effects, RuntimeError> {
        let kicks = Effects::default();
        let txn = tenant.db.begin().await?;
        let message = raw.get("message").filter(|m| m["chat"]["type"] == "private");
        let from = message.and_then(|m| serde_json::from_value::<teloxide::types::User>(m["from"].clone()).ok()).filter(|u| !u.is_bot);
        let (Some(message), Some(from), TenantStatus::Active) = (message, from, tenant.info.status) else {
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        };
        let user = tickets::upsert_chat_user(&txn, &profile_of(&from), tenant.info.owner_telegram_id).await?;
        if user.blocked {
            return commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
        }
        let incoming = Incoming::unreadable(message);
        let sent_at = message["date"].as_i64().unwrap_or_default() * 1000;
        self.on_customer_message(tenant, txn, row, from.id.0 as i64, user, &incoming, sent_at, kicks).await
    }

    /// A customer's message in their private chat, read: a command, a
    /// rating's comment, or a message for their ticket (through the plugins).
    #[allow(clippy::too_many_arguments)]
    async fn on_customer_message(
        &self,
        tenant: &Arc<Tenant>,
        txn: DatabaseTransaction,
        row: &inbox::Model,
        chat: i64,
        user: users::Model,
        incoming: &Incoming,
        sent_at_ms: i64,
        mut kicks: Effects,
    ) -> Result<Effects, RuntimeError> {
        let text = incoming.text.as_str();
        let file = incoming.file.as_ref();
        if text.trim().is_empty() && file.is_none() {
            let t = self.text(tenant, user.language_code.as_deref(), BotText::Unsupported, ())?;
            kicks.push(tickets::enqueue(&txn, chat, t, None).await?.chat_id);
            return commit_finished(txn, row.id, inbox::DONE, kicks).await;
        }
        if let Some(command) = Command::of(text, &tenant.info.bot_username).filter(|_| incoming.kind == incoming::TEXT) {
            let args = text.split_once(char::is_whitespace).map_or("", |(_, rest)| rest);
            self.command(tenant, &txn, &user, chat, command, args, &mut kicks).await?;
            return commit_finished(txn, row.id, inbox::DONE, kicks).await;
        }
        if let Some(SupportStep::CsatComment(ticket, at)) = SupportStep::parse(user.support_pending.as_deref()) {
            let fresh = chrono::Utc::now().timestamp() - at <= crate::worker::csat::COMMENT_WINDOW.num_seconds();
            if fresh && incoming.kind == incoming::TEXT {
                self.rating_comment(tenant, &txn, &user, chat, ticket, text, &mut kicks).await?;
                return commit_finished(txn, row.id, inbox::DONE, kicks).await;
            }
            // Too late for a comment (or a file): a message like any other.
            bot::set_step(&txn, &user, None).await?;
        }
        if let Some(ticket) = routing_stage(row) {
            // A previous try opened the ticket; only its routing is left.
            txn.commit().await?;
            return self.route_ticket(tenant, Some(row), ticket, kicks).await;
        }
        let q = tenant.info.quotas;
        if q.tickets_per_month.is_some() {
            let opens = match SupportStep::parse(user.support_pending.as_deref()) {
                Some(SupportStep::NewTicket(_)) => true,
                Some(SupportStep::CsatComment(..)) | None => ticket_for(&txn, tenant, &user, chat, incoming).await?.is_none(),
            };
            if opens && crate::desk::usage::over_month(&txn, q.tickets_per_month, crate::desk::usage::TICKETS).await? {
                return self.keep_over_limit(tenant, txn, row, chat, user.language_code.as_deref(), kicks).await;
            }
        }
        // Over the month's messages the message is still stored; only the
        // extras (plugins) stop.
        let over_messages = crate::desk::usage::over_month(&txn, q.messages_per_month, crate::desk::usage::MESSAGES).await?;
        let plugins = if over_messages { Vec::new() } else { self.enabled_plugins(&txn).await? };
        if plugins.is_empty() {
            // The common case needs one transaction.
            self.apply_message(tenant, &txn, &user, chat, incoming, &[], false, &mut kicks).await?;
            return commit_finished(txn, row.id, inbox::DONE, kicks).await;
        }
        let active = ticket_for(&txn, tenant, &user, chat, incoming).await?;
        let event = tikethet_plugins::MessageEvent {
            ticket_id: active.as_ref().map(|t| t.id),
            customer_telegram_id: user.telegram_id,
            customer_name: user.first_name.clone(),
            customer_username: user.username.clone(),
            language_code: user.language_code.clone(),
            text: text.to_owned(),
            sent_at: sent_at_ms.max(0) as u64,
        };
        let Some((txn, runs)) = self.call_plugins(tenant, txn, plugins, Some(HookEvent::OnMessage(event)), Some(row), &mut kicks).await? else {
            return Ok(Effects::default());
        };
        let (actions, stopped) = actions_of(&runs);
        let created = self.apply_message(tenant, &txn, &user, chat, incoming, &actions, stopped, &mut kicks).await?;
        match created {
            Some(ticket) => {
                set_stage(&txn, row.id, &format!("route:{ticket}")).await?;
                txn.commit().await?;
                test_hold(row, HOLD_BEFORE_ROUTING).await;
                self.route_ticket(tenant, Some(row), ticket, kicks).await
            }
            None => commit_finished(txn, row.id, inbox::DONE, kicks).await,
        }
    }

    /// Keeps a message that would open a ticket over the month's limit:
    /// the row waits as `over_limit` (processed again once the limit
    /// lifts) and the customer is told, once per message.
    async fn keep_over_limit(
        &self,
        tenant: &Tenant,
        txn: DatabaseTransaction,
        row: &inbox::Model,
        chat: i64,
        lang: Option<&str>,
        mut kicks: Effects,
    ) -> Result<Effects, RuntimeError> {
        if row.stage.as_deref() != Some(OVER_LIMIT_TOLD) {
            let notice = self.text(tenant, lang, BotText::OverLimit, ())?;
            kicks.push(tickets::enqueue(&txn, chat, notice, None).await?.chat_id);
        }
        claimed(&txn).await?;
        let n = inbox::Entity::update_many()
            .col_expr(inbox::Column::Status, Expr::value(inbox::OVER_LIMIT))
            .col_expr(inbox::Column::Stage, Expr::value(OVER_LIMIT_TOLD))
            .filter(inbox::Column::Id.eq(row.id))
            .filter(inbox::Column::Status.eq(inbox::PENDING))
            .exec(&txn)
            .await?
            .rows_affected;
        if n != 1 {
            return Ok(Effects::default());
        }
        txn.commit().await?;
        self.inner.metrics.updates_over_limit.fetch_add(1, Ordering::Relaxed);
        tracing::info!(tenant = %tenant.info.id, inbox_id = row.id, "a message over the plan's ticket limit is kept for later");
        Ok(kicks)
    }

    /// The default handling of a customer's message after the plugins:
    /// their replies, then the message into the customer's open ticket or a
    /// new one, then their ticket actions. Returns a ticket it opened.
    #[allow(clippy::too_many_arguments)]
    async fn apply_message(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        user: &users::Model,
        chat: i64,
        incoming: &Incoming,
        actions: &[Action],
        stopped: bool,
        kicks: &mut Effects,
    ) -> Result<Option<i64>, RuntimeError> {
        queue_replies(txn, chat, actions, kicks).await?;
        let (text, file) = (incoming.text.as_str(), incoming.file.as_ref());
        let viewer = crate::desk::context::Viewer::from_user(user)?;
        // A `/support` in progress opens a new ticket beside any open one.
        let step = if stopped { None } else { SupportStep::parse(user.support_pending.as_deref()) };
        let active = match step {
            Some(SupportStep::NewTicket(_)) => None,
            Some(SupportStep::CsatComment(..)) | None => ticket_for(txn, tenant, user, chat, incoming).await?,
        };
        let lang = user.language_code.as_deref();
        let (ticket, created) = match (stopped, active) {
            // A plugin handled it: the message is not added anywhere.
            (true, active) => (active, false),
            (false, Some(t)) => {
                let files = match file {
                    Some(f) => vec![f.store(txn, user.id).await?],
                    None => Vec::new(),
                };
                let body = crate::domain::MessageBody::parse(text, &files)?.with_telegram(incoming.kind, incoming.details_json(), incoming.message_id);
                // A customer writing in their own ticket: nothing to deliver.
                let added = tickets::add_message(txn, &viewer, t.clone(), &body, false, |_, _, _| Ok((String::new(), Vec::new()))).await?;
                if !t.status.is_active() {
                    // Reopened by the message: its topic opens again too.
                    self.topic_status(txn, &added.ticket, kicks).await?;
                }
                self.notify_customer_message(tenant, txn, &added.ticket, user, text, body.files(), kicks).await?;
                kicks.events.push(live::Event::MessageCreated { audience: (&added.ticket).into(), message: added.message });
                kicks.events.push(live::Event::TicketUpdated { ticket: added.ticket });
                (Some(t), false)
            }
            (false, None) => {
                let files = match file {
                    Some(f) => vec![f.store(txn, user.id).await?],
                    None => Vec::new(),
                };
                // A file without a caption names its ticket.
                let named = incoming.title();
                let said = if text.trim().is_empty() { named.as_str() } else { text };
                // A `/support` topic chosen before the message files it.
                let category = match step {
                    Some(SupportStep::NewTicket(category)) => {
                        bot::set_step(txn, user, None).await?;
                        category
                    }
                    Some(SupportStep::CsatComment(..)) | None => None,
                };
                let new = tickets::NewTicket {
                    customer: user,
                    title: &TicketTitle::from_message(said),
                    description: &TicketDescription::from_message(said),
                    priority: Priority::Normal,
                    category,
                    files: &files,
                    kind: incoming.kind,
                    details: incoming.details_json(),
                    telegram_message_id: incoming.message_id,
                };
                let ticket = self.open_ticket(tenant, txn, new, kicks).await?;
                let reply = self.text(tenant, lang, BotText::TicketOpened, serde_json::json!({ "number": ticket.id, "title": ticket.title }))?;
                let buttons = self.ticket_buttons(tenant, lang, ticket.id)?;
                kicks.push(tickets::enqueue_about(txn, chat, reply, ticket.id, &buttons).await?.chat_id);
                (Some(ticket), true)
            }
        };
        let Some(ticket) = ticket else { return Ok(None) };
        self.apply_to_ticket(tenant, txn, TicketId::new(ticket.id), actions, kicks).await?;
        Ok(created.then_some(ticket.id))
    }

    /// Runs the `on-ticket-created` plugins for a ticket and applies their
    /// routing in the tenant's plugin order (later plugins win). With an
    /// inbox row, its "done" mark commits with the routing.
    pub(crate) async fn route_ticket(&self, tenant: &Tenant, update: Option<&inbox::Model>, ticket_id: i64, mut kicks: Effects) -> Result<Effects, RuntimeError> {
        let txn = tenant.db.begin().await?;
        let ticket = tickets::tickets_by_id(&txn, ticket_id).await?;
        let customer = match &ticket {
            Some(t) => users::Entity::find_by_id(t.customer_id).one(&txn).await?,
            None => None,
        };
        let plugins = self.enabled_plugins(&txn).await?;
        let event = match (&ticket, &customer) {
            (Some(t), Some(c)) => Some(HookEvent::OnTicketCreated(tikethet_plugins::TicketEvent {
                ticket_id: t.id,
                title: t.title.clone(),
                description: t.description.clone(),
                priority: plugin_priority(t.priority),
                customer_telegram_id: c.telegram_id,
                customer_name: c.first_name.clone(),
            })),
            _ => None,
        };
        let Some((txn, runs)) = self.call_plugins(tenant, txn, plugins, event, update, &mut kicks).await? else {
            return Ok(Effects::default());
        };
        let routings = routings_of(&runs);
        let touched = ticket.is_some() && !routings.is_empty();
        if touched {
            let id = TicketId::new(ticket_id);
            for r in &routings {
                if let Some(c) = &r.category {
                    tickets::set_category(&txn, id, c).await?;
                }
                if let Some(p) = r.priority {
                    tickets::set_priority(&txn, id, domain_priority(p)).await?;
                }
                if let Some(a) = &r.assignee {
                    tickets::assign_by_username(&txn, id, a).await?;
                }
                for t in &r.tags {
                    tickets::add_tag(&txn, id, t).await?;
                }
            }
        }
        if touched && let Some(t) = tickets::tickets_by_id(&txn, ticket_id).await? {
            // Assigned by the routing (to a person, or by a team's rule):
            // the assignee hears of it.
            if t.assignee_id.is_some() && t.assignee_id != ticket.as_ref().and_then(|b| b.assignee_id) {
                self.notify_assigned(tenant, &txn, &t, None, &mut kicks).await?;
            }
            kicks.events.push(live::Event::TicketUpdated { ticket: t });
        }
        match update {
            Some(row) => commit_finished(txn, row.id, inbox::DONE, kicks).await,
            None => {
                txn.commit().await?;
                Ok(kicks)
            }
        }
    }

    /// An inline button pressed under one of the bot's messages: the press
    /// is answered (Telegram shows a spinner until it is) and handed to the
    /// plugins that take buttons (contract 1.1.0 and later); their replies
    /// go to the chat and their ticket actions to the customer's open ticket.
    async fn on_button_press(&self, tenant: &Arc<Tenant>, row: &inbox::Model, q: &CallbackQuery) -> Result<Effects, RuntimeError> {
        let mut kicks = Effects::default();
        let chat = q.from.id.0 as i64;
        let txn = tenant.db.begin().await?;
        if q.from.is_bot || tenant.info.status == TenantStatus::Suspended {
            let out = commit_finished(txn, row.id, inbox::IGNORED, kicks).await;
            self.answer_press(tenant, q).await;
            return out;
        }
        let user = tickets::upsert_user(&txn, &profile_of(&q.from), tenant.info.owner_telegram_id).await?;
        // The bot's own buttons (ratings, `/support` topics, broadcast
        // confirmations); plugins never see them.
        let own = [bot::CSAT_PREFIX, bot::SUPPORT_PREFIX, crate::worker::broadcast::BROADCAST_PREFIX];
        if let Some(data) = q.data.as_deref().filter(|d| own.iter().any(|p| d.starts_with(p))) {
            let pressed = if user.blocked {
                Pressed::Stale
            } else if data.starts_with(bot::CSAT_PREFIX) {
                self.rating_pressed(tenant, &txn, &user, chat, data, &mut kicks).await?
            } else if data.starts_with(bot::SUPPORT_PREFIX) {
                self.support_topic(tenant, &txn, &user, chat, data, &mut kicks).await?
            } else {
                self.broadcast_pressed(tenant, &txn, &user, chat, data, &mut kicks).await?
            };
            let lang = user.language_code.as_deref();
            let out = commit_finished(txn, row.id, inbox::DONE, kicks).await;
            // After the commit and best effort, like the answer: the
            // buttons of a question answered (or gone stale) are taken off
            // their message, so they cannot be pressed again.
            let stale = match pressed {
                Pressed::Stale => Some(self.text(tenant, lang, BotText::ButtonStale, ())?),
                Pressed::Done | Pressed::Again => None,
            };
            self.answer_press_saying(tenant, q, stale).await;
            if !matches!(pressed, Pressed::Again) {
                self.clear_buttons(tenant, q).await;
            }
            return out;
        }
        let plugins = if user.blocked { Vec::new() } else { self.enabled_plugins(&txn).await? };
        let active = tickets::active_ticket_of(&txn, UserId::new(user.id)).await?;
        let event = tikethet_plugins::ButtonEvent {
            ticket_id: active.as_ref().map(|t| t.id),
            customer_telegram_id: user.telegram_id,
            customer_name: user.first_name.clone(),
            customer_username: user.username.clone(),
            language_code: user.language_code.clone(),
            data: q.data.clone().unwrap_or_default(),
            message_text: q.regular_message().and_then(|m| m.text()).map(str::to_owned),
        };
        let Some((txn, runs)) = self.call_plugins(tenant, txn, plugins, Some(HookEvent::OnButton(event)), Some(row), &mut kicks).await? else {
            return Ok(Effects::default());
        };
        let (actions, _) = actions_of(&runs);
        queue_replies(&txn, chat, &actions, &mut kicks).await?;
        if let Some(t) = &active {
            self.apply_to_ticket(tenant, &txn, TicketId::new(t.id), &actions, &mut kicks).await?;
        }
        let out = commit_finished(txn, row.id, inbox::DONE, kicks).await;
        self.answer_press(tenant, q).await;
        out
    }

    /// Answers a button press. After the commit and best effort: a press
    /// left unanswered only shows a spinner for a while.
    async fn answer_press(&self, tenant: &Tenant, q: &CallbackQuery) {
        self.answer_press_saying(tenant, q, None).await;
    }

    /// Answers a button press with a short notice Telegram shows over the
    /// chat (at most 200 characters).
    async fn answer_press_saying(&self, tenant: &Tenant, q: &CallbackQuery, text: Option<String>) {
        let mut answer = teloxide::payloads::AnswerCallbackQuery::new(q.id.clone());
        answer.text = text.map(|t| t.chars().take(200).collect());
        if let Err(e) = self.telegram(tenant, &answer).await {
            tracing::info!(tenant = %tenant.info.id, error = %e, "could not answer a button press");
        }
    }

    /// Takes the inline keyboard off the bot's message a press came from
    /// (`editMessageReplyMarkup` without a markup). Best effort: a message
    /// Telegram no longer lets us edit keeps its buttons, and a press on
    /// them is answered as stale.
    async fn clear_buttons(&self, tenant: &Tenant, q: &CallbackQuery) {
        let Some(m) = q.regular_message() else { return };
        let edit = teloxide::payloads::EditMessageReplyMarkup::new(m.chat.id, m.id);
        if let Err(e) = self.telegram(tenant, &edit).await {
            tracing::info!(tenant = %tenant.info.id, error = %e, "could not take the buttons off an answered message");
        }
    }
}

/// The ticket a customer's message continues: the one whose bot message it
/// replies to, if that ticket is still open or was resolved within the
/// desk's reopening window; else their active ticket; else one resolved
/// within the window (the message reopens it, counted as a reopening).
/// `None`: the message opens a new ticket.
async fn ticket_for(txn: &DatabaseTransaction, tenant: &Tenant, user: &users::Model, chat: i64, incoming: &Incoming) -> Result<Option<tickets_rows::Model>, RuntimeError> {
    let days = tenant.info.reopen_days;
    let reopenable = |t: &tickets_rows::Model| {
        t.status == crate::domain::TicketStatus::Resolved && t.resolved_at.is_some_and(|at| Utc::now() - at <= chrono::Duration::days(i64::from(days)))
    };
    if let Some(id) = incoming.reply_to {
        let replied = tickets::ticket_replied_to(txn, chat, id).await?.filter(|t| t.customer_id == user.id);
        if let Some(t) = replied.filter(|t| t.status.is_active() || reopenable(t)) {
            return Ok(Some(t));
        }
    }
    if let Some(t) = tickets::active_ticket_of(txn, UserId::new(user.id)).await? {
        return Ok(Some(t));
    }
    tickets::recently_resolved_of(txn, UserId::new(user.id), days).await
}

pub(crate) fn profile_of(from: &teloxide::types::User) -> TelegramProfile {
    TelegramProfile {
        telegram_id: from.id.0 as i64,
        first_name: from.first_name.clone(),
        last_name: from.last_name.clone(),
        username: from.username.clone(),
        language_code: from.language_code.clone(),
    }
}

/// The ticket a previous try of this update opened, when routing is left.
fn routing_stage(row: &inbox::Model) -> Option<i64> {
    row.stage.as_deref()?.strip_prefix("route:")?.parse().ok()
}

/// The chat's oldest pending update (`None` chat: updates without one).
/// What a lane finds for its chat.
enum Next {
    /// The chat's oldest pending update, under this process's claim.
    Row(inbox::Model, Claim),
    /// Nothing pending; the claim (if any) is given up, and another
    /// process waits for it when `wanted`.
    Idle { wanted: bool },
    /// Another process holds the chat, for this long at most.
    Held(Duration),
}

/// Claims the chat and reads its oldest pending update, in one transaction;
/// with nothing pending the claim is dropped in the same one.
async fn next_pending(tenant: &Tenant, chat: Option<i64>, holder: &str, lease: Duration, dead: &[String]) -> anyhow::Result<Next> {
    let txn = tenant.db.begin().await?;
    let key = claims::chat_key(chat);
    let claim = match claims::take(&txn, claims::UPDATES, key, holder, lease, dead).await.context("failed to claim the chat")? {
        Taken::Mine(c) => c,
        Taken::Held(left) => {
            // Commits the `wanted` mark on the holder's claim.
            txn.commit().await?;
            return Ok(Next::Held(left));
        }
    };
    let q = inbox::Entity::find().filter(inbox::Column::Status.eq(inbox::PENDING));
    let q = match chat {
        Some(c) => q.filter(inbox::Column::ChatId.eq(c)),
        None => q.filter(inbox::Column::ChatId.is_null()),
    };
    let row = q.order_by_asc(inbox::Column::Id).one(&txn).await.context("failed to read the next update")?;
    let wanted = match row {
        None => claims::release(&txn, claims::UPDATES, key, holder).await?,
        Some(_) => false,
    };
    txn.commit().await?;
    Ok(match row {
        Some(r) => Next::Row(r, claim),
        None => Next::Idle { wanted },
    })
}

/// The stage of an `over_limit` row whose customer has been told.
const OVER_LIMIT_TOLD: &str = "over_limit";

async fn set_stage(txn: &DatabaseTransaction, id: i64, stage: &str) -> Result<(), RuntimeError> {
    inbox::Entity::update_many().col_expr(inbox::Column::Stage, Expr::value(stage)).filter(inbox::Column::Id.eq(id)).exec(txn).await?;
    Ok(())
}

async fn schedule_retry(tenant: &Tenant, id: i64, attempt: i32, wait: Duration, why: &str) -> anyhow::Result<()> {
    let txn = tenant.db.begin().await?;
    claims::check(&txn).await?.map_err(anyhow::Error::new)?;
    inbox::Entity::update_many()
        .col_expr(inbox::Column::Attempts, Expr::value(attempt))
        .col_expr(inbox::Column::NextAttemptAt, Expr::value(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()))
        .col_expr(inbox::Column::Error, Expr::value(why.chars().take(2000).collect::<String>()))
        .filter(inbox::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

async fn mark_failed(tenant: &Tenant, id: i64, attempts: i32, error: &str) -> anyhow::Result<()> {
    let txn = tenant.db.begin().await?;
    claims::check(&txn).await?.map_err(anyhow::Error::new)?;
    inbox::Entity::update_many()
        .col_expr(inbox::Column::Status, Expr::value(inbox::FAILED))
        .col_expr(inbox::Column::Attempts, Expr::value(attempts))
        .col_expr(inbox::Column::Error, Expr::value(error.chars().take(2000).collect::<String>()))
        .col_expr(inbox::Column::ProcessedAt, Expr::value(Utc::now()))
        .filter(inbox::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let w: Vec<u64> = (1..=5).map(|a| retry_backoff(a).as_secs()).collect();
        assert_eq!(w, vec![1, 4, 16, 64, 256]);
        assert_eq!(retry_backoff(100).as_secs(), 1024);
    }
}
