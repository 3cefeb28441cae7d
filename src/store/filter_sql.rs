//! SCIM filters and `sortBy` compiled to SQL for the list queries of `users.rs` and
//! `groups.rs` (table aliases `u` and `g`).
//!
//! Comparisons on indexed columns (`id`, `userName`, `externalId`, `displayName`, `active`,
//! `meta.created`, `meta.lastModified`, email values and types, group membership both ways)
//! become plain SQL against those columns, so every equality filter an IdP sends is an index
//! lookup. Any other part of a filter is handed, as canonical filter text in a bound
//! parameter, to the `scim_match(attrs, filter, type)` SQL function, which evaluates it with
//! [`filter::matches_resource`] on the row's JSON document (parsed once per statement thanks
//! to SQLite's auxiliary data). Both paths therefore share one definition of a comparison, and
//! no user input is ever spliced into SQL text: values are parameters and every name in the
//! SQL comes from the static schema.
//!
//! Text columns named `*_key` hold Rust's Unicode lower case, so case-insensitive comparisons
//! lower-case the filter value the same way; `scim_fold()` is that function inside SQL.
//!
//! Every filter [`filter::parse`] accepts compiles to SQL that SQLite accepts, by construction
//! rather than by checking: an `and`/`or` chain becomes one flat SQL group with one
//! `scim_match` call for all its in-memory operands, so the SQL nests only where the filter
//! does, a few levels per group. SQLite's expression tree gains one level per operand of a
//! chain and about three per group, so its height stays near `MAX_TERMS + 4 * MAX_DEPTH`
//! (about 110 for 100 `sw` terms, or for 32 nested `not`s), far below `SQLITE_MAX_EXPR_DEPTH`
//! (1000); a comparison binds at most two parameters, far below `SQLITE_MAX_VARIABLE_NUMBER`
//! (32766); and `scim_match` reads its text back with [`filter::parse_canonical`], whose bounds
//! the canonical text meets whenever the client's did.
//! An error from SQLite is thus never the client's doing, and stays a 500.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Map, Value};

use crate::scim::filter::{self, AttrPath, CompValue, CompareOp, Filter, FilterError};
use crate::scim::schema::{AttrRef, AttrType, Attribute, GROUP, ResourceType, USER};
use crate::store::StoreError;
use crate::timestamp;

/// A WHERE fragment with `?` placeholders, and its parameters in order.
#[derive(Debug, Default)]
pub(super) struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl From<FilterError> for StoreError {
    fn from(e: FilterError) -> Self {
        StoreError::InvalidFilter(e.0)
    }
}

/// Compiles a filter for a list of `rt` resources; rejects unknown attributes and ill-typed
/// comparisons (400 `invalidFilter`).
pub(super) fn compile_filter(
    filter: &Filter,
    rt: &ResourceType,
) -> Result<SqlFragment, FilterError> {
    filter::check(filter, rt)?;
    let compiler = Compiler::new(rt);
    Ok(compiler.finish(compiler.node(filter)?))
}

/// The ORDER BY expression for `sortBy` (RFC 7644 §3.4.2.3). Multi-valued attributes sort by
/// their first value (emails by the member email: primary, else work, else first).
pub(super) fn compile_sort(path: &str, rt: &ResourceType) -> Result<String, FilterError> {
    let attr_path = AttrPath::parse(path.trim())?;
    let at = attr_path.resolve(rt)?;
    let compiler = Compiler::new(rt);
    if let Some(column) = compiler.column(&at) {
        return match column {
            Column::Text { expr, .. } | Column::DateTime(expr) | Column::Bool(expr) => Ok(expr),
            Column::Const(_) => Ok("NULL".to_owned()),
        };
    }
    let a = compiler.alias;
    if compiler.is_user() && at.attr.name == "emails" && at.sub.is_none_or(|s| s.name == "value") {
        return Ok(format!("{a}.email_key"));
    }
    if compiler.join(&at).is_some() || at.is_common() {
        return Err(FilterError(format!(
            "Results cannot be sorted by \"{path}\"."
        )));
    }
    let leaf = at.leaf();
    if leaf.kind == AttrType::Complex {
        return Err(FilterError(format!(
            "\"{path}\" is complex; sort by one of its sub-attributes."
        )));
    }
    let mut json_path = String::from("$");
    if let Some(ext) = at.extension(rt) {
        json_path.push_str(&format!(".\"{}\"", ext.id));
    }
    json_path.push_str(&format!(".\"{}\"", at.attr.name));
    if at.attr.multi_valued {
        json_path.push_str("[0]");
    }
    if let Some(sub) = at.sub {
        json_path.push_str(&format!(".\"{}\"", sub.name));
    }
    let expr = format!("json_extract({a}.attrs, '{json_path}')");
    Ok(if is_text(leaf) && !leaf.case_exact {
        format!("scim_fold({expr})")
    } else {
        expr
    })
}

