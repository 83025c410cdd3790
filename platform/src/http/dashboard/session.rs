//! The operator's browser session: the operator token is typed once, then
//! a signed, short-lived cookie (HttpOnly, SameSite=Strict, Secure in
//! production) stands for it. Its key is derived from the JWT secret and
//! the operator token, so rotating the token signs every browser out; a
//! sign-out revokes the session on every node (the runtime's denylist).
//! Every form posts a CSRF token bound to the session (an HMAC of its id),
//! and a request from another origin is refused outright (the web kit's
//! check, `super::super::web::posted`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use poem::Request;
use poem::web::cookie::{CookieJar, SameSite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::super::web::{self, SessionCookie};

use crate::AppState;
use crate::config::Env;

pub const COOKIE: &str = "tikethet_operator";
/// How long a sign-in lasts.
pub const TTL: chrono::Duration = chrono::Duration::hours(12);
const AUDIENCE: &str = "tikethet-operator";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: String,
    sub: String,
    jti: String,
    iat: i64,
    exp: i64,
}

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub expires: i64,
    /// What the session's forms must post back.
    pub csrf: String,
}

fn key(state: &AppState) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"tikethet operator session\0");
    h.update(state.settings.jwt_secret.expose());
    h.update(b"\0");
    h.update(Sha256::digest(state.settings.operator_token.expose().as_bytes()));
    h.finalize().to_vec()
}

fn csrf_of(key: &[u8], session: &str) -> String {
    web::csrf_token(key, "csrf", session)
}

/// The session cookie: only for the dashboard's paths, SameSite Strict.
fn session_cookie(state: &AppState) -> SessionCookie<'static> {
    SessionCookie { name: COOKIE, path: "/operator", same_site: SameSite::Strict, secure: state.settings.env == Env::Production }
}

/// Whether a typed token is the operator token (in constant time).
pub fn token_matches(state: &AppState, typed: &str) -> bool {
    let expected = state.settings.operator_token.expose().as_bytes();
    bool::from(typed.trim().as_bytes().ct_eq(expected))
}

/// A new session, set in the browser's cookies.
pub fn start(state: &AppState, jar: &CookieJar) -> Session {
    use rand::RngCore as _;
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    let id = hex::encode(id);
    let now = chrono::Utc::now().timestamp();
    let claims = Claims { aud: AUDIENCE.into(), sub: "operator".into(), jti: id.clone(), iat: now, exp: now + TTL.num_seconds() };
    let k = key(state);
    let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&k)).expect("HS256 signs");
    session_cookie(state).set(jar, &jwt, TTL.to_std().unwrap_or_default());
    Session { csrf: csrf_of(&k, &id), id, expires: claims.exp }
}

/// Removes the session cookie from the browser.
pub fn end_cookie(state: &AppState, jar: &CookieJar) {
    session_cookie(state).end(jar);
}

/// The request's session, if it carries a valid one that was not ended.
pub async fn of(state: &AppState, req: &Request) -> Option<Session> {
    let jwt = session_cookie(state).read(req.cookie())?;
    let k = key(state);
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(&jwt, &DecodingKey::from_secret(&k), &v).ok()?.claims;
    match state.runtime.denylist().is_revoked(&claims.jti).await {
        Ok(false) => {}
        Ok(true) => return None,
        Err(e) => {
            // Cannot tell whether it was ended: ask to sign in again.
            tracing::warn!(error = %e, "operator session: the denylist does not answer");
            return None;
        }
    }
    Some(Session { csrf: csrf_of(&k, &claims.jti), id: claims.jti, expires: claims.exp })
}

/// Ends a session everywhere.
pub async fn end(state: &AppState, s: &Session) -> anyhow::Result<()> {
    state.runtime.denylist().revoke(&s.id, s.expires).await
}
