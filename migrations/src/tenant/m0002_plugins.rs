use sea_orm_migration::{prelude::*, schema::*};

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plugins {
    Table,
    Id,
    Name,
    Component,
    Hash,
    Version,
    Config,
    Kv,
    Enabled,
    Position,
    ConsecutiveFailures,
    DisabledReason,
    Invocations,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PluginFailures {
    Table,
    Id,
    PluginId,
    Hook,
    Kind,
    Message,
    Input,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    Name,
    Icon,
    Color,
    SortOrder,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TicketTags {
    Table,
    TicketId,
    Tag,
}

#[derive(DeriveIden)]
enum UsageCounters {
    Table,
    Day,
    Metric,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plugins::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Plugins::Id))
                    .col(string_len_uniq(Plugins::Name, 64))
                    .col(binary(Plugins::Component))
                    .col(string_len(Plugins::Hash, 64))
                    .col(string_len(Plugins::Version, 16))
                    .col(text(Plugins::Config))
                    // The plugin's key-value store, as one JSON object.
                    .col(text(Plugins::Kv))
                    .col(boolean(Plugins::Enabled))
                    .col(integer(Plugins::Position))
                    .col(integer(Plugins::ConsecutiveFailures).default(0))
                    .col(text_null(Plugins::DisabledReason))
                    .col(big_integer(Plugins::Invocations).default(0))
                    .col(timestamp_with_time_zone(Plugins::CreatedAt))
                    .col(timestamp_with_time_zone(Plugins::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PluginFailures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PluginFailures::Id))
                    .col(big_integer(PluginFailures::PluginId))
                    .col(string_len(PluginFailures::Hook, 32))
                    .col(string_len(PluginFailures::Kind, 32))
                    .col(text(PluginFailures::Message))
                    // The event that caused it, as JSON: enough to replay it with `tikethet plugin run`.
                    .col(text(PluginFailures::Input))
                    .col(timestamp_with_time_zone(PluginFailures::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_plugin_failures_plugin",
            PluginFailures::Table,
            vec![PluginFailures::PluginId.into_iden(), PluginFailures::Id.into_iden()],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(Categories::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Categories::Id))
                    .col(string_len_uniq(Categories::Name, 64))
                    .col(string_len_null(Categories::Icon, 16))
                    .col(string_len_null(Categories::Color, 16))
                    .col(integer(Categories::SortOrder).default(0))
                    .col(boolean(Categories::Active).default(true))
                    .col(timestamp_with_time_zone(Categories::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TicketTags::Table)
                    .if_not_exists()
                    .col(big_integer(TicketTags::TicketId))
                    .col(string_len(TicketTags::Tag, 64))
                    .primary_key(Index::create().col(TicketTags::TicketId).col(TicketTags::Tag))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageCounters::Table)
                    .if_not_exists()
                    .col(string_len(UsageCounters::Day, 10))
                    .col(string_len(UsageCounters::Metric, 64))
                    .col(big_integer(UsageCounters::Count))
                    .primary_key(Index::create().col(UsageCounters::Day).col(UsageCounters::Metric))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            UsageCounters::Table.into_iden(),
            TicketTags::Table.into_iden(),
            Categories::Table.into_iden(),
            PluginFailures::Table.into_iden(),
            Plugins::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(t).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
