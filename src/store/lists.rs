//! Pages of members and groups (`GET /Users`, `GET /Groups`, `POST /.search`), and what makes
//! paging through a whole directory linear rather than quadratic.
//!
//! Identity providers read everything page by page with `startIndex`/`count` (Okta, Google
//! and Ping on every full sync). An `OFFSET` makes page `k` skip `k·count` rows, and counting
//! the matches again on every page costs a scan each, so reading 100,000 members took a minute.
//! Instead, [`Lists`] remembers, per query, the filtered total and where the last pages ended
//! (the `rowid` of their last row): a request for the page that follows seeks straight to it.
//! Both are valid only while the organization's directory is unchanged, which its newest event
//! id tells (every change writes an event in the same transaction), read in the same snapshot
//! as the page. Anything else — a change in between, a jump to an arbitrary `startIndex`, a
//! `sortBy` — falls back to `OFFSET`, so `startIndex` keeps its exact meaning and
//! `totalResults` stays exact.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::StoreError;
use super::filter_sql::{compile_filter, compile_sort};
use super::users::Page;
use crate::scim::list::ListQuery;
use crate::scim::schema::{ResourceType, USER};

/// Queries remembered at most (the map is emptied when it fills; a few IdPs page at once).
const MAX_QUERIES: usize = 256;
/// Page ends remembered per query (several readers may page through the same query).
const MAX_CURSORS: usize = 8;

/// What one query remembers.
#[derive(Debug)]
struct Remembered {
    /// The organization's newest event id when this was read (0 for none).
    generation: i64,
    total: u64,
    /// `(start index of the next page, rowid of the last row before it)`, newest last.
    cursors: Vec<(u64, i64)>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct QueryKey {
    org_id: String,
    table: &'static str,
    filter: Option<String>,
    sort: Option<(String, bool)>,
}

/// The remembered totals and page ends of recent list queries (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Lists {
    queries: Mutex<HashMap<QueryKey, Remembered>>,
}

