//! `/broadcast`: one message to every customer the bot can reach, for the
//! desk's admins and owner.
//!
//! `/broadcast TEXT` keeps a draft and answers with its preview and the
//! number of customers, under two buttons: send or cancel. Sending queues
//! one outbox row per customer in the press's transaction, so the whole
//! broadcast is durable at once and the ordinary sender delivers it
//! within the bot's rate limit (it shares the limit with everything else
//! the bot says, so replies keep flowing). A restart resumes where it was.
//! Each copy counts as a message against the plan's monthly limit: a
//! broadcast that would pass it is refused before it starts.
//!
//! Each copy is sent at most once: the sender marks it `sending` in its own
//! commit before the call, and a copy found still `sending` after its lease
//! (the process died during the call) becomes `unconfirmed` instead of
//! being sent again (`sender.rs`). `/broadcast` alone shows the progress,
//! `/broadcast stop` drops what has not gone yet, and when nothing is left
//! to send the author gets the report: delivered, not delivered (blocked the
//! bot, stopped) and unconfirmed.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tikethet_themes::BotText;

use crate::worker::update::Pressed;
use crate::Runtime;
use crate::outbound::effects::Effects;
use crate::domain::Role;
use crate::storage::entities::{broadcasts, outbox, users};
use crate::error::RuntimeError;
use crate::storage::tenant::Tenant;
use crate::desk::tickets::{Button, TELEGRAM_TEXT_LIMIT};

/// Callback data of the confirmation buttons: `tt:bc:<id>:send` or
/// `tt:bc:<id>:cancel`. Plugins never see presses of these.
pub const BROADCAST_PREFIX: &str = "tt:bc:";

/// A draft older than this is not sent (the customers it counted have changed).
pub const DRAFT_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// Rows inserted per statement when a broadcast is queued.
const INSERT_CHUNK: usize = 500;

/// What a confirmation button asks.
#[derive(Debug, PartialEq, Eq)]
enum Press {
    Send(i64),
    Cancel(i64),
}

fn parse_press(data: &str) -> Option<Press> {
    let (id, what) = data.strip_prefix(BROADCAST_PREFIX)?.split_once(':')?;
    let id = id.parse().ok()?;
    match what {
        "send" => Some(Press::Send(id)),
        "cancel" => Some(Press::Cancel(id)),
        _ => None,
    }
}

/// A broadcast's copies by state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub waiting: i64,
    pub sent: i64,
    pub failed: i64,
    pub unconfirmed: i64,
}

impl Progress {
    pub fn done(&self) -> i64 {
        self.sent + self.failed + self.unconfirmed
    }
}

async fn progress(txn: &DatabaseTransaction, id: i64) -> Result<Progress, RuntimeError> {
    let rows: Vec<(String, i64)> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Status)
        .column_as(outbox::Column::Id.count(), "n")
        .filter(outbox::Column::BroadcastId.eq(id))
        .group_by(outbox::Column::Status)
        .into_tuple()
        .all(txn)
        .await?;
    let mut p = Progress::default();
    for (status, n) in rows {
        match status.as_str() {
            outbox::SENT => p.sent += n,
            outbox::FAILED => p.failed += n,
            outbox::UNCONFIRMED => p.unconfirmed += n,
            _ => p.waiting += n,
        }
    }
    Ok(p)
}

/// The customers a broadcast goes to: not blocked by the desk, not known
/// to have blocked the bot, not the author.
fn recipients(author: i64) -> sea_orm::Select<users::Entity> {
    users::Entity::find()
        .filter(users::Column::Role.eq(Role::User.as_str()))
        .filter(users::Column::Blocked.eq(false))
        .filter(users::Column::BotBlockedAt.is_null())
        .filter(users::Column::Id.ne(author))
}

/// Whether the month's message limit leaves room for `n` more; the
/// refusal's words when it does not.
async fn within_messages(txn: &DatabaseTransaction, tenant: &Tenant, n: u64) -> Result<Result<(), String>, RuntimeError> {
    let allowed = tenant.info.quotas.messages_per_month;
    if allowed.is_none() {
        return Ok(Ok(()));
    }
    let used = crate::desk::usage::this_month(txn, crate::desk::usage::MESSAGES).await?;
    match crate::desk::usage::within(&tenant.info, "messages a month", allowed, used, n) {
        Ok(()) => Ok(Ok(())),
        Err(RuntimeError::PlanLimit(reason)) => Ok(Err(reason)),
        Err(e) => Err(e),
    }
}

