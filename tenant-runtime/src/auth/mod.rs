//! Sign-in: Telegram Mini App initData, and the tenant-bound JWTs it is
//! exchanged for.
//!
//! initData is checked as Telegram documents it
//! (<https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app>):
//! the data-check-string is every field but `hash`, sorted by key, joined
//! with `\n`; the key is HMAC-SHA256("WebAppData", bot token); the hash is
//! HMAC-SHA256(key, data-check-string) in hex.

pub mod console;
pub mod keys;
pub mod throttle;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{BotToken, TenantId};

type HmacSha256 = Hmac<Sha256>;

/// How long an initData stays acceptable after Telegram signed it.
pub const INIT_DATA_MAX_AGE: Duration = Duration::hours(24);
/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(15);
/// Clock slack when checking an access token's expiry: a token stays valid
/// until `exp + LEEWAY_SECS` (inclusive), so a revocation must last as long.
pub const LEEWAY_SECS: i64 = 5;
/// Lifetime of a refresh token.
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);

/// Why initData was refused. Messages are safe to return to the client.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InitDataError {
    #[error("init_data is not a query string with a hash")]
    Malformed,
    #[error("init_data signature does not match this bot")]
    BadSignature,
    #[error("init_data has no valid auth_date")]
    MissingAuthDate,
    #[error("init_data is too old; reopen the Mini App")]
    Expired,
    #[error("init_data has no valid user")]
    MissingUser,
}

/// The Telegram user an initData vouches for.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WebAppUser {
    pub id: i64,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
}

fn webapp_secret(bot_token: &BotToken) -> HmacSha256 {
    let mut key = HmacSha256::new_from_slice(b"WebAppData").expect("any key length");
    key.update(bot_token.expose().as_bytes());
    HmacSha256::new_from_slice(&key.finalize().into_bytes()).expect("any key length")
}

fn data_check_string(fields: &BTreeMap<String, String>) -> String {
    fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

/// Checks initData against the tenant's bot token and its freshness.
pub fn verify_init_data(init_data: &str, bot_token: &BotToken, now: DateTime<Utc>) -> Result<WebAppUser, InitDataError> {
    if init_data.len() > 8 * 1024 {
        return Err(InitDataError::Malformed);
    }
    let mut fields = BTreeMap::new();
    let mut hash = None;
    for (k, v) in url::form_urlencoded::parse(init_data.as_bytes()) {
        if k == "hash" {
            hash = Some(v.into_owned());
        } else {
            fields.insert(k.into_owned(), v.into_owned());
        }
    }
    let hash = hash.and_then(|h| hex::decode(h).ok()).ok_or(InitDataError::Malformed)?;
    let mut mac = webapp_secret(bot_token);
    mac.update(data_check_string(&fields).as_bytes());
    let expected = mac.finalize().into_bytes();
    if !bool::from(expected.as_slice().ct_eq(&hash)) {
        return Err(InitDataError::BadSignature);
    }
    let auth_date = fields
        .get("auth_date")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or(InitDataError::MissingAuthDate)?;
    // A little slack for clocks that run ahead of Telegram's.
    if now - auth_date > INIT_DATA_MAX_AGE || auth_date - now > Duration::minutes(5) {
        return Err(InitDataError::Expired);
    }
    let user: WebAppUser = fields
        .get("user")
        .and_then(|u| serde_json::from_str(u).ok())
        .ok_or(InitDataError::MissingUser)?;
    if user.id <= 0 {
        return Err(InitDataError::MissingUser);
    }
    Ok(user)
}

/// Builds a signed initData the way Telegram does. Used by the stand-in
/// Telegram server and tests; never by the request path.
pub fn sign_init_data(bot_token: &BotToken, fields: &[(&str, String)]) -> String {
    let map: BTreeMap<String, String> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let mut mac = webapp_secret(bot_token);
    mac.update(data_check_string(&map).as_bytes());
    let hash = hex::encode(mac.finalize().into_bytes());
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &map {
        ser.append_pair(k, v);
    }
    ser.append_pair("hash", &hash);
    ser.finish()
}

/// Claims of an access token. `aud` is the tenant id: a token of one tenant
/// fails validation at every other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id inside the tenant.
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The token's own id, so that logout can revoke it before it expires.
    pub jti: String,
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: i64,
    pub jti: String,
    /// Unix seconds.
    pub exp: i64,
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid or expired access token")]
pub struct BadToken;

/// Issues and checks access tokens.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        Tokens { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    pub fn issue(&self, tenant: &TenantId, user_id: i64, now: DateTime<Utc>) -> String {
        let claims = Claims {
            sub: user_id.to_string(),
            aud: tenant.as_str().to_owned(),
            iat: now.timestamp(),
            exp: (now + ACCESS_TOKEN_TTL).timestamp(),
            jti: crate::domain::random_hex(16),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    /// What the token says, if it is valid for `tenant` (signature,
    /// audience, expiry). Revocation is checked by the caller.
    pub fn verify(&self, tenant: &TenantId, token: &str) -> Result<Verified, BadToken> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[tenant.as_str()]);
        v.leeway = LEEWAY_SECS as u64;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map_err(|_| BadToken)?;
        let user_id = data.claims.sub.parse().map_err(|_| BadToken)?;
        Ok(Verified { user_id, jti: data.claims.jti, exp: data.claims.exp })
    }
}

