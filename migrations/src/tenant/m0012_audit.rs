//! The desk's audit log: who did what to tickets, people, categories,
//! answers, the staff group and broadcasts, and when. Also the desk's
//! status history where analytics needs it (a ticket reopened).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    Action,
    TicketId,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(big_integer_null(AuditLog::ActorId))
                    .col(string_len(AuditLog::Action, 64))
                    .col(big_integer_null(AuditLog::TicketId))
                    .col(text(AuditLog::Detail))
                    .to_owned(),
            )
            .await?;
        super::index(manager, "idx_audit_action_at", AuditLog::Table, vec![AuditLog::Action.into_iden(), AuditLog::At.into_iden()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditLog::Table).if_exists().to_owned()).await
    }
}
