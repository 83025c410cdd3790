//! Self-healing queues (attempts and backoff on inbox and outbox rows),
//! refresh-token families, and users who blocked the bot.

use sea_orm_migration::{prelude::*, schema::*};

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    FamilyId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Attempts,
    NextAttemptAt,
    Stage,
    ChatId,
    Status,
    Id,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    NextAttemptAt,
    ChatId,
    Status,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    BotBlockedAt,
}

#[derive(DeriveIden)]
enum PluginFailures {
    Table,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        let add = |table: DynIden, col: ColumnDef| Table::alter().table(table).add_column(col).to_owned();
        manager.alter_table(add(Sessions::Table.into_iden(), string_len_null(Sessions::FamilyId, 40))).await?;
        manager.alter_table(add(Inbox::Table.into_iden(), integer(Inbox::Attempts).default(0).to_owned())).await?;
        manager.alter_table(add(Inbox::Table.into_iden(), timestamp_with_time_zone_null(Inbox::NextAttemptAt))).await?;
        manager.alter_table(add(Inbox::Table.into_iden(), string_len_null(Inbox::Stage, 64))).await?;
        manager.alter_table(add(Outbox::Table.into_iden(), timestamp_with_time_zone_null(Outbox::NextAttemptAt))).await?;
        manager.alter_table(add(Users::Table.into_iden(), timestamp_with_time_zone_null(Users::BotBlockedAt))).await?;
        // Each chat's lane reads its oldest pending row.
        let chat_lane = |c: DynIden, s: DynIden, i: DynIden| vec![c, s, i];
        index(manager, "idx_inbox_chat", Inbox::Table, chat_lane(Inbox::ChatId.into_iden(), Inbox::Status.into_iden(), Inbox::Id.into_iden())).await?;
        index(manager, "idx_outbox_chat", Outbox::Table, chat_lane(Outbox::ChatId.into_iden(), Outbox::Status.into_iden(), Outbox::Id.into_iden())).await?;
        index(manager, "idx_sessions_family", Sessions::Table, vec![Sessions::FamilyId.into_iden()]).await?;
        index(manager, "idx_sessions_expires", Sessions::Table, vec![Sessions::ExpiresAt.into_iden()]).await?;
        index(manager, "idx_plugin_failures_created", PluginFailures::Table, vec![PluginFailures::CreatedAt.into_iden()]).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0003_hardening cannot be undone".into()))
    }
}
