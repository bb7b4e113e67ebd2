//! The agent credential ferry issues at registration, where CodeDeploy takes an IAM ARN.
//!
//! A credential is `ferry_ic_` followed by 32 random bytes from the operating system in
//! unpadded base64url (43 characters). It is shown once; only its hash is stored.
//!
//! The hash is a single sha256, not a slow password hash: the credential carries 256 bits
//! of entropy, so nobody can guess it or brute-force it from a leaked hash, and a fast hash
//! keeps every agent connection cheap.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use ferry_runtime::error::ApiError;

/// The start of every instance credential, so a leaked one is recognisable (secret scanners,
/// logs) and cannot be mistaken for another kind of token.
pub const PREFIX: &str = "ferry_ic_";
/// Random bytes in a credential.
const RANDOM_BYTES: usize = 32;

/// A fresh credential.
pub fn generate() -> Result<String, ApiError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(ApiError::internal)?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a credential: its sha256, in hex.
pub fn hash(credential: &str) -> String {
    hex::encode(Sha256::digest(credential.as_bytes()))
}

/// True when `credential` hashes to `stored`, compared in constant time.
pub fn verify(credential: &str, stored: &str) -> bool {
    constant_time_eq(hash(credential).as_bytes(), stored.as_bytes())
}

/// Equality whose running time depends only on the lengths, never on where the inputs differ,
/// so a caller cannot learn a stored hash byte by byte from response times.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_has_the_prefix_and_256_random_bits() {
        let credential = generate().unwrap();
        let body = credential.strip_prefix(PREFIX).expect("prefixed");
        assert_eq!(body.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), RANDOM_BYTES);
        assert!(
            body.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(generate().unwrap(), credential, "two credentials differ");
    }

    #[test]
    fn the_hash_is_hex_sha256_and_never_the_credential() {
        let credential = generate().unwrap();
        let stored = hash(&credential);
        assert_eq!(stored.len(), 64);
        assert!(stored.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!stored.contains(credential.strip_prefix(PREFIX).unwrap()));
        // A known vector: sha256("abc").
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verify_accepts_only_the_credential() {
        let credential = generate().unwrap();
        let stored = hash(&credential);
        assert!(verify(&credential, &stored));
        assert!(!verify(&generate().unwrap(), &stored));
        assert!(!verify("", &stored));
        assert!(!verify(&credential[..credential.len() - 1], &stored));
        assert!(!verify(&credential, ""));
    }

    #[test]
    fn constant_time_eq_is_plain_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"xbc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
