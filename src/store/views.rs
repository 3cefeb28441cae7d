//! Read-only views of a directory for the admin page: member summaries of a group, member
//! counts, and finding a member by userName or email. SCIM itself never needs these.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Page, Store, StoreError};

/// A member as listed on a group's page (the indexed columns only; no document parsing).
#[derive(Clone, Debug, Serialize)]
pub struct MemberSummary {
    pub id: String,
    pub user_name: String,
    /// The member email, lower-cased.
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
}

impl Store {
    /// A page of a group's members, by userName. `None` when the group is not in the
    /// organization.
    pub fn group_member_page(
        &self,
        org_id: &str,
        group_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<Option<Page<MemberSummary>>, StoreError> {
        self.read(|c| {
            let exists = c
                .prepare_cached("SELECT 1 FROM groups WHERE id = ?1 AND org_id = ?2")?
                .query_row(params![group_id, org_id], |_| Ok(()))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let total: i64 = c
                .prepare_cached("SELECT count(*) FROM group_members WHERE group_id = ?1")?
                .query_row([group_id], |r| r.get(0))?;
            let items = c
                .prepare_cached(
                    "SELECT u.id, u.user_name, u.email_key, u.display_name, u.active
                     FROM group_members m JOIN users u ON u.id = m.user_id
                     WHERE m.group_id = ?1
                     ORDER BY u.user_name_key LIMIT ?2 OFFSET ?3",
                )?
                .query_map(
                    params![group_id, limit, i64::try_from(offset).unwrap_or(i64::MAX)],
                    |r| {
                        Ok(MemberSummary {
                            id: r.get(0)?,
                            user_name: r.get(1)?,
                            email: r.get(2)?,
                            display_name: r.get(3)?,
                            active: r.get(4)?,
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Page {
                total: total as u64,
                items,
            }))
        })
    }

    /// How many members each of `group_ids` has, in the same order.
    pub fn member_counts(&self, group_ids: &[&str]) -> Result<Vec<u64>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT count(*) FROM group_members WHERE group_id = ?1")?;
            group_ids
                .iter()
                .map(|id| {
                    stmt.query_row([id], |r| r.get::<_, i64>(0))
                        .map(|n| n as u64)
                        .map_err(StoreError::from)
                })
                .collect()
        })
    }

    /// The id of the organization's member whose userName or member email is `name`
    /// (case-insensitively).
    pub fn find_member_id(&self, org_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        let key = name.trim().to_lowercase();
        self.read(|c| {
            c.prepare_cached(
                "SELECT id FROM users WHERE org_id = ?1 AND (user_name_key = ?2 OR email_key = ?2)
                 LIMIT 1",
            )?
            .query_row(params![org_id, key], |r| r.get(0))
            .optional()
            .map_err(StoreError::from)
        })
    }
}