/// Registers `scim_fold` and `scim_match` on a connection (done for every pooled connection).
pub(super) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("scim_fold", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).to_lowercase()),
            _ => None,
        })
    })?;
    conn.create_scalar_function("scim_match", 3, flags, |ctx| {
        let rt = match ctx.get_raw(2).as_str()? {
            "User" => &USER,
            "Group" => &GROUP,
            other => {
                return Err(rusqlite::Error::UserFunctionError(
                    format!("scim_match: unknown resource type {other}").into(),
                ));
            }
        };
        let filter = ctx.get_or_create_aux(1, |v| -> Result<Filter, FilterError> {
            let text = v.as_str().map_err(|_| FilterError("not text".into()))?;
            filter::parse_canonical(text)
        })?;
        let doc: Map<String, Value> = match ctx.get_raw(0) {
            ValueRef::Text(t) => serde_json::from_slice(t).unwrap_or_default(),
            _ => Map::new(),
        };
        Ok(filter::matches_resource(&filter, rt, &doc))
    })
}

fn is_text(attr: &Attribute) -> bool {
    matches!(
        attr.kind,
        AttrType::String | AttrType::Reference | AttrType::Binary
    )
}

/// A part of a compiled filter: SQL with its parameters, or a subtree to evaluate in memory.
enum Part {
    Sql(String, Vec<SqlValue>),
    Memory(Filter),
}

/// How a path maps onto a column of the resource's own row.
enum Column {
    /// Text; `folded` columns hold lower-cased values.
    Text { expr: String, folded: bool },
    /// A `timestamp::format` timestamp (fixed width, so text order is time order).
    DateTime(String),
    /// 0 or 1.
    Bool(String),
    /// A value known without looking (`meta.resourceType`).
    Const(&'static str),
}

/// A multi-valued attribute kept in a side table: `select` yields the ids of the resources
/// having an element, `sub` maps sub-attribute names to columns of that element.
struct Join {
    select: &'static str,
    sub: fn(&str) -> Option<Column>,
}

struct Compiler<'r> {
    rt: &'r ResourceType,
    alias: &'static str,
}

impl<'r> Compiler<'r> {
    fn new(rt: &'r ResourceType) -> Self {
        let alias = if std::ptr::eq(rt, &GROUP) { "g" } else { "u" };
        Compiler { rt, alias }
    }

    fn is_user(&self) -> bool {
        self.alias == "u"
    }

    fn finish(&self, part: Part) -> SqlFragment {
        let (sql, params) = self.to_sql(part);
        SqlFragment { sql, params }
    }

    fn to_sql(&self, part: Part) -> (String, Vec<SqlValue>) {
        match part {
            Part::Sql(sql, params) => (sql, params),
            Part::Memory(f) => (
                format!("scim_match({}.attrs, ?, '{}')", self.alias, self.rt.name),
                vec![SqlValue::Text(f.to_string())],
            ),
        }
    }

    fn node(&self, f: &Filter) -> Result<Part, FilterError> {
        match f {
            Filter::And(..) | Filter::Or(..) => self.chain(f),
            Filter::Not(a) => Ok(match self.node(a)? {
                Part::Memory(a) => Part::Memory(Filter::Not(Box::new(a))),
                Part::Sql(sql, params) => Part::Sql(format!("NOT ifnull({sql}, 0)"), params),
            }),
            leaf => Ok(self
                .leaf(leaf)?
                .unwrap_or_else(|| Part::Memory(leaf.clone()))),
        }
    }

    /// An `and`/`or` chain as one flat SQL group, its in-memory operands gathered into one
    /// `scim_match` call. Both words are associative, so however the filter grouped its
    /// operands, neither the SQL nor the canonical text nests deeper than the filter did
    /// (building one level per operand made a 34-term chain too deep to parse again).
    fn chain(&self, f: &Filter) -> Result<Part, FilterError> {
        let and = matches!(f, Filter::And(..));
        let join = |a, b| {
            if and {
                Filter::And(Box::new(a), Box::new(b))
            } else {
                Filter::Or(Box::new(a), Box::new(b))
            }
        };
        let mut sql = Vec::new();
        let mut params = Vec::new();
        let mut memory = None;
        for operand in chain_operands(f) {
            match self.node(operand)? {
                Part::Sql(s, p) => {
                    sql.push(s);
                    params.extend(p);
                }
                Part::Memory(m) => {
                    memory = Some(match memory.take() {
                        Some(before) => join(before, m),
                        None => m,
                    });
                }
            }
        }
        if let Some(m) = memory {
            if sql.is_empty() {
                return Ok(Part::Memory(m));
            }
            let (s, p) = self.to_sql(Part::Memory(m));
            sql.push(s);
            params.extend(p);
        }
        let word = if and { " AND " } else { " OR " };
        Ok(Part::Sql(format!("({})", sql.join(word)), params))
    }

