//! Outbound messages: one ordered stream per chat, throttled to Telegram's
//! limits (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>:
//! about 30 messages a second per bot, about one a second per chat), with
//! `retry_after` honoured on 429 and backoff on server and network errors.
//! Every attempt's outcome is recorded on the outbox row.
//!
//! A chat's lane sends its oldest pending row, one at a time. Waiting for a
//! rate limit, a `retry_after` or a backoff returns the lane's permits
//! ([`Step::Later`]), so one tenant broadcasting to many chats cannot hold
//! the sender while it waits.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use teloxide::payloads::{CreateForumTopic, SendMessage};
use teloxide::types::{ChatId, FileId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ThreadId, WebAppInfo};

use crate::outbound::telegram::{CallError, Method};

use crate::Runtime;
use crate::domain::TenantId;
use crate::storage::entities::{attachments, outbox, tickets, users};
use crate::outbound::limiter::Rate;
use crate::worker::lanes::Step;
use crate::storage::tenant::Tenant;

/// No burst: Telegram counts about 30 a second in any one-second window, and
/// a burst of 30 on top of the steady rate would send up to 59 in one. 28 a
/// second leaves 70 ms of room for a send that leaves late beside one that
/// leaves on time, so no window ever holds more than 30.
pub const PER_BOT: Rate = Rate::per_second(28, 1);
// Telegram tolerates a short burst in one chat; the average stays at one a second.
pub const PER_CHAT: Rate = Rate::per_second(1, 3);
/// A group (a staff room and its topics) takes at most 20 messages a minute
/// (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>):
/// a burst of 6 (a ticket's topic, its first messages and a rename go out
/// at once), then 14 a minute, which never puts more than 20 in any 60
/// seconds (checked below).
pub const PER_GROUP: Rate = Rate::per_minute(14, 6);
const _: () = assert!(PER_GROUP.most_in(60) <= 20);
/// Sends one bot may start in any one-second window from this process,
/// whatever the reservations said: a lane woken late by a busy machine
/// would otherwise start its send beside punctual ones. 28, not Telegram's
/// 30: requests started a second apart can arrive closer together (a
/// stand-in on a loaded machine counted 31 with a window of 30), and two
/// sends of room absorb about 70 ms of such jitter at no cost to the
/// steady rate, which [`PER_BOT`] already holds at 28 a second.
pub const BOT_WINDOW_SENDS: usize = 28;

/// The per-bot rate each node keeps to on its own while the shared limits
/// in Redis cannot be reached: with three nodes, 30 a second together, so
/// Telegram's limit holds through an outage at the cost of speed.
pub const PER_BOT_WITHOUT_REDIS: Rate = Rate::per_second(9, 1);

/// When the sends of each bot started, over the last second.
#[derive(Default)]
pub(crate) struct SendWindow {
    started: std::collections::HashMap<i64, std::collections::VecDeque<std::time::Instant>>,
    /// No send before this: see [`SendWindow::after_start`].
    not_before: Option<std::time::Instant>,
}

impl SendWindow {
    /// The window of a process that starts at `now`. It cannot know what the
    /// process before it (killed a moment ago, say) sent in its last second,
    /// so it sends nothing for a second: Telegram counts the bot's messages,
    /// not a process's.
    pub(crate) fn after_start(now: std::time::Instant) -> SendWindow {
        SendWindow { started: Default::default(), not_before: Some(now + Duration::from_secs(1)) }
    }

    /// Records a send that starts `now`, or says how long to wait first.
    pub(crate) fn admit(&mut self, bot: i64, now: std::time::Instant) -> Option<Duration> {
        let window = Duration::from_secs(1);
        if let Some(at) = self.not_before.filter(|at| *at > now) {
            return Some(at - now);
        }
        if self.started.len() > 10_000 {
            self.started.retain(|_, q| q.back().is_some_and(|t| now.saturating_duration_since(*t) < window));
        }
        let q = self.started.entry(bot).or_default();
        while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= BOT_WINDOW_SENDS {
            let oldest = *q.front().expect("the window is full");
            return Some((oldest + window).saturating_duration_since(now).max(Duration::from_millis(1)));
        }
        q.push_back(now);
        None
    }
}

/// The send slot each chat lane reserved under the rate limits, until it
/// uses it. Pruned of slots ten minutes past (lanes that never came back)
/// once it holds many, so a broadcast to a million chats cannot grow it
/// without end.
#[derive(Default)]
pub(crate) struct Slots {
    at: std::collections::HashMap<(TenantId, i64), std::time::Instant>,
}

/// What a lane holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Reserved {
    /// A slot later than now: wait this long.
    Wait(Duration),
    /// A slot that has come (and is now used up).
    Due,
    /// No slot: reserve one.
    Nothing,
}

impl Slots {
    const PRUNE_OVER: usize = 200_000;
    const FORGET_AFTER: Duration = Duration::from_secs(600);

    pub(crate) fn take_due(&mut self, lane: &(TenantId, i64), now: std::time::Instant) -> Reserved {
        match self.at.get(lane) {
            Some(at) if *at > now => Reserved::Wait(*at - now),
            Some(_) => {
                self.at.remove(lane);
                Reserved::Due
            }
            None => Reserved::Nothing,
        }
    }

    pub(crate) fn hold(&mut self, lane: (TenantId, i64), wait: Duration, now: std::time::Instant) {
        if self.at.len() > Self::PRUNE_OVER {
            self.at.retain(|_, at| *at + Self::FORGET_AFTER > now);
        }
        self.at.insert(lane, now + wait);
    }
}

/// The 429s each message met (in memory: a restart starts the count again,
/// which only makes the sender more patient). Forgotten all at once when it
/// tracks many: the counts only bound a message that Telegram keeps pacing.
#[derive(Default)]
pub(crate) struct RateLimitedCounts {
    met: std::collections::HashMap<(TenantId, i64), u32>,
}

impl RateLimitedCounts {
    const FORGET_OVER: usize = 10_000;

    /// Counts one more 429 for this outbox row; says how many it has met.
    pub(crate) fn note(&mut self, row: (TenantId, i64)) -> u32 {
        if self.met.len() > Self::FORGET_OVER {
            self.met.clear();
        }
        let n = self.met.entry(row).or_insert(0);
        *n += 1;
        *n
    }
}

