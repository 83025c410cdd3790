use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plugins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub component: Vec<u8>,
    pub hash: String,
    pub version: String,
    pub config: String,
    pub kv: String,
    pub enabled: bool,
    pub position: i32,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub invocations: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