impl Lists {
    /// One page of `rt`'s table (`users u` or `groups g`, the aliases compiled filters and
    /// sorts use) within an organization: the filtered total, then the rows of the page,
    /// ordered by the sort expression (NULLs last) and then by creation. A filter or sort the
    /// schema does not allow is [`StoreError::InvalidFilter`], before any SQL runs.
    pub(super) fn page<T>(
        &self,
        c: &Connection,
        rt: &ResourceType,
        columns: &str,
        org_id: &str,
        query: &ListQuery,
        from_row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Page<T>, StoreError> {
        let (table, alias) = if rt.name == USER.name {
            ("users u", "u")
        } else {
            ("groups g", "g")
        };
        let filter = query
            .filter
            .as_ref()
            .map(|f| compile_filter(f, rt))
            .transpose()?;
        let sort = query
            .sort_by
            .as_deref()
            .map(|path| compile_sort(path, rt))
            .transpose()?;
        let (filter_sql, filter_params) = match &filter {
            Some(fragment) => (
                format!(" AND ({})", fragment.sql),
                fragment.params.as_slice(),
            ),
            None => (String::new(), &[][..]),
        };
        let mut params: Vec<SqlValue> = vec![SqlValue::Text(org_id.to_owned())];
        params.extend(filter_params.iter().cloned());
        // Built only for a query whose pages are remembered.
        let key = || QueryKey {
            org_id: org_id.to_owned(),
            table,
            filter: query.filter.as_ref().map(ToString::to_string),
            sort: query
                .sort_by
                .as_ref()
                .map(|s| (s.clone(), query.descending)),
        };

        // One snapshot for the generation, the total and the rows.
        let tx = c.unchecked_transaction()?;
        // Only a later page can continue where an earlier one ended: a first page (most
        // requests, such as an identity provider's lookups) reads nothing more than it would.
        let (generation, known) = if query.start_index > 1 {
            let generation = newest_event(&tx, org_id)?;
            let queries = self.lock();
            let known = queries
                .get(&key())
                .filter(|r| r.generation == generation)
                .map(|known| {
                    let after = known
                        .cursors
                        .iter()
                        .find(|(start, _)| *start == query.start_index)
                        .map(|(_, rowid)| *rowid);
                    (known.total, after)
                });
            (Some(generation), known)
        } else {
            (None, None)
        };
        let (total, after) = match known {
            Some((total, after)) => (total, after),
            None => {
                let total: i64 = tx
                    .prepare_cached(&format!(
                        "SELECT count(*) FROM {table} WHERE {alias}.org_id = ?{filter_sql}"
                    ))?
                    .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
                (u64::try_from(total).unwrap_or_default(), None)
            }
        };
        if query.count == 0 {
            return Ok(Page {
                total,
                items: Vec::new(),
            });
        }

        let limit = SqlValue::Integer(i64::try_from(query.count).unwrap_or(i64::MAX));
        // The rowid follows the resource's own columns.
        let rowid_at = columns.split(',').count();
        let rows: Vec<(T, i64)> = match (&sort, after) {
            (None, Some(after)) => {
                params.push(SqlValue::Integer(after));
                params.push(limit);
                tx.prepare_cached(&format!(
                    "SELECT {columns}, {alias}.rowid FROM {table}
                     WHERE {alias}.org_id = ?{filter_sql} AND {alias}.rowid > ?
                     ORDER BY {alias}.rowid LIMIT ?"
                ))?
                .query_map(params_from_iter(params.iter()), |r| {
                    Ok((from_row(r)?, r.get(rowid_at)?))
                })?
                .collect::<Result<_, _>>()?
            }
            _ => {
                let direction = if query.descending { "DESC" } else { "ASC" };
                let order = match &sort {
                    Some(expr) => {
                        format!("({expr}) IS NULL, ({expr}) {direction}, {alias}.rowid")
                    }
                    None => format!("{alias}.rowid"),
                };
                params.push(limit);
                params.push(SqlValue::Integer(
                    i64::try_from(query.start_index.saturating_sub(1)).unwrap_or(i64::MAX),
                ));
                tx.prepare_cached(&format!(
                    "SELECT {columns}, {alias}.rowid FROM {table}
                     WHERE {alias}.org_id = ?{filter_sql}
                     ORDER BY {order} LIMIT ? OFFSET ?"
                ))?
                .query_map(params_from_iter(params.iter()), |r| {
                    Ok((from_row(r)?, r.get(rowid_at)?))
                })?
                .collect::<Result<_, _>>()?
            }
        };
        // Where the next page starts, when there is one to continue to.
        let shown = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let next_start = query.start_index.saturating_add(shown);
        let next = match (&sort, rows.last()) {
            (None, Some((_, rowid))) if next_start <= total => Some((next_start, *rowid)),
            _ => None,
        };
        if let Some(next) = next {
            let generation = match generation {
                Some(generation) => generation,
                None => newest_event(&tx, org_id)?,
            };
            self.remember(key(), generation, total, next);
        }
        tx.finish()?;
        Ok(Page {
            total,
            items: rows.into_iter().map(|(item, _)| item).collect(),
        })
    }

    /// Keeps a query's total, and where its next page starts.
    fn remember(&self, key: QueryKey, generation: i64, total: u64, next: (u64, i64)) {
        let mut queries = self.lock();
        if queries.len() >= MAX_QUERIES && !queries.contains_key(&key) {
            queries.clear();
        }
        let known = queries.entry(key).or_insert_with(|| Remembered {
            generation,
            total,
            cursors: Vec::new(),
        });
        if known.generation != generation {
            *known = Remembered {
                generation,
                total,
                cursors: Vec::new(),
            };
        }
        let (start, rowid) = next;
        known.cursors.retain(|(s, _)| *s != start);
        if known.cursors.len() >= MAX_CURSORS {
            known.cursors.remove(0);
        }
        known.cursors.push((start, rowid));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<QueryKey, Remembered>> {
        self.queries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The organization's newest event id (0 for none): every change to its directory writes an
/// event in the same transaction, so an unchanged id means an unchanged directory.
fn newest_event(c: &Connection, org_id: &str) -> Result<i64, StoreError> {
    Ok(
        c.prepare_cached("SELECT ifnull(max(id), 0) FROM events WHERE org_id = ?1")?
            .query_row([org_id], |r| r.get(0))?,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::scim::list::ListQuery;
    use crate::store::{Actor, Store, StoreError, SyncMode};

    fn store_with_members(n: usize) -> (tempfile::TempDir, Store, String, Vec<String>) {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let org = store.create_org("Acme", None, Actor::Cli).expect("org").id;
        let ids = (0..n)
            .map(|i| {
                let attrs = json!({ "userName": format!("u{i}") });
                let attrs = attrs.as_object().expect("object").clone();
                store.create_user(&org, "k", attrs).expect("user").id
            })
            .collect();
        (dir, store, org, ids)
    }

    #[test]
    fn a_keyed_page_seeks_without_sorting_the_organization() {
        let (_dir, store, org, _) = store_with_members(300);
        store.optimize().expect("optimize");
        for table in ["users", "groups"] {
            let plan: Vec<String> = store
                .read(|c| {
                    // A statement that runs loads the statistics `optimize` wrote.
                    c.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?;
                    let mut stmt = c.prepare(&format!(
                        "EXPLAIN QUERY PLAN SELECT t.id FROM {table} t
                         WHERE t.org_id = ?1 AND t.rowid > ?2 ORDER BY t.rowid LIMIT 100"
                    ))?;
                    let rows = stmt.query_map(rusqlite::params![org, 150], |r| r.get(3))?;
                    Ok::<_, StoreError>(rows.collect::<Result<Vec<String>, _>>()?)
                })
                .expect("plan");
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{table}: {plan:?}"
            );
        }
    }

    fn page(store: &Store, org: &str, start_index: u64) -> (u64, Vec<String>) {
        let page = store
            .list_users(
                org,
                &ListQuery {
                    start_index,
                    count: 100,
                    ..ListQuery::default()
                },
            )
            .expect("page");
        (page.total, page.items.into_iter().map(|u| u.id).collect())
    }

    #[test]
    fn paging_through_everything_returns_each_member_once_in_order() {
        let (_dir, store, org, ids) = store_with_members(250);
        let mut seen = Vec::new();
        for start in [1, 101, 201] {
            let (total, items) = page(&store, &org, start);
            assert_eq!(total, 250);
            seen.extend(items);
        }
        assert_eq!(seen, ids);
        assert_eq!(page(&store, &org, 251).1, Vec::<String>::new());
    }

    #[test]
    fn the_next_page_continues_from_where_the_last_ended() {
        let (_dir, store, org, ids) = store_with_members(250);
        page(&store, &org, 1);
        // A row removed behind the store's back (no event): an offset would now skip a member;
        // the remembered end of page one does not.
        store
            .write(|tx| {
                tx.execute("DELETE FROM users WHERE id = ?1", [&ids[0]])?;
                Ok::<_, StoreError>(())
            })
            .expect("delete");
        let (total, items) = page(&store, &org, 101);
        assert_eq!(total, 250, "the remembered total");
        assert_eq!(items.first(), Some(&ids[100]));
    }

    #[test]
    fn a_change_between_pages_keeps_start_index_exact() {
        let (_dir, store, org, ids) = store_with_members(250);
        page(&store, &org, 1);
        store
            .delete_user(&org, &ids[0], "k", |_| Ok::<(), StoreError>(()))
            .expect("delete");
        let (total, items) = page(&store, &org, 101);
        assert_eq!(total, 249);
        assert_eq!(
            items.first(),
            Some(&ids[101]),
            "the 101st of what is there now"
        );
    }
}
