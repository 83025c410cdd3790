//! Forum topics and broadcasts.
//!
//! - `staff_forum`: the desk's staff group (a forum supergroup) where each
//!   ticket gets a topic, in the language of who linked it; at most one row.
//! - `tickets.forum_topic_id`: the ticket's topic (`message_thread_id`),
//!   made by the sender before the first message that goes into it.
//! - `outbox.topic_ticket_id`: a message for the staff group that goes into
//!   that ticket's topic.
//! - `broadcasts`: a message to every customer, from draft (waiting for its
//!   author's confirmation) to sending to done, with its counts.
//! - `outbox.broadcast_id`: a broadcast's message to one customer.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StaffForum {
    Table,
    ChatId,
    Title,
    LinkedBy,
    LinkedAt,
    Language,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    ForumTopicId,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TopicTicketId,
    BroadcastId,
    Status,
}

#[derive(DeriveIden)]
enum Broadcasts {
    Table,
    Id,
    AuthorId,
    AuthorChat,
    Text,
    Status,
    Total,
    Sent,
    Failed,
    Unconfirmed,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StaffForum::Table)
                    .if_not_exists()
                    .col(big_integer(StaffForum::ChatId).primary_key())
                    .col(text(StaffForum::Title))
                    .col(big_integer(StaffForum::LinkedBy))
                    .col(timestamp_with_time_zone(StaffForum::LinkedAt))
                    .col(string_len_null(StaffForum::Language, 16))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per statement.
        manager.alter_table(Table::alter().table(Tickets::Table).add_column(big_integer_null(Tickets::ForumTopicId)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).add_column(big_integer_null(Outbox::TopicTicketId)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).add_column(big_integer_null(Outbox::BroadcastId)).to_owned()).await?;
        super::index(manager, "idx_outbox_broadcast", Outbox::Table, vec![Outbox::BroadcastId.into_iden(), Outbox::Status.into_iden()]).await?;
        manager
            .create_table(
                Table::create()
                    .table(Broadcasts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Broadcasts::Id))
                    .col(big_integer(Broadcasts::AuthorId))
                    .col(big_integer(Broadcasts::AuthorChat))
                    .col(text(Broadcasts::Text))
                    .col(string_len(Broadcasts::Status, 20))
                    .col(integer(Broadcasts::Total).default(0))
                    .col(integer(Broadcasts::Sent).default(0))
                    .col(integer(Broadcasts::Failed).default(0))
                    .col(integer(Broadcasts::Unconfirmed).default(0))
                    .col(timestamp_with_time_zone(Broadcasts::CreatedAt))
                    .col(timestamp_with_time_zone_null(Broadcasts::StartedAt))
                    .col(timestamp_with_time_zone_null(Broadcasts::FinishedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Broadcasts::Table).if_exists().to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_outbox_broadcast").table(Outbox::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::BroadcastId).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::TopicTicketId).to_owned()).await?;
        manager.alter_table(Table::alter().table(Tickets::Table).drop_column(Tickets::ForumTopicId).to_owned()).await?;
        manager.drop_table(Table::drop().table(StaffForum::Table).if_exists().to_owned()).await
    }
}
