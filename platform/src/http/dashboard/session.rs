//! The operator's browser session: the operator token is typed once, then
//! a signed, short-lived cookie (HttpOnly, SameSite=Strict, Secure in
//! production) stands for it. Its key is derived from the JWT secret and
//! the operator token, so rotating the token signs every browser out; a
//! sign-out revokes the session on every node (the runtime's denylist).
//! Every form posts a CSRF token bound to the session (an HMAC of its id),
//! and a request from another origin is refused outright.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use poem::Request;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(b"csrf\0");
    mac.update(session.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..20])
}

/// Whether a typed token is the operator token (in constant time).
pub fn token_matches(state: &AppState, typed: &str) -> bool {
    let expected = state.settings.operator_token.expose().as_bytes();
    bool::from(typed.trim().as_bytes().ct_eq(expected))
}

/// A new session and the `Set-Cookie` value that carries it.
pub fn start(state: &AppState) -> (Session, String) {
    use rand::RngCore as _;
    let mut id = [0u8; 16];
    rand::rng().fill_bytes(&mut id);
    let id = hex::encode(id);
    let now = chrono::Utc::now().timestamp();
    let claims = Claims { aud: AUDIENCE.into(), sub: "operator".into(), jti: id.clone(), iat: now, exp: now + TTL.num_seconds() };
    let k = key(state);
    let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&k)).expect("HS256 signs");
    let cookie = cookie(state, &jwt, TTL.num_seconds());
    (Session { csrf: csrf_of(&k, &id), id, expires: claims.exp }, cookie)
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn end_cookie(state: &AppState) -> String {
    cookie(state, "", 0)
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.settings.env == Env::Production { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/operator; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// The request's session, if it carries a valid one that was not ended.
pub async fn of(state: &AppState, req: &Request) -> Option<Session> {
    let jwt = req.headers().get_all(poem::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
    })?;
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

/// Why a state change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The request came from another site.
    CrossOrigin,
    /// The form's CSRF token is missing or wrong.
    BadToken,
}

/// Checks a posted form: sent from our own pages (the browser's `Origin`,
/// when it sends one, is ours) and carrying the session's CSRF token.
pub fn check_post(req: &Request, s: &Session, posted: Option<&str>) -> Result<(), Refused> {
    if !super::super::same_origin(req) {
        return Err(Refused::CrossOrigin);
    }
    match posted {
        Some(t) if bool::from(t.as_bytes().ct_eq(s.csrf.as_bytes())) => Ok(()),
        _ => Err(Refused::BadToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(origin: Option<&str>) -> Request {
        let mut b = Request::builder().method(poem::http::Method::POST).uri_str("/operator/tenants/acme/suspend").header("Host", "desk.example:8080");
        if let Some(o) = origin {
            b = b.header("Origin", o);
        }
        b.finish()
    }

    #[test]
    fn a_post_needs_our_origin_and_the_sessions_token() {
        let s = Session { id: "abc".into(), expires: 0, csrf: csrf_of(b"key", "abc") };
        assert_eq!(check_post(&post(Some("http://desk.example:8080")), &s, Some(&s.csrf)), Ok(()));
        assert_eq!(check_post(&post(None), &s, Some(&s.csrf)), Ok(()), "no Origin (older browsers): the token decides");
        assert_eq!(check_post(&post(Some("https://evil.example")), &s, Some(&s.csrf)), Err(Refused::CrossOrigin));
        assert_eq!(check_post(&post(Some("null")), &s, Some(&s.csrf)), Err(Refused::CrossOrigin));
        assert_eq!(check_post(&post(None), &s, None), Err(Refused::BadToken));
        assert_eq!(check_post(&post(None), &s, Some(&csrf_of(b"key", "another session"))), Err(Refused::BadToken));
    }
}
