//! Distinguished names (RFC 4514): escaping a value into a DN, and reading a DN into a
//! normalised form so that two spellings of one name compare equal (attribute types and values
//! case-insensitively, spaces around `,` and `=` ignored, escapes decoded).

/// One relative distinguished name, normalised: lower-case attribute type and value, escapes
/// decoded. Multi-valued RDNs (`a=1+b=2`) are kept as one pair per value, in order.
pub type Rdn = Vec<(String, String)>;

/// A DN read into its RDNs, most specific first (`uid=x,ou=people,o=y` → `[uid, ou, o]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dn(pub Vec<Rdn>);

/// Why a DN could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN syntax: {0}")]
pub struct DnError(&'static str);

/// Escapes an attribute value for use in a DN (RFC 4514 §2.4): `,+"\<>;=` and NUL anywhere, a
/// leading `#` or space and a trailing space.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
    out
}

impl Dn {
    /// Reads a DN; the empty string is the root (no RDNs).
    pub fn parse(text: &str) -> Result<Dn, DnError> {
        let mut rdns = Vec::new();
        let mut current: Rdn = Vec::new();
        let mut chars = text.chars().peekable();
        if text.trim().is_empty() {
            return Ok(Dn(rdns));
        }
        loop {
            let mut attr = String::new();
            while let Some(&c) = chars.peek() {
                if c == '=' {
                    break;
                }
                attr.push(c);
                chars.next();
            }
            if chars.next() != Some('=') {
                return Err(DnError("an RDN has no `=`"));
            }
            let attr = attr.trim().to_lowercase();
            if attr.is_empty()
                || !attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(DnError("an attribute type is not a name or an OID"));
            }
            let mut value: Vec<u8> = Vec::new();
            // Where the value's last escaped byte ends: trailing spaces before it are kept.
            let mut kept = 0;
            let mut leading = true;
            let mut separator = None;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let Some(next) = chars.next() else {
                            return Err(DnError("a DN ends in `\\`"));
                        };
                        if next.is_ascii_hexdigit() {
                            let Some(low) = chars.next().filter(char::is_ascii_hexdigit) else {
                                return Err(DnError("a hex escape needs two digits"));
                            };
                            let hex = [next as u8, low as u8];
                            let byte = std::str::from_utf8(&hex)
                                .ok()
                                .and_then(|h| u8::from_str_radix(h, 16).ok())
                                .ok_or(DnError("a hex escape needs two digits"))?;
                            value.push(byte);
                        } else {
                            let mut buf = [0; 4];
                            value.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                        }
                        kept = value.len();
                        leading = false;
                    }
                    ',' | ';' | '+' => {
                        separator = Some(c);
                        break;
                    }
                    ' ' if leading => {}
                    _ => {
                        let mut buf = [0; 4];
                        value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        if c != ' ' {
                            kept = value.len();
                        }
                        leading = false;
                    }
                }
            }
            value.truncate(kept);
            let value = String::from_utf8(value).map_err(|_| DnError("a value is not UTF-8"))?;
            current.push((attr, value.to_lowercase()));
            match separator {
                Some('+') => {}
                Some(_) => rdns.push(std::mem::take(&mut current)),
                None => {
                    rdns.push(current);
                    return Ok(Dn(rdns));
                }
            }
        }
    }

    /// Whether `self` is `base` or below it.
    pub fn is_within(&self, base: &Dn) -> bool {
        self.0.len() >= base.0.len() && self.0[self.0.len() - base.0.len()..] == base.0[..]
    }

    /// Whether `self` is exactly one level below `base`.
    pub fn is_child_of(&self, base: &Dn) -> bool {
        self.0.len() == base.0.len() + 1 && self.is_within(base)
    }

    /// The first RDN's only value when it has attribute type `attr` (`cn` of `cn=x,o=y`).
    pub fn leaf_value(&self, attr: &str) -> Option<&str> {
        match self.0.first().map(Vec::as_slice) {
            Some([(a, v)]) if a == attr => Some(v),
            _ => None,
        }
    }

    /// The DN without its first RDN.
    pub fn parent(&self) -> Dn {
        Dn(self.0.iter().skip(1).cloned().collect())
    }
}

/// The normalised DN as text, values escaped (`uid=ann,ou=people,dc=example`).
impl std::fmt::Display for Dn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, rdn) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, (attr, value)) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{attr}={}", escape_value(value))?;
            }
        }
        Ok(())
    }
}

/// Whether two DNs name the same entry; text that is no DN equals nothing.
pub fn same_dn(a: &str, b: &str) -> bool {
    matches!((Dn::parse(a), Dn::parse(b)), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn special_characters_are_escaped() {
        assert_eq!(escape_value("Smith, John"), "Smith\\, John");
        assert_eq!(escape_value("#1 fan "), "\\#1 fan\\ ");
        assert_eq!(escape_value(" a+b=c"), "\\ a\\+b\\=c");
        assert_eq!(escape_value("<\"x\\y\";>"), "\\<\\\"x\\\\y\\\"\\;\\>");
        assert_eq!(escape_value("nul\0"), "nul\\00");
        assert_eq!(escape_value("plain"), "plain");
    }

    #[test]
    fn spellings_of_one_dn_are_equal() {
        assert!(same_dn(
            "uid=Ann,ou=People,o=Example",
            " UID = ann , ou=people;O=example"
        ));
        assert!(same_dn("cn=Smith\\, John,o=x", "cn=smith\\2c john,o=x"));
        assert!(!same_dn("uid=ann,o=x", "uid=bob,o=x"));
        assert!(!same_dn("uid=ann,o=x", "not a dn"));
    }

    #[test]
    fn malformed_dns_are_refused() {
        assert!(Dn::parse("uid").is_err());
        assert!(Dn::parse("=x").is_err());
        assert!(Dn::parse("cn=a\\").is_err());
        assert!(Dn::parse("cn=a\\4").is_err());
        assert!(Dn::parse("cn=\\ff").is_err());
    }

    #[test]
    fn scopes_follow_the_tree() {
        let base = Dn::parse("o=x").unwrap();
        let people = Dn::parse("ou=people,o=x").unwrap();
        let ann = Dn::parse("uid=ann,ou=people,o=x").unwrap();
        assert!(ann.is_within(&base) && ann.is_within(&people) && ann.is_within(&ann));
        assert!(ann.is_child_of(&people) && !ann.is_child_of(&base));
        assert_eq!(ann.parent(), people);
        assert_eq!(ann.leaf_value("uid"), Some("ann"));
        assert_eq!(
            Dn::parse(" UID=A\\2c b , DC=x").map(|d| d.to_string()),
            Ok("uid=a\\, b,dc=x".to_owned())
        );
        assert!(!base.is_within(&people));
    }

    proptest! {
        #[test]
        fn an_escaped_value_reads_back_as_itself(value in "\\PC{1,20}", other in "[a-z]{1,8}") {
            let dn = format!("cn={},o={other}", escape_value(&value));
            let parsed = Dn::parse(&dn).expect("an escaped value parses");
            let expected = value.to_lowercase();
            prop_assert_eq!(parsed.leaf_value("cn"), Some(expected.as_str()));
        }

        #[test]
        fn reading_any_text_never_panics(text in "\\PC{0,60}") {
            let _ = Dn::parse(&text);
        }
    }
}
