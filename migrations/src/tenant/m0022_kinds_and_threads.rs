//! Messages of every kind Telegram sends, and the conversation's threads.
//!
//! A customer's voice note, sticker, location or contact is a message of
//! that kind (its files, if any, are attachments as before), with what the
//! kind carries that is not a file (coordinates, a venue's name, a phone
//! number, the name of a kind the desk cannot show) kept as JSON beside the
//! text. A bot message about a ticket (its opening, a status change, the
//! rating question) remembers the ticket, and the outbox is found by the
//! Telegram message it became, so that a customer's reply to it goes to
//! that ticket.
//!
//! Edits both ways: a customer's message is found by its Telegram id when
//! they edit it, the texts it had before kept (`revisions`, JSON); an
//! outbox row may edit or delete (`action`) a message sent before
//! (`target_message_id`) rather than send one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Kind,
    Details,
    Revisions,
    TelegramMessageId,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TicketId,
    ChatId,
    TelegramMessageId,
    Action,
    TargetMessageId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Messages::Table).add_column(text(Messages::Kind).default("text")).to_owned()).await?;
        manager.alter_table(Table::alter().table(Messages::Table).add_column(text_null(Messages::Details)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Messages::Table).add_column(text_null(Messages::Revisions)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).add_column(big_integer_null(Outbox::TicketId)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).add_column(text_null(Outbox::Action)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).add_column(big_integer_null(Outbox::TargetMessageId)).to_owned()).await?;
        super::index(manager, "idx_outbox_chat_telegram_message", Outbox::Table, vec![Outbox::ChatId.into_iden(), Outbox::TelegramMessageId.into_iden()]).await?;
        super::index(manager, "idx_messages_telegram_message", Messages::Table, vec![Messages::TelegramMessageId.into_iden()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_messages_telegram_message").table(Messages::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_outbox_chat_telegram_message").table(Outbox::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::TargetMessageId).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::Action).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::TicketId).to_owned()).await?;
        manager.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::Revisions).to_owned()).await?;
        manager.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::Details).to_owned()).await?;
        manager.alter_table(Table::alter().table(Messages::Table).drop_column(Messages::Kind).to_owned()).await
    }
}
