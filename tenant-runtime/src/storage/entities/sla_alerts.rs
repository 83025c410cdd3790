use sea_orm::entity::prelude::*;

/// A reminder or escalation a ticket got (`first_response_reminder`,
/// `first_response_breach`, `resolution_reminder`, `resolution_breach`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
