//! Self-serve signup: a desk opened by its future owner waits, unclaimed,
//! for the first `/start {code}` sent to its bot (the code is kept hashed,
//! with its expiry), and a trial's end and reminders are kept on the
//! tenant. `signups` is the operator's funnel: one row per signup, kept
//! after an unclaimed desk is removed, so "started" stays honest.
//! `signup_invites` holds the codes an operator hands out when signups are
//! by invitation (`TIKETHET_SIGNUP=invite`), hashed as well.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    ClaimCodeHash,
    ClaimExpiresAt,
    TrialEndsAt,
    TrialRemindedDays,
}

#[derive(DeriveIden)]
enum Signups {
    Table,
    Id,
    TenantId,
    Slug,
    BotUsername,
    StartedAt,
    ClaimedAt,
    RemovedAt,
    Invite,
}

#[derive(DeriveIden)]
enum SignupInvites {
    Table,
    CodeHash,
    Note,
    CreatedAt,
    UsedAt,
    UsedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for col in [
            string_len_null(Tenants::ClaimCodeHash, 64),
            timestamp_with_time_zone_null(Tenants::ClaimExpiresAt),
            timestamp_with_time_zone_null(Tenants::TrialEndsAt),
            small_integer_null(Tenants::TrialRemindedDays),
        ] {
            let mut col = col;
            manager.alter_table(Table::alter().table(Tenants::Table).add_column(&mut col).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Signups::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Signups::Id))
                    .col(string_len(Signups::TenantId, 40))
                    .col(string_len(Signups::Slug, 40))
                    .col(string_len(Signups::BotUsername, 64))
                    .col(timestamp_with_time_zone(Signups::StartedAt))
                    .col(timestamp_with_time_zone_null(Signups::ClaimedAt))
                    .col(timestamp_with_time_zone_null(Signups::RemovedAt))
                    .col(string_len_null(Signups::Invite, 64))
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("signups_by_time").table(Signups::Table).col(Signups::StartedAt).to_owned()).await?;
        manager.create_index(Index::create().name("signups_by_tenant").table(Signups::Table).col(Signups::TenantId).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(SignupInvites::Table)
                    .if_not_exists()
                    .col(string_len(SignupInvites::CodeHash, 64).primary_key())
                    .col(string_len(SignupInvites::Note, 200))
                    .col(timestamp_with_time_zone(SignupInvites::CreatedAt))
                    .col(timestamp_with_time_zone_null(SignupInvites::UsedAt))
                    .col(string_len_null(SignupInvites::UsedBy, 40))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SignupInvites::Table).if_exists().to_owned()).await?;
        manager.drop_table(Table::drop().table(Signups::Table).if_exists().to_owned()).await?;
        for col in [Tenants::TrialRemindedDays, Tenants::TrialEndsAt, Tenants::ClaimExpiresAt, Tenants::ClaimCodeHash] {
            manager.alter_table(Table::alter().table(Tenants::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
