//! The reporter's phone number sealed at rest: XChaCha20-Poly1305 with a 32-byte key that comes from
//! the environment or a file (`TIANSHU__WEB__CASEWORK__REPORTER_KEY`, `[web.casework] reporter_key_file`),
//! never from the database. A sealed number is the random 24-byte nonce followed by the ciphertext, in
//! hex; only [`ReporterKey::open`] reads it back, and the API calls that only to show the number to a
//! role the configuration allows, with an audit record.

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// The key phone numbers are sealed with.
pub struct ReporterKey(XChaCha20Poly1305);

impl std::fmt::Debug for ReporterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReporterKey(***)")
    }
}

const NONCE_LEN: usize = 24;

impl ReporterKey {
    /// The key from its text: 64 hexadecimal digits (32 bytes).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| "the reporter key must be 64 hexadecimal digits (32 bytes)".to_string())?;
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map(ReporterKey)
            .map_err(|_| "the reporter key must be 64 hexadecimal digits (32 bytes)".to_string())
    }

    /// Seals a number: a fresh random nonce each time, so the same number never seals alike.
    pub fn seal(&self, clear: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let n = XNonce::from(nonce);
        // Encryption into a Vec cannot fail for a message this small.
        let sealed = self.0.encrypt(&n, clear.as_bytes()).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        hex::encode(out)
    }

    /// Opens a sealed number; an error when it was sealed with another key or changed.
    pub fn open(&self, sealed: &str) -> Result<String, String> {
        let bytes = hex::decode(sealed).map_err(|_| "a sealed number is not hex".to_string())?;
        if bytes.len() <= NONCE_LEN {
            return Err("a sealed number is too short".into());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| "a sealed number's nonce".to_string())?;
        let clear = self
            .0
            .decrypt(&nonce, body)
            .map_err(|_| "the sealed number does not open with this key".to_string())?;
        String::from_utf8(clear).map_err(|_| "a sealed number is not text".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_number_seals_and_opens_only_with_its_key() {
        let key = ReporterKey::parse(KEY).unwrap();
        let a = key.seal("13812345678");
        let b = key.seal("13812345678");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("13812345678"));
        assert_eq!(key.open(&a).unwrap(), "13812345678");
        let other = ReporterKey::parse(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open(&a).is_err());
        let mut tampered = a.clone();
        tampered.replace_range(60..62, if &a[60..62] == "00" { "01" } else { "00" });
        assert!(key.open(&tampered).is_err());
        assert!(ReporterKey::parse("short").is_err());
    }
}