/// The Bot API method a file goes with: the one of its kind, so that a
/// customer's voice note reaches a forum topic as a voice note (Telegram
/// refuses a `file_id` sent with another kind's method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendAs {
    Photo,
    Document,
    Voice,
    Audio,
    Video,
    VideoNote,
    Animation,
    Sticker,
}

impl SendAs {
    /// Photos up to [`PHOTO_LIMIT`] and not GIFs (as photos they would lose
    /// their animation); voice notes as Ogg, MP3 or M4A and videos as
    /// MPEG-4, as `sendVoice` and `sendVideo` take them; the rest of a
    /// staff member's uploads as documents. A file Telegram gave us goes
    /// back as the kind it came as.
    fn of(a: &attachments::Model) -> SendAs {
        let from_telegram = a.telegram_file_id.is_some() && a.object_key.is_none();
        match a.kind.as_str() {
            attachments::PHOTO if a.content_type != "image/gif" && a.size <= PHOTO_LIMIT => SendAs::Photo,
            attachments::VOICE if from_telegram || matches!(a.content_type.as_str(), "audio/ogg" | "audio/mpeg" | "audio/mp4") => SendAs::Voice,
            attachments::AUDIO if from_telegram || matches!(a.content_type.as_str(), "audio/mpeg" | "audio/mp4") => SendAs::Audio,
            attachments::VIDEO if from_telegram || a.content_type == "video/mp4" => SendAs::Video,
            attachments::VIDEO_NOTE if from_telegram => SendAs::VideoNote,
            attachments::ANIMATION if from_telegram => SendAs::Animation,
            attachments::STICKER if from_telegram => SendAs::Sticker,
            _ => SendAs::Document,
        }
    }

    /// The method's file parameter (and the sent message's field).
    fn field(self) -> &'static str {
        match self {
            SendAs::Photo => attachments::PHOTO,
            SendAs::Document => attachments::DOCUMENT,
            SendAs::Voice => attachments::VOICE,
            SendAs::Audio => attachments::AUDIO,
            SendAs::Video => attachments::VIDEO,
            SendAs::VideoNote => attachments::VIDEO_NOTE,
            SendAs::Animation => attachments::ANIMATION,
            SendAs::Sticker => attachments::STICKER,
        }
    }
}

/// Telegram sends photos up to 10 MB as photos
/// (<https://core.telegram.org/bots/api#sendphoto>); larger ones go as documents.
pub const PHOTO_LIMIT: i64 = 10 * 1000 * 1000;

/// Attempts on network and server errors before a message is marked failed.
pub const MAX_ATTEMPTS: i32 = 6;
/// 429s honoured for one message before it is marked failed.
pub const MAX_RATE_LIMITED: i32 = 20;

enum Outcome {
    Sent(i64),
    /// Telegram paces us (429): not a failed attempt.
    RateLimited(Duration, String),
    Retry(Duration, String),
    /// The user blocked the bot or never started it: nothing to this chat
    /// can be delivered until they write again.
    Unreachable(String),
    Fatal(String),
    /// A broadcast copy whose send got no answer: never sent again.
    Unconfirmed(String),
}

/// A ticket's forum topic, before a message goes into it.
enum Topic {
    /// Its `message_thread_id`.
    Ready(i64),
    /// Made just now (with this send slot).
    Opened,
    /// Telegram refused to make it.
    Refused(Outcome),
}

fn backoff(attempt: i32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(attempt.clamp(0, 6) as u32))
}

/// Whether a message is failed after a refusal worth retrying: after
/// [`MAX_ATTEMPTS`] failed attempts, or, when Telegram paces it
/// (`rate_limited_met` 429s so far), after more than [`MAX_RATE_LIMITED`].
fn gives_up(attempt: i32, rate_limited_met: Option<u32>) -> bool {
    match rate_limited_met {
        Some(met) => met > MAX_RATE_LIMITED as u32,
        None => attempt >= MAX_ATTEMPTS,
    }
}

fn classify(e: &CallError, attempt: i32) -> Outcome {
    match e {
        CallError::Refused { code: 429, retry_after, .. } => {
            Outcome::RateLimited(Duration::from_secs(retry_after.unwrap_or(1).max(1)), format!("rate limited: {e}"))
        }
        CallError::Network(_) => Outcome::Retry(backoff(attempt), e.to_string()),
        CallError::Refused { code, .. } if *code >= 500 => Outcome::Retry(backoff(attempt), e.to_string()),
        // https://core.telegram.org/bots/faq: a user who blocked the bot, or
        // never started it, or deleted their account.
        CallError::Refused { code: 403, description, .. }
            if ["bot was blocked", "can't initiate conversation", "user is deactivated"].iter().any(|p| description.contains(p)) =>
        {
            Outcome::Unreachable(e.to_string())
        }
        CallError::Refused { .. } => Outcome::Fatal(e.to_string()),
    }
}

/// Telegram's limit on a topic's name, in characters (1-128).
pub const TOPIC_NAME_CHARS: usize = 128;

/// A ticket's topic name with its status: `#12 Title` while open or in
/// progress, `⏳ #12 Title` waiting for the customer, `✅` resolved, `🔒`
/// closed; cut to Telegram's limit.
pub fn topic_name_with_status(number: i64, title: &str, status: crate::domain::TicketStatus) -> String {
    use crate::domain::TicketStatus::*;
    let mark = match status {
        Open | InProgress => "",
        WaitingResponse => "⏳ ",
        Resolved => "✅ ",
        Closed => "🔒 ",
    };
    let name = topic_name(number, title);
    if mark.is_empty() {
        return name;
    }
    let mut marked: String = format!("{mark}{name}").chars().take(TOPIC_NAME_CHARS).collect();
    if marked.chars().count() == TOPIC_NAME_CHARS && !marked.ends_with('…') {
        marked = marked.chars().take(TOPIC_NAME_CHARS - 1).collect::<String>() + "…";
    }
    marked
}

