//! Service levels, satisfaction and canned responses: each reminder or
//! escalation a ticket got (once each, so a restart never repeats one),
//! each customer's rating of a resolved ticket, and the answers staff
//! insert with `/shortcut`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlaAlerts {
    Table,
    TicketId,
    Kind,
    At,
}

#[derive(DeriveIden)]
enum TicketRatings {
    Table,
    TicketId,
    CustomerId,
    Rating,
    Comment,
    RatedAt,
}

#[derive(DeriveIden)]
enum CannedResponses {
    Table,
    Id,
    Shortcut,
    Text,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SlaAlerts::Table)
                    .if_not_exists()
                    .col(big_integer(SlaAlerts::TicketId))
                    .col(string_len(SlaAlerts::Kind, 40))
                    .col(timestamp_with_time_zone(SlaAlerts::At))
                    .primary_key(Index::create().col(SlaAlerts::TicketId).col(SlaAlerts::Kind))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TicketRatings::Table)
                    .if_not_exists()
                    .col(big_integer(TicketRatings::TicketId).primary_key())
                    .col(big_integer(TicketRatings::CustomerId))
                    .col(small_integer(TicketRatings::Rating))
                    .col(text_null(TicketRatings::Comment))
                    .col(timestamp_with_time_zone(TicketRatings::RatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CannedResponses::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CannedResponses::Id))
                    .col(string_len(CannedResponses::Shortcut, 32).unique_key())
                    .col(text(CannedResponses::Text))
                    .col(timestamp_with_time_zone(CannedResponses::CreatedAt))
                    .col(timestamp_with_time_zone(CannedResponses::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CannedResponses::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(TicketRatings::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(SlaAlerts::Table).to_owned()).await
    }
}
