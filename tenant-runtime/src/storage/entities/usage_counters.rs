use sea_orm::entity::prelude::*;

/// Metered usage per day (`YYYY-MM-DD`, UTC) and meter, for plan limits and
/// billing, spread over a few rows (`shard`) so that concurrent work does
/// not queue on one row: a day's count is the sum of its shards.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    pub count: i64,
    /// How much of `count` Stripe has been told.
    pub reported: i64,
    /// What is being told now (0 when nothing is in flight).
    pub reporting: i64,
    /// The timestamp that report carries (Unix seconds), so a retry is the
    /// same request.
    pub reporting_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Plugin hook calls.
pub const PLUGIN_INVOCATIONS: &str = "plugin_invocations";
/// Tickets opened.
pub const TICKETS: &str = "tickets";
/// Ticket messages stored (customers' and staff's; internal notes excluded).
pub const MESSAGES: &str = "messages";
