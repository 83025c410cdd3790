//! A tenant's own versions of the bot's texts, per language (JSON checked by
//! `tikethet_themes::Renderer::check_texts` before it is stored).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    BotTexts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(text_null(Tenants::BotTexts)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::BotTexts).to_owned()).await
    }
}