    /// SQL for a comparison, presence test or value path, or `None` when the document must
    /// answer it.
    fn leaf(&self, f: &Filter) -> Result<Option<Part>, FilterError> {
        let (path, test) = match f {
            Filter::Compare { path, op, value } => (path, Some((*op, value))),
            Filter::Present(path) => (path, None),
            Filter::ValuePath { path, filter } => {
                let at = path.resolve(self.rt)?;
                let Some(join) = self.join(&at) else {
                    return Ok(None);
                };
                return Ok(match element_sql(filter, &join)? {
                    Some((cond, params)) => Some(self.in_join(&join, "IN", &cond, params)),
                    None if self.is_user() => None,
                    None => return Err(not_filterable(path)),
                });
            }
            Filter::And(..) | Filter::Or(..) | Filter::Not(..) => unreachable!("not a leaf"),
        };
        let at = path.resolve(self.rt)?;
        if let Some(column) = self.column(&at) {
            let (sql, params) = match test {
                Some((op, value)) => column_compare(&column, op, value),
                // The `active` column holds the member's state (active unless revoked), even
                // after a PATCH unassigned the attribute; `pr` asks about the attribute, so the
                // document answers it.
                None if matches!(column, Column::Bool(_)) => return Ok(None),
                None => column_present(&column),
            };
            return Ok(Some(Part::Sql(sql, params)));
        }
        if at.is_common() {
            return Err(not_filterable(path));
        }
        let Some(join) = self.join(&at) else {
            return Ok(None);
        };
        let sub_name = at.sub.map_or("value", |s| s.name);
        let Some(column) = (join.sub)(sub_name) else {
            return if self.is_user() && at.attr.name == "emails" {
                Ok(None)
            } else {
                Err(not_filterable(path))
            };
        };
        Ok(Some(match test {
            None if at.sub.is_none() => Part::Sql(
                format!("{}.id IN ({})", self.alias, join.select),
                Vec::new(),
            ),
            None => {
                let (cond, params) = column_present(&column);
                self.in_join(&join, "IN", &cond, params)
            }
            Some((CompareOp::Eq, CompValue::Null)) => {
                self.in_join(&join, "NOT IN", &column_not_null(&column), Vec::new())
            }
            Some((CompareOp::Ne, CompValue::Null)) => {
                self.in_join(&join, "IN", &column_not_null(&column), Vec::new())
            }
            Some((CompareOp::Ne, value)) => {
                let (cond, params) = column_compare(&column, CompareOp::Eq, value);
                self.in_join(&join, "NOT IN", &cond, params)
            }
            Some((op, value)) => {
                let (cond, params) = column_compare(&column, op, value);
                self.in_join(&join, "IN", &cond, params)
            }
        }))
    }

    fn in_join(&self, join: &Join, op: &str, cond: &str, params: Vec<SqlValue>) -> Part {
        Part::Sql(
            format!("{}.id {op} ({} WHERE {cond})", self.alias, join.select),
            params,
        )
    }

    /// The column of the resource's own row that answers `at`, if any.
    fn column(&self, at: &AttrRef) -> Option<Column> {
        let a = self.alias;
        let text = |col: &str, folded: bool| Column::Text {
            expr: format!("{a}.{col}"),
            folded,
        };
        let sub = at.sub.map(|s| s.name);
        Some(match (at.attr.name, sub) {
            ("id", None) if at.is_common() => text("id", false),
            ("externalId", None) if at.is_common() => text("external_id", false),
            ("meta", Some("created")) => Column::DateTime(format!("{a}.created_at")),
            ("meta", Some("lastModified")) => Column::DateTime(format!("{a}.updated_at")),
            ("meta", Some("resourceType")) => Column::Const(self.rt.name),
            ("meta", Some("version")) => Column::Text {
                expr: format!("('W/\"' || {a}.version || '\"')"),
                folded: false,
            },
            ("displayName", None) => text("display_name_key", true),
            ("userName", None) if self.is_user() => text("user_name_key", true),
            ("active", None) if self.is_user() => Column::Bool(format!("{a}.active")),
            _ => return None,
        })
    }

