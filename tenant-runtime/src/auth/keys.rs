//! API keys, as a script holds them: `tkh_{prefix}_{secret}`. The prefix
//! (public, in lists and logs) finds the key; the secret is shown once and
//! kept only as its SHA-256 (a random 192-bit secret needs no slow hash).
//! A key carries scopes: what of the tenant API it may call, on top of its
//! creator's role (see `desk::keys`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every key starts with (so a bearer is told from an access token
/// without trying to decode it).
pub const KEY_START: &str = "tkh_";

pub use crate::domain::KeyScope;

/// A new key: what its holder is shown once, its prefix and its hash.
pub struct NewKey {
    pub token: String,
    pub prefix: String,
    pub hash: String,
}

pub fn new_key() -> NewKey {
    let prefix = crate::domain::random_hex(6);
    let secret = crate::domain::random_hex(24);
    NewKey { token: format!("{KEY_START}{prefix}_{secret}"), hash: hash_secret(&secret), prefix }
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The prefix and secret of a bearer that looks like a key.
pub fn split(bearer: &str) -> Option<(&str, &str)> {
    let (prefix, secret) = bearer.strip_prefix(KEY_START)?.split_once('_')?;
    (!prefix.is_empty() && !secret.is_empty() && prefix.len() <= 32).then_some((prefix, secret))
}

/// Whether `secret` is the one `hash` was made from (in constant time).
pub fn secret_matches(secret: &str, hash: &str) -> bool {
    bool::from(hash_secret(secret).as_bytes().ct_eq(hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_its_prefix_and_checked_by_its_secret() {
        let k = new_key();
        let (prefix, secret) = split(&k.token).unwrap();
        assert_eq!(prefix, k.prefix);
        assert!(secret_matches(secret, &k.hash));
        assert!(!secret_matches("0000", &k.hash));
        assert!(split("eyJhbGciOi.x.y").is_none() && split("tkh_").is_none() && split("tkh_abc").is_none());
    }

    #[test]
    fn scopes_are_known_deduplicated_and_at_least_one() {
        assert_eq!(KeyScope::parse_list(["tickets:read, tickets:read admin"]).unwrap(), vec![KeyScope::TicketsRead, KeyScope::Admin]);
        assert!(KeyScope::parse_list(["tickets:delete"]).unwrap_err().contains("not a scope"));
        assert!(KeyScope::parse_list([""]).unwrap_err().contains("at least one"));
    }
}
