use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub update_id: Option<i64>,
    pub chat_id: Option<i64>,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub error: Option<String>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    /// Failed tries so far (a storage outage, a panic); at the limit the
    /// row is given up on as `failed`.
    pub attempts: i32,
    /// Not retried before this time (backoff).
    pub next_attempt_at: Option<DateTimeUtc>,
    /// How far a multi-step update got (`route:<ticket>`: the ticket is
    /// open, its routing plugins still to run), so a retry resumes there.
    pub stage: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Stored, waiting for the worker.
pub const PENDING: &str = "pending";
/// Handled; its effects are committed.
pub const DONE: &str = "done";
/// Stored for the record, never processed: an update kind the runtime does
/// not handle, or a body that was not a Telegram update.
pub const IGNORED: &str = "ignored";
/// Handling failed; `error` says why.
pub const FAILED: &str = "failed";
/// A customer's message that would open a ticket over the plan's monthly
/// limit: kept, not processed, until the limit lifts (then pending again).
pub const OVER_LIMIT: &str = "over_limit";
