//! Service levels and satisfaction: each reminder or escalation a ticket
//! got (once each, so a restart never repeats one) and each customer's
//! rating of a resolved ticket.

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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TicketRatings::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(SlaAlerts::Table).to_owned()).await
    }
}
