//! The administrator: the password hash (in `settings`) and signed-in sessions.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

const ADMIN_PASSWORD: &str = "admin_password_phc";

/// A signed-in session as stored (looked up by the SHA-256 of its cookie).
#[derive(Clone, Debug)]
pub struct AdminSessionRecord {
    pub csrf_token: String,
    pub created_at: String,
    pub last_seen_at: String,
}

impl Store {
    /// The argon2id PHC string of the admin password, if one is set.
    pub fn admin_password_phc(&self) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([ADMIN_PASSWORD], |r| r.get(0))
                .optional()
                .map_err(StoreError::from)
        })
    }

    /// Sets the admin password hash and signs out every session, in one transaction. With
    /// `only_if_unset`, does nothing and returns `false` when a password already exists (the
    /// one-time setup must not overwrite a password set meanwhile from the command line).
    pub fn set_admin_password_phc(
        &self,
        phc: &str,
        only_if_unset: bool,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let exists = tx
                .query_row(
                    "SELECT 1 FROM settings WHERE key = ?1",
                    [ADMIN_PASSWORD],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if exists && only_if_unset {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![ADMIN_PASSWORD, phc],
            )?;
            tx.execute("DELETE FROM admin_sessions", [])?;
            Ok(true)
        })
    }

    /// Records a new session, dropping sessions that started before `expired_before` (so the
    /// table never grows with abandoned sign-ins).
    pub fn create_admin_session(
        &self,
        token_hash: &[u8],
        csrf_token: &str,
        now: &str,
        expired_before: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM admin_sessions WHERE created_at < ?1",
                [expired_before],
            )?;
            tx.execute(
                "INSERT INTO admin_sessions (token_hash, csrf_token, created_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?3)",
                params![token_hash, csrf_token, now],
            )?;
            Ok(())
        })
    }

    /// The session whose cookie hashes to `token_hash`.
    pub fn admin_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<AdminSessionRecord>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT csrf_token, created_at, last_seen_at FROM admin_sessions
                 WHERE token_hash = ?1",
            )?
            .query_row([token_hash], |r| {
                Ok(AdminSessionRecord {
                    csrf_token: r.get(0)?,
                    created_at: r.get(1)?,
                    last_seen_at: r.get(2)?,
                })
            })
            .optional()
            .map_err(StoreError::from)
        })
    }

    /// Moves a session's idle deadline.
    pub fn touch_admin_session(&self, token_hash: &[u8], now: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE admin_sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
                params![token_hash, now],
            )?;
            Ok(())
        })
    }

    /// Ends one session (sign-out or expiry).
    pub fn delete_admin_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM admin_sessions WHERE token_hash = ?1",
                [token_hash],
            )?;
            Ok(())
        })
    }
}
