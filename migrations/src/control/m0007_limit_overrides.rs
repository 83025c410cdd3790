//! The operator's overrides of a tenant's plan limits (JSON of
//! `tikethet_billing::Overrides`, checked before it is stored).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    LimitOverrides,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(text_null(Tenants::LimitOverrides)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::LimitOverrides).to_owned()).await
    }
}