/// A ticket's topic name: `#12 Title`, cut to Telegram's limit.
pub fn topic_name(number: i64, title: &str) -> String {
    let name = format!("#{number} {}", title.trim());
    if name.chars().count() <= TOPIC_NAME_CHARS {
        return name;
    }
    let mut cut: String = name.chars().take(TOPIC_NAME_CHARS - 1).collect();
    cut.push('…');
    cut
}

impl Runtime {
    /// Says a chat has messages to send (its lane finds them in the outbox).
    pub(crate) fn deliver(&self, tenant: &TenantId, chat: i64) {
        self.note_worked(tenant);
        self.inner.out.lanes.kick(tenant.clone(), chat);
    }

    /// One unit of a chat's sending: its oldest pending message, if due.
    /// Reserves the chat's and the bot's next slots and says how long to
    /// wait for the later. In the shared store (Redis) when it answers;
    /// while it does not, in this process at [`PER_BOT_WITHOUT_REDIS`]
    /// (sending goes on, slower, instead of stopping), and back in Redis as
    /// soon as it answers again.
    async fn reserve_slots(&self, bot_id: i64, chat: i64) -> anyhow::Result<std::time::Duration> {
        let (chat_key, bot_key) = (format!("chat:{bot_id}:{chat}"), format!("bot:{bot_id}"));
        // Groups have negative ids.
        let chat_rate = if chat < 0 { PER_GROUP } else { PER_CHAT };
        let shared = async {
            let for_chat = self.inner.limiter.reserve(&chat_key, chat_rate).await?;
            let for_bot = self.inner.limiter.reserve(&bot_key, PER_BOT).await?;
            anyhow::Ok(for_chat.max(for_bot))
        };
        match shared.await {
            Ok(wait) => {
                if self.inner.out.limits_degraded.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    tracing::info!("the shared rate limits answer again; sending at full speed");
                }
                Ok(wait)
            }
            Err(e) => {
                if !self.inner.out.limits_degraded.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(error = %format!("{e:#}"), "the shared rate limits cannot be reached; each node sends at a conservative rate of its own until they answer");
                }
                self.inner.metrics.sends_rate_limited_locally.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let for_chat = self.inner.auth.local_throttle.reserve(&chat_key, chat_rate).await?;
                let for_bot = self.inner.auth.local_throttle.reserve(&bot_key, PER_BOT_WITHOUT_REDIS).await?;
                Ok(for_chat.max(for_bot))
            }
        }
    }

    pub(crate) async fn send_next(&self, tenant: TenantId, chat: i64) -> Step {
        let Some(tenant) = self.inner.tenants.get(&tenant) else { return Step::Park };
        match self.try_send_next(&tenant, chat).await {
            Ok(step) => step,
            Err(e) => {
                tracing::warn!(tenant = %tenant.info.id, chat, error = %format!("{e:#}"), "sending paused: storage failed");
                Step::Park
            }
        }
    }

    async fn try_send_next(&self, tenant: &Tenant, chat: i64) -> anyhow::Result<Step> {
        // One sender per chat across the cluster: the chat is claimed (and
        // the claim renewed) with the read of its next message, and given up
        // in the same transaction when nothing is left. The lease outlasts
        // any Bot API call (17 s at most), so a live sender keeps its chat
        // through a send; one that died is taken over when it lapses.
        let txn = tenant.db.begin().await?;
        if let crate::worker::claims::Taken::Held(left) = crate::worker::claims::take(&txn, crate::worker::claims::SENDS, chat, &self.inner.work.node_id, self.inner.work.claim_lease, &self.inner.work.dead_nodes.now()).await? {
            // Commits the `wanted` mark: the holder wakes this lane when it
            // gives the chat up (see `wakeups`).
            txn.commit().await?;
            return Ok(Step::Held(left.clamp(crate::worker::claims::POLL / 4, self.inner.work.wakeups.poll())));
        }
        let row = outbox::Entity::find()
            .filter(outbox::Column::ChatId.eq(chat))
            .filter(outbox::Column::Status.eq(outbox::PENDING))
            .order_by_asc(outbox::Column::Id)
            .one(&txn)
            .await?;
        let wanted = match row {
            None => crate::worker::claims::release(&txn, crate::worker::claims::SENDS, chat, &self.inner.work.node_id).await?,
            Some(_) => false,
        };
        txn.commit().await?;
        let Some(row) = row else {
            if wanted {
                let wake = crate::live::wakeups::Wake { tenant: tenant.info.id.clone(), lane: crate::worker::claims::SENDS, chat };
                self.inner.work.wakeups.publish(&wake).await;
            }
            return Ok(Step::Idle);
        };
        let now = Utc::now();
        if let Some(wait) = row.next_attempt_at.and_then(|at| (at - now).to_std().ok()).filter(|w| !w.is_zero()) {
            return Ok(Step::Later(wait));
        }
        let bot_id = tenant.info.bot_token.bot_id();
        // The chat takes its next slot under both limits and waits for the
        // later of the two without its permits. Reserving (rather than asking
        // again and again) gives each of thousands of waiting chats a slot of
        // its own, so a broadcast does not wake them all at every slot.
        let lane = (tenant.info.id.clone(), chat);
        let reserved = self.inner.out.slots.lock().expect("poisoned").take_due(&lane, std::time::Instant::now());
        match reserved {
            Reserved::Wait(wait) => return Ok(Step::Later(wait)),
            Reserved::Due => {}
            Reserved::Nothing => {
                let wait = self.reserve_slots(bot_id, chat).await?;
                if !wait.is_zero() {
                    self.inner.out.slots.lock().expect("poisoned").hold(lane, wait, std::time::Instant::now());
                    return Ok(Step::Later(wait));
                }
            }
        }
        // A broadcast copy is claimed before the window admits it, so the
        // claim's write (which may wait for the database) does not come
        // between the admission and the call it admits.
        let broadcast = row.broadcast_id.is_some();
        if broadcast && !claim_broadcast_copy(tenant, row.id, true).await? {
            return Ok(Step::More);
        }
        let wait = self.inner.out.send_window.lock().expect("poisoned").admit(bot_id, std::time::Instant::now());
        if let Some(wait) = wait {
            if broadcast {
                claim_broadcast_copy(tenant, row.id, false).await?;
            }
            // Keep the slot: the next attempt goes straight to this check.
            self.inner.out.slots.lock().expect("poisoned").hold(lane, wait, std::time::Instant::now());
            return Ok(Step::Later(wait));
        }
        let attempt = row.attempts + 1;
        let mut thread = None;
        if let Some(ticket) = row.topic_ticket_id {
            match self.topic_of(tenant, &row, ticket, attempt).await? {
                Topic::Ready(t) => thread = Some(t),
                // The topic was made with this slot; the message takes the next.
                Topic::Opened => return Ok(Step::More),
                Topic::Refused(outcome) => return self.settle(tenant, row, attempt, outcome).await,
            }
        }
        let outcome = match (row.action.as_deref(), row.attachment_id) {
            (Some(action @ (outbox::RENAME_TOPIC | outbox::CLOSE_TOPIC | outbox::REOPEN_TOPIC)), _) => self.change_topic(tenant, &row, action, thread, attempt).await,
            (Some(action), _) => self.change_sent(tenant, &row, action, attempt).await,
            (None, Some(file)) => self.send_file(tenant, &row, file, attempt, thread).await?,
            (None, None) => {
                let mut request = SendMessage::new(ChatId(row.chat_id), row.text.clone());
                request.reply_markup = row.reply_markup.as_deref().and_then(inline_keyboard).map(Into::into);
                request.message_thread_id = thread.and_then(thread_id);
                match self.telegram(tenant, &request).await {
                    Ok(m) => Outcome::Sent(m.get("message_id").and_then(serde_json::Value::as_i64).unwrap_or_default()),
                    Err(e) if thread.is_some() && topic_gone(&e) => {
                        // Someone deleted the ticket's topic: a new one is
                        // made for this message (counted as an attempt, so
                        // a group that keeps refusing ends it).
                        forget_topic(tenant, row.topic_ticket_id.unwrap_or_default()).await?;
                        Outcome::Retry(Duration::ZERO, e.to_string())
                    }
                    Err(e) if row.broadcast_id.is_some() && matches!(e, CallError::Network(_)) => {
                        // No answer: Telegram may have delivered it. A
                        // broadcast is sent at most once.
                        Outcome::Unconfirmed(e.to_string())
                    }
                    Err(e) => classify(&e, attempt),
                }
            }
        };
        self.settle(tenant, row, attempt, outcome).await
    }

    /// An edit or deletion of a message sent before (a staff member changed
    /// their answer): `editMessageText` with the row's text, or
    /// `deleteMessage`. Already so (Telegram says it is not modified, or
    /// the message is gone) counts as done.
    async fn change_sent(&self, tenant: &Tenant, row: &outbox::Model, action: &str, attempt: i32) -> Outcome {
        let Some(target) = row.target_message_id.and_then(|id| i32::try_from(id).ok()).map(MessageId) else {
            return Outcome::Fatal("no message to change".into());
        };
        let chat = ChatId(row.chat_id);
        let result = match action {
            outbox::EDIT => {
                let mut edit = teloxide::payloads::EditMessageText::new(chat, target, row.text.clone());
                // Left out, the message's buttons would go.
                edit.reply_markup = row.reply_markup.as_deref().and_then(inline_keyboard);
                self.telegram(tenant, &edit).await
            }
            outbox::DELETE => self.telegram(tenant, &teloxide::payloads::DeleteMessage::new(chat, target)).await,
            other => return Outcome::Fatal(format!("unknown outbox action {other:?}")),
        };
        match result {
            Ok(_) => Outcome::Sent(i64::from(target.0)),
            Err(CallError::Refused { code: 400, description, .. }) if description.contains("message is not modified") || description.contains("message to delete not found") => {
                Outcome::Sent(i64::from(target.0))
            }
            Err(e) => classify(&e, attempt),
        }
    }

    /// A ticket's forum topic renamed, closed or reopened. Already so
    /// (Telegram says it is not modified) counts as done; a topic someone
    /// deleted needs nothing more.
    async fn change_topic(&self, tenant: &Tenant, row: &outbox::Model, action: &str, thread: Option<i64>, attempt: i32) -> Outcome {
        let Some(thread) = thread.and_then(thread_id) else { return Outcome::Fatal("the ticket has no topic".into()) };
        let chat = ChatId(row.chat_id);
        let result = match action {
            outbox::RENAME_TOPIC => {
                let mut edit = teloxide::payloads::EditForumTopic::new(chat, thread);
                edit.name = Some(row.text.clone());
                self.telegram(tenant, &edit).await
            }
            outbox::CLOSE_TOPIC => self.telegram(tenant, &teloxide::payloads::CloseForumTopic::new(chat, thread)).await,
            _ => self.telegram(tenant, &teloxide::payloads::ReopenForumTopic::new(chat, thread)).await,
        };
        match result {
            Ok(_) => Outcome::Sent(i64::from(thread.0.0)),
            Err(CallError::Refused { code: 400, description, .. }) if description.contains("TOPIC_NOT_MODIFIED") || description.contains("TOPIC_ID_INVALID") || description.contains("thread not found") => {
                Outcome::Sent(i64::from(thread.0.0))
            }
            Err(e) => classify(&e, attempt),
        }
    }

    /// Records an attempt's outcome on its row; says what the lane does next.
    async fn settle(&self, tenant: &Tenant, row: outbox::Model, attempt: i32, outcome: Outcome) -> anyhow::Result<Step> {
        let chat = row.chat_id;
        let id = row.id;
        let mut am: outbox::ActiveModel = row.into();
        am.attempts = Set(attempt);
        let step = match outcome {
            Outcome::Unconfirmed(why) => {
                am.status = Set(outbox::UNCONFIRMED.to_owned());
                am.last_error = Set(Some(why.clone()));
                save(tenant, am).await?;
                self.inner.metrics.messages_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(tenant = %tenant.info.id, outbox_id = id, error = %why, "a broadcast copy may or may not have been delivered; not sent again");
                Step::More
            }
            Outcome::Sent(tg_id) => {
                am.status = Set(outbox::SENT.to_owned());
                am.telegram_message_id = Set(Some(tg_id));
                am.sent_at = Set(Some(Utc::now()));
                am.last_error = Set(None);
                am.next_attempt_at = Set(None);
                save(tenant, am).await?;
                self.inner.metrics.messages_sent.fetch_add(1, Ordering::Relaxed);
                Step::More
            }
            Outcome::RateLimited(wait, why) | Outcome::Retry(wait, why) => {
                let met = why.starts_with("rate limited").then(|| {
                    // A 429 is Telegram pacing us, not a failed attempt.
                    am.attempts = Set(attempt - 1);
                    self.inner.out.rate_limited.lock().expect("poisoned").note((tenant.info.id.clone(), id))
                });
                let give_up = gives_up(attempt, met);
                am.last_error = Set(Some(why.clone()));
                if give_up {
                    am.status = Set(outbox::FAILED.to_owned());
                    save(tenant, am).await?;
                    self.inner.metrics.messages_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(tenant = %tenant.info.id, outbox_id = id, error = %why, "giving up on a message");
                    Step::More
                } else {
                    // Telegram refused it: nothing was delivered, so even a
                    // broadcast's copy may be tried again.
                    am.status = Set(outbox::PENDING.to_owned());
                    am.next_attempt_at = Set(Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()));
                    save(tenant, am).await?;
                    tracing::info!(tenant = %tenant.info.id, outbox_id = id, wait_ms = wait.as_millis() as u64, reason = %why, "will retry a message");
                    Step::Later(wait)
                }
            }
            Outcome::Unreachable(why) => {
                // Everything queued for this chat would meet the same answer:
                // fail it all at once and remember the block on the user.
                let txn = tenant.db.begin().await?;
                am.status = Set(outbox::FAILED.to_owned());
                am.last_error = Set(Some(why.clone()));
                am.update(&txn).await?;
                let also = outbox::Entity::update_many()
                    .col_expr(outbox::Column::Status, Expr::value(outbox::FAILED))
                    .col_expr(outbox::Column::LastError, Expr::value(why.clone()))
                    .filter(outbox::Column::ChatId.eq(chat))
                    .filter(outbox::Column::Status.eq(outbox::PENDING))
                    .exec(&txn)
                    .await?
                    .rows_affected;
                users::Entity::update_many()
                    .col_expr(users::Column::BotBlockedAt, Expr::value(Utc::now()))
                    .filter(users::Column::TelegramId.eq(chat))
                    .exec(&txn)
                    .await?;
                txn.commit().await?;
                self.inner.metrics.messages_failed.fetch_add(1 + also, Ordering::Relaxed);
                tracing::info!(tenant = %tenant.info.id, chat, error = %why, dropped = 1 + also, "the user cannot be reached through the bot");
                Step::More
            }
            Outcome::Fatal(why) => {
                am.status = Set(outbox::FAILED.to_owned());
                am.last_error = Set(Some(why.clone()));
                save(tenant, am).await?;
                self.inner.metrics.messages_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(tenant = %tenant.info.id, outbox_id = id, error = %why, "Telegram refused a message");
                Step::More
            }
        };
        Ok(step)
    }

    /// Sends a file: by Telegram's `file_id` when Telegram has it already,
    /// else uploaded from the object store (and its `file_id` kept for next
    /// time), with the method of its kind ([`SendAs`]).
    /// `thread`: the forum topic it goes into, for the staff group.
    async fn send_file(&self, tenant: &Tenant, row: &outbox::Model, file: i64, attempt: i32, thread: Option<i64>) -> anyhow::Result<Outcome> {
        let txn = tenant.db.begin().await?;
        let a = attachments::Entity::find_by_id(file).one(&txn).await?;
        txn.commit().await?;
        let Some(a) = a else { return Ok(Outcome::Fatal("the file was removed before it was sent".into())) };
        let how = SendAs::of(&a);
        // No caption: a file's row carries no text (its message's text goes
        // on its own, before the files; see `tickets::enqueue_file`).
        let chat = ChatId(row.chat_id);
        let in_topic = thread.and_then(thread_id);
        let upload = match &a.telegram_file_id {
            Some(_) => None,
            None => {
                let Some(key) = &a.object_key else { return Ok(Outcome::Fatal("the file has no stored bytes".into())) };
                Some((a.name.clone(), a.content_type.clone(), self.inner.files.get(key).await?))
            }
        };
        // The request's file: Telegram's handle, or (for an upload) an
        // empty stand-in, the bytes going as their own part.
        let input = match &a.telegram_file_id {
            Some(id) => InputFile::file_id(FileId(id.clone())),
            None => InputFile::memory(Vec::<u8>::new()),
        };
        macro_rules! send {
            ($payload:ident) => {{
                let mut r = teloxide::payloads::$payload::new(chat, input);
                r.message_thread_id = in_topic;
                match upload {
                    Some(u) => self.telegram_upload(tenant, &r, how.field(), u).await,
                    None => self.telegram(tenant, &r).await,
                }
            }};
        }
        let result = match how {
            SendAs::Photo => send!(SendPhoto),
            SendAs::Document => send!(SendDocument),
            SendAs::Voice => send!(SendVoice),
            SendAs::Audio => send!(SendAudio),
            SendAs::Video => send!(SendVideo),
            SendAs::VideoNote => send!(SendVideoNote),
            SendAs::Animation => send!(SendAnimation),
            SendAs::Sticker => send!(SendSticker),
        };
        Ok(match result {
            Ok(m) => {
                // The largest size of a photo comes last.
                let sent = match how {
                    SendAs::Photo => m.get("photo").and_then(|p| p.as_array()).and_then(|p| p.last()),
                    other => m.get(other.field()),
                };
                if let (None, Some(id)) = (&a.telegram_file_id, sent.and_then(|s| s.get("file_id")).and_then(|v| v.as_str())) {
                    let txn = tenant.db.begin().await?;
                    attachments::Entity::update_many()
                        .col_expr(attachments::Column::TelegramFileId, Expr::value(id))
                        .filter(attachments::Column::Id.eq(a.id))
                        .exec(&txn)
                        .await?;
                    txn.commit().await?;
                }
                Outcome::Sent(m.get("message_id").and_then(serde_json::Value::as_i64).unwrap_or_default())
            }
            Err(e) if thread.is_some() && topic_gone(&e) => {
                // As for a text: the topic was deleted, a new one is made.
                forget_topic(tenant, row.topic_ticket_id.unwrap_or_default()).await?;
                Outcome::Retry(Duration::ZERO, e.to_string())
            }
            Err(e) => classify(&e, attempt),
        })
    }
}

