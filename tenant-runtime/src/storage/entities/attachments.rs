use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uploader_id: i64,
    /// Unset while an upload waits to be sent with a ticket or message.
    pub message_id: Option<i64>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// How Telegram carries it: `photo`, `document`, `voice`, `audio`,
    /// `video`, `video_note`, `animation` or `sticker` (see [`KINDS`]).
    pub kind: String,
    /// Where the bytes are in the object store, once they are there.
    pub object_key: Option<String>,
    /// Telegram's handle on the file: set for files a customer sent the bot,
    /// and for uploads once Telegram has them (resent without uploading).
    pub telegram_file_id: Option<String>,
    pub telegram_file_unique_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const PHOTO: &str = "photo";
pub const DOCUMENT: &str = "document";
pub const VOICE: &str = "voice";
pub const AUDIO: &str = "audio";
pub const VIDEO: &str = "video";
pub const VIDEO_NOTE: &str = "video_note";
pub const ANIMATION: &str = "animation";
pub const STICKER: &str = "sticker";
/// Every kind, each the name of the Bot API's field (and of its `send…`
/// method's file parameter).
pub const KINDS: [&str; 8] = [PHOTO, DOCUMENT, VOICE, AUDIO, VIDEO, VIDEO_NOTE, ANIMATION, STICKER];

/// Whether a file of this kind plays (audio or video) rather than opens.
pub fn plays(kind: &str) -> bool {
    matches!(kind, VOICE | AUDIO | VIDEO | VIDEO_NOTE | ANIMATION)
}
