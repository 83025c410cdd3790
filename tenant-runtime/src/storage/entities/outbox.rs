use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub chat_id: i64,
    pub text: String,
    pub reply_markup: Option<String>,
    /// The ticket message this delivers, when it is one.
    pub message_id: Option<i64>,
    /// The file this sends (`sendPhoto`/`sendDocument`), when it is one; its
    /// `text` is then the caption.
    pub attachment_id: Option<i64>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub telegram_message_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// Not retried before this time (backoff, `retry_after`).
    pub next_attempt_at: Option<DateTimeUtc>,
    /// For the staff group: the ticket whose forum topic this goes into.
    pub topic_ticket_id: Option<i64>,
    /// The broadcast this is one customer's copy of.
    pub broadcast_id: Option<i64>,
    /// The ticket a notice to its customer is about (its opening, a status
    /// change, the rating question), so that a reply to it goes there.
    pub ticket_id: Option<i64>,
    /// Unset: send. [`EDIT`] or [`DELETE`]: change the message sent before
    /// as `target_message_id` (Telegram's id) instead; [`RENAME_TOPIC`],
    /// [`CLOSE_TOPIC`], [`REOPEN_TOPIC`]: change the ticket's forum topic.
    pub action: Option<String>,
    pub target_message_id: Option<i64>,
}

/// Edit the text of a message sent before (`editMessageText`).
pub const EDIT: &str = "edit";
/// Delete a message sent before (`deleteMessage`).
pub const DELETE: &str = "delete";
/// Rename the ticket's forum topic (`topic_ticket_id`) to the row's text
/// (`editForumTopic`).
pub const RENAME_TOPIC: &str = "rename_topic";
/// Close the ticket's forum topic (`closeForumTopic`).
pub const CLOSE_TOPIC: &str = "close_topic";
/// Reopen the ticket's forum topic (`reopenForumTopic`).
pub const REOPEN_TOPIC: &str = "reopen_topic";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
/// Telegram refused it for good (the customer blocked the bot, say).
pub const FAILED: &str = "failed";
/// A broadcast's copy handed to Telegram and not yet answered. Broadcasts
/// are sent at most once: a copy found still sending after its lease (the
/// process died during the call) becomes [`UNCONFIRMED`], never sent again.
pub const SENDING: &str = "sending";
/// A broadcast's copy whose send was interrupted: Telegram may or may not
/// have delivered it.
pub const UNCONFIRMED: &str = "unconfirmed";
