//! Versioned schema migrations, embedded from `sql/` and tracked in SQLite's `user_version`.

use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations, SchemaVersion};

use super::{StoreError, maintenance};
use crate::timestamp;

/// The schema version this binary writes; equal to the number of migrations (asserted in tests).
pub const SCHEMA_VERSION: usize = 6;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../sql/0001_foundation.sql")),
    M::up(include_str!("../../sql/0002_directory.sql")),
    M::up(include_str!("../../sql/0003_admin.sql")),
    M::up(include_str!("../../sql/0004_keys_webhooks.sql")),
    M::up(include_str!("../../sql/0005_ldap.sql")),
    M::up(include_str!("../../sql/0006_paging.sql")),
];

/// Brings the database to [`SCHEMA_VERSION`], or refuses (without touching it) when the file
/// was written by a newer binary. Before upgrading a database that holds data, a backup is
/// written to `<data-dir>/backups/pre-migration-v<from>-to-v<to>-<timestamp>.db`; the
/// migrations then apply in one transaction, so an upgrade lands whole or not at all.
pub(super) fn apply(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let migrations = Migrations::from_slice(MIGRATIONS);
    match migrations.current_version(conn)? {
        SchemaVersion::Outside(found) => {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found: found.get(),
                supported: SCHEMA_VERSION,
            });
        }
        SchemaVersion::Inside(from) if from.get() < SCHEMA_VERSION => {
            let dir = maintenance::backups_dir(path.parent().unwrap_or(Path::new(".")));
            let target = dir.join(format!(
                "pre-migration-v{from}-to-v{SCHEMA_VERSION}-{}.db",
                timestamp::compact(time::OffsetDateTime::now_utc())
            ));
            maintenance::backup_file(path, &target)?;
            tracing::info!(
                backup = %target.display(),
                "upgrading the database schema from version {from} to {SCHEMA_VERSION}"
            );
        }
        _ => {}
    }
    migrations.to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::list::ListQuery;
    use crate::store::{Store, SyncMode};

    #[test]
    fn schema_version_counts_the_migrations() {
        assert_eq!(MIGRATIONS.len(), SCHEMA_VERSION);
        Migrations::from_slice(MIGRATIONS)
            .validate()
            .expect("migrations are valid SQL");
    }

    /// A database of the first schema that shipped with users, groups and events (version 2),
    /// opened by this binary: migrated, backed up first, nothing lost.
    #[test]
    fn upgrading_a_version_2_database_keeps_its_data_and_backs_it_up_first() {
        let dir = tempfile::TempDir::new().expect("dir");
        let path = dir.path().join(crate::store::DB_FILE_NAME);
        {
            let mut conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "journal_mode", "WAL")
                .expect("wal");
            Migrations::from_slice(&MIGRATIONS[..2])
                .to_latest(&mut conn)
                .expect("version 2");
            conn.execute_batch(
                "INSERT INTO organizations (id, name, scim_enabled, created_at, updated_at)
                   VALUES ('o1', 'Acme', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
                 INSERT INTO api_keys VALUES ('k1', 'o1', 'phc', '2026-01-01T00:00:00.000Z');
                 INSERT INTO users (id, org_id, user_name, user_name_key, email_key, active,
                                    attrs, version, created_at, updated_at)
                   VALUES ('u1', 'o1', 'Alice@example.com', 'alice@example.com',
                           'alice@example.com', 1, '{\"userName\":\"Alice@example.com\"}', 1,
                           '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
                 INSERT INTO groups (id, org_id, display_name, display_name_key, attrs, version,
                                     created_at, updated_at)
                   VALUES ('g1', 'o1', 'Eng', 'eng', '{\"displayName\":\"Eng\"}', 1,
                           '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
                 INSERT INTO group_members (group_id, user_id) VALUES ('g1', 'u1');
                 INSERT INTO events (org_id, at, type, actor, summary)
                   VALUES ('o1', '2026-01-01T00:00:00.000Z', 'OrganizationUser_Invited', 'SCIM', 'x');",
            )
            .expect("data");
        }

        let store = Store::open(dir.path(), SyncMode::Normal).expect("migrates");
        let user = store.get_user("o1", "u1").expect("user kept");
        assert_eq!(user.attrs["userName"], "Alice@example.com");
        assert_eq!(user.groups.len(), 1);
        let group = store.get_group("o1", "g1", true).expect("group kept");
        assert_eq!(group.members.expect("members").len(), 1);
        let page = store
            .list_users(
                "o1",
                &ListQuery {
                    count: 10,
                    start_index: 1,
                    ..ListQuery::default()
                },
            )
            .expect("list");
        assert_eq!(page.total, 1);
        assert_eq!(store.list_events("o1", 10).expect("events").len(), 1);
        assert!(store.api_key_for("o1", "k1").expect("key").is_some());
        let (name, scope): (String, String) = store
            .read(|c| {
                c.query_row(
                    "SELECT name, scope FROM api_keys WHERE key_id = 'k1'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(StoreError::from)
            })
            .expect("migrated key");
        assert_eq!((name.as_str(), scope.as_str()), ("default", "provision"));
        assert_eq!(store.org_summary("o1").expect("summary").members, 1);
        // The LDAP view: a default base DN and POSIX ids in creation order, then on from there.
        assert_eq!(store.get_org("o1").expect("org").ldap_base_dn, "dc=acme");
        let ids = store.posix_ids("o1").expect("ids");
        assert_eq!((ids.users["u1"], ids.groups["g1"]), (10000, 10001));
        let attrs = serde_json::json!({ "userName": "new@example.com" });
        let new = store
            .create_user("o1", "k1", attrs.as_object().expect("object").clone())
            .expect("user");
        assert_eq!(store.posix_ids("o1").expect("ids").users[&new.id], 10002);

        let backups: Vec<_> = std::fs::read_dir(dir.path().join("backups"))
            .expect("backups dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(backups.len(), 1);
        let name = backups[0]
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            name.starts_with(&format!("pre-migration-v2-to-v{SCHEMA_VERSION}-")),
            "{name}"
        );
        let report = maintenance::inspect(&backups[0]).expect("inspect");
        assert_eq!(report.schema_version, 2);
        assert_eq!(report.organizations[0].members, 1);

        // Opening again migrates nothing and backs up nothing more.
        drop(store);
        Store::open(dir.path(), SyncMode::Normal).expect("reopens");
        assert_eq!(
            std::fs::read_dir(dir.path().join("backups"))
                .expect("dir")
                .count(),
            1
        );
    }
}
