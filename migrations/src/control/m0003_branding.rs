//! A tenant's brand over its theme (colours, radius, font, logo), as JSON
//! checked by `tikethet_themes::branding` before it is stored.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Branding,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(text_null(Tenants::Branding)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::Branding).to_owned()).await
    }
}
