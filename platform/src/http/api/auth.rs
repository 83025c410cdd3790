//! Sign-in with Telegram (and, in development, without it), token refresh, sign-out and the signed-in user.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::desk::service::Session;

use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;
use super::people::UserView;

#[derive(Object)]
pub struct TelegramSignIn {
    /// `Telegram.WebApp.initData`, verbatim.
    #[oai(validator(min_length = 1, max_length = 8192))]
    pub init_data: String,
}

#[derive(Debug, Object)]
pub struct DevSignIn {
    /// A Telegram user id.
    #[oai(validator(minimum(value = "1"), maximum(value = "9007199254740991")))]
    pub telegram_id: i64,
    #[oai(validator(min_length = 1, max_length = 64, pattern = r"^[^\x00]+$"))]
    pub first_name: String,
    /// `en`, `ru`, …
    #[oai(validator(pattern = "^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})?$"))]
    pub language_code: Option<String>,
}

#[derive(Debug, Object)]
pub struct MePatch {
    /// `true`: away (assignment rules pass you over); `false`: available.
    pub away: bool,
}

#[derive(Object)]
pub struct RefreshRequest {
    #[oai(validator(min_length = 1, max_length = 256))]
    pub refresh_token: String,
}

// Credentials never reach a log line through `{:?}`.
impl std::fmt::Debug for TelegramSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramSignIn").field("init_data", &"***").finish()
    }
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").field("refresh_token", &"***").finish()
    }
}

#[derive(Debug, Object)]
pub struct SessionView {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserView,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            token_type: "Bearer".into(),
            expires_in: s.expires_in,
            user: s.user.into(),
        }
    }
}

pub struct AuthApi {
    pub state: AppState,
}

#[OpenApi]
impl AuthApi {
    /// Sign in with Telegram Mini App initData
    ///
    /// initData is checked with HMAC-SHA256 against this tenant's bot token
    /// and refused when older than 24 hours.
    #[oai(path = "/t/:slug/api/v1/auth/telegram", method = "post", tag = "Tag::Auth")]
    async fn sign_in(&self, slug: Path<String>, body: Json<TelegramSignIn>) -> Result<Json<SessionView>, ApiError> {
        Ok(Json(self.state.runtime.sign_in_telegram(&slug.0, &body.0.init_data).await?.into()))
    }

    /// Development sign-in (off unless turned on)
    ///
    /// Signs in as a Telegram user without initData, so that the Mini App
    /// can be opened in an ordinary browser. Only with
    /// `TIKETHET_DEV_SIGN_IN=on` on a loopback `http://` public URL outside
    /// production; otherwise 403.
    #[oai(path = "/t/:slug/api/v1/auth/dev", method = "post", tag = "Tag::Auth")]
    async fn sign_in_dev(&self, slug: Path<String>, body: Json<DevSignIn>) -> Result<Json<SessionView>, ApiError> {
        if !self.state.settings.dev_sign_in {
            return Err(tikethet_runtime::RuntimeError::Forbidden(
                "the development sign-in is off (TIKETHET_DEV_SIGN_IN=on turns it on, on a loopback http:// public URL outside production); open the Mini App from the bot".into(),
            )
            .into());
        }
        let b = body.0;
        let profile = tikethet_runtime::desk::tickets::TelegramProfile {
            telegram_id: b.telegram_id,
            first_name: b.first_name,
            last_name: None,
            username: None,
            language_code: b.language_code,
        };
        Ok(Json(self.state.runtime.sign_in_for_development(&slug.0, profile).await?.into()))
    }

    /// Exchange a refresh token for new tokens (the old one stops working)
    #[oai(path = "/t/:slug/api/v1/auth/refresh", method = "post", tag = "Tag::Auth")]
    async fn refresh(&self, slug: Path<String>, body: Json<RefreshRequest>) -> Result<Json<SessionView>, ApiError> {
        Ok(Json(self.state.runtime.refresh_session(&slug.0, &body.0.refresh_token).await?.into()))
    }

    /// Sign out
    ///
    /// Revokes the refresh token with every token rotated from the same
    /// sign-in and, when the request carries `Authorization: Bearer
    /// <access_token>`, that access token too.
    #[oai(path = "/t/:slug/api/v1/auth/logout", method = "post", tag = "Tag::Auth")]
    async fn logout(&self, slug: Path<String>, req: &poem::Request, body: Json<RefreshRequest>) -> Result<NoContent, ApiError> {
        let access = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        self.state.runtime.sign_out(&slug.0, &body.0.refresh_token, access).await?;
        Ok(NoContent::NoContent)
    }

    /// The signed-in user
    #[oai(path = "/t/:slug/api/v1/auth/me", method = "get", tag = "Tag::Auth")]
    async fn me(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<UserView>, ApiError> {
        Ok(Json(auth.0.user().clone().into()))
    }

    /// Say you are away or available (staff)
    ///
    /// Teams' assignment rules pass over staff who are away.
    #[oai(path = "/t/:slug/api/v1/auth/me", method = "patch", tag = "Tag::Auth")]
    async fn change_me(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<MePatch>) -> Result<Json<UserView>, ApiError> {
        Ok(Json(auth.0.set_away(body.0.away).await?.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_print_credentials() {
        let s = TelegramSignIn { init_data: "user=%7B%7D&hash=deadbeef0123".into() };
        assert!(!format!("{s:?}").contains("deadbeef0123"));
        let r = RefreshRequest { refresh_token: "rt_secret_value_42".into() };
        assert!(!format!("{r:?}").contains("rt_secret_value_42"));
    }
}
