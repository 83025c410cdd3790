//! Attachments' bytes and what they are: the object store they live in
//! (local files under the data folder by default, any S3-compatible store
//! when configured), what a file really is (judged by its content, never by
//! its name or the type a client declares), and what the API shows of one.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path as StorePath;

use crate::storage::entities::attachments;

/// Where attachments' bytes are kept; cheap to clone.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
    /// For logs and errors: where the store is, without credentials.
    place: String,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files").field("place", &self.place).finish()
    }
}

impl Files {
    /// Files in a local folder (created when missing).
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Files> {
        use anyhow::Context as _;
        std::fs::create_dir_all(dir).with_context(|| format!("failed to create the attachments folder {}", dir.display()))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("failed to open the attachments folder {}", dir.display()))?;
        Ok(Files { store: Arc::new(store), place: dir.display().to_string() })
    }

    /// A store named by a URL: `file:///absolute/folder`, or
    /// `s3://bucket[/prefix]` with the credentials, region and endpoint (for
    /// S3-compatible stores) from the standard `AWS_*` environment variables.
    pub fn from_url(url: &str) -> anyhow::Result<Files> {
        use anyhow::{Context as _, bail};
        let parsed = url::Url::parse(url).with_context(|| format!("not a URL: {url:?}"))?;
        match parsed.scheme() {
            "file" => {
                let path = parsed.to_file_path().map_err(|_| anyhow::anyhow!("a file: URL needs an absolute path (got {url:?})"))?;
                Files::local(&path)
            }
            "s3" => {
                let bucket = parsed.host_str().filter(|b| !b.is_empty()).context("an s3: URL names its bucket: s3://bucket/prefix")?;
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .with_context(|| format!("the S3 store s3://{bucket} is not configured (AWS_* environment variables)"))?;
                let prefix = parsed.path().trim_matches('/');
                let place = format!("s3://{bucket}/{prefix}");
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
                };
                Ok(Files { store, place })
            }
            other => bail!("attachments can be kept in file: or s3: stores, not {other}: ({url:?})"),
        }
    }

    pub fn place(&self) -> &str {
        &self.place
    }

    /// A fresh key for a tenant's file: `{tenant}/{random}`.
    pub fn new_key(tenant: &crate::domain::TenantId) -> String {
        format!("{}/{}", tenant.as_str(), crate::domain::random_hex(16))
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        use anyhow::Context as _;
        self.store.put(&StorePath::from(key), bytes.into()).await.with_context(|| format!("failed to store a file in {}", self.place))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        use anyhow::Context as _;
        let got = self.store.get(&StorePath::from(key)).await.with_context(|| format!("failed to read a file from {}", self.place))?;
        Ok(got.bytes().await.with_context(|| format!("failed to read a file from {}", self.place))?.to_vec())
    }

    /// Removes every file of a tenant (its keys are `{tenant}/…`), for its
    /// erasure; returns how many went. Safe to repeat: a retry removes what
    /// a failed try left.
    pub async fn delete_tenant(&self, tenant: &crate::domain::TenantId) -> anyhow::Result<usize> {
        use anyhow::Context as _;
        use futures::{StreamExt as _, TryStreamExt as _};
        let prefix = StorePath::from(tenant.as_str());
        let keys: Vec<StorePath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .with_context(|| format!("failed to list the files of tenant {} in {}", tenant.as_str(), self.place))?;
        let n = keys.len();
        // Sixteen at a time: an S3 delete is a round trip each. The futures
        // own what they use (a future borrowing `self` inside a stream is not
        // `Send` for every lifetime, which the HTTP handlers need).
        let gone = keys.into_iter().map(|key| {
            let store = self.store.clone();
            async move {
                match store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        });
        futures::stream::iter(gone)
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await
            .with_context(|| format!("failed to remove the files of tenant {} from {}", tenant.as_str(), self.place))?;
        Ok(n)
    }

    /// Removes a file; one already gone is fine.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        use anyhow::Context as _;
        match self.store.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("failed to remove a file from {}", self.place)),
        }
    }
}

/// What a file is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub content_type: &'static str,
    /// [`attachments::PHOTO`], [`attachments::DOCUMENT`],
    /// [`attachments::VOICE`], [`attachments::AUDIO`] or [`attachments::VIDEO`].
    pub kind: &'static str,
}

/// Images Telegram shows as photos.
const IMAGES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
/// Documents a support desk takes: PDF, Office and OpenDocument files, ZIP
/// archives, and plain text (which has no signature: see [`sniff`]).
const DOCUMENTS: &[&str] = &[
    "application/pdf",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/rtf",
];