/// A fresh opaque refresh token and the hash it is stored under.
pub fn new_refresh_token() -> (String, String) {
    let token = format!("rt_{}", crate::domain::random_hex(32));
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sign-in's state: what issues and checks tokens, and the request limits.
pub(crate) struct Auth {
    pub(crate) tokens: Tokens,
    /// Access tokens revoked before expiry.
    pub(crate) denylist: Denylist,
    /// Request limits of the tenant API; `None` turns them off.
    pub(crate) throttle_policy: Option<throttle::Policy>,
    /// Counts of request limits when Redis fails (see [`throttle`]).
    pub(crate) local_throttle: crate::outbound::limiter::Limiter,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> BotToken {
        BotToken::parse("123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap()
    }

    fn signed(auth_date: i64, tok: &BotToken) -> String {
        sign_init_data(
            tok,
            &[
                ("auth_date", auth_date.to_string()),
                ("query_id", "AAH".into()),
                ("user", r#"{"id":42,"first_name":"Ann","username":"ann"}"#.into()),
            ],
        )
    }

    #[test]
    fn valid_init_data_is_accepted() {
        let now = Utc::now();
        let user = verify_init_data(&signed(now.timestamp() - 60, &token()), &token(), now).unwrap();
        assert_eq!(user.id, 42);
        assert_eq!(user.username.as_deref(), Some("ann"));
    }

    #[test]
    fn refusals() {
        let now = Utc::now();
        let other = BotToken::parse("999:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap();
        assert_eq!(verify_init_data(&signed(now.timestamp(), &other), &token(), now), Err(InitDataError::BadSignature));
        let stale = signed((now - Duration::hours(25)).timestamp(), &token());
        assert_eq!(verify_init_data(&stale, &token(), now), Err(InitDataError::Expired));
        assert_eq!(verify_init_data("user=x", &token(), now), Err(InitDataError::Malformed));
        let tampered = signed(now.timestamp(), &token()).replace("Ann", "Bob");
        assert_eq!(verify_init_data(&tampered, &token(), now), Err(InitDataError::BadSignature));
    }

    fn signed_with(auth_date: i64, query_id: &str) -> String {
        sign_init_data(
            &token(),
            &[
                ("auth_date", auth_date.to_string()),
                ("query_id", query_id.to_owned()),
                ("user", r#"{"id":42,"first_name":"Ann"}"#.into()),
            ],
        )
    }

    #[test]
    fn init_data_size_is_bounded_at_exactly_8_kib() {
        let now = Utc::now();
        let base = signed_with(now.timestamp(), "");
        // Pad query_id so the whole string is exactly the limit, then one more.
        let exact = signed_with(now.timestamp(), &"q".repeat(8 * 1024 - base.len()));
        assert_eq!(exact.len(), 8 * 1024);
        assert!(verify_init_data(&exact, &token(), now).is_ok());
        let over = signed_with(now.timestamp(), &"q".repeat(8 * 1024 - base.len() + 1));
        assert_eq!(verify_init_data(&over, &token(), now), Err(InitDataError::Malformed));
    }

    #[test]
    fn freshness_bounds_are_inclusive() {
        // Whole seconds, as auth_date has.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let at = |secs: i64| signed(now.timestamp() + secs, &token());
        assert!(verify_init_data(&at(-INIT_DATA_MAX_AGE.num_seconds()), &token(), now).is_ok(), "exactly 24 h old");
        assert_eq!(verify_init_data(&at(-INIT_DATA_MAX_AGE.num_seconds() - 1), &token(), now), Err(InitDataError::Expired));
        assert!(verify_init_data(&at(300), &token(), now).is_ok(), "5 minutes ahead");
        assert_eq!(verify_init_data(&at(301), &token(), now), Err(InitDataError::Expired));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_as_their_hash() {
        let (a, ha) = new_refresh_token();
        let (b, hb) = new_refresh_token();
        assert!(a.starts_with("rt_") && a.len() == 3 + 64, "{a}");
        assert_ne!(a, b);
        assert_eq!(ha, hash_refresh_token(&a));
        assert_eq!(ha.len(), 64);
        assert_ne!(ha, hb);
        assert!(!ha.contains(&a[3..]), "the hash is not the token");
    }

    #[tokio::test]
    async fn the_local_denylist_revokes_until_expiry() {
        let d = Denylist::local();
        let now = Utc::now().timestamp();
        assert!(!d.is_revoked("jti-1").await.unwrap());
        d.revoke("jti-1", now + 60).await.unwrap();
        assert!(d.is_revoked("jti-1").await.unwrap());
        assert!(!d.is_revoked("jti-2").await.unwrap(), "only that token");
        d.revoke("jti-2", now + 60).await.unwrap();
        assert!(d.is_revoked("jti-1").await.unwrap() && d.is_revoked("jti-2").await.unwrap(), "pruning keeps live entries");
        d.revoke("jti-old", now - LEEWAY_SECS - 1).await.unwrap();
        assert!(!d.is_revoked("jti-old").await.unwrap(), "a token past its leeway needs no entry");
        // A token that expired a moment ago is still accepted within the
        // leeway, so its revocation must hold.
        d.revoke("jti-just-expired", now - 1).await.unwrap();
        assert!(d.is_revoked("jti-just-expired").await.unwrap());
        // At the boundary, on a fixed clock: a token accepted through this
        // very second is recorded; one past it is not (no needless entry).
        let t = now + 1000;
        d.revoke_at("jti-last-second", t - LEEWAY_SECS, t).await.unwrap();
        d.revoke_at("jti-past", t - LEEWAY_SECS - 1, t).await.unwrap();
        let Denylist::Local(m) = &d else { unreachable!() };
        let m = m.lock().unwrap();
        assert_eq!(m.get("jti-last-second"), Some(&t));
        assert!(!m.contains_key("jti-past") && !m.contains_key("jti-old"));
    }

    /// In Redis a revocation is a key that Redis drops when its clock
    /// reaches `EXAT`: one second past the last second the token is
    /// accepted, so that second is covered too.
    #[tokio::test]
    async fn the_redis_denylist_holds_through_the_last_accepted_second() {
        let url = std::env::var("TIKETHET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("tt_unit_{:08x}:", rand::random::<u32>());
        let limiter = crate::outbound::limiter::Limiter::redis(&url, &prefix).await.unwrap_or_else(|e| panic!("this test needs Redis at {url}: {e:#}"));
        let (conn, prefix) = limiter.redis_connection().expect("a Redis limiter has a connection");
        let d = Denylist::Redis { conn: conn.clone(), prefix: prefix.clone() };
        let now = Utc::now().timestamp();
        assert!(!d.is_revoked("jti-r").await.unwrap());
        d.revoke_at("jti-r", now + 100, now).await.unwrap();
        assert!(d.is_revoked("jti-r").await.unwrap());
        assert!(!d.is_revoked("jti-other").await.unwrap(), "only that token");
        let mut c = conn.clone();
        let key = format!("{prefix}revoked:jti-r");
        let at: i64 = redis::cmd("EXPIRETIME").arg(&key).query_async(&mut c).await.unwrap();
        assert_eq!(at, now + 100 + LEEWAY_SECS + 1);
        d.revoke_at("jti-past", now - LEEWAY_SECS - 1, now).await.unwrap();
        assert!(!d.is_revoked("jti-past").await.unwrap(), "a token past its leeway needs no entry");
        redis::cmd("DEL").arg(&key).query_async::<()>(&mut c).await.unwrap();
    }

    #[test]
    fn tokens_are_bound_to_their_tenant() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef");
        let a = TenantId::generate();
        let b = TenantId::generate();
        let t = tokens.issue(&a, 7, Utc::now());
        let v = tokens.verify(&a, &t).unwrap();
        assert_eq!(v.user_id, 7);
        assert_eq!(v.jti.len(), 32);
        assert_ne!(tokens.issue(&a, 7, Utc::now()), t, "each token has its own jti");
        assert!(tokens.verify(&b, &t).is_err());
        let old = tokens.issue(&a, 7, Utc::now() - Duration::hours(1));
        assert!(tokens.verify(&a, &old).is_err());
        assert!(Tokens::new(b"another-secret-another-secret-xx").verify(&a, &t).is_err());
    }
}

/// Access tokens revoked before their expiry (by logout), by `jti`, kept
/// until they would have expired anyway. In Redis when configured, so every
/// node refuses a token revoked on any of them; in process otherwise.
pub enum Denylist {
    Local(std::sync::Mutex<std::collections::HashMap<String, i64>>),
    Redis { conn: redis::aio::ConnectionManager, prefix: String },
}

impl Denylist {
    pub fn local() -> Self {
        Denylist::Local(std::sync::Mutex::new(std::collections::HashMap::new()))
    }

    /// Revokes a token for as long as it would be accepted: until `exp`
    /// (Unix seconds) plus the verifier's leeway, that second included.
    pub async fn revoke(&self, jti: &str, exp: i64) -> anyhow::Result<()> {
        self.revoke_at(jti, exp, Utc::now().timestamp()).await
    }

    async fn revoke_at(&self, jti: &str, exp: i64, now: i64) -> anyhow::Result<()> {
        let until = exp + LEEWAY_SECS;
        if until < now {
            return Ok(());
        }
        match self {
            Denylist::Local(m) => {
                let mut m = m.lock().expect("poisoned");
                m.retain(|_, e| *e >= now);
                m.insert(jti.to_owned(), until);
            }
            Denylist::Redis { conn, prefix } => {
                use anyhow::Context as _;
                let mut c = conn.clone();
                redis::cmd("SET")
                    .arg(format!("{prefix}revoked:{jti}"))
                    .arg(1)
                    .arg("EXAT")
                    // Redis drops the key when the clock reaches EXAT.
                    .arg(until + 1)
                    .query_async::<()>(&mut c)
                    .await
                    .context("failed to record a revoked token in Redis")?;
            }
        }
        Ok(())
    }

    pub async fn is_revoked(&self, jti: &str) -> anyhow::Result<bool> {
        match self {
            Denylist::Local(m) => Ok(m.lock().expect("poisoned").get(jti).is_some_and(|until| *until >= Utc::now().timestamp())),
            Denylist::Redis { conn, prefix } => {
                use anyhow::Context as _;
                let mut c = conn.clone();
                let n: i64 = redis::cmd("EXISTS")
                    .arg(format!("{prefix}revoked:{jti}"))
                    .query_async(&mut c)
                    .await
                    .context("failed to check a token against the revocation list in Redis")?;
                Ok(n > 0)
            }
        }
    }
}
