use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub customer_id: i64,
    pub title: String,
    pub description: String,
    pub status: crate::domain::TicketStatus,
    pub priority: crate::domain::Priority,
    pub category_id: Option<i64>,
    pub assignee_id: Option<i64>,
    /// The team the ticket is given to (`teams`).
    pub team_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub first_response_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    /// The ticket's topic in the desk's staff group (`message_thread_id`),
    /// once the sender made it. Not part of what clients see.
    #[serde(skip)]
    pub forum_topic_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