impl Runtime {
    /// One Bot API call with the tenant's bot, timed by method.
    pub(crate) async fn telegram<M: Method>(&self, tenant: &Tenant, request: &M) -> Result<serde_json::Value, CallError> {
        let call = crate::outbound::telegram::call(&self.inner.out.http, &self.inner.out.telegram_api_url, &tenant.info.bot_token, request);
        self.inner.metrics.telegram_call(M::METHOD, call).await
    }

    /// One Bot API call with a file upload, timed by method.
    async fn telegram_upload<M: Method>(&self, tenant: &Tenant, request: &M, field: &str, file: (String, String, Vec<u8>)) -> Result<serde_json::Value, CallError> {
        let call = crate::outbound::telegram::call_with_file(&self.inner.out.http, &self.inner.out.telegram_api_url, &tenant.info.bot_token, request, field, file);
        self.inner.metrics.telegram_call(M::METHOD, call).await
    }

    /// The ticket's topic in the staff group, made first when it has none
    /// (<https://core.telegram.org/bots/api#createforumtopic>).
    async fn topic_of(&self, tenant: &Tenant, row: &outbox::Model, ticket: i64, attempt: i32) -> anyhow::Result<Topic> {
        let txn = tenant.db.begin().await?;
        let t = tickets::Entity::find_by_id(ticket).one(&txn).await?;
        txn.commit().await?;
        let Some(t) = t else { return Ok(Topic::Refused(Outcome::Fatal("the ticket of this topic is gone".into()))) };
        if let Some(thread) = t.forum_topic_id {
            return Ok(Topic::Ready(thread));
        }
        match self.telegram(tenant, &CreateForumTopic::new(ChatId(row.chat_id), topic_name(t.id, &t.title))).await {
            Ok(topic) => {
                let Some(thread) = topic.get("message_thread_id").and_then(serde_json::Value::as_i64) else {
                    return Ok(Topic::Refused(Outcome::Retry(backoff(attempt), "createForumTopic answered without a message_thread_id".into())));
                };
                let txn = tenant.db.begin().await?;
                tickets::Entity::update_many()
                    .col_expr(tickets::Column::ForumTopicId, Expr::value(thread))
                    .filter(tickets::Column::Id.eq(ticket))
                    .filter(tickets::Column::ForumTopicId.is_null())
                    .exec(&txn)
                    .await?;
                txn.commit().await?;
                tracing::info!(tenant = %tenant.info.id, ticket, thread, "forum topic opened for a ticket");
                Ok(Topic::Opened)
            }
            Err(e) => Ok(Topic::Refused(classify(&e, attempt))),
        }
    }
}

