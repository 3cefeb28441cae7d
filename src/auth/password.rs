//! argon2id hashing of secrets (API keys and the admin password) and the admin password rules.
//!
//! Only PHC strings (`$argon2id$v=19$m=…$salt$hash`) are stored. New hashes use OWASP's
//! 7 MiB / 5 passes configuration: as costly to guess against as argon2's 19 MiB / 2 default
//! (OWASP lists both), at a third of the memory, which is what bounds a server under a flood of
//! wrong secrets. Hashes made with other parameters (older releases used the 19 MiB default)
//! keep verifying with their own.
//!
//! argon2's working memory comes from a small pool of buffers that are reused rather than
//! allocated per run: freed 7–19 MiB blocks stay in the allocator's per-thread arenas, so
//! allocating per run on a pool of blocking threads grows the process by that much per
//! thread. How many runs may happen at once is bounded by [`super::gate::Argon2Gate`].

use std::sync::{Mutex, OnceLock, PoisonError};

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Shortest admin password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest admin password accepted, in bytes (argon2 is fed the whole password).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Memory of a new hash, in KiB (OWASP: m=7 MiB, t=5, p=1).
const M_COST_KIB: u32 = 7 * 1024;
const T_COST: u32 = 5;
/// The most memory a stored hash may ask for; a PHC string asking for more never matches,
/// so a tampered database row cannot make one verification allocate without bound.
const MAX_M_COST_KIB: u32 = 64 * 1024;
/// Working buffers kept for reuse (more than the gate ever runs at once).
const KEPT_BUFFERS: usize = 4;

/// argon2 buffers waiting for their next run.
static BUFFERS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `f` with at least `blocks` argon2 blocks of working memory from the pool.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let taken = BUFFERS.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let mut buffer = taken.unwrap_or_default();
    if buffer.len() < blocks {
        buffer.resize(blocks, Block::default());
    }
    let result = f(&mut buffer[..blocks]);
    let mut pool = BUFFERS.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() < KEPT_BUFFERS {
        pool.push(buffer);
    }
    result
}

fn new_hash_params() -> Option<Params> {
    Params::new(M_COST_KIB, T_COST, 1, None).ok()
}

/// Hashes `secret` with a fresh salt; `None` only if the random source or the hasher fails.
pub fn hash(secret: &[u8]) -> Option<String> {
    let params = new_hash_params()?;
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).ok()?;
    let salt = Salt::new(&salt_bytes).ok()?;
    let mut out = [0u8; 32];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_memory(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(secret, &salt, &mut out, memory)
    })
    .ok()?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().ok()?,
        salt: Some(salt),
        hash: Some(Output::new(&out).ok()?),
    };
    Some(phc.to_string())
}

/// Checks `secret` against a stored PHC string (one argon2 run). A malformed PHC string, or
/// one asking for more than `MAX_M_COST_KIB` (64 MiB), never matches.
pub fn verify(secret: &[u8], phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = with_memory(blocks, |memory| {
        argon2.hash_password_into_with_memory(secret, salt, &mut out, memory)
    });
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
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
        assert!(phc.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{phc}");
        assert!(verify(b"correct horse battery", &phc));
        assert!(!verify(b"correct horse batterz", &phc));
        assert!(!verify(b"x", "not a phc string"));
        assert!(!verify_or_dummy(b"anything", None));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_with_other_parameters_still_verify() {
        use argon2::password_hash::PasswordHasher;
        // What earlier releases stored: argon2's default (19 MiB, t=2).
        let old = Argon2::default()
            .hash_password(b"an older key")
            .expect("hash")
            .to_string();
        assert!(old.contains("m=19456,t=2"), "{old}");
        assert!(verify(b"an older key", &old));
        assert!(!verify(b"an older kez", &old));
    }

    #[test]
    fn a_hash_asking_for_too_much_memory_never_matches() {
        let phc = hash(b"secret").expect("hash");
        let greedy = phc.replace("m=7168", "m=1048576");
        assert!(!verify(b"secret", &greedy));
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
