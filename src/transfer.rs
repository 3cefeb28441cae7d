//! Export and import of one organization's directory, for moving from another system, seeding
//! a test organization or keeping a readable copy.
//!
//! - **JSON** is lossless: members are SCIM User resources exactly as the SCIM API shows them
//!   (without `meta` and `groups`), groups list their members by userName.
//! - **CSV** has one row per member (`userName,email,displayName,givenName,familyName,
//!   externalId,active,groups`, groups separated by `;`), for spreadsheets. Importing it only
//!   sets those fields and keeps a member's other attributes.
//!
//! Every imported record goes through the same reading and rules as a SCIM POST, so an import
//! can store nothing the SCIM API would refuse; errors name the record.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use serde_json::{Map, Value, json};

use crate::directory::UserFields;
use crate::store::{DirectoryExport, ImportGroup, Store, StoreError};
use crate::timestamp;

/// The `format` marker of a JSON export.
const JSON_FORMAT: &str = "scim-appliance-export/1";
/// CSV columns, in order.
const CSV_COLUMNS: [&str; 8] = [
    "userName",
    "email",
    "displayName",
    "givenName",
    "familyName",
    "externalId",
    "active",
    "groups",
];

/// A file format for export and import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// The format a file name suggests (`.csv` → CSV, anything else JSON).
    pub fn from_file_name(name: &std::path::Path) -> Format {
        match name.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Json,
        }
    }
}

/// A checked import file: its members, read again one by one when imported (never all held
/// as documents at once, so importing 100,000 members takes little memory), and its groups.
#[derive(Debug)]
pub struct ImportFile<'a> {
    source: Source<'a>,
    /// How many members [`ImportFile::members`] yields.
    pub member_count: usize,
    pub groups: Vec<ImportGroup>,
    /// CSV imports set only their columns on existing members (see the module docs).
    pub merge: bool,
}

/// Where the members of an import file come from.
#[derive(Debug)]
enum Source<'a> {
    /// The CSV text, checked: it is read again row by row.
    Csv(&'a [u8]),
    /// The JSON `members` array, each read into a document when its turn comes.
    Json(Vec<Value>),
}

impl ImportFile<'_> {
    /// The members as canonical documents, in file order. They were all checked by [`parse`],
    /// so an error here would mean the file changed under us.
    pub fn members(&self) -> Box<dyn Iterator<Item = Result<Map<String, Value>, StoreError>> + '_> {
        match &self.source {
            Source::Csv(bytes) => match CsvMembers::open(bytes) {
                Ok(rows) => Box::new(rows.map(|row| row.map(|member| member.attrs))),
                Err(e) => Box::new(std::iter::once(Err(e))),
            },
            Source::Json(items) => {
                Box::new(items.iter().enumerate().map(|(i, m)| json_member(i, m)))
            }
        }
    }
}