/// Telegram's answer when a message names a topic that no longer exists.
fn topic_gone(e: &CallError) -> bool {
    matches!(e, CallError::Refused { code: 400, description, .. } if description.contains("thread not found") || description.contains("TOPIC_DELETED"))
}

async fn forget_topic(tenant: &Tenant, ticket: i64) -> anyhow::Result<()> {
    let txn = tenant.db.begin().await?;
    tickets::Entity::update_many()
        .col_expr(tickets::Column::ForumTopicId, Expr::value(Option::<i64>::None))
        .filter(tickets::Column::Id.eq(ticket))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// How long a broadcast copy stays `sending` before it counts as
/// interrupted: past any call's timeout, so a live send is never taken
/// for a dead one.
pub const BROADCAST_LEASE: Duration = Duration::from_secs(45);

/// Marks a broadcast copy as handed to Telegram (`take`), in its own
/// commit before the call: if the process dies during the call, the copy is
/// found `sending` and never sent again. False when the row was not pending
/// any more (stopped meanwhile). Without `take`, puts a copy claimed but not
/// sent (the rate limit said wait) back to pending.
async fn claim_broadcast_copy(tenant: &Tenant, id: i64, take: bool) -> anyhow::Result<bool> {
    let (from, to, until) = if take {
        (outbox::PENDING, outbox::SENDING, Some(Utc::now() + chrono::Duration::from_std(BROADCAST_LEASE).unwrap_or_default()))
    } else {
        (outbox::SENDING, outbox::PENDING, None)
    };
    let txn = tenant.db.begin().await?;
    let n = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(to))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(until))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(from))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(n == 1)
}

