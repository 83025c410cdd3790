use sea_orm::entity::prelude::*;

/// A desk's API key (see `crate::auth::keys`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// The key's public part, which finds it.
    #[sea_orm(unique)]
    pub prefix: String,
    /// SHA-256 of the secret part, hex.
    pub secret_hash: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// The staff member it acts for.
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