/// Sound and video Telegram plays, by what `infer` reads and the type a
/// browser plays it as, with how Telegram sends it: Opus in Ogg is a voice
/// note, other sound an audio file, MPEG-4 and WebM a video.
const MEDIA: &[(&str, &str, &str)] = &[
    ("audio/opus", "audio/ogg", attachments::VOICE),
    ("audio/ogg", "audio/ogg", attachments::VOICE),
    ("audio/mpeg", "audio/mpeg", attachments::AUDIO),
    ("audio/m4a", "audio/mp4", attachments::AUDIO),
    ("audio/x-wav", "audio/wav", attachments::AUDIO),
    ("audio/x-flac", "audio/flac", attachments::AUDIO),
    ("audio/aac", "audio/aac", attachments::AUDIO),
    ("video/mp4", "video/mp4", attachments::VIDEO),
    ("video/x-m4v", "video/mp4", attachments::VIDEO),
    ("video/quicktime", "video/quicktime", attachments::VIDEO),
    ("video/webm", "video/webm", attachments::VIDEO),
];

/// What the desk accepts, for error messages.
pub const ACCEPTED: &str = "images (JPEG, PNG, GIF, WebP), sound (Ogg voice notes, MP3, M4A, WAV, FLAC, AAC), video (MP4, MOV, WebM) and documents (PDF, Word, Excel, PowerPoint, OpenDocument, RTF, ZIP, plain text)";

/// Judges a file by its bytes: a known signature of an accepted type, or
/// UTF-8 text without control characters. Anything else (executables,
/// HTML, SVG with script, unknown binaries) is refused with what it looked like.
pub fn sniff(bytes: &[u8]) -> Result<Sniffed, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if let Some(t) = infer::get(bytes) {
        let mime = t.mime_type();
        if let Some(m) = IMAGES.iter().find(|m| **m == mime) {
            return Ok(Sniffed { content_type: m, kind: attachments::PHOTO });
        }
        if let Some(m) = DOCUMENTS.iter().find(|m| **m == mime) {
            return Ok(Sniffed { content_type: m, kind: attachments::DOCUMENT });
        }
        if let Some((_, served, kind)) = MEDIA.iter().find(|(m, _, _)| *m == mime) {
            return Ok(Sniffed { content_type: served, kind });
        }
        // infer reads some text formats too (HTML, XML, shell scripts):
        // those are refused, not taken as plain text.
        return Err(format!("files of type {mime} are not accepted; the desk takes {ACCEPTED}"));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')) => {
            Ok(Sniffed { content_type: "text/plain; charset=utf-8", kind: attachments::DOCUMENT })
        }
        _ => Err(format!("this file's type is not recognised; the desk takes {ACCEPTED}")),
    }
}

/// A file's name as given, made safe to store and to send back in a
/// `Content-Disposition`: its last path component, without control
/// characters, quotes or backslashes, at most 200 characters; "file" when
/// nothing is left.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\\')).collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    let short: String = trimmed.chars().take(200).collect();
    if short.trim().is_empty() { "file".to_owned() } else { short.trim().to_owned() }
}

/// What the API shows of an attachment; a message keeps a list of these.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRef {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub kind: String,
}

impl From<&attachments::Model> for FileRef {
    fn from(a: &attachments::Model) -> Self {
        FileRef { id: a.id, name: a.name.clone(), content_type: a.content_type.clone(), size: a.size, kind: a.kind.clone() }
    }
}

/// A message's stored file list (unset or damaged: none).
pub fn refs_of(stored: Option<&str>) -> Vec<FileRef> {
    stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

/// Uploads one person may have waiting to be sent at once.
pub const MAX_WAITING_UPLOADS: u64 = 20;

/// Telegram hands bots files up to this size through `getFile`
/// (<https://core.telegram.org/bots/api#getfile>).
pub const TELEGRAM_DOWNLOAD_LIMIT: u64 = 20 * 1024 * 1024;

/// A size for people: bytes, KB or MB (powers of 1024, one decimal).
pub fn human_size(n: u64) -> String {
    const K: f64 = 1024.0;
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{:.1} KB", n as f64 / K),
        n => format!("{:.1} MB", n as f64 / (K * K)),
    }
}

