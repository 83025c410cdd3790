use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_notes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The customer the note is about.
    pub user_id: i64,
    pub author_id: Option<i64>,
    pub text: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
