//! The Bot API calls the runtime makes while holding a lane's permits
//! (`sendMessage`, `sendPhoto`, `sendDocument` and the other kinds' `send…`,
//! `answerCallbackQuery`) and
//! file downloads (`getFile`), made directly as the
//! documentation describes (<https://core.telegram.org/bots/api#making-requests>):
//! a JSON body, an answer `{"ok", "result"}` or `{"ok": false, "error_code",
//! "description", "parameters": {"retry_after"}}`.
//!
//! The requests are teloxide's payload types (the documented parameters,
//! typed: [`Method`]), sent by this client rather than teloxide's, whose
//! request path sleeps 10 s after any 5xx before it returns: a lane would
//! hold its permits through that sleep. Here every wait is the caller's to
//! schedule, without permits.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::BotToken;

/// How long one call may take before it counts as a network failure.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// No answer (connection refused, timeout, a body that is not Telegram's).
    Network(String),
    /// Telegram answered `ok: false`.
    Refused { code: u16, description: String, retry_after: Option<u64> },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Network(e) => write!(f, "network error: {e}"),
            CallError::Refused { code, description, .. } => write!(f, "{code} {description}"),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
}

/// A Bot API request: one of teloxide's payload types, with its method's
/// name as the documentation spells it (teloxide's own `Payload::NAME` is
/// capitalised; Telegram takes either, a strict peer may not).
pub trait Method: teloxide::requests::Payload + Serialize {
    const METHOD: &'static str;
}

macro_rules! methods {
    ($($payload:ident => $name:literal),+ $(,)?) => {
        $(impl Method for teloxide::payloads::$payload {
            const METHOD: &'static str = $name;
        })+
    };
}

methods!(
    SendMessage => "sendMessage",
    SendPhoto => "sendPhoto",
    SendDocument => "sendDocument",
    SendVoice => "sendVoice",
    SendAudio => "sendAudio",
    SendVideo => "sendVideo",
    SendVideoNote => "sendVideoNote",
    SendAnimation => "sendAnimation",
    SendSticker => "sendSticker",
    AnswerCallbackQuery => "answerCallbackQuery",
    EditMessageReplyMarkup => "editMessageReplyMarkup",
    EditMessageText => "editMessageText",
    DeleteMessage => "deleteMessage",
    CreateForumTopic => "createForumTopic",
    EditForumTopic => "editForumTopic",
    CloseForumTopic => "closeForumTopic",
    ReopenForumTopic => "reopenForumTopic",
    GetFile => "getFile",
);

fn url_of(api: &url::Url, token: &BotToken, method: &str) -> String {
    format!("{}/bot{}/{method}", api.as_str().trim_end_matches('/'), token.expose())
}

/// Calls one Bot API method with a JSON body; returns its `result`.
pub async fn call<M: Method>(http: &reqwest::Client, api: &url::Url, token: &BotToken, request: &M) -> Result<Value, CallError> {
    let res = http.post(url_of(api, token, M::METHOD)).json(request).timeout(CALL_TIMEOUT).send().await.map_err(|e| CallError::Network(e.without_url().to_string()))?;
    answer(res).await
}

/// Reads Telegram's answer to a call.
async fn answer(res: reqwest::Response) -> Result<Value, CallError> {
    let status = res.status().as_u16();
    let text = res.text().await.map_err(|e| CallError::Network(e.without_url().to_string()))?;
    let answer: Answer = match serde_json::from_str(&text) {
        Ok(a) => a,
        // A proxy's HTML error page, say: Telegram did not answer.
        Err(_) => return Err(CallError::Network(format!("HTTP {status} without a Bot API answer"))),
    };
    if answer.ok {
        return Ok(answer.result);
    }
    Err(CallError::Refused {
        code: answer.error_code.unwrap_or(status),
        description: answer.description.unwrap_or_else(|| format!("HTTP {status}")),
        retry_after: answer.parameters.and_then(|p| p.retry_after),
    })
}

/// Calls a method with a file upload (`multipart/form-data`, as the
/// documentation's "sending files" describes): the file as the part
/// `field` (whatever the request holds there is left out), the request's
/// other parameters as text parts, objects among them JSON-serialized.
pub async fn call_with_file<M: Method>(
    http: &reqwest::Client,
    api: &url::Url,
    token: &BotToken,
    request: &M,
    field: &str,
    file: (String, String, Vec<u8>),
) -> Result<Value, CallError> {
    let (name, content_type, bytes) = file;
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name).mime_str(&content_type).map_err(|e| CallError::Network(e.to_string()))?;
    let mut form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let Ok(Value::Object(params)) = serde_json::to_value(request) else {
        return Err(CallError::Network(format!("{} could not be written as parameters", M::METHOD)));
    };
    for (k, v) in params {
        if k != field {
            form = form.text(k, match v {
                Value::String(s) => s,
                other => other.to_string(),
            });
        }
    }
    let url = url_of(api, token, M::METHOD);
    // Uploads take longer than a text.
    let res = http.post(url).multipart(form).timeout(CALL_TIMEOUT * 4).send().await.map_err(|e| CallError::Network(e.without_url().to_string()))?;
    answer(res).await
}

/// Downloads a file Telegram holds for the bot: `getFile`, then
/// `{api}/file/bot{token}/{file_path}` (<https://core.telegram.org/bots/api#getfile>).
/// Files over `limit` bytes are refused before they are fetched.
pub async fn download(http: &reqwest::Client, api: &url::Url, token: &BotToken, file_id: &str, limit: u64) -> Result<Vec<u8>, CallError> {
    let file = call(http, api, token, &teloxide::payloads::GetFile::new(teloxide::types::FileId(file_id.to_owned()))).await?;
    if file.get("file_size").and_then(Value::as_u64).is_some_and(|n| n > limit) {
        return Err(CallError::Refused { code: 400, description: format!("the file is larger than the {limit} bytes a bot may download"), retry_after: None });
    }
    let path = file.get("file_path").and_then(Value::as_str).ok_or_else(|| CallError::Network("getFile answered without a file_path".into()))?;
    let url = format!("{}/file/bot{}/{}", api.as_str().trim_end_matches('/'), token.expose(), path.trim_start_matches('/'));
    let res = http.get(url).timeout(CALL_TIMEOUT * 4).send().await.map_err(|e| CallError::Network(e.without_url().to_string()))?;
    if !res.status().is_success() {
        return Err(CallError::Refused { code: res.status().as_u16(), description: format!("HTTP {} for the file", res.status().as_u16()), retry_after: None });
    }
    let bytes = res.bytes().await.map_err(|e| CallError::Network(e.without_url().to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(CallError::Refused { code: 400, description: format!("the file is larger than the {limit} bytes a bot may download"), retry_after: None });
    }
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_telegram_sends_them() {
        let a: Answer = serde_json::from_str(r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#).unwrap();
        assert!(!a.ok);
        assert_eq!((a.error_code, a.parameters.and_then(|p| p.retry_after)), (Some(429), Some(7)));
        let a: Answer = serde_json::from_str(r#"{"ok":true,"result":{"message_id":5}}"#).unwrap();
        assert_eq!(a.result["message_id"], 5);
    }
}
