use sea_orm::entity::prelude::*;

/// The desk's staff group: a forum supergroup where each ticket gets a topic.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_forum")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_id: i64,
    pub title: String,
    /// The staff member who linked it.
    pub linked_by: i64,
    pub linked_at: DateTimeUtc,
    /// The group's language for the bot's posts: that of who linked it.
    pub language: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
