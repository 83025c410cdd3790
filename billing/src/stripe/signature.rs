//! Stripe's webhook signatures
//! (<https://docs.stripe.com/webhooks#verify-manually>): the
//! `Stripe-Signature` header carries `t=<unix seconds>` and one or more
//! `v1=<hex HMAC-SHA256 of "{t}.{raw body}" with the endpoint's secret>`
//! (several while a secret is being rolled); other schemes (`v0`) are
//! ignored. A timestamp further than the tolerance from now is refused, so a
//! captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's own libraries' default.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a webhook request is not believed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the Stripe-Signature timestamp is {0} s away from now (more than {TOLERANCE_SECS} s)")]
    OutsideTolerance(i64),
    #[error("no v1 signature matches this endpoint's secret")]
    Mismatch,
}

/// Checks a request's `Stripe-Signature` against the raw body.
pub fn verify(header: Option<&str>, payload: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(SignatureError::Malformed("expected key=value pairs"))?;
        match k {
            "t" => timestamp = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed("t is not a whole number"))?),
            // A v1 that is not hex cannot match; it is skipped, not fatal.
            "v1" => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed("no t="))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1= signature"));
    }
    let skew = (now - t).abs();
    if skew > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance(skew));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    // `verify_slice` compares in constant time.
    if signatures.iter().any(|s| mac.clone().verify_slice(s).is_ok()) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The header Stripe would send for a payload at time `t` (for tests and
/// the stand-in).
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_0123456789";
    const PAYLOAD: &str = r#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#;
    const T: i64 = 1_700_000_000;
    /// Computed apart from this code, with Python's `hmac` module:
    /// `hmac.new(SECRET, f"{T}.{PAYLOAD}", sha256).hexdigest()`.
    const EXPECTED: &str = "5f8de7a088e0a043ab0688fed2c8d0f155119b57db3439ad0199973081199aee";

    #[test]
    fn a_signature_computed_independently_is_accepted() {
        let header = format!("t={T},v1={EXPECTED}");
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), SECRET, T + 10), Ok(()));
        assert_eq!(sign(PAYLOAD.as_bytes(), SECRET, T), header, "our signer agrees");
        // Stripe's own example shape: a v0 and several v1s, in any order.
        let header = format!("t={T},v1={},v0=abc,v1={EXPECTED}", "00".repeat(32));
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), SECRET, T - 299), Ok(()));
    }

    #[test]
    fn wrong_secret_old_timestamp_tampered_body_and_missing_header_are_refused() {
        let header = format!("t={T},v1={EXPECTED}");
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), "whsec_other", T), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), SECRET, T + 301), Err(SignatureError::OutsideTolerance(301)));
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), SECRET, T - 301), Err(SignatureError::OutsideTolerance(301)), "from the future");
        assert_eq!(verify(Some(&header), PAYLOAD.as_bytes(), SECRET, T + 300), Ok(()), "300 s is within");
        let tampered = PAYLOAD.replace("invoice.paid", "invoice.pain");
        assert_eq!(verify(Some(&header), tampered.as_bytes(), SECRET, T), Err(SignatureError::Mismatch));
        // One flipped bit of the signature itself.
        let mut bytes = hex::decode(EXPECTED).unwrap();
        bytes[31] ^= 1;
        let flipped = format!("t={T},v1={}", hex::encode(bytes));
        assert_eq!(verify(Some(&flipped), PAYLOAD.as_bytes(), SECRET, T), Err(SignatureError::Mismatch));
        // The timestamp is signed too: moving it breaks the signature.
        let moved = format!("t={},v1={EXPECTED}", T + 1);
        assert_eq!(verify(Some(&moved), PAYLOAD.as_bytes(), SECRET, T), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, PAYLOAD.as_bytes(), SECRET, T), Err(SignatureError::Missing));
        for bad in ["", "garbage", &format!("v1={EXPECTED}"), &format!("t=soon,v1={EXPECTED}"), &format!("t={T}"), &format!("t={T},v0={EXPECTED}")] {
            assert!(matches!(verify(Some(bad), PAYLOAD.as_bytes(), SECRET, T), Err(SignatureError::Malformed(_))), "{bad:?}");
        }
    }
}
