//! Credentials. Client secrets are 256-bit random values stored as SHA-256 hashes: hashing with a
//! slow KDF would cap token issuance and invite denial of service, and a 256-bit random value needs
//! no stretching. Human passwords are low-entropy and get argon2.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{DomainError, DomainResult};

/// A fresh client secret: 32 random bytes, base64url without padding (43 characters).
pub fn generate_client_secret() -> DomainResult<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a client secret.
pub fn hash_client_secret(secret: &str) -> String {
    let digest = digest::digest(&digest::SHA256, secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn verify_client_secret(presented: &str, stored_hash: &str) -> bool {
    let presented_hash = hash_client_secret(presented);
    aws_lc_rs::constant_time::verify_slices_are_equal(
        presented_hash.as_bytes(),
        stored_hash.as_bytes(),
    )
    .is_ok()
}

/// The first three characters of a secret, shown back as Graph's `hint`.
pub fn secret_hint(secret: &str) -> String {
    secret.chars().take(3).collect()
}

/// Entra's minimal password rule: at least 8 characters, at most 256.
pub fn check_password_policy(password: &str) -> DomainResult<()> {
    let length = password.chars().count();
    if !(8..=256).contains(&length) {
        return Err(DomainError::invalid(
            "passwordProfile.password must be between 8 and 256 characters",
        ));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> DomainResult<String> {
    let mut salt_bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt_bytes)
        .map_err(|_| DomainError::Internal("the system random source failed".into()))?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| DomainError::Internal(format!("salt encoding failed: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| DomainError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secret_round_trip() {
        let secret = generate_client_secret().unwrap();
        assert_eq!(secret.len(), 43);
        let hash = hash_client_secret(&secret);
        assert!(verify_client_secret(&secret, &hash));
        assert!(!verify_client_secret("wrong", &hash));
        assert_ne!(generate_client_secret().unwrap(), secret);
    }

    #[test]
    fn password_round_trip_and_policy() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough").is_ok());
    }
}
