//! Attachments: files uploaded through the API (kept in the object store)
//! and files customers send the bot (kept by Telegram's `file_id`, copied to
//! the object store the first time someone opens them). A message carries a
//! summary of its files; the outbox row of a file names it.

use sea_orm_migration::{prelude::*, schema::*};

use super::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Attachments {
    Table,
    Id,
    UploaderId,
    MessageId,
    Name,
    ContentType,
    Size,
    Kind,
    ObjectKey,
    TelegramFileId,
    TelegramFileUniqueId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Attachments,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AttachmentId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Attachments::Id))
                    .col(big_integer(Attachments::UploaderId))
                    // Unset while an upload waits for its ticket or message.
                    .col(big_integer_null(Attachments::MessageId))
                    .col(string_len(Attachments::Name, 255))
                    .col(string_len(Attachments::ContentType, 127))
                    .col(big_integer(Attachments::Size))
                    .col(string_len(Attachments::Kind, 16))
                    .col(string_len_null(Attachments::ObjectKey, 255))
                    .col(text_null(Attachments::TelegramFileId))
                    .col(text_null(Attachments::TelegramFileUniqueId))
                    .col(timestamp_with_time_zone(Attachments::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_attachments_message", Attachments::Table, vec![Attachments::MessageId.into_iden()]).await?;
        index(manager, "idx_attachments_pending", Attachments::Table, vec![Attachments::UploaderId.into_iden(), Attachments::CreatedAt.into_iden()]).await?;
        // What the API shows of a message's files (JSON), so that listing a
        // conversation needs no join.
        manager.alter_table(Table::alter().table(Messages::Table).add_column(text_null(Messages::Attachments)).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).add_column(big_integer_null(Outbox::AttachmentId)).to_owned()).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("m0006_attachments cannot be undone".into()))
    }
}
