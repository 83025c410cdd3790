use sea_orm::entity::prelude::*;

/// A message to every customer of the desk.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "broadcasts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub author_id: i64,
    /// Where its confirmation, progress and report go.
    pub author_chat: i64,
    pub text: String,
    pub status: String,
    /// Customers it was queued for (set when confirmed).
    pub total: i32,
    /// Counts at the end (see the outbox statuses).
    pub sent: i32,
    pub failed: i32,
    pub unconfirmed: i32,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Waiting for its author's confirmation.
pub const DRAFT: &str = "draft";
pub const SENDING: &str = "sending";
pub const DONE: &str = "done";
pub const CANCELLED: &str = "cancelled";
