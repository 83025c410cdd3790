//! A tenant's own host name, answered without the `/t/{slug}` prefix; one
//! tenant per domain (a unique index).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    CustomDomain,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tenants::Table).add_column(text_null(Tenants::CustomDomain)).to_owned()).await?;
        manager
            .create_index(
                Index::create().if_not_exists().name("uniq_tenants_custom_domain").table(Tenants::Table).col(Tenants::CustomDomain).unique().to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("uniq_tenants_custom_domain").table(Tenants::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Tenants::Table).drop_column(Tenants::CustomDomain).to_owned()).await
    }
}
