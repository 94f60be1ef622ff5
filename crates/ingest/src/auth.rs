//! Authentication codes: issued at registration, checked at every connection.
//!
//! A code is 128 random bits from the operating system, sent to the terminal as 32 hex digits (ASCII fits the
//! GBK STRING of 0x8100). Only its SHA-256 is stored. A slow password hash (argon2) buys nothing here: the
//! code is not a human password, 128 bits of entropy cannot be brute-forced offline, and a fast hash lets ten
//! thousand terminals authenticate in the seconds after a restart.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// The prefix naming the hash scheme, so another scheme can be introduced without ambiguity.
const SCHEME: &str = "sha256:";

/// A freshly issued auth code and the hash to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The code sent to the terminal in 0x8100 (never stored).
    pub code: String,
    /// What the store keeps.
    pub hash: String,
}

/// Issues a new random code.
pub fn issue_code() -> IssuedCode {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code = hex::encode_upper(bytes);
    let hash = hash_code(code.as_bytes());
    IssuedCode { code, hash }
}

/// The stored form of a code.
pub fn hash_code(code: &[u8]) -> String {
    let digest = Sha256::digest(code);
    let mut s = String::with_capacity(SCHEME.len() + 64);
    s.push_str(SCHEME);
    s.push_str(&hex::encode(digest));
    s
}

/// Whether `code` (as the terminal sent it) matches the stored `hash`, compared in constant time.
///
/// Terminals pad fixed-width fields with NULs or spaces; those are trimmed before hashing.
pub fn verify_code(code: &[u8], hash: &str) -> bool {
    let trimmed = trim_padding(code);
    let candidate = hash_code(trimmed);
    constant_time_eq(candidate.as_bytes(), hash.as_bytes())
}

fn trim_padding(b: &[u8]) -> &[u8] {
    let is_pad = |c: &u8| *c == 0 || *c == b' ';
    let start = b.iter().position(|c| !is_pad(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_pad(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_codes_verify_and_differ() {
        let a = issue_code();
        let b = issue_code();
        assert_ne!(a.code, b.code);
        assert_eq!(a.code.len(), 32, "128 bits as hex");
        assert!(!a.hash.contains(&a.code), "the stored form is not the code");
        assert!(verify_code(a.code.as_bytes(), &a.hash));
        assert!(!verify_code(b.code.as_bytes(), &a.hash));
        assert!(!verify_code(b"", &a.hash));
    }

    #[test]
    fn padding_is_ignored() {
        let a = issue_code();
        let mut padded = a.code.clone().into_bytes();
        padded.extend_from_slice(&[0, 0, b' ']);
        assert!(verify_code(&padded, &a.hash));
    }
}