/// The stored buttons (`[{"text", "data"}]`) as an inline keyboard, one
/// button per row (<https://core.telegram.org/bots/api#inlinekeyboardmarkup>).
/// The Bot API's `InlineKeyboardMarkup` for stored buttons, one per row.
fn inline_keyboard(stored: &str) -> Option<InlineKeyboardMarkup> {
    use crate::desk::tickets::Button;
    fn one(b: &Button) -> Option<InlineKeyboardButton> {
        Some(match b {
            Button::Callback { text, data } => InlineKeyboardButton::callback(text.clone(), data.clone()),
            Button::WebApp { text, web_app } => InlineKeyboardButton::web_app(text.clone(), WebAppInfo { url: web_app.parse().ok()? }),
            Button::Url { text, url } => InlineKeyboardButton::url(text.clone(), url.parse().ok()?),
            // Rows are not nested.
            Button::Row { .. } => return None,
        })
    }
    let buttons: Vec<Button> = serde_json::from_str(stored).ok()?;
    let rows: Vec<Vec<InlineKeyboardButton>> = buttons
        .iter()
        .map(|b| match b {
            Button::Row { row } => row.iter().filter_map(one).collect(),
            b => one(b).into_iter().collect(),
        })
        .filter(|row: &Vec<InlineKeyboardButton>| !row.is_empty())
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

/// A stored topic id as Telegram's (they fit in 32 bits).
fn thread_id(t: i64) -> Option<ThreadId> {
    i32::try_from(t).ok().map(|t| ThreadId(MessageId(t)))
}

async fn save(tenant: &Tenant, am: outbox::ActiveModel) -> anyhow::Result<()> {
    let txn = tenant.db.begin().await?;
    am.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_carry_the_number_and_keep_to_128_characters() {
        assert_eq!(topic_name(12, "  Lamp broken "), "#12 Lamp broken");
        let long = topic_name(7, &"ж".repeat(300));
        assert_eq!(long.chars().count(), TOPIC_NAME_CHARS);
        assert!(long.starts_with("#7 жж") && long.ends_with('…'), "{long}");
        let exact = format!("#1 {}", "a".repeat(TOPIC_NAME_CHARS - 3));
        assert_eq!(topic_name(1, &"a".repeat(TOPIC_NAME_CHARS - 3)), exact, "128 characters stay whole");
    }

    #[test]
    fn no_more_than_28_sends_start_in_any_second() {
        let mut w = SendWindow::default();
        let t0 = std::time::Instant::now();
        for i in 0..BOT_WINDOW_SENDS {
            assert_eq!(w.admit(7, t0 + Duration::from_millis(i as u64)), None, "send {i}");
        }
        // The next one waits until the first leaves the window.
        let late = t0 + Duration::from_millis(100);
        assert_eq!(w.admit(7, late), Some(Duration::from_millis(900)));
        assert_eq!(w.admit(8, late), None, "another bot has its own window");
        assert_eq!(w.admit(7, t0 + Duration::from_secs(1)), None);
        assert!(w.admit(7, t0 + Duration::from_secs(1)).is_some(), "the second send at 1.000 s waits for the one at 0.001 s");
    }

    #[test]
    fn a_process_sends_nothing_in_its_first_second() {
        let t0 = std::time::Instant::now();
        let mut w = SendWindow::after_start(t0);
        assert_eq!(w.admit(7, t0), Some(Duration::from_secs(1)));
        assert_eq!(w.admit(7, t0 + Duration::from_millis(999)), Some(Duration::from_millis(1)));
        assert_eq!(w.admit(7, t0 + Duration::from_secs(1)), None);
    }

    /// The window forgets bots that sent nothing for a second, but only
    /// once it tracks more than 10,000 (pruning on every send would cost a
    /// pass over all of them).
    #[test]
    fn the_send_window_forgets_idle_bots_once_it_tracks_many() {
        let mut w = SendWindow::default();
        let t0 = std::time::Instant::now();
        for bot in 0..10_000 {
            assert_eq!(w.admit(bot, t0), None);
        }
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(w.admit(10_000, t1), None);
        assert_eq!(w.started.len(), 10_001, "10,000 tracked: nothing pruned yet");
        assert_eq!(w.admit(10_001, t1), None);
        // Over 10,000: the bots whose last send is a full second old go;
        // the one that sent at t1 stays.
        let mut kept: Vec<i64> = w.started.keys().copied().collect();
        kept.sort();
        assert_eq!(kept, [10_000, 10_001]);
    }

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_32_seconds() {
        let ms: Vec<u128> = [-1, 0, 1, 2, 5, 6, 7, 20].iter().map(|&a| backoff(a).as_millis()).collect();
        assert_eq!(ms, [500, 500, 1_000, 2_000, 16_000, 32_000, 32_000, 32_000]);
    }

    #[test]
    fn a_message_is_failed_after_six_attempts_or_twenty_one_429s() {
        assert!(!gives_up(MAX_ATTEMPTS - 1, None) && gives_up(MAX_ATTEMPTS, None) && gives_up(MAX_ATTEMPTS + 1, None));
        assert!(!gives_up(1, Some(1)) && !gives_up(1, Some(MAX_RATE_LIMITED as u32)));
        assert!(gives_up(1, Some(MAX_RATE_LIMITED as u32 + 1)));
        // Pacing is not failing: a paced message is judged by its 429s alone.
        assert!(!gives_up(MAX_ATTEMPTS, Some(1)));
    }

    fn lane(chat: i64) -> (TenantId, i64) {
        (TenantId::from_stored("t".to_owned()), chat)
    }

    #[test]
    fn the_429s_of_each_message_are_counted_and_forgotten_once_many() {
        let mut c = RateLimitedCounts::default();
        assert_eq!((c.note(lane(1)), c.note(lane(1)), c.note(lane(2)), c.note(lane(1))), (1, 2, 1, 3));
        for row in 3..=RateLimitedCounts::FORGET_OVER as i64 {
            c.note(lane(row));
        }
        assert_eq!(c.met.len(), RateLimitedCounts::FORGET_OVER);
        assert_eq!(c.note(lane(1)), 4, "10,000 tracked: nothing forgotten yet");
        c.note(lane(0));
        assert_eq!(c.met.len(), RateLimitedCounts::FORGET_OVER + 1);
        assert_eq!(c.note(lane(1)), 1, "over 10,000: the counts start again");
        assert_eq!(c.met.len(), 1);
    }

    #[test]
    fn a_reserved_slot_is_waited_for_then_used_once() {
        let mut s = Slots::default();
        let t0 = std::time::Instant::now();
        assert_eq!(s.take_due(&lane(1), t0), Reserved::Nothing);
        s.hold(lane(1), Duration::from_millis(300), t0);
        assert_eq!(s.take_due(&lane(1), t0 + Duration::from_millis(100)), Reserved::Wait(Duration::from_millis(200)));
        assert_eq!(s.take_due(&lane(2), t0), Reserved::Nothing, "another chat has no slot");
        assert_eq!(s.take_due(&lane(1), t0 + Duration::from_millis(300)), Reserved::Due);
        assert_eq!(s.take_due(&lane(1), t0 + Duration::from_millis(300)), Reserved::Nothing, "a slot is used once");
    }

    #[test]
    fn slots_ten_minutes_past_are_pruned_once_there_are_many() {
        let mut s = Slots::default();
        let t0 = std::time::Instant::now();
        for chat in 0..Slots::PRUNE_OVER as i64 {
            s.hold(lane(chat), Duration::ZERO, t0);
        }
        let later = t0 + Slots::FORGET_AFTER;
        s.hold(lane(-1), Duration::ZERO, later);
        assert_eq!(s.at.len(), Slots::PRUNE_OVER + 1, "200,000 held: nothing pruned, however old");
        s.hold(lane(-2), Duration::ZERO, later - Duration::from_secs(1));
        assert_eq!(s.at.len(), Slots::PRUNE_OVER + 2, "over 200,000, but none ten minutes past yet");
        s.hold(lane(-3), Duration::ZERO, later);
        let mut kept: Vec<i64> = s.at.keys().map(|l| l.1).collect();
        kept.sort();
        assert_eq!(kept, [-3, -2, -1], "the slots at t0 are ten minutes past");
    }

    fn attachment(kind: &str, content_type: &str, size: i64) -> attachments::Model {
        attachments::Model {
            kind: kind.to_owned(),
            content_type: content_type.to_owned(),
            size,
            id: 1,
            uploader_id: 1,
            message_id: None,
            name: "f".to_owned(),
            object_key: None,
            telegram_file_id: None,
            telegram_file_unique_id: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn photos_up_to_ten_megabytes_go_as_photos_and_the_rest_as_documents() {
        let sends_as_photo = |a: &attachments::Model| SendAs::of(a) == SendAs::Photo;
        // Telegram's figure, written out: 10 MB, not MiB.
        assert!(sends_as_photo(&attachment(attachments::PHOTO, "image/jpeg", 10_000_000)));
        assert!(sends_as_photo(&attachment(attachments::PHOTO, "image/png", 1)));
        assert!(!sends_as_photo(&attachment(attachments::PHOTO, "image/jpeg", 10_000_001)), "over 10 MB");
        assert!(!sends_as_photo(&attachment(attachments::PHOTO, "image/gif", 1_000)), "a GIF keeps its animation");
        assert!(!sends_as_photo(&attachment(attachments::DOCUMENT, "image/jpeg", 1_000)), "a document stays one");
        assert!(!sends_as_photo(&attachment(attachments::DOCUMENT, "application/pdf", 1_000)));
    }

    #[test]
    fn each_kind_goes_with_its_own_method() {
        // Staff uploads: what sendVoice and sendVideo take, else a document.
        let upload = |kind: &str, ct: &str| SendAs::of(&attachment(kind, ct, 1_000));
        assert_eq!(upload(attachments::VOICE, "audio/ogg"), SendAs::Voice);
        assert_eq!(upload(attachments::AUDIO, "audio/mpeg"), SendAs::Audio);
        assert_eq!(upload(attachments::AUDIO, "audio/flac"), SendAs::Document);
        assert_eq!(upload(attachments::VIDEO, "video/mp4"), SendAs::Video);
        assert_eq!(upload(attachments::VIDEO, "video/webm"), SendAs::Document);
        // Files from Telegram go back as the kind they came as.
        for (kind, how) in [
            (attachments::VOICE, SendAs::Voice),
            (attachments::VIDEO_NOTE, SendAs::VideoNote),
            (attachments::ANIMATION, SendAs::Animation),
            (attachments::STICKER, SendAs::Sticker),
            (attachments::VIDEO, SendAs::Video),
        ] {
            let mut a = attachment(kind, "application/octet-stream", 1_000);
            a.telegram_file_id = Some("AwACAgIAAxkB".into());
            assert_eq!(SendAs::of(&a), how, "{kind}");
            assert_eq!(how.field(), kind);
        }
    }

    fn refused(code: u16, description: &str, retry_after: Option<u64>) -> CallError {
        CallError::Refused { code, description: description.into(), retry_after }
    }

    #[test]
    fn outcomes_follow_telegrams_answers() {
        assert!(matches!(classify(&refused(429, "Too Many Requests: retry after 7", Some(7)), 1), Outcome::RateLimited(d, _) if d == Duration::from_secs(7)));
        assert!(matches!(classify(&refused(500, "Internal Server Error", None), 1), Outcome::Retry(d, _) if d == backoff(1)));
        assert!(matches!(classify(&refused(502, "Bad Gateway", None), 3), Outcome::Retry(d, _) if d == backoff(3)));
        assert!(matches!(classify(&CallError::Network("refused".into()), 2), Outcome::Retry(..)));
        for d in ["Forbidden: bot was blocked by the user", "Forbidden: bot can't initiate conversation with a user", "Forbidden: user is deactivated"] {
            assert!(matches!(classify(&refused(403, d, None), 1), Outcome::Unreachable(_)), "{d}");
        }
        assert!(matches!(classify(&refused(400, "Bad Request: chat not found", None), 1), Outcome::Fatal(_)));
        assert!(matches!(classify(&refused(403, "Forbidden: bot is not a member of the channel chat", None), 1), Outcome::Fatal(_)));
        assert!(backoff(1) < backoff(2) && backoff(6) == backoff(60), "grows, then stays");
    }

    #[test]
    fn stored_buttons_become_an_inline_keyboard() {
        let inline_keyboard = |s: &str| inline_keyboard(s).map(|k| serde_json::to_value(k).unwrap());
        let k = inline_keyboard(r#"[{"text":"Track","data":"track"},{"text":"Help","data":"help"}]"#).unwrap();
        assert_eq!(k, serde_json::json!({"inline_keyboard": [[{"text": "Track", "callback_data": "track"}], [{"text": "Help", "callback_data": "help"}]]}));
        let k = inline_keyboard(r#"[{"text":"Open the console","url":"https://desk.example/t/acme/admin/login?token=x"}]"#).unwrap();
        assert_eq!(k, serde_json::json!({"inline_keyboard": [[{"text": "Open the console", "url": "https://desk.example/t/acme/admin/login?token=x"}]]}));
        let k = inline_keyboard(r#"[{"row":[{"text":"1","data":"tt:csat:7:1"},{"text":"2","data":"tt:csat:7:2"}]}]"#).unwrap();
        assert_eq!(k, serde_json::json!({"inline_keyboard": [[{"text": "1", "callback_data": "tt:csat:7:1"}, {"text": "2", "callback_data": "tt:csat:7:2"}]]}));
        assert_eq!(inline_keyboard("[]"), None);
        assert_eq!(inline_keyboard("not json"), None);
    }
}
