use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "macros")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// The answer sent to the customer, with placeholders.
    pub reply: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    /// A JSON array of tags to add.
    pub tags: String,
    pub team_id: Option<i64>,
    pub assign_to_me: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
