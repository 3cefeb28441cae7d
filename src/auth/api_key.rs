//! SCIM API keys: generation, parsing and argon2id hashing.
//!
//! A key looks like `scim_<key id>_<secret>`. The key id is public and indexed, so a request
//! finds its one candidate row without scanning or hashing; the secret (40 characters from 62,
//! about 238 bits from the OS random source) never leaves the token. Only an argon2id PHC
//! string of the whole token is stored.

use super::password;

const PREFIX: &str = "scim_";
const KEY_ID_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const KEY_ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A freshly generated key: the token to show once, and what to store.
pub struct GeneratedKey {
    /// The full token, shown to the operator exactly once.
    pub token: String,
    /// Public lookup id (also embedded in the token).
    pub key_id: String,
    /// argon2id PHC string of the token.
    pub phc: String,
}

/// Errors from key generation; both mean the OS or the hasher failed, never bad input.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random source failed")]
    Random,
    #[error("argon2 hashing failed")]
    Hash,
}

/// Generates a new key and its hash (one argon2 run, ~20–40 ms).
pub fn generate() -> Result<GeneratedKey, KeyError> {
    let key_id = random_string(KEY_ID_ALPHABET, KEY_ID_LEN)?;
    let secret = random_string(SECRET_ALPHABET, SECRET_LEN)?;
    let token = format!("{PREFIX}{key_id}_{secret}");
    let phc = password::hash(token.as_bytes()).ok_or(KeyError::Hash)?;
    Ok(GeneratedKey { token, key_id, phc })
}

/// Extracts the key id from a presented token, or `None` when the token cannot be one of ours
/// (such a token is rejected without touching the database or argon2).
pub fn key_id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let id_ok = key_id.len() == KEY_ID_LEN && key_id.bytes().all(|b| KEY_ID_ALPHABET.contains(&b));
    let secret_ok = secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    (id_ok && secret_ok).then_some(key_id)
}

/// Checks a token against a stored PHC string (one argon2 run). A malformed PHC string never
/// matches.
pub fn verify(token: &str, phc: &str) -> bool {
    password::verify(token.as_bytes(), phc)
}

/// Uniformly random characters from `alphabet` by rejection sampling (no modulo bias).
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> Result<String, KeyError> {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).map_err(|_| KeyError::Random)?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_parses_and_verifies() {
        let key = generate().expect("key");
        assert_eq!(key_id_of(&key.token), Some(key.key_id.as_str()));
        assert!(key.phc.starts_with("$argon2id$"));
        assert!(!key.phc.contains(&key.token));
        assert!(verify(&key.token, &key.phc));
    }

    #[test]
    fn a_changed_secret_does_not_verify() {
        let key = generate().expect("key");
        let mut forged = key.token.clone();
        let last = forged.pop().expect("non-empty");
        forged.push(if last == 'a' { 'b' } else { 'a' });
        assert_eq!(key_id_of(&forged), Some(key.key_id.as_str()));
        assert!(!verify(&forged, &key.phc));
        assert!(!verify(&key.token, "not a phc string"));
    }

    #[test]
    fn foreign_tokens_have_no_key_id() {
        for token in [
            "",
            "scim_",
            "scim__",
            "abcdefghijklmnopqrstuvwxyz0123",
            "scim_ABCDEFGHIJKL_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "scim_abcdefghijkl_short",
            "scim_abcdefghijkl_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
            "scim_abcdefghijkl_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé",
        ] {
            assert_eq!(key_id_of(token), None, "{token}");
        }
    }

    #[test]
    fn keys_are_distinct() {
        let a = generate().expect("key");
        let b = generate().expect("key");
        assert_ne!(a.token, b.token);
        assert_ne!(a.key_id, b.key_id);
    }
}
