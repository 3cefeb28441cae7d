//! The directory's records and membership rules, whatever the protocol: users and groups as
//! stored (the store reads and writes them, SCIM and the admin API render them), the membership
//! edits a request asks for, how a user's member email is chosen and which fields of a user
//! document are indexed.

use serde_json::{Map, Value};

/// A user as stored: its canonical attribute document and bookkeeping.
#[derive(Clone, Debug)]
pub struct StoredUser {
    pub id: String,
    /// Canonical attributes (see `sql/0002_directory.sql`).
    pub attrs: Map<String, Value>,
    /// Incremented on every change; rendered as the weak ETag `W/"<version>"`.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The groups this user is a direct member of.
    pub groups: Vec<GroupRef>,
}

/// A group as seen from one of its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub display: String,
}

/// A group as stored.
#[derive(Clone, Debug)]
pub struct StoredGroup {
    pub id: String,
    /// Canonical attributes without members (`displayName`, `externalId`).
    pub attrs: Map<String, Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The members, when they were asked for.
    pub members: Option<Vec<Member>>,
}

/// One member of a group, as rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    /// The `display` the client sent with the member, else the user's displayName or userName.
    pub display: String,
}

/// A member reference from a request: a user id and the `display` sent with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub display: Option<String>,
}

/// A membership edit; a request's edits apply in order.
pub enum MemberEdit {
    /// Adds users of the organization (unknown ids are ignored; existing members stay).
    Add(Vec<MemberRef>),
    /// Removes these user ids (ids that are not members are ignored).
    Remove(Vec<String>),
    /// Removes the members for which the predicate holds (for filters beyond `value eq`).
    RemoveWhere(Box<dyn Fn(&Member) -> bool + Send>),
    /// Makes the membership exactly these users (unknown ids ignored).
    Replace(Vec<MemberRef>),
    RemoveAll,
}

/// What an update changes: new attributes, and membership edits.
pub struct GroupChange {
    pub attrs: Map<String, Value>,
    pub members: Vec<MemberEdit>,
}

/// The fields of a user that the store indexes and checks for uniqueness, derived from its
/// canonical document on every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFields {
    pub user_name: String,
    /// Unicode-lower-cased userName: uniqueness and `userName eq` compare case-insensitively.
    pub user_name_key: String,
    pub external_id: Option<String>,
    /// The member email (lower-cased), if the user has one.
    pub email_key: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// Every email value with its type, lower-cased, for indexed email filters.
    pub emails: Vec<(String, Option<String>)>,
}

impl UserFields {
    pub fn from_doc(doc: &Map<String, Value>) -> UserFields {
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
        let user_name = text("userName").unwrap_or_default();
        let display_name = text("displayName");
        let emails: Vec<_> = doc
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let value = e.get("value")?.as_str()?.trim();
                (!value.is_empty()).then(|| {
                    let kind = e.get("type").and_then(Value::as_str).map(str::to_lowercase);
                    (value.to_lowercase(), kind)
                })
            })
            .collect();
        UserFields {
            user_name_key: user_name.to_lowercase(),
            email_key: member_email(doc, &user_name),
            external_id: text("externalId"),
            display_name,
            active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
            emails,
            user_name,
        }
    }

    /// How people recognise the member in logs and events: the email, else the userName.
    pub fn label(&self) -> &str {
        self.email_key.as_deref().unwrap_or(&self.user_name)
    }
}

/// Bitwarden's member email rule: the primary email's value, else the first `work` email, else
/// the first email, else `userName` when it is an email address. Blank values are skipped;
/// the result is lower-cased. `None` means the member has no email (accepted; such members
/// are exempt from email uniqueness).
pub fn member_email(doc: &Map<String, Value>, user_name: &str) -> Option<String> {
    let emails: Vec<&Map<String, Value>> = doc
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|e| {
            e.get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| !v.trim().is_empty())
        })
        .collect();
    let chosen = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            emails.iter().find(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| emails.first())
        .and_then(|e| e.get("value").and_then(Value::as_str))
        .map(|v| v.trim().to_owned())
        .or_else(|| is_email(user_name.trim()).then(|| user_name.trim().to_owned()));
    chosen.map(|e| e.to_lowercase())
}

/// A plausible email address: one `@` with text on both sides, a dot in the domain, no spaces.
fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn email_of(doc: Value) -> Option<String> {
        let doc = doc.as_object().unwrap().clone();
        let user_name = doc["userName"].as_str().unwrap().to_owned();
        member_email(&doc, &user_name)
    }

    #[test]
    fn primary_wins_then_work_then_first_then_user_name() {
        let emails = json!([
            {"value": "Home@X.org", "type": "home"},
            {"value": "work@x.org", "type": "work"},
            {"value": "Main@X.org", "primary": true}
        ]);
        assert_eq!(
            email_of(json!({"userName": "u", "emails": emails})).as_deref(),
            Some("main@x.org")
        );
        let no_primary =
            json!([{"value": "home@x.org", "type": "home"}, {"value": "w@x.org", "type": "Work"}]);
        assert_eq!(
            email_of(json!({"userName": "u", "emails": no_primary})).as_deref(),
            Some("w@x.org")
        );
        let untyped = json!([{"value": "first@x.org"}, {"value": "second@x.org"}]);
        assert_eq!(
            email_of(json!({"userName": "u", "emails": untyped})).as_deref(),
            Some("first@x.org")
        );
        assert_eq!(
            email_of(json!({"userName": "Alice@Example.com"})).as_deref(),
            Some("alice@example.com")
        );
    }

    #[test]
    fn blank_values_are_skipped_and_non_email_user_names_give_none() {
        let blank_primary = json!([{"value": " ", "primary": true}, {"value": "b@x.org"}]);
        assert_eq!(
            email_of(json!({"userName": "u", "emails": blank_primary})).as_deref(),
            Some("b@x.org")
        );
        assert_eq!(email_of(json!({"userName": "3f2a-uuid"})), None);
        assert_eq!(email_of(json!({"userName": "a@b"})), None);
        assert_eq!(email_of(json!({"userName": "a b@c.org"})), None);
    }

    #[test]
    fn fields_default_to_active_and_collect_every_email() {
        let doc = json!({"userName": "Bob", "emails": [{"value": "B@x.org", "type": "Work"}]});
        let f = UserFields::from_doc(doc.as_object().unwrap());
        assert!(f.active);
        assert_eq!(f.user_name_key, "bob");
        assert_eq!(f.emails, vec![("b@x.org".into(), Some("work".into()))]);
        assert_eq!(f.label(), "b@x.org");
    }
}
