//! Versioned schema migrations, embedded from `sql/` and tracked in SQLite's `user_version`.

use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations, SchemaVersion};

use super::StoreError;

/// The schema version this binary writes; equal to the number of migrations (asserted in tests).
pub const SCHEMA_VERSION: usize = 3;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../sql/0001_foundation.sql")),
    M::up(include_str!("../../sql/0002_directory.sql")),
    M::up(include_str!("../../sql/0003_admin.sql")),
];

/// Brings the database to [`SCHEMA_VERSION`], or refuses (without touching it) when the file
/// was written by a newer binary.
pub(super) fn apply(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let migrations = Migrations::from_slice(MIGRATIONS);
    if let SchemaVersion::Outside(found) = migrations.current_version(conn)? {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found: found.get(),
            supported: SCHEMA_VERSION,
        });
    }
    migrations.to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_version_counts_the_migrations() {
        assert_eq!(MIGRATIONS.len(), SCHEMA_VERSION);
        Migrations::from_slice(MIGRATIONS)
            .validate()
            .expect("migrations are valid SQL");
    }
}