/// Writes the organization's directory to `out`; returns (members, groups) written.
pub fn export(
    store: &Store,
    org_id: &str,
    base_url: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let org = store.get_org(org_id)?;
    let directory = store.export_directory(org_id)?;
    let counts = (directory.members.len(), directory.groups.len());
    match format {
        Format::Json => {
            let body = json!({
                "format": JSON_FORMAT,
                "exported_at": timestamp::now(),
                "organization": {"id": org.id, "name": org.name},
                "members": directory.members.iter().map(|u| {
                    let mut resource = crate::scim::users::render(u, base_url);
                    if let Some(o) = resource.as_object_mut() {
                        o.remove("meta");
                        o.remove("groups");
                    }
                    resource
                }).collect::<Vec<_>>(),
                "groups": directory.groups.iter().map(|g| {
                    let mut group = g.attrs.clone();
                    group.insert("members".into(), json!(g.member_user_names));
                    Value::Object(group)
                }).collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut *out, &body)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&directory, out)?,
    }
    Ok(counts)
}

fn write_csv(
    directory: &DirectoryExport,
    out: &mut dyn Write,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut groups_of: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for group in &directory.groups {
        let name = text(&group.attrs, "displayName").unwrap_or_default();
        for member in &group.member_user_names {
            groups_of
                .entry(member.to_lowercase())
                .or_default()
                .push(name.to_owned());
        }
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_COLUMNS)?;
    for user in &directory.members {
        let fields = UserFields::from_doc(&user.attrs);
        let name = user.attrs.get("name").and_then(Value::as_object);
        let part = |key: &str| {
            name.and_then(|n| n.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let groups = groups_of
            .get(&fields.user_name.to_lowercase())
            .map(|g| g.join(";"))
            .unwrap_or_default();
        writer.write_record([
            fields.user_name.as_str(),
            fields.email_key.as_deref().unwrap_or_default(),
            fields.display_name.as_deref().unwrap_or_default(),
            part("givenName"),
            part("familyName"),
            fields.external_id.as_deref().unwrap_or_default(),
            if fields.active { "true" } else { "false" },
            &groups,
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// Reads and checks a whole import file (every member and group, each userName once); every
/// error names the record it is about.
pub fn parse(format: Format, bytes: &[u8]) -> Result<ImportFile<'_>, StoreError> {
    let file = match format {
        Format::Json => parse_json(bytes)?,
        Format::Csv => parse_csv(bytes)?,
    };
    Ok(file)
}

/// Remembers each userName (case-insensitively) and refuses the second of one.
#[derive(Default)]
struct UserNames(HashSet<String>);

impl UserNames {
    fn add(&mut self, i: usize, attrs: &Map<String, Value>) -> Result<(), StoreError> {
        let name = text(attrs, "userName").unwrap_or_default().to_lowercase();
        if self.0.contains(&name) {
            return Err(invalid(format!(
                "member {}: the userName \"{name}\" appears more than once",
                i + 1
            )));
        }
        self.0.insert(name);
        Ok(())
    }
}

fn json_member(i: usize, value: &Value) -> Result<Map<String, Value>, StoreError> {
    crate::scim::users::read_user(value).map_err(|e| invalid(format!("member {}: {e}", i + 1)))
}

fn parse_json(bytes: &[u8]) -> Result<ImportFile<'_>, StoreError> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the file is not valid JSON: {e}")))?;
    let Value::Object(mut doc) = doc else {
        return Err(invalid(
            "the file must hold one JSON object with \"members\"",
        ));
    };
    if let Some(marker) = doc.get("format")
        && marker != JSON_FORMAT
    {
        return Err(invalid(format!(
            "the file's format is {marker}, not \"{JSON_FORMAT}\""
        )));
    }
    let mut list = |key: &str| -> Result<Vec<Value>, StoreError> {
        match doc.remove(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(invalid(format!("\"{key}\" must be an array"))),
        }
    };
    let members = list("members")?;
    let groups = list("groups")?
        .iter()
        .enumerate()
        .map(|(i, g)| read_group(g).map_err(|e| invalid(format!("group {}: {e}", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut names = UserNames::default();
    for (i, member) in members.iter().enumerate() {
        names.add(i, &json_member(i, member)?)?;
    }
    Ok(ImportFile {
        member_count: members.len(),
        source: Source::Json(members),
        groups,
        merge: false,
    })
}

/// A group of a JSON export: SCIM group attributes and `members` as a list of userNames.
fn read_group(value: &Value) -> Result<ImportGroup, String> {
    let Some(object) = value.as_object() else {
        return Err("must be a JSON object".into());
    };
    let mut attrs_only = object.clone();
    let members = attrs_only
        .remove("members")
        .unwrap_or(Value::Array(Vec::new()));
    let (attrs, _) =
        crate::scim::groups::read_group(&Value::Object(attrs_only)).map_err(|e| e.to_string())?;
    let member_user_names = match members {
        Value::Array(items) => items
            .iter()
            .map(|m| {
                m.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "\"members\" must list userNames (strings)".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("\"members\" must be an array of userNames".into()),
    };
    Ok(ImportGroup {
        attrs,
        member_user_names,
    })
}

fn parse_csv(bytes: &[u8]) -> Result<ImportFile<'_>, StoreError> {
    let mut names = UserNames::default();
    let mut groups: Vec<ImportGroup> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut member_count = 0;
    for (i, row) in CsvMembers::open(bytes)?.enumerate() {
        let CsvMember {
            attrs,
            groups: group_names,
        } = row?;
        names.add(i, &attrs)?;
        member_count += 1;
        let user_name = text(&attrs, "userName").unwrap_or_default();
        for group_name in group_names {
            let at = *by_name.entry(group_name.to_lowercase()).or_insert_with(|| {
                groups.push(ImportGroup {
                    attrs: [("displayName".to_owned(), json!(group_name))]
                        .into_iter()
                        .collect(),
                    member_user_names: Vec::new(),
                });
                groups.len() - 1
            });
            groups[at].member_user_names.push(user_name.to_owned());
        }
    }
    Ok(ImportFile {
        source: Source::Csv(bytes),
        member_count,
        groups,
        merge: true,
    })
}

/// One CSV row read: the member's document and the groups it names.
struct CsvMember {
    attrs: Map<String, Value>,
    groups: Vec<String>,
}

/// The rows of a CSV import, each read as a SCIM POST would read the member.
struct CsvMembers<'a> {
    reader: csv::Reader<&'a [u8]>,
    columns: Vec<Option<usize>>,
    line: usize,
}

impl<'a> CsvMembers<'a> {
    fn open(bytes: &'a [u8]) -> Result<CsvMembers<'a>, StoreError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| invalid(format!("the CSV header cannot be read: {e}")))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        if column("userName").is_none() {
            return Err(invalid(format!(
                "the CSV header must name a userName column; the columns are {}",
                CSV_COLUMNS.join(",")
            )));
        }
        if let Some(unknown) = headers
            .iter()
            .find(|h| !CSV_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(h)))
        {
            return Err(invalid(format!(
                "unknown CSV column \"{unknown}\"; the columns are {}",
                CSV_COLUMNS.join(",")
            )));
        }
        Ok(CsvMembers {
            columns: CSV_COLUMNS.iter().map(|c| column(c)).collect(),
            reader,
            line: 1,
        })
    }

    fn read(&self, record: &csv::StringRecord) -> Result<CsvMember, StoreError> {
        let line = self.line;
        let field = |name: &str| {
            CSV_COLUMNS
                .iter()
                .position(|c| *c == name)
                .and_then(|at| self.columns[at])
                .and_then(|c| record.get(c))
                .filter(|v| !v.is_empty())
        };
        let mut user = Map::new();
        user.insert(
            "userName".into(),
            json!(field("userName").unwrap_or_default()),
        );
        if let Some(v) = field("displayName") {
            user.insert("displayName".into(), json!(v));
        }
        if let Some(v) = field("externalId") {
            user.insert("externalId".into(), json!(v));
        }
        let mut name = Map::new();
        for part in ["givenName", "familyName"] {
            if let Some(v) = field(part) {
                name.insert(part.into(), json!(v));
            }
        }
        if !name.is_empty() {
            user.insert("name".into(), Value::Object(name));
        }
        if let Some(email) = field("email") {
            user.insert(
                "emails".into(),
                json!([{"value": email, "type": "work", "primary": true}]),
            );
        }
        let active = match field("active").map(str::to_ascii_lowercase).as_deref() {
            None | Some("true" | "yes" | "1" | "active") => true,
            Some("false" | "no" | "0" | "revoked") => false,
            Some(other) => {
                return Err(invalid(format!(
                    "line {line}: active must be true or false, not \"{other}\""
                )));
            }
        };
        user.insert("active".into(), json!(active));
        let attrs = crate::scim::users::read_user(&Value::Object(user))
            .map_err(|e| invalid(format!("line {line}: {e}")))?;
        let groups = field("groups")
            .into_iter()
            .flat_map(|g| g.split(';'))
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(CsvMember { attrs, groups })
    }
}

impl Iterator for CsvMembers<'_> {
    type Item = Result<CsvMember, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = csv::StringRecord::new();
        self.line += 1;
        match self.reader.read_record(&mut record) {
            Ok(true) => Some(self.read(&record)),
            Ok(false) => None,
            Err(e) => Some(Err(invalid(format!("line {}: {e}", self.line)))),
        }
    }
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_scim_members_and_groups() {
        let csv = "userName,email,displayName,givenName,familyName,externalId,active,groups\n\
                   alice@x.org,Alice@X.org,Alice,Alice,Example,e1,true,Eng;Ops\n\
                   bob@x.org,,,,,,no,eng\n";
        let file = parse(Format::Csv, csv.as_bytes()).expect("parses");
        assert!(file.merge);
        assert_eq!(file.member_count, 2);
        let members: Vec<_> = file.members().collect::<Result<_, _>>().expect("members");
        assert_eq!(members.len(), 2);
        let alice = &members[0];
        assert_eq!(alice["emails"][0]["value"], "Alice@X.org");
        assert_eq!(alice["name"]["familyName"], "Example");
        assert_eq!(members[1]["active"], false);
        let names: Vec<_> = file
            .groups
            .iter()
            .map(|g| (g.attrs["displayName"].clone(), g.member_user_names.clone()))
            .collect();
        assert_eq!(
            names,
            [
                (
                    json!("Eng"),
                    vec!["alice@x.org".to_owned(), "bob@x.org".to_owned()]
                ),
                (json!("Ops"), vec!["alice@x.org".to_owned()]),
            ]
        );
    }

    #[test]
    fn bad_records_are_named() {
        let no_user_name = "userName,email\n,a@x.org\n";
        let e = parse(Format::Csv, no_user_name.as_bytes()).unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        let bad_active = "userName,active\nbob,maybe\n";
        assert!(
            parse(Format::Csv, bad_active.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        let unknown_column = "userName,colour\nbob,red\n";
        assert!(
            parse(Format::Csv, unknown_column.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
        let twice = r#"{"members": [{"userName": "a"}, {"userName": "A"}]}"#;
        assert!(
            parse(Format::Json, twice.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
        let bad_member = r#"{"members": [{"userName": "a"}, {"userName": 5}]}"#;
        assert!(
            parse(Format::Json, bad_member.as_bytes())
                .unwrap_err()
                .to_string()
                .starts_with("member 2:")
        );
        let bad_group =
            r#"{"members": [], "groups": [{"displayName": "G", "members": [{"value": "x"}]}]}"#;
        assert!(
            parse(Format::Json, bad_group.as_bytes())
                .unwrap_err()
                .to_string()
                .starts_with("group 1:")
        );
        assert!(parse(Format::Json, b"[1]").is_err());
        assert!(parse(Format::Json, br#"{"format": "other"}"#).is_err());
    }
}
