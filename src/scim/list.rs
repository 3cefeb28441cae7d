//! Query parameters of SCIM reads (RFC 7644 §3.4.2) and the ListResponse.
//!
//! Parameter names match case-insensitively; `+` and `%20` are spaces; a trailing `&` or `?`
//! and unknown parameters (Entra's `aadOptscim062020`) are ignored.

use serde_json::{Value, json};

use super::filter::{self, Filter};
use super::projection::Projection;
use super::resource::{check_message_schema, get_ci, invalid};
use super::schema::ResourceType;
use super::{ScimError, ScimType};

/// Results per page when the client does not say.
pub const DEFAULT_COUNT: u64 = 100;
/// Most results per page (advertised as `filter.maxResults`).
pub const MAX_RESULTS: u64 = 1000;

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A list request in the protocol's terms: what a front door hands the store, which compiles
/// the filter and the sort to SQL itself, so no caller ever builds SQL.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Which resources; checked against the resource type's schema when compiled.
    pub filter: Option<Filter>,
    /// The attribute path results are sorted by (`sortBy`), e.g. `userName`.
    pub sort_by: Option<String>,
    pub descending: bool,
    /// 1-based index of the first result.
    pub start_index: u64,
    /// Maximum number of results; 0 asks only for the total.
    pub count: u64,
}

/// The recognised query parameters, raw.
#[derive(Clone, Debug, Default)]
pub struct QueryParams {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl QueryParams {
    /// Reads a query string (`application/x-www-form-urlencoded`); bytes that are not UTF-8
    /// once decoded become U+FFFD, so reading never fails.
    pub fn parse(query: &str) -> QueryParams {
        let mut p = QueryParams::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if let Some(slot) = p.slot(&name) {
                *slot = Some(value.into_owned());
            }
        }
        p
    }

    /// The parameter a name (matched case-insensitively) sets; `None` for names that are not
    /// list parameters. Shared by query strings and SearchRequest bodies.
    pub fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "filter" => &mut self.filter,
            "startindex" => &mut self.start_index,
            "count" => &mut self.count,
            "sortby" => &mut self.sort_by,
            "sortorder" => &mut self.sort_order,
            "attributes" => &mut self.attributes,
            "excludedattributes" => &mut self.excluded_attributes,
            _ => return None,
        })
    }

    /// Whether the filter finds resources by equality on one of `attrs` (see
    /// [`filter::Filter::looks_up`]); `false` when there is none or it does not parse.
    pub fn looks_up(&self, rt: &ResourceType, attrs: &[&str]) -> bool {
        self.filter
            .as_deref()
            .and_then(|text| filter::parse(text.trim()).ok())
            .is_some_and(|f| f.looks_up(rt, attrs))
    }

    pub fn projection(&self, rt: &ResourceType) -> Projection {
        Projection::new(
            rt,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }

    /// `startIndex` (1-based; below 1 means 1) and `count` (negative means 0; capped at
    /// [`MAX_RESULTS`]).
    pub fn paging(&self) -> Result<(u64, u64), ScimError> {
        let number = |name: &str, raw: &Option<String>, default: i64| -> Result<i64, ScimError> {
            match raw.as_deref().map(str::trim) {
                None | Some("") => Ok(default),
                Some(text) => text.parse::<i64>().map_err(|_| {
                    ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("{name} must be an integer, not \"{text}\"."),
                    )
                }),
            }
        };
        let start = number("startIndex", &self.start_index, 1)?.max(1) as u64;
        let count =
            (number("count", &self.count, DEFAULT_COUNT as i64)?.max(0) as u64).min(MAX_RESULTS);
        Ok((start, count))
    }

    /// The store query: the parsed filter, the sort path and paging. The store checks both
    /// against the resource type's schema when it compiles them.
    pub fn list_query(&self) -> Result<ListQuery, ScimError> {
        let (start_index, count) = self.paging()?;
        let filter = match self.filter.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(filter::parse(text)?),
            _ => None,
        };
        let sort_by = self
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|path| !path.is_empty())
            .map(str::to_owned);
        Ok(ListQuery {
            filter,
            sort_by,
            descending: self.descending()?,
            start_index,
            count,
        })
    }

    /// Reads a SearchRequest (`POST …/.search`, RFC 7644 §3.4.3) into the same parameters a GET carries. Names match
    /// case-insensitively; `attributes` may be a list or a comma-separated string; numbers may be
    /// strings.
    pub fn from_search_request(body: &Value) -> Result<QueryParams, ScimError> {
        let Some(fields) = body.as_object() else {
            return Err(invalid("A SearchRequest must be a JSON object.".into()));
        };
        check_message_schema(get_ci(fields, "schemas"), SEARCH_REQUEST, "A SearchRequest")?;
        let mut params = QueryParams::default();
        for (name, value) in fields {
            let Some(slot) = params.slot(name) else {
                continue;
            };
            *slot = match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|i| {
                            i.as_str().map(str::to_owned).ok_or_else(|| {
                                invalid(format!("\"{name}\" must list strings, not {i}."))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                ),
                other => return Err(invalid(format!("\"{name}\" cannot be {other}."))),
            };
        }
        Ok(params)
    }

    /// Whether `sortOrder` asks for descending order.
    pub fn descending(&self) -> Result<bool, ScimError> {
        match self.sort_order.as_deref().map(str::trim) {
            None | Some("") => Ok(false),
            Some(o) if o.eq_ignore_ascii_case("ascending") => Ok(false),
            Some(o) if o.eq_ignore_ascii_case("descending") => Ok(true),
            Some(o) => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("sortOrder must be \"ascending\" or \"descending\", not \"{o}\"."),
            )),
        }
    }
}

/// A ListResponse (RFC 7644 §3.4.2): `itemsPerPage` is the number of resources returned.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_plus_is_a_space() {
        let p = QueryParams::parse(
            "FILTER=userName+eq+%22a%40b.c%22&StartIndex=3&COUNT=2&&aadOptscim062020&",
        );
        assert_eq!(p.filter.as_deref(), Some("userName eq \"a@b.c\""));
        assert_eq!(p.paging().unwrap(), (3, 2));
    }

    #[test]
    fn paging_is_clamped_and_validated() {
        let p = QueryParams::parse("startIndex=-4&count=-1");
        assert_eq!(p.paging().unwrap(), (1, 0));
        let p = QueryParams::parse("count=999999");
        assert_eq!(p.paging().unwrap(), (1, MAX_RESULTS));
        assert_eq!(QueryParams::parse("").paging().unwrap(), (1, DEFAULT_COUNT));
        assert!(QueryParams::parse("count=ten").paging().is_err());
        assert!(QueryParams::parse("sortOrder=up").descending().is_err());
    }

    #[test]
    fn search_requests_become_query_parameters() {
        let p = QueryParams::from_search_request(&json!({
            "schemas": [SEARCH_REQUEST],
            "Filter": "userName sw \"a\"",
            "attributes": ["userName", "emails"],
            "startIndex": 3,
            "count": "2",
            "sortOrder": "descending"
        }))
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some("userName sw \"a\""));
        assert_eq!(p.attributes.as_deref(), Some("userName,emails"));
        assert_eq!(p.paging().unwrap(), (3, 2));
        assert!(p.descending().unwrap());
        assert!(QueryParams::from_search_request(&json!({"schemas": ["urn:other"]})).is_err());
        assert!(QueryParams::from_search_request(&json!({"attributes": [1]})).is_err());
        assert!(QueryParams::from_search_request(&json!([])).is_err());
    }
}
