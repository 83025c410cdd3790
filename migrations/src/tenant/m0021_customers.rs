//! Customers as people the desk knows: notes about a customer (not about
//! one ticket), custom attributes set through the API, and when they first
//! wrote to the bot in a private chat (a bot may start a conversation only
//! with someone who has). People the bot has already reached (an outbox
//! message sent to them) count as having started it; the worker notes
//! the rest as they write.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Attributes,
    BotStartedAt,
}

#[derive(DeriveIden)]
enum CustomerNotes {
    Table,
    Id,
    UserId,
    AuthorId,
    Text,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Users::Table).add_column(text(Users::Attributes).default("{}")).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).add_column(timestamp_with_time_zone_null(Users::BotStartedAt)).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerNotes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CustomerNotes::Id))
                    .col(big_integer(CustomerNotes::UserId))
                    .col(big_integer_null(CustomerNotes::AuthorId))
                    .col(text(CustomerNotes::Text))
                    .col(timestamp_with_time_zone(CustomerNotes::CreatedAt))
                    .to_owned(),
            )
            .await?;
        super::index(manager, "idx_customer_notes_user", CustomerNotes::Table, vec![CustomerNotes::UserId.into_iden(), CustomerNotes::Id.into_iden()]).await?;
        // One pass over each table, not a lookup per person (both engines
        // take UPDATE … FROM).
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE users SET bot_started_at = s.at FROM \
                 (SELECT chat_id AS who, MIN(created_at) AS at FROM outbox WHERE status = 'sent' GROUP BY chat_id) AS s \
                 WHERE s.who = users.telegram_id",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CustomerNotes::Table).if_exists().to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::BotStartedAt).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::Attributes).to_owned()).await
    }
}
