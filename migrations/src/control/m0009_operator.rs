//! What the operator's dashboard reads beyond the tenants: each change of a
//! tenant's monthly recurring revenue (MRR and its movements are sums of
//! these), and an audit of the operator's actions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MrrChanges {
    Table,
    Id,
    TenantId,
    At,
    Plan,
    BeforeCents,
    AfterCents,
    Currency,
    Cause,
}

#[derive(DeriveIden)]
enum OperatorAudit {
    Table,
    Id,
    At,
    Actor,
    Action,
    TenantSlug,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MrrChanges::Table)
                    .if_not_exists()
                    .col(big_pk_auto(MrrChanges::Id))
                    .col(string_len(MrrChanges::TenantId, 40))
                    .col(timestamp_with_time_zone(MrrChanges::At))
                    .col(string_len(MrrChanges::Plan, 40))
                    .col(big_integer(MrrChanges::BeforeCents))
                    .col(big_integer(MrrChanges::AfterCents))
                    .col(string_len(MrrChanges::Currency, 3))
                    // The Stripe event that made the change.
                    .col(string_len(MrrChanges::Cause, 255))
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("mrr_changes_by_time").table(MrrChanges::Table).col(MrrChanges::At).to_owned()).await?;
        manager
            .create_index(Index::create().name("mrr_changes_by_tenant").table(MrrChanges::Table).col(MrrChanges::TenantId).col(MrrChanges::At).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OperatorAudit::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OperatorAudit::Id))
                    .col(timestamp_with_time_zone(OperatorAudit::At))
                    // `dashboard` or `api`.
                    .col(string_len(OperatorAudit::Actor, 20))
                    .col(string_len(OperatorAudit::Action, 40))
                    .col(string_len_null(OperatorAudit::TenantSlug, 40))
                    .col(text(OperatorAudit::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("operator_audit_by_tenant").table(OperatorAudit::Table).col(OperatorAudit::TenantSlug).col(OperatorAudit::At).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OperatorAudit::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(MrrChanges::Table).to_owned()).await
    }
}
