use sea_orm::entity::prelude::*;

/// When a plugin's `on-schedule` runs (see `crate::worker::schedule`): one row per
/// scheduled plugin.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plugin_schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub plugin_id: i64,
    /// The cron expression as the admin wrote it.
    pub cron: String,
    /// A run lists the tickets waiting for their customer at least this long.
    pub waiting_minutes: i32,
    /// The next due time not yet taken by a run.
    pub next_due_at: DateTimeUtc,
    /// The token of the run under way, if one is.
    pub claim: Option<i64>,
    /// The due time the run under way is for.
    pub claimed_due_at: Option<DateTimeUtc>,
    /// When the run under way took it (its lease starts).
    pub claimed_at: Option<DateTimeUtc>,
    /// The due time of the last finished run.
    pub last_run_at: Option<DateTimeUtc>,
    /// Finished runs.
    pub runs: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
