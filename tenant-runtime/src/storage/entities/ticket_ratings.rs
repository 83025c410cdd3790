use sea_orm::entity::prelude::*;

/// A customer's rating (1 to 5) of a resolved ticket, and their comment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_ratings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: i64,
    pub customer_id: i64,
    pub rating: i16,
    pub comment: Option<String>,
    pub rated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
