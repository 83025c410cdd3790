//! A staff member's edit or deletion of an answer the customer already
//! has, carried to their Telegram chat through the outbox (in order after
//! the answer itself): `editMessageText` with the answer rendered again,
//! `deleteMessage` for its text and files. An answer not sent yet is
//! changed (or withdrawn) in place. Telegram's limits are said plainly
//! before anything changes: a bot deletes its messages for 48 hours only,
//! and edits one message at a time.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use tikethet_themes::BotText;

use crate::Runtime;
use crate::error::{Result, RuntimeError};
use crate::outbound::effects::Effects;
use crate::storage::entities::{messages, outbox, tickets, users};
use crate::storage::tenant::Tenant;

/// How long after sending a bot may delete its message in a private chat
/// (<https://core.telegram.org/bots/api#deletemessage>).
pub const DELETE_WINDOW: Duration = Duration::hours(48);

/// The outbox rows that delivered a message (its text's pieces and its
/// files), oldest first.
async fn deliveries(txn: &DatabaseTransaction, message: i64) -> Result<Vec<outbox::Model>> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::MessageId.eq(message))
        .filter(outbox::Column::Action.is_null())
        .order_by_asc(outbox::Column::Id)
        .all(txn)
        .await?)
}

fn change(row: &outbox::Model, action: &str, text: String) -> outbox::ActiveModel {
    outbox::ActiveModel {
        chat_id: Set(row.chat_id),
        text: Set(text),
        reply_markup: Set(row.reply_markup.clone()),
        message_id: Set(row.message_id),
        ticket_id: Set(row.ticket_id),
        status: Set(outbox::PENDING.to_owned()),
        attempts: Set(0),
        created_at: Set(Utc::now()),
        action: Set(Some(action.to_owned())),
        target_message_id: Set(row.telegram_message_id),
        ..Default::default()
    }
}

impl Runtime {
    /// After a staff member edited their answer `m` (in `txn`): the
    /// customer's chat shows the new text. Refused (409) when the answer
    /// went in several messages and now needs another number of them.
    pub(crate) async fn carry_edit(&self, tenant: &Tenant, txn: &DatabaseTransaction, ticket: &tickets::Model, m: &messages::Model, effects: &mut Effects) -> Result<()> {
        let rows: Vec<outbox::Model> = deliveries(txn, m.id).await?.into_iter().filter(|r| r.attachment_id.is_none()).collect();
        if m.internal || rows.is_empty() {
            return Ok(());
        }
        let customer = users::Entity::find_by_id(ticket.customer_id).one(txn).await?.ok_or(RuntimeError::NotFound("customer"))?;
        let lang = customer.language_code.as_deref();
        let text = self.text(tenant, lang, BotText::StaffReply, serde_json::json!({ "number": ticket.id, "text": m.text }))?;
        let pieces = crate::desk::tickets::split_for_telegram(&text);
        if pieces.len() != rows.len() {
            return Err(RuntimeError::Conflict(format!(
                "this answer reached the customer as {} Telegram messages and would now take {}; Telegram edits one message at a time, so delete the answer and write it again",
                rows.len(),
                pieces.len()
            )));
        }
        for (row, piece) in rows.into_iter().zip(pieces) {
            match row.status.as_str() {
                outbox::PENDING => {
                    // Not sent yet: it goes as edited.
                    outbox::Entity::update_many().col_expr(outbox::Column::Text, Expr::value(piece)).filter(outbox::Column::Id.eq(row.id)).exec(txn).await?;
                }
                outbox::SENT if row.telegram_message_id.is_some() => {
                    change(&row, outbox::EDIT, piece).insert(txn).await?;
                }
                // Never delivered (the customer blocked the bot): nothing to change.
                _ => {}
            }
            effects.push(row.chat_id);
        }
        Ok(())
    }

    /// Before a staff answer `m` is deleted (in `txn`): its messages leave
    /// the customer's chat, and whatever was not sent yet never goes.
    /// Refused (409) when one was sent more than 48 hours ago, which
    /// Telegram no longer lets a bot delete, unless `desk_only`: then the
    /// customer's chat keeps them.
    pub(crate) async fn carry_deletion(&self, txn: &DatabaseTransaction, m: &messages::Model, desk_only: bool, effects: &mut Effects) -> Result<()> {
        let rows = deliveries(txn, m.id).await?;
        let now = Utc::now();
        let too_old = rows.iter().filter(|r| r.status == outbox::SENT).filter_map(|r| r.sent_at).find(|at| now - *at > DELETE_WINDOW);
        if let (Some(at), false) = (too_old, desk_only) {
            return Err(RuntimeError::Conflict(format!(
                "Telegram lets a bot delete its messages for 48 hours, and this answer was sent on {}: it stays in the customer's chat. Delete it from the desk only with desk_only=true",
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        for row in rows {
            match row.status.as_str() {
                outbox::PENDING => {
                    let mut am: outbox::ActiveModel = row.into();
                    am.status = Set(outbox::FAILED.to_owned());
                    am.last_error = Set(Some("deleted before it was sent".into()));
                    am.update(txn).await?;
                }
                outbox::SENT if row.telegram_message_id.is_some() && row.sent_at.is_some_and(|at| now - at <= DELETE_WINDOW) => {
                    change(&row, outbox::DELETE, String::new()).insert(txn).await?;
                    effects.push(row.chat_id);
                }
                _ => {}
            }
        }
        Ok(())
    }
}
