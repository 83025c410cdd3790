//! How many days after a ticket is resolved a customer's message reopens
//! it (later ones open a new ticket); unset: the default
//! (`tikethet_runtime::storage::tenant::DEFAULT_REOPEN_DAYS`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ReopenDays,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(integer_null(Tenants::ReopenDays)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::ReopenDays).to_owned()).await
    }
}
