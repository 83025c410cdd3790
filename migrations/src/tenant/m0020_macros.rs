//! Macros: named actions staff apply to a ticket in one step (an answer
//! with placeholders, a status, a priority, tags, a team, taking it), and
//! saved views of the queue shared by the desk's staff.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Macros {
    Table,
    Id,
    Name,
    Reply,
    Status,
    Priority,
    /// A JSON array of tags to add.
    Tags,
    TeamId,
    AssignToMe,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SavedViews {
    Table,
    Id,
    Name,
    /// The queue's query string (`status=open&tag=vip`).
    Query,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Macros::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Macros::Id))
                    .col(string_len_uniq(Macros::Name, 64))
                    .col(text_null(Macros::Reply))
                    .col(string_len_null(Macros::Status, 32))
                    .col(string_len_null(Macros::Priority, 16))
                    .col(text(Macros::Tags).default("[]"))
                    .col(big_integer_null(Macros::TeamId))
                    .col(boolean(Macros::AssignToMe).default(false))
                    .col(timestamp_with_time_zone(Macros::CreatedAt))
                    .col(timestamp_with_time_zone(Macros::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SavedViews::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SavedViews::Id))
                    .col(string_len_uniq(SavedViews::Name, 64))
                    .col(text(SavedViews::Query))
                    .col(big_integer(SavedViews::CreatedBy))
                    .col(timestamp_with_time_zone(SavedViews::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SavedViews::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(Macros::Table).if_exists().to_owned()).await
    }
}
