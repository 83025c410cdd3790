//! Plugin schedules (contract 1.2.0's `on-schedule`).
//!
//! `plugin_schedules`: at most one row per plugin, set by the desk's admin:
//! the cron expression, the least wait of the tickets a run lists, and the
//! bookkeeping that runs each due time at most once across restarts and
//! nodes. `next_due_at` is the next time not yet taken; a run takes it by
//! writing its `claim` (a random token) with `claimed_due_at` and
//! `claimed_at`, and moves `next_due_at` past now in the same statement; the
//! run's effects commit with `claim` cleared, guarded by the token, so a
//! claim whose process died is taken over after a lease and the due time
//! runs once. The row goes with its plugin (the runner removes one whose
//! plugin is gone).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PluginSchedules {
    Table,
    PluginId,
    Cron,
    WaitingMinutes,
    NextDueAt,
    Claim,
    ClaimedDueAt,
    ClaimedAt,
    LastRunAt,
    Runs,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PluginSchedules::Table)
                    .if_not_exists()
                    .col(big_integer(PluginSchedules::PluginId).primary_key())
                    .col(string_len(PluginSchedules::Cron, 128))
                    .col(integer(PluginSchedules::WaitingMinutes).default(0))
                    .col(timestamp_with_time_zone(PluginSchedules::NextDueAt))
                    .col(big_integer_null(PluginSchedules::Claim))
                    .col(timestamp_with_time_zone_null(PluginSchedules::ClaimedDueAt))
                    .col(timestamp_with_time_zone_null(PluginSchedules::ClaimedAt))
                    .col(timestamp_with_time_zone_null(PluginSchedules::LastRunAt))
                    .col(big_integer(PluginSchedules::Runs).default(0))
                    .col(timestamp_with_time_zone(PluginSchedules::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PluginSchedules::Table).if_exists().to_owned()).await
    }
}
