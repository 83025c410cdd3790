//! Encryption at rest of bot tokens and webhook secrets with the master key
//! (ChaCha20-Poly1305: an AEAD, so a tampered value fails to decrypt).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const VERSION: &str = "v1";

/// Encrypts and decrypts small secrets. The stored form is
/// `v1:<base64 nonce || ciphertext>`.
#[derive(Clone)]
pub struct Vault {
    cipher: ChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (wrong TIKETHET_MASTER_KEY, or damaged data)")]
pub struct Undecryptable;

impl Vault {
    pub fn new(key: &[u8; 32]) -> Self {
        Vault { cipher: ChaCha20Poly1305::new(Key::from_slice(key)) }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        use rand::RngCore as _;
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{VERSION}:{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, Undecryptable> {
        let raw = sealed.strip_prefix("v1:").ok_or(Undecryptable)?;
        let bytes = B64.decode(raw).map_err(|_| Undecryptable)?;
        if bytes.len() < 12 {
            return Err(Undecryptable);
        }
        let (nonce, ct) = bytes.split_at(12);
        let pt = self.cipher.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| Undecryptable)?;
        String::from_utf8(pt).map_err(|_| Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let v = Vault::new(&[1; 32]);
        let sealed = v.seal("123:secret");
        assert!(!sealed.contains("secret"));
        assert_eq!(v.open(&sealed).unwrap(), "123:secret");
        assert_ne!(v.seal("123:secret"), sealed, "fresh nonce each time");
        assert!(Vault::new(&[2; 32]).open(&sealed).is_err());
        assert!(v.open("plain").is_err());
        assert!(v.open("v1:not base64!").is_err());
        assert!(v.open(&format!("v1:{}", B64.encode([0u8; 11]))).is_err(), "shorter than a nonce");
    }

    /// Flips one bit of the decoded `nonce || ciphertext || tag` at `index`.
    fn flip(sealed: &str, index: usize) -> String {
        let mut raw = B64.decode(sealed.strip_prefix("v1:").unwrap()).unwrap();
        raw[index] ^= 0x01;
        format!("v1:{}", B64.encode(raw))
    }

    #[test]
    fn one_flipped_bit_anywhere_is_refused() {
        let v = Vault::new(&[1; 32]);
        let plaintext = "123:secret";
        let sealed = v.seal(plaintext);
        let len = B64.decode(sealed.strip_prefix("v1:").unwrap()).unwrap().len();
        // 12 bytes of nonce, the ciphertext (as long as the plaintext), 16 of tag.
        assert_eq!(len, 12 + plaintext.len() + 16);
        for (part, index) in [("nonce", 0), ("nonce", 11), ("ciphertext", 12), ("ciphertext", 12 + plaintext.len() - 1), ("tag", len - 16), ("tag", len - 1)] {
            let tampered = flip(&sealed, index);
            assert_ne!(tampered, sealed);
            assert!(v.open(&tampered).is_err(), "a flipped bit in the {part} (byte {index}) was accepted");
        }
        assert_eq!(v.open(&sealed).unwrap(), plaintext, "the original still opens");
    }
}
