use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub telegram_id: i64,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
    pub role: crate::domain::Role,
    pub blocked: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When Telegram last said this user blocked the bot; messages to them
    /// are not attempted until they write to the bot again.
    pub bot_blocked_at: Option<DateTimeUtc>,
    /// `/support` in progress: the next message opens a new ticket
    /// (`new`, or `category:<id>` in that category).
    pub support_pending: Option<String>,
    /// A staff member who is away: teams' rules pass them over.
    pub away: bool,
    /// Custom attributes (a JSON object of strings) set through the API.
    pub attributes: String,
    /// When they first wrote to the bot in a private chat: a bot may start
    /// a conversation only with someone who has.
    pub bot_started_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
