use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ticket_id: i64,
    pub author_id: Option<i64>,
    pub author_role: String,
    pub text: String,
    pub internal: bool,
    pub telegram_message_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub edited_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    /// Its files as the API shows them: a JSON array of
    /// [`crate::storage::files::FileRef`] (unset: none).
    pub attachments: Option<String>,
    /// What the customer sent: `text`, or one of Telegram's other kinds
    /// (see [`crate::worker::incoming::Incoming`]); staff write `text`.
    pub kind: String,
    /// What the kind carries besides text and files, as JSON (see
    /// [`crate::worker::incoming::Details`]).
    pub details: Option<String>,
    /// The texts a customer's message had before their edits, oldest
    /// first: a JSON array of `{"text", "replaced_at"}`.
    pub revisions: Option<String>,
}

/// One text a message had before an edit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revision {
    pub text: String,
    pub replaced_at: chrono::DateTime<chrono::Utc>,
}

/// A message's stored revisions (unset or damaged: none).
pub fn revisions_of(stored: Option<&str>) -> Vec<Revision> {
    stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
