use sea_orm::entity::prelude::*;

/// One staff or admin action on the desk (see `crate::desk::audit`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// Who did it (a user of the desk); `None`: the desk itself.
    pub actor_id: Option<i64>,
    /// `ticket.status`, `person.role`, … (see `crate::desk::audit`).
    pub action: String,
    pub ticket_id: Option<i64>,
    /// What changed, in words.
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