    /// The side table holding `at`'s attribute, if it lives in one.
    fn join(&self, at: &AttrRef) -> Option<Join> {
        if at.extension(self.rt).is_some() || at.is_common() {
            return None;
        }
        match (self.is_user(), at.attr.name) {
            (true, "emails") => Some(Join {
                select: "SELECT je.user_id FROM user_emails je",
                sub: |name| match name {
                    "value" => Some(Column::Text {
                        expr: "je.value_key".into(),
                        folded: true,
                    }),
                    "type" => Some(Column::Text {
                        expr: "je.type_key".into(),
                        folded: true,
                    }),
                    _ => None,
                },
            }),
            (true, "groups") => Some(Join {
                select: "SELECT jm.user_id FROM group_members jm JOIN groups jg ON jg.id = jm.group_id",
                sub: |name| match name {
                    "value" => Some(Column::Text {
                        expr: "jm.group_id".into(),
                        folded: false,
                    }),
                    "display" => Some(Column::Text {
                        expr: "jg.display_name_key".into(),
                        folded: true,
                    }),
                    "type" => Some(Column::Const("direct")),
                    _ => None,
                },
            }),
            (false, "members") => Some(Join {
                select: "SELECT jm.group_id FROM group_members jm JOIN users ju ON ju.id = jm.user_id",
                sub: |name| match name {
                    "value" => Some(Column::Text {
                        expr: "jm.user_id".into(),
                        folded: false,
                    }),
                    "display" => Some(Column::Text {
                        expr: "scim_fold(coalesce(jm.display, ju.display_name, ju.user_name))"
                            .into(),
                        folded: true,
                    }),
                    "type" => Some(Column::Const("User")),
                    _ => None,
                },
            }),
            _ => None,
        }
    }
}

fn not_filterable(path: &AttrPath) -> FilterError {
    FilterError(format!("Filtering on \"{path}\" is not supported."))
}

/// The operands of the `and` (or `or`) chain `f`, in order, however it is grouped:
/// `(a and b) and c` and `a and (b and c)` both give `[a, b, c]`.
fn chain_operands(f: &Filter) -> Vec<&Filter> {
    let mut operands = Vec::new();
    let mut pending = vec![f];
    while let Some(g) = pending.pop() {
        match (f, g) {
            (Filter::And(..), Filter::And(a, b)) | (Filter::Or(..), Filter::Or(a, b)) => {
                pending.push(b);
                pending.push(a);
            }
            _ => operands.push(g),
        }
    }
    operands
}

/// The WHERE condition on a side-table element for `attr[filter]`; `None` if some
/// sub-attribute it names has no column. (The mapped names, `value`, `type` and `display`,
/// are lower case, so matching them case-insensitively is lower-casing.)
fn element_sql(f: &Filter, join: &Join) -> Result<Option<(String, Vec<SqlValue>)>, FilterError> {
    Ok(Some(match f {
        Filter::And(..) | Filter::Or(..) => {
            let word = if matches!(f, Filter::And(..)) {
                " AND "
            } else {
                " OR "
            };
            let mut conditions = Vec::new();
            let mut params = Vec::new();
            for operand in chain_operands(f) {
                let Some((sql, p)) = element_sql(operand, join)? else {
                    return Ok(None);
                };
                conditions.push(sql);
                params.extend(p);
            }
            (format!("({})", conditions.join(word)), params)
        }
        Filter::Not(a) => match element_sql(a, join)? {
            Some((sql, params)) => (format!("NOT ifnull({sql}, 0)"), params),
            None => return Ok(None),
        },
        Filter::Compare { path, op, value } => match (join.sub)(&path.attr.to_ascii_lowercase()) {
            Some(column) => column_compare(&column, *op, value),
            None => return Ok(None),
        },
        Filter::Present(path) => match (join.sub)(&path.attr.to_ascii_lowercase()) {
            Some(column) => column_present(&column),
            None => return Ok(None),
        },
        Filter::ValuePath { .. } => return Ok(None),
    }))
}

/// `eq null` is the absence of a value; an empty string is a value (but not `pr`).
fn column_not_null(column: &Column) -> String {
    match column {
        Column::Text { expr, .. } | Column::DateTime(expr) | Column::Bool(expr) => {
            format!("{expr} IS NOT NULL")
        }
        Column::Const(_) => "1".into(),
    }
}

fn column_present(column: &Column) -> (String, Vec<SqlValue>) {
    match column {
        Column::Text { expr, .. } => (format!("({expr} IS NOT NULL AND {expr} <> '')"), Vec::new()),
        Column::DateTime(expr) | Column::Bool(expr) => (format!("{expr} IS NOT NULL"), Vec::new()),
        Column::Const(_) => ("1".into(), Vec::new()),
    }
}

