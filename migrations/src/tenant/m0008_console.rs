//! The staff console's sign-in: one-time links (`/admin` in the bot) and
//! the browser sessions they open. Only hashes of the secrets are kept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConsoleLinks {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Id,
    TokenHash,
    UserId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    RevokedAt,
    UserAgent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsoleLinks::Table)
                    .if_not_exists()
                    .col(string_len(ConsoleLinks::TokenHash, 64).primary_key())
                    .col(big_integer(ConsoleLinks::UserId))
                    .col(timestamp_with_time_zone(ConsoleLinks::CreatedAt))
                    .col(timestamp_with_time_zone(ConsoleLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ConsoleLinks::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsoleSessions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ConsoleSessions::Id))
                    .col(string_len(ConsoleSessions::TokenHash, 64).unique_key())
                    .col(big_integer(ConsoleSessions::UserId))
                    .col(timestamp_with_time_zone(ConsoleSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ConsoleSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(ConsoleSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ConsoleSessions::RevokedAt))
                    .col(string_len_null(ConsoleSessions::UserAgent, 200))
                    .to_owned(),
            )
            .await?;
        super::index(manager, "console_sessions_by_user", ConsoleSessions::Table, vec![ConsoleSessions::UserId.into_iden(), ConsoleSessions::ExpiresAt.into_iden()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ConsoleSessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ConsoleLinks::Table).to_owned()).await
    }
}
