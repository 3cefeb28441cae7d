//! The SCIM schemas this server implements (RFC 7643 §4, §7, §8.7), as static data.
//!
//! One definition drives everything that depends on attribute characteristics: tolerant,
//! case-insensitive reading of request bodies, PATCH paths, filter compilation (`caseExact`,
//! types), projection (`returned`), mutability checks and the `/Schemas` discovery documents.
//! Only attributes that are stored and returned faithfully are defined here.

use serde_json::{Value, json};

/// SCIM attribute data types (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
}

/// A single-valued, optional, case-insensitive, read-write attribute; refined with the
/// builder methods below (all `const`, so schemas are plain statics).
const fn attr(name: &'static str, kind: AttrType, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attr(name, AttrType::String, description)
}

const fn complex(
    name: &'static str,
    description: &'static str,
    subs: &'static [Attribute],
) -> Attribute {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = subs;
    a
}

impl Attribute {
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    const fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }

    /// The sub-attribute named `name`, matched case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        find(self.sub_attributes, name)
    }

    /// The RFC 7643 §7 JSON representation, for `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": match self.kind {
                AttrType::String => "string",
                AttrType::Boolean => "boolean",
                AttrType::Decimal => "decimal",
                AttrType::Integer => "integer",
                AttrType::DateTime => "dateTime",
                AttrType::Binary => "binary",
                AttrType::Reference => "reference",
                AttrType::Complex => "complex",
            },
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            v["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            v["subAttributes"] = self.sub_attributes.iter().map(Attribute::to_json).collect();
        }
        v
    }
}

fn find(attributes: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A schema: a URN and its attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The top-level attribute named `name`, matched case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        find(self.attributes, name)
    }

    /// The `/Schemas/{id}` document.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            },
        })
    }
}

/// A resource type: its endpoint, core schema and extensions (RFC 7643 §6).
#[derive(Debug)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static Schema,
    pub extensions: &'static [&'static Schema],
}

/// Where an attribute path points: the schema it belongs to, the attribute and optionally a
/// sub-attribute. Common attributes (`id`, `externalId`, `meta`) resolve to [`COMMON`].
#[derive(Clone, Copy, Debug)]
pub struct AttrRef {
    pub schema: &'static Schema,
    pub attr: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl AttrRef {
    /// The attribute that holds values: the sub-attribute when there is one.
    pub fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether the path is in an extension schema (stored under the extension's URN key).
    pub fn extension(&self, rt: &ResourceType) -> Option<&'static Schema> {
        rt.extensions
            .iter()
            .copied()
            .find(|s| std::ptr::eq(*s, self.schema))
    }

    /// Whether this is one of the common attributes (`id`, `externalId`, `meta`).
    pub fn is_common(&self) -> bool {
        std::ptr::eq(self.schema, &COMMON)
    }
}

impl ResourceType {
    /// All schemas of this type, core first.
    pub fn schemas(&self) -> impl Iterator<Item = &'static Schema> + '_ {
        std::iter::once(self.schema).chain(self.extensions.iter().copied())
    }

    /// The extension schema with URN `urn` (case-insensitive). OneLogin's legacy
    /// `urn:scim:schemas:extension:enterprise:2.0` names the enterprise extension.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        let urn = if urn.eq_ignore_ascii_case("urn:scim:schemas:extension:enterprise:2.0") {
            ENTERPRISE_USER_URN
        } else {
            urn
        };
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves `[urn:…:]attr[.sub]` case-insensitively against this type's schemas and the
    /// common attributes; `None` if any part is unknown.
    pub fn resolve(&self, path: &str) -> Option<AttrRef> {
        let (schema, rest) = self.split_urn(path)?;
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let (schema, attr) = match schema {
            Some(schema) => (schema, schema.attribute(name)?),
            None => match self.schema.attribute(name) {
                Some(attr) => (self.schema, attr),
                None => (&COMMON, COMMON.attribute(name)?),
            },
        };
        let sub = match sub {
            Some(sub) => Some(attr.sub(sub)?),
            None => None,
        };
        Some(AttrRef { schema, attr, sub })
    }

