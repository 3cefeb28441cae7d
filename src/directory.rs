//! Membership rules that hold whatever the protocol: how a user's member email is chosen and
//! which fields of a user document are indexed. Pure functions over the canonical document.

use serde_json::{Map, Value};

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
