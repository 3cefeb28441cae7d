//! Appliance-wide settings kept in the database.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError};

const PUBLIC_URL: &str = "public_url";

impl Store {
    /// Remembers the public URL `serve` runs with, so CLI output shows matching SCIM URLs.
    pub fn set_public_url(&self, url: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![PUBLIC_URL, url],
            )?;
            Ok(())
        })
    }

    /// The public URL `serve` last ran with, if any.
    pub fn public_url(&self) -> Result<Option<String>, StoreError> {
        self.read(|c: &Connection| {
            c.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [PUBLIC_URL],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::from)
        })
    }
}
