use sea_orm_migration::{prelude::*, schema::*};

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TelegramId,
    Username,
    FirstName,
    LastName,
    LanguageCode,
    Role,
    Blocked,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    CustomerId,
    Title,
    Description,
    Status,
    Priority,
    CategoryId,
    AssigneeId,
    CreatedAt,
    UpdatedAt,
    FirstResponseAt,
    ResolvedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    TicketId,
    AuthorId,
    AuthorRole,
    Text,
    Internal,
    TelegramMessageId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Id,
    UpdateId,
    ChatId,
    Kind,
    Payload,
    Status,
    Error,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    ChatId,
    Text,
    ReplyMarkup,
    MessageId,
    Status,
    Attempts,
    LastError,
    TelegramMessageId,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(big_integer_uniq(Users::TelegramId))
                    .col(string_len_null(Users::Username, 64))
                    .col(string_len(Users::FirstName, 128))
                    .col(string_len_null(Users::LastName, 128))
                    .col(string_len_null(Users::LanguageCode, 16))
                    .col(string_len(Users::Role, 16))
                    .col(boolean(Users::Blocked).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tickets::Id))
                    .col(big_integer(Tickets::CustomerId))
                    .col(string_len(Tickets::Title, 200))
                    .col(text(Tickets::Description))
                    .col(string_len(Tickets::Status, 20))
                    .col(string_len(Tickets::Priority, 10))
                    .col(big_integer_null(Tickets::CategoryId))
                    .col(big_integer_null(Tickets::AssigneeId))
                    .col(timestamp_with_time_zone(Tickets::CreatedAt))
                    .col(timestamp_with_time_zone(Tickets::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Tickets::FirstResponseAt))
                    .col(timestamp_with_time_zone_null(Tickets::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ClosedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tickets::Table, Tickets::CustomerId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The queue filters by status, a customer lists their own tickets,
        // and every list is ordered by the last update.
        index(manager, "idx_tickets_status", Tickets::Table, vec![Tickets::Status.into_iden()]).await?;
        index(manager, "idx_tickets_customer", Tickets::Table, vec![Tickets::CustomerId.into_iden()]).await?;
        index(manager, "idx_tickets_updated", Tickets::Table, vec![Tickets::UpdatedAt.into_iden()]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Messages::Id))
                    .col(big_integer(Messages::TicketId))
                    .col(big_integer_null(Messages::AuthorId))
                    .col(string_len(Messages::AuthorRole, 16))
                    .col(text(Messages::Text))
                    .col(boolean(Messages::Internal).default(false))
                    .col(big_integer_null(Messages::TelegramMessageId))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::TicketId)
                            .to(Tickets::Table, Tickets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_messages_ticket", Messages::Table, vec![Messages::TicketId.into_iden(), Messages::Id.into_iden()]).await?;

        // Telegram updates as received, before any processing: the durable
        // acknowledgement of the webhook. A NULL update_id marks a body that
        // could not be parsed (kept for inspection, never processed).
        manager
            .create_table(
                Table::create()
                    .table(Inbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Inbox::Id))
                    .col(big_integer_null(Inbox::UpdateId).unique_key())
                    .col(big_integer_null(Inbox::ChatId))
                    .col(string_len(Inbox::Kind, 32))
                    .col(text(Inbox::Payload))
                    .col(string_len(Inbox::Status, 16))
                    .col(text_null(Inbox::Error))
                    .col(timestamp_with_time_zone(Inbox::ReceivedAt))
                    .col(timestamp_with_time_zone_null(Inbox::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_inbox_status", Inbox::Table, vec![Inbox::Status.into_iden(), Inbox::Id.into_iden()]).await?;

        // Messages to send through the bot, written in the same transaction
        // as the change that caused them and delivered after commit.
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Outbox::Id))
                    .col(big_integer(Outbox::ChatId))
                    .col(text(Outbox::Text))
                    .col(text_null(Outbox::ReplyMarkup))
                    .col(big_integer_null(Outbox::MessageId))
                    .col(string_len(Outbox::Status, 16))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(text_null(Outbox::LastError))
                    .col(big_integer_null(Outbox::TelegramMessageId))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_outbox_status", Outbox::Table, vec![Outbox::Status.into_iden(), Outbox::Id.into_iden()]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Sessions::Id))
                    .col(big_integer(Sessions::UserId))
                    .col(string_len_uniq(Sessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_iden(),
            Outbox::Table.into_iden(),
            Inbox::Table.into_iden(),
            Messages::Table.into_iden(),
            Tickets::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
