use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Status,
    Plan,
    Theme,
    BotId,
    BotUsername,
    BotTokenEnc,
    WebhookRoute,
    WebhookSecretEnc,
    OwnerTelegramId,
    StorageName,
    SchemaVersion,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(string_len(Tenants::Id, 40).primary_key())
                    .col(string_len_uniq(Tenants::Slug, 40))
                    .col(string_len(Tenants::Name, 200))
                    .col(string_len(Tenants::Status, 20))
                    .col(string_len(Tenants::Plan, 40))
                    .col(string_len(Tenants::Theme, 40))
                    .col(big_integer(Tenants::BotId))
                    .col(string_len(Tenants::BotUsername, 64))
                    .col(text(Tenants::BotTokenEnc))
                    .col(string_len_uniq(Tenants::WebhookRoute, 64))
                    .col(text(Tenants::WebhookSecretEnc))
                    .col(big_integer(Tenants::OwnerTelegramId))
                    .col(string_len_uniq(Tenants::StorageName, 64))
                    .col(string_len_null(Tenants::SchemaVersion, 200))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}
