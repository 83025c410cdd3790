//! A tenant's service-level policy (JSON of
//! `tikethet_runtime::desk::sla::SlaPolicy`, checked before it is stored),
//! beside its other settings, so every node knows which desks to watch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Sla,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(text_null(Tenants::Sla)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::Sla).to_owned()).await
    }
}
