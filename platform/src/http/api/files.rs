//! Attachments over HTTP: `POST /t/{slug}/api/v1/uploads` takes a file
//! (multipart) for the caller's next ticket or message;
//! `GET /t/{slug}/api/v1/attachments/{id}` hands a file back to whoever may
//! see it, from the object store or, the first time, from Telegram.

use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json, Response};
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use tikethet_runtime::storage::entities::attachments;
use tikethet_runtime::storage::files::FileRef;

use crate::http::error::ApiError;
use super::{Tag, TenantAuth};
use crate::AppState;

/// A file as the API shows it.
#[derive(Debug, Clone, Object)]
pub struct AttachmentView {
    pub id: i64,
    /// The name it was sent with (paths and control characters removed).
    pub name: String,
    /// What the file is, judged by its content.
    pub content_type: String,
    /// Bytes (0 when Telegram did not say, until the file is first opened).
    pub size: i64,
    /// How Telegram carries it: `photo`, `document`, `voice`, `audio`,
    /// `video`, `video_note`, `animation` or `sticker`.
    pub kind: String,
}

impl From<FileRef> for AttachmentView {
    fn from(f: FileRef) -> Self {
        AttachmentView { id: f.id, name: f.name, content_type: f.content_type, size: f.size, kind: f.kind }
    }
}

impl From<&attachments::Model> for AttachmentView {
    fn from(a: &attachments::Model) -> Self {
        FileRef::from(a).into()
    }
}

#[derive(Debug, Multipart)]
pub struct UploadForm {
    /// The file: an image (JPEG, PNG, GIF, WebP), sound (an Ogg voice note,
    /// MP3, M4A, WAV, FLAC, AAC), a video (MP4, MOV, WebM) or a document
    /// (PDF, Office, OpenDocument, RTF, ZIP, plain text), up to the desk's
    /// plan limit. Ogg sound reaches the customer as a voice note, MP4 as
    /// a video.
    pub file: Upload,
}

#[derive(ApiResponse)]
pub enum Uploaded {
    /// Stored; send its `id` in `attachment_ids` with a ticket or message
    /// within a day.
    #[oai(status = 201)]
    Created(Json<AttachmentView>),
}

/// Largest request body of an upload: the largest plan's file limit and
/// room for the multipart framing.
pub const MAX_UPLOAD_BODY: usize = 50_000_000 + 64 * 1024;

pub struct FilesApi {
    pub state: AppState,
}

/// `Content-Disposition` for a name of any script: an ASCII fallback and
/// the exact name in RFC 6266's `filename*` (RFC 8187 encoding).
/// How a file is served (the API's route and the console's): its type,
/// and inline for photos, a download otherwise.
pub(crate) fn served_as(a: &attachments::Model) -> (String, String) {
    let inline = a.kind == attachments::PHOTO && a.content_type.starts_with("image/");
    (a.content_type.clone(), disposition(inline, &a.name))
}

fn disposition(inline: bool, name: &str) -> String {
    let ascii: String = name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20").replace('*', "%2A");
    format!("{}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}", if inline { "inline" } else { "attachment" })
}

#[OpenApi]
impl FilesApi {
    /// Upload a file
    ///
    /// `multipart/form-data` with one field, `file`. Its type is judged by
    /// its content, not its name: images, sound, video and documents are
    /// taken (415 for anything else), up to the desk's plan limit (413 beyond it). The file
    /// waits, visible only to its uploader, until it is sent with a ticket
    /// or message (`attachment_ids`); unsent files are removed after a day.
    #[oai(path = "/t/:slug/api/v1/uploads", method = "post", tag = "Tag::Files")]
    async fn upload(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, form: UploadForm) -> Result<Uploaded, ApiError> {
        let ctx = auth.0;
        let name = form.file.file_name().unwrap_or("file").to_owned();
        let bytes = form.file.into_vec().await.map_err(|e| ApiError::bad_request("invalid_request", format!("the upload could not be read: {e}")))?;
        let a = ctx.upload(&name, bytes).await?;
        Ok(Uploaded::Created(Json((&a).into())))
    }

    /// Download a file
    ///
    /// The bytes with their real type. Images are shown inline, documents
    /// are downloaded. Who may: the uploader of a file not yet sent, and
    /// anyone who can see the message it was sent with (customers never see
    /// the files of internal notes).
    #[oai(path = "/t/:slug/api/v1/attachments/:id", method = "get", tag = "Tag::Files")]
    async fn attachment(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "9007199254740991")))] id: Path<i64>,
        auth: TenantAuth,
    ) -> Result<Response<Binary<Vec<u8>>>, ApiError> {
        let ctx = auth.0;
        let (a, bytes) = ctx.attachment(id.0).await?;
        let (content_type, disposition) = served_as(&a);
        Ok(Response::new(Binary(bytes))
            .header("Content-Type", content_type)
            .header("Content-Disposition", disposition)
            // The type is ours to say; a file never runs as a page here.
            .header("X-Content-Type-Options", "nosniff")
            .header("Content-Security-Policy", "default-src 'none'; sandbox")
            .header("Cache-Control", "private, max-age=3600"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_carry_any_name_safely() {
        assert_eq!(disposition(true, "cat.png"), "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png");
        assert_eq!(disposition(false, "счёт 1.pdf"), "attachment; filename=\"____ 1.pdf\"; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82%201.pdf");
        assert!(poem::http::HeaderValue::from_str(&disposition(false, "a\"b;c\\d.txt")).is_ok());
    }
}
