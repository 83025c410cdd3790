//! Desks' own domains, self-served: a desk asks for a domain and gets a
//! token to publish as a DNS TXT record (`_tikethet.{domain}`); the domain
//! is routed (`tenants.custom_domain`) only once the record holds, and it is
//! checked again every day. One row per desk (a desk has one domain): its
//! token, its state (`pending`, `verified`, `failing`, `removed` after
//! failing checks, `revoked` by the operator), the last check and its
//! error, and how many checks in a row have failed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustomDomains {
    Table,
    TenantId,
    Domain,
    Token,
    Status,
    RequestedAt,
    VerifiedAt,
    CheckedAt,
    Failures,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomDomains::Table)
                    .if_not_exists()
                    .col(string_len(CustomDomains::TenantId, 40).primary_key())
                    .col(string_len(CustomDomains::Domain, 253))
                    .col(string_len(CustomDomains::Token, 64))
                    .col(string_len(CustomDomains::Status, 16))
                    .col(timestamp_with_time_zone(CustomDomains::RequestedAt))
                    .col(timestamp_with_time_zone_null(CustomDomains::VerifiedAt))
                    .col(timestamp_with_time_zone_null(CustomDomains::CheckedAt))
                    .col(integer(CustomDomains::Failures).default(0))
                    .col(string_len_null(CustomDomains::LastError, 300))
                    .to_owned(),
            )
            .await?;
        // Not unique: a desk's unproven request must not block the domain's
        // real owner; only a routed domain is unique (tenants.custom_domain).
        manager.create_index(Index::create().name("custom_domains_by_domain").table(CustomDomains::Table).col(CustomDomains::Domain).to_owned()).await?;
        manager.create_index(Index::create().name("custom_domains_by_check").table(CustomDomains::Table).col(CustomDomains::Status).col(CustomDomains::CheckedAt).to_owned()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CustomDomains::Table).to_owned()).await
    }
}