async fn under_way(txn: &DatabaseTransaction) -> Result<Option<broadcasts::Model>, RuntimeError> {
    Ok(broadcasts::Entity::find().filter(broadcasts::Column::Status.eq(broadcasts::SENDING)).order_by_asc(broadcasts::Column::Id).one(txn).await?)
}

impl Runtime {
    fn broadcast_text(&self, tenant: &Tenant, lang: Option<&str>, outcome: &str, vars: serde_json::Value) -> Result<String, RuntimeError> {
        let mut vars = vars;
        vars["outcome"] = outcome.into();
        self.text(tenant, lang, BotText::BroadcastStatus, vars)
    }

    /// `/broadcast [TEXT | stop]` from an admin: the answer and its buttons.
    pub(crate) async fn broadcast_command(&self, tenant: &Tenant, txn: &DatabaseTransaction, user: &users::Model, chat: i64, args: &str) -> Result<(String, Vec<Button>), RuntimeError> {
        use sea_orm::PaginatorTrait as _;
        let lang = user.language_code.as_deref();
        let text = args.trim();
        let running = under_way(txn).await?;
        if text.is_empty() || text.eq_ignore_ascii_case("stop") {
            let Some(b) = running else { return Ok((self.broadcast_text(tenant, lang, if text.is_empty() { "usage" } else { "none" }, serde_json::json!({}))?, Vec::new())) };
            if text.is_empty() {
                let p = progress(txn, b.id).await?;
                let vars = serde_json::json!({ "number": b.id, "total": b.total, "done": p.done(), "sent": p.sent, "failed": p.failed + p.unconfirmed });
                return Ok((self.broadcast_text(tenant, lang, "progress", vars)?, Vec::new()));
            }
            let who = crate::outbound::notify::name_of(user);
            let dropped = outbox::Entity::update_many()
                .col_expr(outbox::Column::Status, Expr::value(outbox::FAILED))
                .col_expr(outbox::Column::LastError, Expr::value(format!("the broadcast was stopped by {who}")))
                .filter(outbox::Column::BroadcastId.eq(b.id))
                .filter(outbox::Column::Status.eq(outbox::PENDING))
                .exec(txn)
                .await?
                .rows_affected;
            crate::desk::audit::record(txn, Some(user.id), "broadcast.stopped", None, format!("#{}: {dropped} not sent", b.id)).await?;
            tracing::info!(tenant = %tenant.info.id, broadcast = b.id, dropped, by = user.id, "broadcast stopped");
            return Ok((self.broadcast_text(tenant, lang, "stopped", serde_json::json!({ "number": b.id, "dropped": dropped }))?, Vec::new()));
        }
        if let Some(b) = running {
            let p = progress(txn, b.id).await?;
            return Ok((self.broadcast_text(tenant, lang, "busy", serde_json::json!({ "number": b.id, "total": b.total, "done": p.done() }))?, Vec::new()));
        }
        let length = text.encode_utf16().count();
        if length > TELEGRAM_TEXT_LIMIT {
            return Ok((self.broadcast_text(tenant, lang, "too_long", serde_json::json!({ "limit": TELEGRAM_TEXT_LIMIT, "length": length }))?, Vec::new()));
        }
        let count = recipients(user.id).count(txn).await?;
        if count == 0 {
            return Ok((self.broadcast_text(tenant, lang, "nobody", serde_json::json!({}))?, Vec::new()));
        }
        if let Err(reason) = within_messages(txn, tenant, count).await? {
            return Ok((self.broadcast_text(tenant, lang, "over_limit", serde_json::json!({ "reason": reason }))?, Vec::new()));
        }
        let draft = broadcasts::ActiveModel {
            author_id: Set(user.id),
            author_chat: Set(chat),
            text: Set(text.to_owned()),
            status: Set(broadcasts::DRAFT.to_owned()),
            total: Set(0),
            sent: Set(0),
            failed: Set(0),
            unconfirmed: Set(0),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let preview = self.text(tenant, lang, BotText::BroadcastConfirm, serde_json::json!({ "count": count, "text": text }))?;
        let buttons = vec![Button::Row {
            row: vec![
                Button::Callback { text: self.text(tenant, lang, BotText::ButtonBroadcastSend, serde_json::json!({ "count": count }))?, data: format!("{BROADCAST_PREFIX}{}:send", draft.id) },
                Button::Callback { text: self.text(tenant, lang, BotText::ButtonBroadcastCancel, ())?, data: format!("{BROADCAST_PREFIX}{}:cancel", draft.id) },
            ],
        }];
        Ok((preview, buttons))
    }

    /// A press of a confirmation button: sends or drops the author's draft.
    /// A second press (or one on a draft already handled) does nothing.
    pub(crate) async fn broadcast_pressed(&self, tenant: &Tenant, txn: &DatabaseTransaction, user: &users::Model, chat: i64, data: &str, kicks: &mut Effects) -> Result<Pressed, RuntimeError> {
        let lang = user.language_code.as_deref();
        let Some(press) = parse_press(data) else { return Ok(Pressed::Stale) };
        let id = match press {
            Press::Send(id) | Press::Cancel(id) => id,
        };
        let admin = !user.blocked && user.role >= Role::Admin;
        let draft = broadcasts::Entity::find_by_id(id)
            .filter(broadcasts::Column::AuthorId.eq(user.id))
            .filter(broadcasts::Column::Status.eq(broadcasts::DRAFT))
            .one(txn)
            .await?;
        let Some(draft) = draft.filter(|_| admin) else { return Ok(Pressed::Stale) };
        let outcome = if matches!(press, Press::Cancel(_)) {
            "cancelled"
        } else if Utc::now() - draft.created_at > DRAFT_LIFETIME {
            "expired"
        } else if under_way(txn).await?.is_some() {
            "busy"
        } else {
            ""
        };
        if !outcome.is_empty() {
            if outcome != "busy" {
                let mut am: broadcasts::ActiveModel = draft.into();
                am.status = Set(broadcasts::CANCELLED.to_owned());
                am.finished_at = Set(Some(Utc::now()));
                am.update(txn).await?;
            }
            let body = self.broadcast_text(tenant, lang, outcome, serde_json::json!({}))?;
            kicks.push(crate::desk::tickets::enqueue(txn, chat, body, None).await?.chat_id);
            // Busy: the same buttons send it once the other one is done.
            return Ok(if outcome == "busy" { Pressed::Again } else { Pressed::Done });
        }
        let chats: Vec<i64> = recipients(user.id).select_only().column(users::Column::TelegramId).order_by_asc(users::Column::Id).into_tuple().all(txn).await?;
        if let Err(reason) = within_messages(txn, tenant, chats.len() as u64).await? {
            let body = self.broadcast_text(tenant, lang, "over_limit", serde_json::json!({ "reason": reason }))?;
            kicks.push(crate::desk::tickets::enqueue(txn, chat, body, None).await?.chat_id);
            return Ok(Pressed::Again);
        }
        // Each copy is a message the desk sends: metered like a reply.
        crate::desk::usage::count(txn, crate::desk::usage::MESSAGES, chats.len() as i64).await?;
        let now = Utc::now();
        for chunk in chats.chunks(INSERT_CHUNK) {
            let rows = chunk.iter().map(|c| outbox::ActiveModel {
                chat_id: Set(*c),
                text: Set(draft.text.clone()),
                status: Set(outbox::PENDING.to_owned()),
                attempts: Set(0),
                created_at: Set(now),
                broadcast_id: Set(Some(draft.id)),
                ..Default::default()
            });
            outbox::Entity::insert_many(rows).exec(txn).await?;
        }
        let total = chats.len() as i64;
        let number = draft.id;
        let mut am: broadcasts::ActiveModel = draft.into();
        am.status = Set(broadcasts::SENDING.to_owned());
        am.total = Set(total as i32);
        am.started_at = Set(Some(now));
        am.update(txn).await?;
        kicks.chats.extend(chats);
        let rate = crate::outbound::sender::PER_BOT;
        let per_minute = (i64::from(rate.count) * 60 / rate.period.as_secs().max(1) as i64).max(1);
        let minutes = (total + per_minute - 1) / per_minute;
        let body = self.broadcast_text(tenant, lang, "started", serde_json::json!({ "number": number, "total": total, "minutes": minutes.max(1) }))?;
        kicks.push(crate::desk::tickets::enqueue(txn, chat, body, None).await?.chat_id);
        crate::desk::audit::record(txn, Some(user.id), "broadcast.sent", None, format!("#{number} to {total} customers")).await?;
        tracing::info!(tenant = %tenant.info.id, broadcast = number, total, by = user.id, "broadcast queued");
        Ok(Pressed::Done)
    }

    /// Ends the broadcasts with nothing left to send: their counts are
    /// kept and their authors get the report. Returns how many ended.
    pub async fn finish_broadcasts(&self, tenant: &Tenant) -> anyhow::Result<usize> {
        let txn = tenant.db.begin_unnoticed().await?;
        let sending = broadcasts::Entity::find().filter(broadcasts::Column::Status.eq(broadcasts::SENDING)).all(&txn).await?;
        txn.commit().await?;
        let mut ended = 0;
        for b in sending {
            let txn = tenant.db.begin().await?;
            let p = progress(&txn, b.id).await?;
            if p.waiting > 0 {
                continue;
            }
            let n = broadcasts::Entity::update_many()
                .col_expr(broadcasts::Column::Status, Expr::value(broadcasts::DONE))
                .col_expr(broadcasts::Column::Sent, Expr::value(p.sent as i32))
                .col_expr(broadcasts::Column::Failed, Expr::value(p.failed as i32))
                .col_expr(broadcasts::Column::Unconfirmed, Expr::value(p.unconfirmed as i32))
                .col_expr(broadcasts::Column::FinishedAt, Expr::value(Utc::now()))
                .filter(broadcasts::Column::Id.eq(b.id))
                .filter(broadcasts::Column::Status.eq(broadcasts::SENDING))
                .exec(&txn)
                .await?
                .rows_affected;
            if n != 1 {
                continue;
            }
            let author = users::Entity::find_by_id(b.author_id).one(&txn).await?;
            let lang = author.as_ref().and_then(|a| a.language_code.as_deref());
            let vars = serde_json::json!({ "number": b.id, "total": b.total, "sent": p.sent, "failed": p.failed, "unconfirmed": p.unconfirmed });
            let report = self.text(tenant, lang, BotText::BroadcastReport, vars)?;
            crate::desk::tickets::enqueue(&txn, b.author_chat, report, None).await?;
            txn.commit().await?;
            tracing::info!(tenant = %tenant.info.id, broadcast = b.id, total = b.total, sent = p.sent, failed = p.failed, unconfirmed = p.unconfirmed, "broadcast finished");
            self.deliver(&tenant.info.id, b.author_chat);
            ended += 1;
        }
        Ok(ended)
    }
}

impl crate::desk::context::TenantContext {
    /// The latest broadcasts, newest first, with their progress (admins and up).
    pub async fn broadcasts(&self, limit: u64) -> Result<Vec<(broadcasts::Model, Progress)>, RuntimeError> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let list = broadcasts::Entity::find()
            .filter(broadcasts::Column::Status.ne(broadcasts::DRAFT))
            .order_by_desc(broadcasts::Column::Id)
            .limit(limit.clamp(1, 100))
            .all(&txn)
            .await?;
        let mut out = Vec::with_capacity(list.len());
        for b in list {
            let p = if b.status == broadcasts::SENDING { progress(&txn, b.id).await? } else { Progress { waiting: 0, sent: b.sent.into(), failed: b.failed.into(), unconfirmed: b.unconfirmed.into() } };
            out.push((b, p));
        }
        txn.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_buttons_name_their_draft() {
        assert_eq!(parse_press("tt:bc:12:send"), Some(Press::Send(12)));
        assert_eq!(parse_press("tt:bc:12:cancel"), Some(Press::Cancel(12)));
        assert_eq!(parse_press("tt:bc:12:resend"), None);
        assert_eq!(parse_press("tt:bc:x:send"), None);
        assert_eq!(parse_press("tt:csat:1:5"), None);
    }

    #[test]
    fn a_broadcast_is_done_when_nothing_waits() {
        let p = Progress { waiting: 0, sent: 7, failed: 2, unconfirmed: 1 };
        assert_eq!(p.done(), 10);
    }
}