impl crate::Runtime {
    /// A file's bytes: from the object store, or (a file a customer sent the
    /// bot, opened for the first time) from Telegram, judged by content and
    /// kept in the store for next time.
    pub(crate) async fn file_bytes(&self, tenant: &crate::Tenant, a: attachments::Model) -> crate::Result<(attachments::Model, Vec<u8>)> {
        use crate::RuntimeError;
        if let Some(key) = &a.object_key {
            let bytes = self.inner.files.get(key).await?;
            return Ok((a, bytes));
        }
        let file_id = a.telegram_file_id.clone().ok_or(RuntimeError::NotFound("file"))?;
        let bytes = crate::outbound::telegram::download(&self.inner.out.http, &self.inner.out.telegram_api_url, &tenant.info.bot_token, &file_id, TELEGRAM_DOWNLOAD_LIMIT)
            .await
            .map_err(|e| RuntimeError::Upstream(format!("Telegram did not hand over this file: {e}")))?;
        // What the customer's client declared is replaced by what the bytes
        // are; a type the desk does not take is served as a plain download.
        // A voice note, video or sticker stays that kind (Telegram said what
        // it is), with its type read from the bytes where `infer` knows it;
        // stickers Telegram makes (animated `.tgs`, gzipped) keep the
        // declared type, served as a download.
        let (content_type, kind) = match (sniff(&bytes), a.kind.as_str()) {
            (Ok(s), attachments::PHOTO | attachments::DOCUMENT) => (s.content_type.to_owned(), s.kind.to_owned()),
            (Ok(s), kind) if s.kind != attachments::DOCUMENT => (s.content_type.to_owned(), kind.to_owned()),
            (_, attachments::PHOTO | attachments::DOCUMENT) => ("application/octet-stream".to_owned(), attachments::DOCUMENT.to_owned()),
            (_, kind) => ("application/octet-stream".to_owned(), kind.to_owned()),
        };
        let key = Files::new_key(&tenant.info.id);
        self.inner.files.put(&key, bytes.clone()).await?;
        let txn = tenant.db.begin().await?;
        let mut am: attachments::ActiveModel = a.into();
        am.object_key = sea_orm::Set(Some(key));
        am.content_type = sea_orm::Set(content_type);
        am.kind = sea_orm::Set(kind);
        am.size = sea_orm::Set(bytes.len() as i64);
        let a = sea_orm::ActiveModelTrait::update(am, &txn).await?;
        txn.commit().await?;
        Ok((a, bytes))
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R'];
    /// The first page of an Ogg stream holding Opus: what a voice note starts with.
    const OGG_OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0";
    /// An MPEG-4 file's first box.
    const MP4: &[u8] = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";

    #[test]
    fn types_are_judged_by_content_not_name() {
        assert_eq!(sniff(PNG).unwrap(), Sniffed { content_type: "image/png", kind: attachments::PHOTO });
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0").unwrap().content_type, "image/jpeg");
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n").unwrap(), Sniffed { content_type: "application/pdf", kind: attachments::DOCUMENT });
        assert_eq!(sniff("Привет, support!\r\n\tline two".as_bytes()).unwrap().content_type, "text/plain; charset=utf-8");
        // An executable, an HTML page and a binary with no signature are refused.
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert!(sniff(&elf).unwrap_err().contains("application/x-executable"));
        assert!(sniff(b"MZ\x90\0\x03\0\0\0").is_err());
        assert!(sniff(b"<!DOCTYPE html><html><script>alert(1)</script>").unwrap_err().contains("text/html"));
        assert!(sniff(b"text with a \x00 NUL").unwrap_err().contains("not recognised"));
        assert!(sniff(&[0xde, 0xad, 0xbe, 0xef, 0xff, 0xfe]).is_err());
        assert_eq!(sniff(b"").unwrap_err(), "the file is empty");
    }

    #[test]
    fn voice_notes_sound_and_video_are_recognised() {
        assert_eq!(sniff(OGG_OPUS).unwrap(), Sniffed { content_type: "audio/ogg", kind: attachments::VOICE });
        assert_eq!(sniff(MP4).unwrap(), Sniffed { content_type: "video/mp4", kind: attachments::VIDEO });
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0").unwrap(), Sniffed { content_type: "audio/mpeg", kind: attachments::AUDIO });
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MB");
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(clean_name("a\"b\r\nc.png"), "abc.png");
        assert_eq!(clean_name("  .hidden  "), "hidden");
        assert_eq!(clean_name("/"), "file");
        assert_eq!(clean_name(&"я".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn id_lists_are_bounded_and_without_repeats() {
        assert!(crate::domain::check_ids(&[1, 2, 3]).is_ok());
        assert!(crate::domain::check_ids(&[1, 2, 1]).unwrap_err().to_string().contains("twice"));
        assert!(crate::domain::check_ids(&(0..11).collect::<Vec<_>>()).unwrap_err().to_string().contains("at most 10"));
        assert!(crate::domain::check_ids(&(0..10).collect::<Vec<_>>()).is_ok());
    }

    #[test]
    fn stored_refs_read_back_and_damage_means_none() {
        let r = FileRef { id: 3, name: "a.png".into(), content_type: "image/png".into(), size: 9, kind: "photo".into() };
        let stored = serde_json::to_string(&vec![r.clone()]).unwrap();
        assert_eq!(refs_of(Some(&stored)), vec![r]);
        assert!(refs_of(Some("{broken")).is_empty());
        assert!(refs_of(None).is_empty());
    }

    #[tokio::test]
    async fn local_store_round_trips_and_deletes_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::from_url(&format!("file://{}", dir.path().join("f").display())).unwrap();
        files.put("tnt_1/abc", b"hello".to_vec()).await.unwrap();
        assert_eq!(files.get("tnt_1/abc").await.unwrap(), b"hello");
        assert_eq!(std::fs::read(dir.path().join("f/tnt_1/abc")).unwrap(), b"hello", "kept as a file under the folder");
        files.delete("tnt_1/abc").await.unwrap();
        files.delete("tnt_1/abc").await.unwrap();
        assert!(files.get("tnt_1/abc").await.is_err());
        assert!(Files::from_url("ftp://x/y").unwrap_err().to_string().contains("file: or s3:"));
        assert!(Files::from_url("file://relative").is_err() || Files::from_url("file:relative").is_err());
    }
}