/// `column op value` with the filter's semantics: `ne` is the negation of `eq` (so an absent
/// value is "not equal"), `eq null` is absence, and an empty `co`/`sw`/`ew` operand matches
/// any value. The filter was checked, so the value has the column's type.
fn column_compare(column: &Column, op: CompareOp, value: &CompValue) -> (String, Vec<SqlValue>) {
    let (expr, operand) = match (column, value) {
        (Column::Const(constant), _) => {
            let attr = constant_attr();
            let holds = filter::holds(attr, &[&Value::String((*constant).to_owned())], op, value);
            return (if holds { "1" } else { "0" }.into(), Vec::new());
        }
        (
            Column::Text { expr, .. } | Column::DateTime(expr) | Column::Bool(expr),
            CompValue::Null,
        ) => {
            let test = if op == CompareOp::Eq {
                "IS NULL"
            } else {
                "IS NOT NULL"
            };
            return (format!("{expr} {test}"), Vec::new());
        }
        (Column::Bool(expr), value) => {
            let wanted = match value {
                CompValue::Bool(b) => *b,
                CompValue::String(s) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            (expr, SqlValue::Integer(i64::from(wanted)))
        }
        (Column::Text { expr, folded }, CompValue::String(s)) => (
            expr,
            SqlValue::Text(if *folded { s.to_lowercase() } else { s.clone() }),
        ),
        (Column::DateTime(expr), CompValue::String(s)) => {
            let text = match (op, filter::parse_datetime(s)) {
                (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) | (_, None) => s.clone(),
                (_, Some(at)) => timestamp::format(at),
            };
            (expr, SqlValue::Text(text))
        }
        (Column::Text { expr, .. } | Column::DateTime(expr), other) => {
            (expr, SqlValue::Text(other.to_string()))
        }
    };
    let empty = matches!(&operand, SqlValue::Text(t) if t.is_empty());
    let one = |sql: String| (sql, vec![operand.clone()]);
    match op {
        CompareOp::Eq => one(format!("{expr} = ?")),
        CompareOp::Ne => one(format!("NOT ifnull({expr} = ?, 0)")),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew if empty => {
            (format!("{expr} IS NOT NULL"), Vec::new())
        }
        CompareOp::Co => one(format!("instr({expr}, ?) > 0")),
        CompareOp::Sw => (
            format!("substr({expr}, 1, length(?)) = ?"),
            vec![operand.clone(), operand.clone()],
        ),
        CompareOp::Ew => (
            format!("substr({expr}, -length(?)) = ?"),
            vec![operand.clone(), operand.clone()],
        ),
        CompareOp::Gt => one(format!("{expr} > ?")),
        CompareOp::Ge => one(format!("{expr} >= ?")),
        CompareOp::Lt => one(format!("{expr} < ?")),
        CompareOp::Le => one(format!("{expr} <= ?")),
    }
}

/// The attribute definition constants compare with (`meta.resourceType`, member `type`):
/// case-insensitive text.
fn constant_attr() -> &'static Attribute {
    GROUP
        .resolve("members.type")
        .map(|at| at.leaf())
        .expect("the Group schema defines members.type")
}

#[cfg(test)]
mod tests {
    //! The SQL fast paths must agree with the in-memory evaluator on every filter: both are
    //! run over the same users and compared.
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::json;

    use super::*;
    use crate::scim::filter::strategies::{Leaf, bounded_text};
    use crate::scim::filter::{MAX_DEPTH, MAX_LENGTH, MAX_TERMS};
    use crate::scim::list::ListQuery;
    use crate::scim::{ScimError, ScimType};
    use crate::store::{Actor, IssuedKey, Store, StoreError, SyncMode};

