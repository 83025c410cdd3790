use sea_orm::entity::prelude::*;

/// Tickets per status, spread over shards (the count of a status is the
/// sum of its rows). Kept by triggers on `tickets` (see
/// `migrations/src/tenant/m0017_ticket_counts.rs`); never written here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
