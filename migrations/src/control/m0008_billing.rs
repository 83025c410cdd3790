//! Billing in the control plane: each tenant's Stripe customer and
//! subscription as the webhooks last told it, and every Stripe event
//! received (its id recorded so that each is processed once).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BillingAccounts {
    Table,
    TenantId,
    StripeCustomerId,
    StripeSubscriptionId,
    SubscriptionStatus,
    StateAt,
    UnpaidSince,
    SuspendedByBilling,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    Kind,
    Created,
    TenantId,
    Outcome,
    Payload,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingAccounts::Table)
                    .if_not_exists()
                    .col(string_len(BillingAccounts::TenantId, 40).primary_key())
                    .col(string_len_null(BillingAccounts::StripeCustomerId, 255).unique_key())
                    .col(string_len_null(BillingAccounts::StripeSubscriptionId, 255))
                    .col(string_len_null(BillingAccounts::SubscriptionStatus, 32))
                    // `created` of the newest subscription event applied:
                    // an older one arriving later changes nothing.
                    .col(big_integer_null(BillingAccounts::StateAt))
                    .col(timestamp_with_time_zone_null(BillingAccounts::UnpaidSince))
                    .col(boolean(BillingAccounts::SuspendedByBilling).default(false))
                    .col(timestamp_with_time_zone(BillingAccounts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .if_not_exists()
                    .col(string_len(StripeEvents::Id, 255).primary_key())
                    .col(string_len(StripeEvents::Kind, 100))
                    .col(big_integer(StripeEvents::Created))
                    .col(string_len_null(StripeEvents::TenantId, 40))
                    .col(text(StripeEvents::Outcome))
                    .col(text(StripeEvents::Payload))
                    .col(timestamp_with_time_zone(StripeEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("stripe_events_by_tenant").table(StripeEvents::Table).col(StripeEvents::TenantId).col(StripeEvents::Created).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(StripeEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(BillingAccounts::Table).to_owned()).await
    }
}