    /// A stored user's id and document.
    type UserDoc = (String, Map<String, Value>);

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        org: String,
        users: Vec<UserDoc>,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let dir = tempfile::TempDir::new().unwrap();
            let store = Store::open(dir.path(), SyncMode::Normal).unwrap();
            let org = store
                .create_org(
                    "t",
                    Some(IssuedKey {
                        key_id: "k",
                        phc: "x",
                    }),
                    Actor::Cli,
                )
                .unwrap()
                .id;
            let docs = [
                json!({"userName": "Bjensen@Example.com", "displayName": "Babs Jensen",
                       "externalId": "E1", "title": "Guide", "active": true,
                       "name": {"givenName": "Barbara"},
                       "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                                  {"value": "Babs@Home.org", "type": "home"}]}),
                json!({"userName": "zoë@example.com", "displayName": "ZOË", "active": false,
                       "emails": [{"value": "zoë@example.com"}]}),
                json!({"userName": "x", "externalId": "e1", "active": true, "title": "",
                       "emails": [{"value": "x@work.example", "type": "Work"}]}),
                json!({"userName": "İstanbul", "displayName": "", "active": true}),
            ];
            let users = docs
                .into_iter()
                .map(|doc| {
                    let attrs = doc.as_object().unwrap().clone();
                    let user = store.create_user(&org, "k", attrs).unwrap();
                    (user.id, user.attrs)
                })
                .collect();
            Fixture {
                _dir: dir,
                store,
                org,
                users,
            }
        })
    }

    fn arb_filter() -> impl Strategy<Value = String> {
        let path = proptest::sample::select(vec![
            "userName",
            "USERNAME",
            "displayName",
            "externalId",
            "title",
            "emails",
            "emails.value",
            "emails.type",
            "emails.primary",
            "name.givenName",
            "active",
        ]);
        let op =
            proptest::sample::select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
        let value = proptest::sample::select(vec![
            "\"bjensen@example.com\"",
            "\"BJENSEN\"",
            "\"work\"",
            "\"\"",
            "\"x\"",
            "\"e1\"",
            "\"E1\"",
            "\"zoë\"",
            "\"ZOË\"",
            "\"i̇stanbul\"",
            "\".com\"",
            "\"m\"",
            "true",
            "false",
            "null",
        ]);
        let compare = (path.clone(), op, value).prop_map(|(p, o, v)| format!("{p} {o} {v}"));
        let present = path.prop_map(|p| format!("{p} pr"));
        let element = (
            proptest::sample::select(vec!["value", "type", "primary"]),
            proptest::sample::select(vec!["eq", "ne", "co", "sw"]),
            proptest::sample::select(vec![
                "\"work\"",
                "\"bjensen@example.com\"",
                "\"X\"",
                "true",
                "null",
            ]),
        )
            .prop_map(|(p, o, v)| format!("emails[{p} {o} {v}]"));
        let leaf = prop_oneof![4 => compare, 1 => present, 2 => element];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    /// The ids of `users` (in creation order) that the filter selects through SQL, and those
    /// the in-memory evaluator selects.
    fn both_ways(
        org: &str,
        users: &[UserDoc],
        text: &str,
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let parsed = filter::parse(text).unwrap();
        let page = fixture().store.list_users(
            org,
            &ListQuery {
                filter: Some(parsed.clone()),
                start_index: 1,
                count: 100,
                ..ListQuery::default()
            },
        )?;
        let from_sql = page.items.into_iter().map(|u| u.id).collect();
        let from_memory = users
            .iter()
            .filter(|(_, doc)| filter::matches_resource(&parsed, &USER, doc))
            .map(|(id, _)| id.clone())
            .collect();
        Ok((from_sql, from_memory))
    }

    /// A new organization in the fixture's store holding those of `docs` it accepts (some
    /// random ones take a userName or email another already has).
    fn org_with_users(docs: Vec<Value>) -> (String, Vec<UserDoc>) {
        static ORGS: AtomicUsize = AtomicUsize::new(0);
        let n = ORGS.fetch_add(1, Ordering::Relaxed);
        let store = &fixture().store;
        let key_id = format!("random-{n}");
        let org = store
            .create_org(
                &key_id,
                Some(IssuedKey {
                    key_id: &key_id,
                    phc: "x",
                }),
                Actor::Cli,
            )
            .unwrap()
            .id;
        let users = docs
            .into_iter()
            .filter_map(|doc| {
                let attrs = doc.as_object()?.clone();
                let user = store.create_user(&org, &key_id, attrs).ok()?;
                Some((user.id, user.attrs))
            })
            .collect();
        (org, users)
    }

    const WORDS: [&str; 10] = [
        "bjensen",
        "BJENSEN",
        "zoë",
        "ZOË",
        "x",
        "e1",
        "E1",
        "İstanbul",
        "work",
        "",
    ];

    fn arb_user() -> impl Strategy<Value = Value> {
        let word = || select(WORDS.to_vec());
        let email = (
            select(vec![
                "bjensen@example.com",
                "x@work.example",
                "zoë@example.com",
                "Babs@Home.org",
            ]),
            proptest::option::of(select(vec!["work", "Work", "home"])),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(value, kind, primary)| {
                let mut email = json!({ "value": value });
                if let Some(kind) = kind {
                    email["type"] = json!(kind);
                }
                if let Some(primary) = primary {
                    email["primary"] = json!(primary);
                }
                email
            });
        (
            (word(), select(vec!["", "@example.com", ".m"])),
            proptest::option::of(word()),
            proptest::option::of(word()),
            proptest::option::of(word()),
            proptest::option::of(word()),
            any::<bool>(),
            vec(email, 0..=2),
        )
            .prop_map(
                |((name, suffix), display, external, title, given, active, emails)| {
                    let mut doc = json!({ "userName": format!("{name}{suffix}x") });
                    for (key, value) in [
                        ("displayName", display),
                        ("externalId", external),
                        ("title", title),
                        ("nickName", given),
                    ] {
                        if let Some(value) = value {
                            doc[key] = json!(value);
                        }
                    }
                    if let Some(given) = given {
                        doc["name"] = json!({ "givenName": given });
                    }
                    // As `POST /Users` stores it: the `active` column answers `active eq`,
                    // and holds "active" too when a PATCH removes the attribute.
                    doc["active"] = json!(active);
                    if !emails.is_empty() {
                        doc["emails"] = json!(emails);
                    }
                    doc
                },
            )
    }

    /// User attributes (and email sub-attributes) with a column, and whether they are boolean.
    const INDEXED: [(&str, bool); 7] = [
        ("userName", false),
        ("displayName", false),
        ("externalId", false),
        ("emails", false),
        ("emails.value", false),
        ("emails.type", false),
        ("active", true),
    ];
    const EMAIL_INDEXED: [(&str, bool); 2] = [("value", false), ("type", false)];
    /// Attributes only the document holds, which `scim_match` answers.
    const DOCUMENT_ONLY: [(&str, bool); 4] = [
        ("title", false),
        ("nickName", false),
        ("name.givenName", false),
        ("emails.primary", true),
    ];
    const EMAIL_DOCUMENT_ONLY: [(&str, bool); 1] = [("primary", true)];

    /// A well-typed comparison or presence test on one of `paths`.
    fn arb_typed_comparison(paths: Vec<(&'static str, bool)>) -> BoxedStrategy<String> {
        let words: Vec<String> = WORDS.iter().map(|w| format!("{w:?}")).collect();
        select(paths)
            .prop_flat_map(move |(path, boolean)| {
                let value = if boolean {
                    (
                        select(vec!["eq", "ne"]),
                        any::<bool>().prop_map(|b| b.to_string()),
                    )
                        .boxed()
                } else {
                    (
                        select(vec!["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
                        select(words.clone()),
                    )
                        .boxed()
                };
                prop_oneof![
                    4 => value.prop_map(move |(o, v)| format!("{path} {o} {v}")),
                    1 => select(vec!["eq", "ne"]).prop_map(move |o| format!("{path} {o} null")),
                    1 => Just(format!("{path} pr")),
                ]
            })
            .boxed()
    }

    /// A comparison, or an `emails[…]` value path with one or two comparisons inside and
    /// perhaps one after, on indexed attributes, document-only ones, or both.
    fn arb_typed_leaf(indexed: bool, document_only: bool) -> BoxedStrategy<Leaf> {
        let pick = |a: &[(&'static str, bool)], b: &[(&'static str, bool)]| {
            let mut paths = Vec::new();
            if indexed {
                paths.extend_from_slice(a);
            }
            if document_only {
                paths.extend_from_slice(b);
            }
            paths
        };
        let element = pick(&EMAIL_INDEXED, &EMAIL_DOCUMENT_ONLY);
        let value_path = (
            arb_typed_comparison(element.clone()),
            proptest::option::of((any::<bool>(), arb_typed_comparison(element.clone()))),
            proptest::option::of(arb_typed_comparison(element)),
        )
            .prop_map(|(first, second, tail)| {
                let mut text = format!("emails[{first}");
                let mut terms = 1;
                if let Some((and, second)) = second {
                    text.push_str(if and { " and " } else { " or " });
                    text.push_str(&second);
                    terms += 1;
                }
                text.push(']');
                if let Some(tail) = tail {
                    text.push_str(&format!(".{tail}"));
                    terms += 1;
                }
                (text, terms, 1)
            });
        prop_oneof![
            4 => arb_typed_comparison(pick(&INDEXED, &DOCUMENT_ONLY))
                .prop_map(|text| (text, 1, 0)),
            1 => value_path,
        ]
        .boxed()
    }

    /// Filters within the bounds on indexed attributes only (all SQL), document-only ones
    /// (all `scim_match`), or both mixed.
    fn arb_bounded_filter() -> impl Strategy<Value = String> {
        prop_oneof![
            bounded_text(arb_typed_leaf(true, false)),
            bounded_text(arb_typed_leaf(false, true)),
            bounded_text(arb_typed_leaf(true, true)),
        ]
    }

    proptest! {
        /// Deep and wide filters, up to every bound, over users with random attributes: SQL
        /// never fails and selects exactly what the evaluator does.
        #[test]
        fn sql_and_memory_agree_up_to_the_bounds(
            docs in vec(arb_user(), 1..=6),
            text in arb_bounded_filter(),
        ) {
            let (org, users) = org_with_users(docs);
            let (from_sql, from_memory) = both_ways(&org, &users, &text)
                .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(from_sql, from_memory, "{}", text);
        }

        #[test]
        fn sql_and_memory_agree(text in arb_filter()) {
            let f = fixture();
            let parsed = filter::parse(&text).unwrap();
            let Ok(fragment) = compile_filter(&parsed, &USER) else {
                // Ill-typed (`active co true`): rejected before any SQL runs.
                prop_assert!(filter::check(&parsed, &USER).is_err());
                return Ok(());
            };
            let page = f.store.list_users(&f.org, &ListQuery {
                filter: Some(parsed.clone()),
                start_index: 1,
                count: 100,
                ..ListQuery::default()
            }).unwrap();
            let from_sql: Vec<&str> = page.items.iter().map(|u| u.id.as_str()).collect();
            let from_memory: Vec<&str> = f.users.iter()
                .filter(|(_, doc)| filter::matches_resource(&parsed, &USER, doc))
                .map(|(id, _)| id.as_str())
                .collect();
            prop_assert_eq!(from_sql, from_memory, "{} => {}", text, fragment.sql);
        }
    }

    #[test]
    fn filters_at_each_bound_run_and_one_past_it_is_an_invalid_filter() {
        let chain = |n: usize, term: &dyn Fn(usize) -> String, word: &str| {
            (0..n).map(term).collect::<Vec<_>>().join(word)
        };
        let title = |i: usize| format!("title co \"x{i}\"");
        let mixed = |i: usize| {
            if i.is_multiple_of(2) {
                format!("userName sw \"x{i}\"")
            } else {
                format!("emails[primary eq true and value co \"x{i}\"]")
            }
        };
        let nested = |depth: usize, inner: &str| {
            let mut text = inner.to_owned();
            for i in 0..depth {
                text = if i % 2 == 0 {
                    format!("not ({text})")
                } else {
                    format!("title eq \"{i}\" or (userName pr and {text})")
                };
            }
            text
        };
        let long = |bytes: usize| {
            let head = "title co \"\"";
            format!("title co \"{}\"", "x".repeat(bytes - head.len()))
        };
        let at_bounds = [
            chain(34, &title, " or "),
            chain(MAX_TERMS, &title, " or "),
            chain(MAX_TERMS, &title, " and "),
            chain(MAX_TERMS / 2, &mixed, " or "),
            chain(MAX_TERMS / 2, &mixed, " and "),
            nested(MAX_DEPTH, "title pr"),
            nested(
                MAX_DEPTH - 1,
                &format!(
                    "emails[{}]",
                    chain(40, &title, " or ").replace("title", "value")
                ),
            ),
            format!("{}title pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH)),
            long(MAX_LENGTH),
        ];
        let f = fixture();
        for text in &at_bounds {
            let (from_sql, from_memory) =
                both_ways(&f.org, &f.users, text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(from_sql, from_memory, "{text}");
        }
        assert_eq!(long(MAX_LENGTH).len(), MAX_LENGTH);

        for (text, reason) in [
            (chain(MAX_TERMS + 1, &title, " or "), "comparisons"),
            (nested(MAX_DEPTH + 1, "title pr"), "deeper"),
            (
                format!(
                    "{}title pr{}",
                    "(".repeat(MAX_DEPTH + 1),
                    ")".repeat(MAX_DEPTH + 1)
                ),
                "deeper",
            ),
            (long(MAX_LENGTH + 1), "bytes"),
        ] {
            let e = filter::parse(&text).expect_err(&text);
            assert!(e.0.contains(reason), "{text}: {e}");
            let ScimError::BadRequest { scim_type, .. } = ScimError::from(e) else {
                panic!("{text}: not a 400");
            };
            assert_eq!(scim_type, Some(ScimType::InvalidFilter));
        }
    }

    #[test]
    fn equality_on_indexed_attributes_never_calls_the_evaluator() {
        for text in [
            r#"userName eq "a""#,
            r#"externalId eq "a""#,
            r#"emails[type eq "work"].value eq "a""#,
            r#"id eq "a" and members[value eq "b"]"#,
        ] {
            let rt = if text.contains("members") {
                &GROUP
            } else {
                &USER
            };
            let sql = compile_filter(&filter::parse(text).unwrap(), rt)
                .unwrap()
                .sql;
            assert!(!sql.contains("scim_match"), "{text}: {sql}");
        }
        let sql = compile_filter(
            &filter::parse(r#"title eq "a" and nickName pr"#).unwrap(),
            &USER,
        )
        .unwrap()
        .sql;
        assert_eq!(
            sql.matches("scim_match").count(),
            1,
            "one call for a whole subtree"
        );
    }

    #[test]
    fn values_are_parameters_never_sql() {
        let text = r#"userName eq "'); DROP TABLE users; --" or title co "' OR 1=1 --""#;
        let fragment = compile_filter(&filter::parse(text).unwrap(), &USER).unwrap();
        assert!(!fragment.sql.contains("DROP"));
        assert!(!fragment.sql.contains("1=1"));
    }
}
