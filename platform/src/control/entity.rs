//! The control plane's `tenants` table (see `migrations/src/control`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub theme: String,
    /// The tenant's brand over its theme (JSON of `tikethet_themes::branding::Branding`).
    pub branding: Option<String>,
    /// The tenant's own host name, if any (unique).
    #[sea_orm(unique)]
    pub custom_domain: Option<String>,
    /// The tenant's own bot texts (JSON of `tikethet_themes::BotTexts`).
    pub bot_texts: Option<String>,
    /// The operator's overrides of the plan's limits (JSON of `tikethet_billing::Overrides`).
    pub limit_overrides: Option<String>,
    /// The desk's service-level policy (JSON of `tikethet_runtime::desk::sla::SlaPolicy`).
    pub sla: Option<String>,
    /// Days after resolution in which a customer's message reopens a
    /// ticket (unset: `tikethet_runtime::storage::tenant::DEFAULT_REOPEN_DAYS`).
    pub reopen_days: Option<i32>,
    pub default_language: Option<String>,
    pub bot_id: i64,
    pub bot_username: String,
    /// Sealed with the master key.
    pub bot_token_enc: String,
    #[sea_orm(unique)]
    pub webhook_route: String,
    /// Sealed with the master key.
    pub webhook_secret_enc: String,
    pub owner_telegram_id: i64,
    #[sea_orm(unique)]
    pub storage_name: String,
    pub schema_version: Option<String>,
    /// An unclaimed desk's claim code (SHA-256, hex) and when it expires
    /// (see `control::signup`); `None` once claimed or for the operator's.
    pub claim_code_hash: Option<String>,
    pub claim_expires_at: Option<DateTimeUtc>,
    /// The end of the desk's trial, while it has one.
    pub trial_ends_at: Option<DateTimeUtc>,
    /// The last trial reminder sent, in days before its end (3, then 1).
    pub trial_reminded_days: Option<i16>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