    /// Splits a leading schema URN (`urn:…:User:name.givenName` → User schema, `name.givenName`).
    /// A path that starts with `urn:` but names no schema of this type is unknown (`None`).
    fn split_urn<'p>(&self, path: &'p str) -> Option<(Option<&'static Schema>, &'p str)> {
        if !path
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            return Some((None, path));
        }
        self.schemas().find_map(|schema| {
            let prefix = path.get(..schema.id.len())?;
            let rest = path.get(schema.id.len()..)?.strip_prefix(':')?;
            prefix
                .eq_ignore_ascii_case(schema.id)
                .then_some((Some(schema), rest))
        })
    }

    /// The `/ResourceTypes/{name}` document.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": self.extensions.iter()
                .map(|s| json!({ "schema": s.id, "required": false }))
                .collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name),
            },
        })
    }
}

use AttrType::{Binary, Boolean, DateTime, Reference};
use Mutability::{Immutable, ReadOnly, WriteOnly};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The common attributes every resource has (RFC 7643 §3.1). Not published in `/Schemas`.
pub static COMMON: Schema = Schema {
    id: "urn:ietf:params:scim:schemas:common",
    name: "Common",
    description: "Attributes common to all resources",
    attributes: &[
        string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .mutability(ReadOnly)
        .returned(Returned::Always)
        .unique(Uniqueness::Server),
        string(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        complex(
            "meta",
            "Resource metadata.",
            &[
                string("resourceType", "The name of the resource type.")
                    .case_exact()
                    .mutability(ReadOnly),
                attr("created", DateTime, "When the resource was added.").mutability(ReadOnly),
                attr(
                    "lastModified",
                    DateTime,
                    "When the resource was last changed.",
                )
                .mutability(ReadOnly),
                attr("location", Reference, "The URI of the resource.")
                    .case_exact()
                    .mutability(ReadOnly),
                string("version", "The version (weak entity tag) of the resource.")
                    .case_exact()
                    .mutability(ReadOnly),
            ],
        )
        .mutability(ReadOnly),
    ],
};

/// `value`, `display`, `type`, `primary`: the usual sub-attributes of a multi-valued attribute.
macro_rules! multi_value_subs {
    ($value:expr, $types:expr) => {
        &[
            $value,
            string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            string("type", "A label indicating the attribute's function.").canonical($types),
            attr(
                "primary",
                Boolean,
                "Whether this is the preferred value; true at most once.",
            ),
        ]
    };
}

pub static USER_SCHEMA: Schema = Schema {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: &[
        string(
            "userName",
            "Unique identifier for the User, typically used by the user to directly authenticate \
             to the service provider. Unique within the organization, compared case-insensitively.",
        )
        .required()
        .unique(Uniqueness::Server),
        complex(
            "name",
            "The components of the user's real name.",
            &[
                string("formatted", "The full name, formatted for display."),
                string("familyName", "The family name of the User."),
                string("givenName", "The given name of the User."),
                string("middleName", "The middle name(s) of the User."),
                string("honorificPrefix", "The honorific prefix(es) of the User."),
                string("honorificSuffix", "The honorific suffix(es) of the User."),
            ],
        ),
        string(
            "displayName",
            "The name of the User, suitable for display to end-users.",
        ),
        string(
            "nickName",
            "The casual way to address the user in real life.",
        ),
        attr(
            "profileUrl",
            Reference,
            "A fully qualified URL pointing to the User's profile.",
        )
        .refs(&["external"]),
        string("title", "The user's title, such as \"Vice President\"."),
        string(
            "userType",
            "The relationship between the organization and the user.",
        ),
        string(
            "preferredLanguage",
            "The User's preferred written or spoken language.",
        ),
        string("locale", "The User's default location for localization."),
        string(
            "timezone",
            "The User's time zone in the IANA Time Zone database format.",
        ),
        attr(
            "active",
            Boolean,
            "The User's administrative status: false revokes the member.",
        ),
        string(
            "password",
            "The User's cleartext password; accepted, never stored or returned.",
        )
        .mutability(WriteOnly)
        .returned(Returned::Never),
        complex(
            "emails",
            "Email addresses for the user.",
            multi_value_subs!(
                string("value", "Email address for the user."),
                &["work", "home", "other"]
            ),
        )
        .multi(),
        complex(
            "phoneNumbers",
            "Phone numbers for the User.",
            multi_value_subs!(
                string("value", "Phone number of the User."),
                &["work", "home", "mobile", "fax", "pager", "other"]
            ),
        )
        .multi(),
        complex(
            "ims",
            "Instant messaging addresses for the User.",
            multi_value_subs!(
                string("value", "Instant messaging address for the User."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
            ),
        )
        .multi(),
        complex(
            "photos",
            "URLs of photos of the User.",
            multi_value_subs!(
                attr("value", Reference, "URL of a photo of the User.").refs(&["external"]),
                &["photo", "thumbnail"]
            ),
        )
        .multi(),
        complex(
            "addresses",
            "A physical mailing address for this User.",
            &[
                string(
                    "formatted",
                    "The full mailing address, formatted for display.",
                ),
                string("streetAddress", "The full street address component."),
                string("locality", "The city or locality component."),
                string("region", "The state or region component."),
                string("postalCode", "The zip code or postal code component."),
                string("country", "The country name component."),
                string("type", "A label indicating the attribute's function.")
                    .canonical(&["work", "home", "other"]),
                attr(
                    "primary",
                    Boolean,
                    "Whether this is the preferred mailing address.",
                ),
            ],
        )
        .multi(),
        complex(
            "groups",
            "The groups the user belongs to, managed through the Groups endpoint.",
            &[
                string("value", "The id of the group.").mutability(ReadOnly),
                attr("$ref", Reference, "The URI of the group.")
                    .refs(&["Group"])
                    .mutability(ReadOnly),
                string("display", "The displayName of the group.").mutability(ReadOnly),
                string("type", "How the membership is derived.")
                    .canonical(&["direct", "indirect"])
                    .mutability(ReadOnly),
            ],
        )
        .multi()
        .mutability(ReadOnly),
        complex(
            "entitlements",
            "A list of entitlements for the User.",
            multi_value_subs!(string("value", "The value of an entitlement."), &[]),
        )
        .multi(),
        complex(
            "roles",
            "A list of roles for the User.",
            multi_value_subs!(string("value", "The value of a role."), &[]),
        )
        .multi(),
        complex(
            "x509Certificates",
            "A list of certificates issued to the User.",
            multi_value_subs!(
                attr(
                    "value",
                    Binary,
                    "The value of an X.509 certificate (base64)."
                ),
                &[]
            ),
        )
        .multi(),
    ],
};

pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person.",
        ),
        string("costCenter", "Identifies the name of a cost center."),
        string("organization", "Identifies the name of an organization."),
        string("division", "Identifies the name of a division."),
        string("department", "Identifies the name of a department."),
        complex(
            "manager",
            "The User's manager.",
            &[
                string(
                    "value",
                    "The id of the SCIM resource representing the manager.",
                ),
                attr(
                    "$ref",
                    Reference,
                    "The URI of the SCIM resource representing the manager.",
                )
                .refs(&["User"]),
                string("displayName", "The displayName of the manager."),
            ],
        ),
    ],
};

pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: &[
        string("displayName", "A human-readable name for the Group.").required(),
        complex(
            "members",
            "A list of members of the Group.",
            &[
                string("value", "Identifier of the member of this Group.")
                    .case_exact()
                    .mutability(Immutable),
                attr("$ref", Reference, "The URI of the member resource.")
                    .refs(&["User", "Group"])
                    .mutability(Immutable),
                string("display", "A human-readable name for the member."),
                string("type", "The type of the member resource.")
                    .canonical(&["User", "Group"])
                    .mutability(Immutable),
            ],
        )
        .multi(),
    ],
};

pub static USER: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_USER_SCHEMA],
};

pub static GROUP: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_case_insensitively_with_or_without_urn() {
        let r = USER.resolve("name.GIVENNAME").expect("resolves");
        assert_eq!(
            (r.attr.name, r.sub.map(|s| s.name)),
            ("name", Some("givenName"))
        );
        let r = USER
            .resolve("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
            .expect("extension");
        assert_eq!(r.attr.name, "employeeNumber");
        assert!(r.extension(&USER).is_some());
        let r = USER
            .resolve("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:userName")
            .expect("core urn");
        assert_eq!(r.attr.name, "userName");
        let r = USER.resolve("meta.lastModified").expect("common");
        assert!(r.is_common());
        assert_eq!(r.leaf().kind, AttrType::DateTime);
        assert!(USER.resolve("nosuch").is_none());
        assert!(USER.resolve("name.nosuch").is_none());
        assert!(USER.resolve("urn:example:foo:bar").is_none());
        assert!(GROUP.resolve("members.value").is_some());
    }

    #[test]
    fn schema_documents_carry_rfc_characteristics() {
        let doc = USER_SCHEMA.to_json("http://x/v2/o");
        assert_eq!(doc["description"], "User Account");
        let user_name = &doc["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        let emails = doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][2]["canonicalValues"][0], "work");
    }
}
