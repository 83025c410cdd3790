//! Outbound messages: one ordered stream per chat, throttled to Telegram's
//! limits (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>:
//! about 30 messages a second per bot, about one a second per chat), with
//! `retry_after` honoured on 429 and backoff on server and network errors.
//! Every attempt's outcome is recorded on the outbox row.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use teloxide::payloads::SendMessageSetters as _;
use teloxide::prelude::Requester;
use teloxide::{ApiError, RequestError};

use crate::domain::TenantId;
use crate::entities::outbox;
use crate::limiter::Rate;
use crate::tenant::Tenant;
use crate::Runtime;

pub const PER_BOT: Rate = Rate { per_second: 30, burst: 30 };
// Telegram tolerates a short burst in one chat; the average stays at one a second.
pub const PER_CHAT: Rate = Rate { per_second: 1, burst: 3 };
/// Attempts on network and server errors before a message is marked failed.
pub const MAX_ATTEMPTS: i32 = 6;
/// 429s honoured for one message before it is marked failed.
const MAX_RATE_LIMITED: u32 = 20;

enum Outcome {
    Sent(i64),
    Retry(Duration, String),
    Fatal(String),
}

fn classify(e: &RequestError, attempt: i32) -> Outcome {
    let backoff = Duration::from_millis(500 * 2u64.pow(attempt.clamp(0, 6) as u32));
    match e {
        RequestError::RetryAfter(s) => Outcome::Retry(s.duration(), format!("rate limited: {e}")),
        RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. } => {
            Outcome::Retry(backoff, e.to_string())
        }
        // teloxide surfaces a 5xx with a JSON body as an unknown API error.
        RequestError::Api(ApiError::Unknown(d))
            if ["Internal Server Error", "Bad Gateway", "Service Unavailable", "Gateway Timeout"]
                .iter()
                .any(|p| d.contains(p)) =>
        {
            Outcome::Retry(backoff, e.to_string())
        }
        _ => Outcome::Fatal(e.to_string()),
    }
}

impl Runtime {
    /// Queues one outbox row for delivery.
    pub(crate) fn deliver(&self, tenant: &TenantId, chat: i64, outbox_id: i64) {
        self.sender.push((tenant.clone(), chat), outbox_id);
    }

    pub(crate) async fn send_one(&self, tenant: TenantId, chat: i64, outbox_id: i64) {
        let Some(tenant) = self.tenants.get(&tenant) else { return };
        if let Err(e) = self.send_with_retries(&tenant, chat, outbox_id).await {
            tracing::error!(tenant = %tenant.info.id, outbox_id, error = %format!("{e:#}"), "could not deliver or record a message");
        }
    }

    async fn send_with_retries(&self, tenant: &Tenant, chat: i64, outbox_id: i64) -> anyhow::Result<()> {
        let bot_key = format!("bot:{}", tenant.info.bot_token.bot_id());
        let chat_key = format!("chat:{}:{chat}", tenant.info.bot_token.bot_id());
        let mut rate_limited = 0;
        loop {
            let Some(row) = load(tenant, outbox_id).await? else { return Ok(()) };
            if row.status != outbox::PENDING {
                return Ok(());
            }
            self.limiter.acquire(&chat_key, PER_CHAT).await?;
            self.limiter.acquire(&bot_key, PER_BOT).await?;
            let mut request = tenant.bot.send_message(teloxide::types::ChatId(row.chat_id), row.text.clone());
            if let Some(markup) = row.reply_markup.as_deref().and_then(inline_keyboard) {
                request = request.reply_markup(markup);
            }
            let result = request.await;
            let attempt = row.attempts + 1;
            let outcome = match result {
                Ok(m) => Outcome::Sent(i64::from(m.id.0)),
                Err(e) => classify(&e, attempt),
            };
            let mut am: outbox::ActiveModel = row.into();
            am.attempts = Set(attempt);
            match outcome {
                Outcome::Sent(id) => {
                    am.status = Set(outbox::SENT.to_owned());
                    am.telegram_message_id = Set(Some(id));
                    am.sent_at = Set(Some(Utc::now()));
                    am.last_error = Set(None);
                    save(tenant, am).await?;
                    self.metrics.messages_sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Outcome::Retry(wait, why) => {
                    let is_429 = why.starts_with("rate limited");
                    if is_429 {
                        rate_limited += 1;
                        // A 429 is Telegram pacing us, not a failed attempt.
                        am.attempts = Set(attempt - 1);
                    }
                    let give_up = if is_429 { rate_limited > MAX_RATE_LIMITED } else { attempt >= MAX_ATTEMPTS };
                    am.last_error = Set(Some(why.clone()));
                    if give_up {
                        am.status = Set(outbox::FAILED.to_owned());
                        save(tenant, am).await?;
                        self.metrics.messages_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(tenant = %tenant.info.id, outbox_id, error = %why, "giving up on a message");
                        return Ok(());
                    }
                    save(tenant, am).await?;
                    tracing::info!(tenant = %tenant.info.id, outbox_id, wait_ms = wait.as_millis() as u64, reason = %why, "will retry a message");
                    tokio::time::sleep(wait).await;
                }
                Outcome::Fatal(why) => {
                    am.status = Set(outbox::FAILED.to_owned());
                    am.last_error = Set(Some(why.clone()));
                    save(tenant, am).await?;
                    self.metrics.messages_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(tenant = %tenant.info.id, outbox_id, error = %why, "Telegram refused a message");
                    return Ok(());
                }
            }
        }
    }
}

/// The stored buttons (`[{"text", "data"}]`) as one button per row.
fn inline_keyboard(stored: &str) -> Option<teloxide::types::InlineKeyboardMarkup> {
    use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
    let buttons: Vec<serde_json::Value> = serde_json::from_str(stored).ok()?;
    let rows: Vec<Vec<InlineKeyboardButton>> = buttons
        .iter()
        .filter_map(|b| Some(vec![InlineKeyboardButton::callback(b.get("text")?.as_str()?, b.get("data")?.as_str()?)]))
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}

async fn load(tenant: &Tenant, id: i64) -> anyhow::Result<Option<outbox::Model>> {
    let txn = tenant.db.begin().await?;
    let row = outbox::Entity::find_by_id(id).one(&txn).await?;
    txn.commit().await?;
    Ok(row)
}

async fn save(tenant: &Tenant, am: outbox::ActiveModel) -> anyhow::Result<()> {
    let txn = tenant.db.begin().await?;
    am.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}
