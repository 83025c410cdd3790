//! The language a desk speaks to a customer whose Telegram gives none, or
//! one the desk does not speak (a BCP 47 tag: a built-in language or one the
//! desk added texts for); unset: English.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    DefaultLanguage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(string_len_null(Tenants::DefaultLanguage, 35)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::DefaultLanguage).to_owned()).await
    }
}
