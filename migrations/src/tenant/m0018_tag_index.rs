//! Tickets by tag: the list filters by a tag (`?tag=`) and the desk's tags
//! are counted by name, so the tag comes first in an index of its own (the
//! primary key starts with the ticket).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TicketTags {
    Table,
    TicketId,
    Tag,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::index(manager, "idx_ticket_tags_tag", TicketTags::Table, vec![TicketTags::Tag.into_iden(), TicketTags::TicketId.into_iden()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_ticket_tags_tag").table(TicketTags::Table).to_owned()).await
    }
}
