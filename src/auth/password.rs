//! argon2id hashing of secrets (API keys and the admin password) and the admin password rules.
//!
//! Only PHC strings (`$argon2id$v=19$m=…$salt$hash`) are stored; argon2's default parameters
//! cost ~15–40 ms per hash here, which is why callers keep it off the steady-state path.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest admin password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest admin password accepted, in bytes (argon2 is fed the whole password).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes `secret` with a fresh salt; `None` only if the hasher itself fails.
pub fn hash(secret: &[u8]) -> Option<String> {
    Argon2::default()
        .hash_password(secret)
        .ok()
        .map(|h| h.to_string())
}

/// Checks `secret` against a stored PHC string (one argon2 run). A malformed PHC string never
/// matches.
pub fn verify(secret: &[u8], phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| Argon2::default().verify_password(secret, &hash).is_ok())
        .unwrap_or(false)
}

/// Verifies against `phc`, or, when there is none, against a dummy hash of the same cost, so
/// that "no password set" and "wrong password" take as long as "right password".
pub fn verify_or_dummy(secret: &[u8], phc: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match phc {
        Some(phc) => verify(secret, phc),
        None => {
            let dummy = DUMMY.get_or_init(|| hash(b"no admin password is set").unwrap_or_default());
            verify(secret, dummy);
            false
        }
    }
}

/// Checks an admin password against the length rules; the message says what is wrong.
pub fn check_admin_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters long"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes long"
        ));
    }
    if password.trim().is_empty() {
        return Err("the password must not be only spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_secret() {
        let phc = hash(b"correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(b"correct horse battery", &phc));
        assert!(!verify(b"correct horse batterz", &phc));
        assert!(!verify(b"x", "not a phc string"));
        assert!(!verify_or_dummy(b"anything", None));
    }

    #[test]
    fn admin_passwords_need_twelve_characters() {
        assert!(check_admin_password("short").is_err());
        assert!(check_admin_password("            ").is_err());
        assert!(check_admin_password(&"x".repeat(1025)).is_err());
        assert!(check_admin_password("twelve chars").is_ok());
        assert!(check_admin_password("ünïcødé-pässwörd").is_ok());
    }
}
