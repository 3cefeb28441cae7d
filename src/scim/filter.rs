//! SCIM filter expressions (RFC 7644 §3.4.2.2): parsing, checking against a schema, and
//! evaluation against a JSON document.
//!
//! The store compiles filters to SQL for lists (`store/filter_sql.rs`). Attributes with an
//! index become indexed SQL; every other comparison is evaluated here, row by row, through the
//! `scim_match` SQL function, so a comparison means the same thing on every path. PATCH value
//! filters (`emails[type eq "work"]`) use [`matches_element`].
//!
//! Input is bounded: at most [`MAX_LENGTH`] bytes, [`MAX_DEPTH`] levels of nesting and
//! [`MAX_TERMS`] comparisons, so a hostile filter costs little and never overflows the stack.
//! Keywords and operators are case-insensitive; an unquoted value that is not `true`, `false`,
//! `null` or a number is read as a string (`userName eq bjensen`), as several IdPs send.

use std::fmt;

use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::resource::get_ci;
use super::schema::{AttrRef, AttrType, Attribute, ResourceType, Returned};
use super::{ScimError, ScimType};

/// Longest filter accepted, in bytes.
pub const MAX_LENGTH: usize = 4096;
/// Deepest nesting of parentheses, `not` and `[…]`.
pub const MAX_DEPTH: usize = 32;
/// Most comparisons in one filter.
pub const MAX_TERMS: usize = 100;

/// Why a filter was rejected; becomes a 400 `invalidFilter` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::bad_request(ScimType::InvalidFilter, e.0)
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

fn err<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

/// `[urn:…:]attr[.sub]`, as written (names are matched case-insensitively later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

/// Comparison operators of RFC 7644 Table 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    String(String),
    Bool(bool),
    Number(Number),
    Null,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued (or complex) `attr` matches `filter`,
    /// whose paths name sub-attributes. `emails[type eq "work"].value eq "x"` is read as
    /// `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses a filter, enforcing the size, depth and term bounds.
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_LENGTH {
        return err(format!(
            "The filter is {} bytes long; at most {MAX_LENGTH} are accepted.",
            text.len()
        ));
    }
    parse_canonical(text)
}

/// Parses the canonical text ([`Filter`]'s `Display`) of a filter [`parse`] accepted, as the
/// store's `scim_match` SQL function receives it. Quoting bare words and writing numbers and
/// spaces canonically can make that text longer than the client's, so the length bound is not
/// applied again; the depth and term bounds are, and hold, since the canonical text never nests
/// deeper than the client's nor adds comparisons.
pub fn parse_canonical(text: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        depth: 0,
        terms: 0,
        in_value_path: false,
    };
    if parser.tokens.is_empty() {
        return err("The filter is empty.");
    }
    let filter = parser.or_expr()?;
    match parser.peek() {
        None => Ok(filter),
        Some(t) => err(format!("Unexpected {} in the filter.", t.describe())),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(&'a str),
}

impl Token<'_> {
    fn describe(&self) -> String {
        match self {
            Token::Open => "\"(\"".into(),
            Token::Close => "\")\"".into(),
            Token::OpenBracket => "\"[\"".into(),
            Token::CloseBracket => "\"]\"".into(),
            Token::Str(s) => format!("string {}", Value::String(s.clone())),
            Token::Word(w) => format!("\"{w}\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b if b.is_ascii_whitespace() => i += 1,
            b'(' | b')' | b'[' | b']' => {
                tokens.push(match b {
                    b'(' => Token::Open,
                    b')' => Token::Close,
                    b'[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return err("The filter has an unterminated string."),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let literal = &text[start..i];
                let value: String = serde_json::from_str(literal).map_err(|_| {
                    FilterError(format!("The filter has an invalid string {literal}."))
                })?;
                tokens.push(Token::Str(value));
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(bytes[i], b'(' | b')' | b'[' | b']' | b'"')
                {
                    i += 1;
                }
                tokens.push(Token::Word(&text[start..i]));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
    terms: usize,
    in_value_path: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, want: Token<'static>, what: &str) -> Result<(), FilterError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => err(format!("Expected {what} but found {}.", t.describe())),
            None => err(format!("Expected {what} but the filter ended.")),
        }
    }

    fn descend(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(format!("The filter nests deeper than {MAX_DEPTH} levels."));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.keyword("not") && self.tokens.get(self.pos + 1) == Some(&Token::Open) {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        match self.peek() {
            Some(Token::Open) => self.group(),
            Some(Token::Word(_)) => self.attr_expr(),
            Some(t) => err(format!("Expected an attribute but found {}.", t.describe())),
            None => err("The filter ended where an expression was expected."),
        }
    }

    /// `( filter )`
    fn group(&mut self) -> Result<Filter, FilterError> {
        self.expect(Token::Open, "\"(\"")?;
        self.descend()?;
        let inner = self.or_expr()?;
        self.depth -= 1;
        self.expect(Token::Close, "\")\"")?;
        Ok(inner)
    }

    fn attr_expr(&mut self) -> Result<Filter, FilterError> {
        let Some(Token::Word(word)) = self.next() else {
            unreachable!("attr_expr is only called on a word")
        };
        let path = AttrPath::parse(word)?;
        if self.peek() == Some(&Token::OpenBracket) {
            return self.value_path(path);
        }
        self.comparison(path)
    }

    /// `attr[filter]`, optionally followed by `.sub op value`.
    fn value_path(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        if self.in_value_path {
            return err("A filter inside \"[…]\" cannot contain another \"[…]\".");
        }
        if path.sub.is_some() {
            return err(format!(
                "\"{path}\" names a sub-attribute; \"[…]\" must follow an attribute."
            ));
        }
        self.pos += 1;
        self.descend()?;
        self.in_value_path = true;
        let inner = self.or_expr()?;
        self.in_value_path = false;
        self.depth -= 1;
        self.expect(Token::CloseBracket, "\"]\"")?;
        let inner = match self.peek() {
            Some(Token::Word(w)) if w.starts_with('.') => {
                let sub = &w[1..];
                self.pos += 1;
                check_name(sub, word_of(&path))?;
                let tail = self.comparison(AttrPath {
                    urn: None,
                    attr: sub.to_owned(),
                    sub: None,
                })?;
                Filter::And(Box::new(inner), Box::new(tail))
            }
            _ => inner,
        };
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(inner),
        })
    }

    /// `path pr` or `path op value`.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return err(format!("The filter has more than {MAX_TERMS} comparisons."));
        }
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path));
            }
            Some(Token::Word(w)) => CompareOp::parse(w).ok_or_else(|| {
                FilterError(format!(
                    "\"{w}\" is not a filter operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)."
                ))
            })?,
            Some(t) => {
                return err(format!(
                    "Expected an operator after \"{path}\" but found {}.",
                    t.describe()
                ));
            }
            None => return err(format!("Expected an operator after \"{path}\".")),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => CompValue::String(s),
            Some(Token::Word(w)) => CompValue::from_word(w),
            Some(t) => {
                return err(format!(
                    "Expected a value after \"{path} {op}\" but found {}.",
                    t.describe()
                ));
            }
            None => return err(format!("Expected a value after \"{path} {op}\".")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn word_of(path: &AttrPath) -> String {
    path.to_string()
}

/// RFC 7643 ATTRNAME (`ALPHA *(nameChar)`), plus `$ref`.
fn check_name(name: &str, context: impl fmt::Display) -> Result<(), FilterError> {
    let valid = name == "$ref"
        || (name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if valid {
        Ok(())
    } else {
        err(format!("\"{context}\" is not a valid attribute path."))
    }
}

impl AttrPath {
    /// Parses `[urn:…:]attr[.sub]` (also used for `sortBy`).
    pub fn parse(text: &str) -> Result<AttrPath, FilterError> {
        let is_urn = text
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let (urn, rest) = match text.rfind(':') {
            Some(i) if is_urn => (Some(text[..i].to_owned()), &text[i + 1..]),
            Some(_) => return err(format!("\"{text}\" is not a valid attribute path.")),
            None => (None, text),
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub)),
            None => (rest, None),
        };
        check_name(attr, text)?;
        if let Some(sub) = sub {
            check_name(sub, text)?;
        }
        Ok(AttrPath {
            urn,
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Resolves against a resource type's schemas.
    pub fn resolve(&self, rt: &ResourceType) -> Result<AttrRef, FilterError> {
        let at = rt.resolve(&self.to_string()).ok_or_else(|| {
            FilterError(format!("\"{self}\" is not an attribute of a {}.", rt.name))
        })?;
        if at.leaf().returned == Returned::Never || at.attr.returned == Returned::Never {
            return err(format!("\"{self}\" cannot be used in a filter."));
        }
        Ok(at)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }

    /// Whether this operator orders values (`gt`, `ge`, `lt`, `le`).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        })
    }
}

impl CompValue {
    fn from_word(word: &str) -> CompValue {
        if word.eq_ignore_ascii_case("true") {
            CompValue::Bool(true)
        } else if word.eq_ignore_ascii_case("false") {
            CompValue::Bool(false)
        } else if word.eq_ignore_ascii_case("null") {
            CompValue::Null
        } else if let Ok(n) = serde_json::from_str::<Number>(word) {
            CompValue::Number(n)
        } else {
            CompValue::String(word.to_owned())
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::String(s) => write!(f, "{}", Value::String(s.clone())),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// Canonical text that [`parse`] reads back into the same filter.
///
/// The store hands this text to SQLite, where [`parse_canonical`] reads it again under the same
/// depth bound, so it must never nest deeper than the text the filter was parsed from: and/or
/// chains are written flat (`a or b or c`, as the parser groups to the left), parentheses appear
/// only where the parser would otherwise group differently (so the client's text had them
/// there too), and `attr[a or b].sub eq v` keeps its last comparison outside the brackets.
/// Every group written thus stands for a group of the original on the same path, whatever its
/// shape; writing each `and`/`or` in parentheses once made a flat 34-term chain 33 levels deep.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Or(a, b) => {
                write!(f, "{a} or ")?;
                write_operand(f, b, matches!(**b, Filter::Or(..)))
            }
            Filter::And(a, b) => {
                write_operand(f, a, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, b, matches!(**b, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Not(a) => write!(f, "not ({a})"),
            Filter::ValuePath { path, filter } => match &**filter {
                Filter::And(inner, tail) if tail.is_element_tail() => {
                    write!(f, "{path}[{inner}].{tail}")
                }
                inner => write!(f, "{path}[{inner}]"),
            },
        }
    }
}

/// An operand of `and`/`or`, in parentheses where the parser would otherwise group differently.
fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, grouped: bool) -> fmt::Result {
    if grouped {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

impl Filter {
    /// Whether this finds resources by equality on one of `attrs` (core attributes of `rt`,
    /// such as `userName`), perhaps `and`ed with more tests: a lookup an index answers with a
    /// handful of resources at most, whatever the size of the directory.
    pub fn looks_up(&self, rt: &ResourceType, attrs: &[&str]) -> bool {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(_),
            } => path.resolve(rt).is_ok_and(|at| {
                at.sub.is_none()
                    && at.extension(rt).is_none()
                    && attrs.iter().any(|a| at.attr.name.eq_ignore_ascii_case(a))
            }),
            Filter::And(a, b) => a.looks_up(rt, attrs) || b.looks_up(rt, attrs),
            _ => false,
        }
    }

    /// Whether this can follow `attr[…].` (`value eq "x"`, `value pr`): a test of one plainly
    /// named sub-attribute.
    fn is_element_tail(&self) -> bool {
        match self {
            Filter::Compare { path, .. } | Filter::Present(path) => {
                path.urn.is_none() && path.sub.is_none()
            }
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checking against a schema

/// Checks every path and comparison of `filter` against `rt`: unknown attributes, operators
/// that do not apply to an attribute's type (`active gt true`) and values of the wrong type are
/// errors, so a checked filter always evaluates.
pub fn check(filter: &Filter, rt: &ResourceType) -> Result<(), FilterError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, rt)?;
            check(b, rt)
        }
        Filter::Not(a) => check(a, rt),
        Filter::Present(path) => path.resolve(rt).map(drop),
        Filter::Compare { path, op, value } => {
            let at = path.resolve(rt)?;
            check_comparison(path, compared_attribute(path, &at)?, *op, value)
        }
        Filter::ValuePath { path, filter } => {
            let at = path.resolve(rt)?;
            if at.attr.kind != AttrType::Complex {
                return err(format!(
                    "\"{path}[…]\" needs an attribute with sub-attributes."
                ));
            }
            check_element(filter, at.attr)
        }
    }
}

/// Checks a filter whose paths name sub-attributes of `parent`.
fn check_element(filter: &Filter, parent: &Attribute) -> Result<(), FilterError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_element(a, parent)?;
            check_element(b, parent)
        }
        Filter::Not(a) => check_element(a, parent),
        Filter::Present(path) => element_attribute(path, parent).map(drop),
        Filter::Compare { path, op, value } => {
            check_comparison(path, element_attribute(path, parent)?, *op, value)
        }
        Filter::ValuePath { .. } => err("A filter inside \"[…]\" cannot contain another \"[…]\"."),
    }
}

fn element_attribute(
    path: &AttrPath,
    parent: &Attribute,
) -> Result<&'static Attribute, FilterError> {
    if path.urn.is_some() || path.sub.is_some() {
        return err(format!(
            "Inside \"{}[…]\", \"{path}\" must name a sub-attribute.",
            parent.name
        ));
    }
    parent.sub(&path.attr).ok_or_else(|| {
        FilterError(format!(
            "\"{}\" has no sub-attribute \"{}\".",
            parent.name, path.attr
        ))
    })
}

/// The attribute a comparison looks at: the sub-attribute if named, else the attribute, else
/// (for a complex attribute) its `value` sub-attribute (`emails co "@example.com"`).
fn compared_attribute(path: &AttrPath, at: &AttrRef) -> Result<&'static Attribute, FilterError> {
    let leaf = at.leaf();
    if leaf.kind != AttrType::Complex {
        return Ok(leaf);
    }
    leaf.sub("value").ok_or_else(|| {
        FilterError(format!(
            "\"{path}\" is complex; compare one of its sub-attributes instead."
        ))
    })
}

fn check_comparison(
    path: &AttrPath,
    attr: &Attribute,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let bad_value = |what: &str| {
        err(format!(
            "\"{path} {op} {value}\": \"{}\" is {what}.",
            attr.name
        ))
    };
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => err(format!(
                "\"{path} {op} null\": null only works with eq and ne."
            )),
        };
    }
    match attr.kind {
        AttrType::Boolean => {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return err(format!(
                    "\"{path} {op}\": a boolean only compares with eq and ne."
                ));
            }
            match value {
                CompValue::Bool(_) => Ok(()),
                CompValue::String(s)
                    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
                {
                    Ok(())
                }
                _ => bad_value("a boolean; compare it with true or false"),
            }
        }
        AttrType::Integer | AttrType::Decimal => match (value, op) {
            (CompValue::Number(_), CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => err(format!(
                "\"{path} {op}\": a number only compares with eq, ne, gt, ge, lt and le."
            )),
            (CompValue::Number(_), _) => Ok(()),
            _ => bad_value("a number"),
        },
        AttrType::DateTime => match value {
            CompValue::String(s) if parse_datetime(s).is_some() => Ok(()),
            _ => bad_value("a date and time; compare it with an RFC 3339 timestamp in quotes"),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            CompValue::String(_) => Ok(()),
            _ => bad_value("a string; put the value in double quotes"),
        },
        AttrType::Complex => bad_value("complex"),
    }
}

pub(crate) fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Whether the canonical document `doc` of a `rt` resource matches a [`check`]ed filter.
/// Attributes the document does not hold (`id`, `meta`, computed ones) are absent here; the
/// store answers those from its columns.
pub fn matches_resource(filter: &Filter, rt: &ResourceType, doc: &Map<String, Value>) -> bool {
    match filter {
        Filter::And(a, b) => matches_resource(a, rt, doc) && matches_resource(b, rt, doc),
        Filter::Or(a, b) => matches_resource(a, rt, doc) || matches_resource(b, rt, doc),
        Filter::Not(a) => !matches_resource(a, rt, doc),
        Filter::Present(path) => path.resolve(rt).is_ok_and(|at| {
            values_in_doc(rt, doc, &at, false)
                .iter()
                .any(|v| is_present(v))
        }),
        Filter::Compare { path, op, value } => path.resolve(rt).is_ok_and(|at| {
            compared_attribute(path, &at)
                .is_ok_and(|attr| holds(attr, &values_in_doc(rt, doc, &at, true), *op, value))
        }),
        Filter::ValuePath { path, filter } => path.resolve(rt).is_ok_and(|at| {
            values_in_doc(rt, doc, &at, false)
                .iter()
                .any(|element| eval_element(filter, at.attr, element))
        }),
    }
}

/// Whether one element of the multi-valued complex attribute `parent` (a member, an email)
/// matches `filter`, whose paths name sub-attributes (`type eq "work"`).
pub fn matches_element(
    filter: &Filter,
    parent: &Attribute,
    element: &Value,
) -> Result<bool, FilterError> {
    check_element(filter, parent)?;
    Ok(eval_element(filter, parent, element))
}

fn eval_element(filter: &Filter, parent: &Attribute, element: &Value) -> bool {
    match filter {
        Filter::And(a, b) => eval_element(a, parent, element) && eval_element(b, parent, element),
        Filter::Or(a, b) => eval_element(a, parent, element) || eval_element(b, parent, element),
        Filter::Not(a) => !eval_element(a, parent, element),
        Filter::Present(path) => sub_value(parent, element, &path.attr).is_some_and(is_present),
        Filter::Compare { path, op, value } => match parent.sub(&path.attr) {
            Some(attr) => {
                let found: Vec<&Value> =
                    sub_value(parent, element, &path.attr).into_iter().collect();
                holds(attr, &found, *op, value)
            }
            None => false,
        },
        Filter::ValuePath { .. } => false,
    }
}

/// The sub-attribute's value in an element (keys matched case-insensitively), ignoring null.
fn sub_value<'v>(parent: &Attribute, element: &'v Value, name: &str) -> Option<&'v Value> {
    let sub = parent.sub(name)?;
    get_ci(element.as_object()?, sub.name).filter(|v| !v.is_null())
}

/// The values a path reaches in a document: every element's sub-attribute for multi-valued
/// attributes. With `compared`, a complex attribute without a sub-attribute yields its
/// elements' `value`s (as comparisons use); otherwise the elements themselves.
fn values_in_doc<'d>(
    rt: &ResourceType,
    doc: &'d Map<String, Value>,
    at: &AttrRef,
    compared: bool,
) -> Vec<&'d Value> {
    let container = match at.extension(rt) {
        Some(ext) => match doc.get(ext.id).and_then(Value::as_object) {
            Some(c) => c,
            None => return Vec::new(),
        },
        None => doc,
    };
    let Some(value) = container.get(at.attr.name).filter(|v| !v.is_null()) else {
        return Vec::new();
    };
    let sub = at
        .sub
        .map(|s| s.name)
        .or_else(|| (compared && at.attr.kind == AttrType::Complex).then_some("value"));
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    match sub {
        None => items,
        Some(sub) => items
            .into_iter()
            .filter_map(|item| item.get(sub))
            .filter(|v| !v.is_null())
            .collect(),
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// A comparison over all the values a path reached: `eq null` holds when there are none,
/// `ne` when none is equal, every other operator when one value satisfies it.
pub(crate) fn holds(
    attr: &Attribute,
    values: &[&Value],
    op: CompareOp,
    expected: &CompValue,
) -> bool {
    match (op, expected) {
        (CompareOp::Eq, CompValue::Null) => values.is_empty(),
        (CompareOp::Ne, CompValue::Null) => !values.is_empty(),
        (CompareOp::Ne, _) => !values
            .iter()
            .any(|v| compare(attr, v, CompareOp::Eq, expected)),
        _ => values.iter().any(|v| compare(attr, v, op, expected)),
    }
}

/// One value against the filter's value, with the attribute's type and `caseExact`.
fn compare(attr: &Attribute, actual: &Value, op: CompareOp, expected: &CompValue) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (attr.kind, actual, expected) {
        (AttrType::Boolean, Value::Bool(a), _) => {
            let wanted = match expected {
                CompValue::Bool(b) => *b,
                CompValue::String(s) => s.eq_ignore_ascii_case("true"),
                _ => return false,
            };
            Some(a.cmp(&wanted))
        }
        (AttrType::Integer | AttrType::Decimal, Value::Number(a), CompValue::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (AttrType::DateTime, Value::String(a), CompValue::String(b)) => {
            match (parse_datetime(a), parse_datetime(b)) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => return compare_text(attr, a, op, b),
            }
        }
        (_, Value::String(a), CompValue::String(b)) => return compare_text(attr, a, op, b),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// String comparison; case-insensitive attributes compare their Unicode lower case, which is
/// also what the store's `*_key` columns hold.
fn compare_text(attr: &Attribute, actual: &str, op: CompareOp, expected: &str) -> bool {
    let (a, b) = if attr.case_exact {
        (actual.to_owned(), expected.to_owned())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
    }
}

/// Random filter texts at the bounds, for this module's tests and the store's SQL tests.
#[cfg(test)]
pub(crate) mod strategies {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::{MAX_DEPTH, MAX_LENGTH, MAX_TERMS};

    /// A comparison or value path as text, with the comparisons it counts and the levels it
    /// nests (1 for `attr[…]`).
    pub type Leaf = (String, usize, usize);

    /// A leaf and whether `and` (else `or`) joins it to the one before.
    type Link = (Leaf, bool);

    /// `not (…)` or else `(…)` around what is built so far, joined (`and` or else `or`) to a side
    /// chain that comes first or else last.
    type Layer = (bool, Vec<Link>, bool, bool);

    /// Texts [`super::parse`] accepts, built from `leaf`s: wide ones (chains of up to
    /// [`MAX_TERMS`] comparisons, links randomly `and` or `or`) and deep ones (up to
    /// [`MAX_DEPTH`] layers of `not (…)` and `(…)`, each joined to a short chain).
    pub fn bounded_text(leaf: BoxedStrategy<Leaf>) -> impl Strategy<Value = String> {
        let link = (leaf, any::<bool>());
        // One link is a bare leaf, several are a parenthesised group.
        let item = prop_oneof![3 => vec(link.clone(), 1), 1 => vec(link.clone(), 2..=3)];
        let layer = (
            any::<bool>(),
            vec(link, 0..=2),
            any::<bool>(),
            any::<bool>(),
        );
        let wide = (
            vec((item.clone(), any::<bool>()), 1..=MAX_TERMS),
            vec(layer.clone(), 0..=2),
        );
        let deep = (
            vec((item, any::<bool>()), 1..=4),
            prop_oneof![vec(layer.clone(), MAX_DEPTH), vec(layer, 0..MAX_DEPTH)],
        );
        prop_oneof![wide, deep]
            .prop_map(|(core, layers)| build(core, layers))
            .prop_filter("at most MAX_LENGTH bytes", |text| text.len() <= MAX_LENGTH)
    }

    /// Assembles the text, leaving out items that would pass [`MAX_TERMS`] and layers that
    /// would pass [`MAX_DEPTH`].
    fn build(core: Vec<(Vec<Link>, bool)>, layers: Vec<Layer>) -> String {
        let mut terms = 0;
        let mut fits = |links: &[Link]| {
            let more: usize = links.iter().map(|((_, n, _), _)| n).sum();
            let fits = terms + more <= MAX_TERMS;
            if fits {
                terms += more;
            }
            fits
        };
        let mut text = String::new();
        let mut depth = 0;
        for (item, and) in core {
            if !fits(&item) {
                continue;
            }
            let grouped = item.len() > 1;
            let nested = item.iter().map(|((_, _, d), _)| *d).max().unwrap_or(0);
            depth = depth.max(nested + usize::from(grouped));
            if !text.is_empty() {
                text.push_str(if and { " and " } else { " or " });
            }
            if grouped {
                text.push_str(&format!("({})", chain(&item)));
            } else {
                text.push_str(&chain(&item));
            }
        }
        for (negated, side, side_first, and) in layers.into_iter().take(MAX_DEPTH - depth) {
            let wrapped = if negated {
                format!("not ({text})")
            } else {
                format!("({text})")
            };
            let side: Vec<Link> = side
                .into_iter()
                .filter(|l| fits(std::slice::from_ref(l)))
                .collect();
            let word = if and { "and" } else { "or" };
            text = match (side.is_empty(), side_first) {
                (true, _) => wrapped,
                (false, true) => format!("{} {word} {wrapped}", chain(&side)),
                (false, false) => format!("{wrapped} {word} {}", chain(&side)),
            };
        }
        text
    }

    fn chain(links: &[Link]) -> String {
        let mut text = String::new();
        for (i, ((leaf, _, _), and)) in links.iter().enumerate() {
            if i > 0 {
                text.push_str(if *and { " and " } else { " or " });
            }
            text.push_str(leaf);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{GROUP, USER};
    use serde_json::json;

    fn path(attr: &str) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub: None,
        }
    }

    fn eq(attr: &str, value: &str) -> Filter {
        Filter::Compare {
            path: path(attr),
            op: CompareOp::Eq,
            value: CompValue::String(value.into()),
        }
    }

    #[test]
    fn a_lookup_is_an_equality_on_a_named_core_attribute() {
        let unique = ["userName", "id", "externalId"];
        let looks_up = |text: &str| parse(text).unwrap().looks_up(&USER, &unique);
        assert!(looks_up(r#"userName eq "a@b.c""#));
        assert!(looks_up(r#"USERNAME eq "a@b.c""#));
        assert!(looks_up(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a""#
        ));
        assert!(looks_up(r#"externalId eq "00u1""#));
        assert!(looks_up(r#"id eq "x""#));
        assert!(looks_up(r#"userName eq "a" and active eq true"#));
        assert!(looks_up(r#"active eq true and (userName eq "a")"#));
        assert!(!looks_up(r#"userName eq "a" or active eq true"#));
        assert!(!looks_up(r#"userName co "a""#));
        assert!(!looks_up(r#"userName sw "a""#));
        assert!(!looks_up(r#"not (userName eq "a")"#));
        assert!(!looks_up(r#"displayName eq "a""#));
        assert!(!looks_up(r#"emails[value eq "a"]"#));
        assert!(!looks_up(r#"name.familyName eq "a""#));
        assert!(!looks_up("active eq true"));
        assert!(!parse(r#"nosuch eq "a""#).unwrap().looks_up(&USER, &unique));
        assert!(
            parse(r#"displayName eq "x""#)
                .unwrap()
                .looks_up(&GROUP, &["displayName"])
        );
    }

    #[test]
    fn parses_the_filters_identity_providers_send() {
        assert_eq!(
            parse(r#"userName eq "a@b.c""#).unwrap(),
            eq("userName", "a@b.c")
        );
        assert_eq!(parse(r#"USERNAME EQ "x""#).unwrap(), eq("USERNAME", "x"));
        assert_eq!(
            parse("externalId eq 00u1").unwrap(),
            eq("externalId", "00u1")
        );
        let f = parse(r#"id eq "g1" and members[value eq "u1"]"#).unwrap();
        assert_eq!(
            f,
            Filter::And(
                Box::new(eq("id", "g1")),
                Box::new(Filter::ValuePath {
                    path: path("members"),
                    filter: Box::new(eq("value", "u1")),
                })
            )
        );
        let f = parse(r#"emails[type eq "work"].value eq "x@y""#).unwrap();
        assert_eq!(
            f,
            Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(Filter::And(
                    Box::new(eq("type", "work")),
                    Box::new(eq("value", "x@y"))
                )),
            }
        );
        let f = parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"",
        )
        .unwrap();
        let Filter::Compare { path, .. } = f else {
            panic!()
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (path.attr.as_str(), path.sub.as_deref()),
            ("manager", Some("value"))
        );
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let f = parse(r#"a eq "1" or b eq "2" and not (c pr)"#).unwrap();
        assert_eq!(
            f,
            Filter::Or(
                Box::new(eq("a", "1")),
                Box::new(Filter::And(
                    Box::new(eq("b", "2")),
                    Box::new(Filter::Not(Box::new(Filter::Present(path("c")))))
                ))
            )
        );
    }

    #[test]
    fn literals() {
        let value = |text: &str| match parse(&format!("x eq {text}")).unwrap() {
            Filter::Compare { value, .. } => value,
            _ => unreachable!(),
        };
        assert_eq!(value("true"), CompValue::Bool(true));
        assert_eq!(value("False"), CompValue::Bool(false));
        assert_eq!(value("null"), CompValue::Null);
        assert_eq!(
            value("-1.5e3"),
            CompValue::Number(serde_json::from_str("-1.5e3").unwrap())
        );
        assert_eq!(
            value(r#""a \"q\" \u00e9""#),
            CompValue::String("a \"q\" é".into())
        );
    }

    #[test]
    fn rejects_malformed_filters_with_a_reason() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName equals \"x\"",
            "userName eq \"x",
            "(userName eq \"x\"",
            "userName eq \"x\")",
            "userName eq \"x\" and",
            "emails[type eq \"work\"",
            "emails[type[value eq \"x\"] eq \"y\"]",
            "a.b.c eq \"x\"",
            "1abc eq \"x\"",
            "foo:bar eq \"x\"",
            "userName eq \"\\x\"",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(!e.0.is_empty());
        }
        assert!(parse(&"(".repeat(40)).is_err());
        let many = vec!["a eq 1"; MAX_TERMS + 1].join(" or ");
        assert!(parse(&many).unwrap_err().0.contains("comparisons"));
        assert!(
            parse(&"a".repeat(MAX_LENGTH + 1))
                .unwrap_err()
                .0
                .contains("bytes")
        );
    }

    #[test]
    fn canonical_text_is_flat_and_groups_only_where_the_parser_needs_it() {
        let wide = (0..MAX_TERMS)
            .map(|i| format!("title co \"x{i}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        for text in [
            wide.as_str(),
            r#"a eq "1" and b eq "2" and c eq "3" or d eq "4""#,
            r#"a eq "1" and (b eq "2" or c eq "3")"#,
            r#"a eq "1" or (b eq "2" or c eq "3")"#,
            r#"a eq "1" and (b eq "2" and c eq "3")"#,
            r#"not (a eq "1" or b pr)"#,
            r#"emails[type eq "work" or type eq "home"].value eq "x""#,
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            parse(r#"((a eq "1")) or ((b eq "2"))"#)
                .unwrap()
                .to_string(),
            r#"a eq "1" or b eq "2""#
        );
    }

    #[test]
    fn check_knows_the_schema() {
        let ok = |f: &str| check(&parse(f).unwrap(), &USER);
        ok(r#"userName eq "x""#).unwrap();
        ok(r#"emails[type eq "work" and value co "@x"]"#).unwrap();
        ok(r#"emails co "@x""#).unwrap();
        ok(r#"meta.lastModified gt "2024-01-01T00:00:00Z""#).unwrap();
        ok("active eq true").unwrap();
        ok(r#"active eq "false""#).unwrap();
        assert!(ok(r#"nosuch eq "x""#).unwrap_err().0.contains("nosuch"));
        assert!(ok("active gt true").is_err());
        assert!(ok(r#"active eq "yes""#).is_err());
        assert!(ok("userName eq 1").is_err());
        assert!(ok(r#"meta.created gt "yesterday""#).is_err());
        assert!(ok(r#"password eq "x""#).is_err());
        assert!(ok(r#"name eq "x""#).is_err());
        assert!(ok(r#"emails[nosuch eq "x"]"#).is_err());
        assert!(ok(r#"userName[value eq "x"]"#).is_err());
        assert!(check(&parse(r#"members[value eq "x"]"#).unwrap(), &GROUP).is_ok());
        assert!(ok("userName gt null").is_err());
    }

    #[test]
    fn evaluates_against_documents() {
        let doc = json!({
            "userName": "Bjensen@Example.com",
            "active": true,
            "name": {"givenName": "Barbara"},
            "emails": [
                {"value": "b@work.example", "type": "work", "primary": true},
                {"value": "b@home.example", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Tour Operations",
                "manager": {"value": "m1"}
            }
        });
        let doc = doc.as_object().unwrap();
        let m = |f: &str| {
            let f = parse(f).unwrap();
            check(&f, &USER).unwrap();
            matches_resource(&f, &USER, doc)
        };
        assert!(m(r#"userName eq "bjensen@example.com""#));
        assert!(m(r#"userName sw "BJ""#));
        assert!(m(r#"name.givenName co "arb""#));
        assert!(!m(r#"name.familyName pr"#));
        assert!(m(r#"name.familyName eq null"#));
        assert!(m(r#"emails[type eq "home" and value ew ".example"]"#));
        assert!(!m(r#"emails[type eq "home" and primary eq true]"#));
        assert!(m(r#"emails[type eq "work"].value eq "B@WORK.example""#));
        assert!(m(r#"emails.value eq "b@home.example""#));
        assert!(m(r#"emails co "home""#));
        assert!(m(r#"emails.type ne "other""#));
        assert!(!m(r#"emails.type ne "work""#));
        assert!(m(r#"not (title pr)"#));
        assert!(m(r#"title ne "x""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "tour""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#
        ));
        assert!(m("active eq true and (nickName pr or userName pr)"));
        assert!(!m("active eq false"));
    }

    #[test]
    fn elements_match_sub_attributes() {
        let members = GROUP.resolve("members").unwrap().attr;
        let element = json!({"value": "u1", "display": "Ann", "type": "User"});
        let m = |f: &str| matches_element(&parse(f).unwrap(), members, &element);
        assert!(m(r#"value eq "u1""#).unwrap());
        assert!(!m(r#"value eq "U1""#).unwrap(), "member ids are case-exact");
        assert!(m(r#"display eq "ann" and type eq "user""#).unwrap());
        assert!(m(r#"nosuch eq "x""#).is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn arb_path() -> impl Strategy<Value = AttrPath> {
            (
                proptest::option::of(Just(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned(),
                )),
                "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
                proptest::option::of("[a-zA-Z][a-zA-Z0-9]{0,6}|\\$ref"),
            )
                .prop_filter("keywords are not attribute names", |(_, a, _)| {
                    !["and", "or", "not"]
                        .iter()
                        .any(|k| a.eq_ignore_ascii_case(k))
                })
                .prop_map(|(urn, attr, sub)| AttrPath { urn, attr, sub })
        }

        fn arb_value() -> impl Strategy<Value = CompValue> {
            prop_oneof![
                any::<String>().prop_map(CompValue::String),
                any::<bool>().prop_map(CompValue::Bool),
                any::<i64>().prop_map(|n| CompValue::Number(n.into())),
                Just(CompValue::Null),
            ]
        }

        fn arb_op() -> impl Strategy<Value = CompareOp> {
            proptest::sample::select(vec![
                CompareOp::Eq,
                CompareOp::Ne,
                CompareOp::Co,
                CompareOp::Sw,
                CompareOp::Ew,
                CompareOp::Gt,
                CompareOp::Ge,
                CompareOp::Lt,
                CompareOp::Le,
            ])
        }

        /// A plain attribute name (never a keyword), or any path.
        fn arb_leaf_path(simple_paths: bool) -> BoxedStrategy<AttrPath> {
            if simple_paths {
                "[a-zA-Z][a-zA-Z0-9]{0,6}"
                    .prop_filter("keywords", |a| {
                        !["and", "or", "not"]
                            .iter()
                            .any(|k| a.eq_ignore_ascii_case(k))
                    })
                    .prop_map(|attr| AttrPath {
                        urn: None,
                        attr,
                        sub: None,
                    })
                    .boxed()
            } else {
                arb_path().boxed()
            }
        }

        fn arb_leaf(simple_paths: bool) -> BoxedStrategy<Filter> {
            let p = arb_leaf_path(simple_paths);
            prop_oneof![
                (p.clone(), arb_op(), arb_value()).prop_map(|(path, op, value)| Filter::Compare {
                    path,
                    op,
                    value
                }),
                p.prop_map(Filter::Present),
            ]
            .boxed()
        }

        fn arb_filter() -> impl Strategy<Value = Filter> {
            let inner = arb_leaf(true).prop_recursive(3, 8, 2, |f| {
                prop_oneof![
                    (f.clone(), f.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (f.clone(), f.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    f.prop_map(|a| Filter::Not(Box::new(a))),
                ]
            });
            let leaf = prop_oneof![
                arb_leaf(false),
                ("[a-zA-Z][a-zA-Z0-9]{0,6}", inner).prop_filter_map("keywords", |(attr, f)| {
                    (!["and", "or", "not"]
                        .iter()
                        .any(|k| attr.eq_ignore_ascii_case(k)))
                    .then(|| Filter::ValuePath {
                        path: AttrPath {
                            urn: None,
                            attr,
                            sub: None,
                        },
                        filter: Box::new(f),
                    })
                }),
            ];
            leaf.prop_recursive(4, 24, 2, |f| {
                prop_oneof![
                    (f.clone(), f.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (f.clone(), f.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    f.prop_map(|a| Filter::Not(Box::new(a))),
                ]
            })
        }

        /// Short values, so that a hundred comparisons fit in [`MAX_LENGTH`].
        fn arb_short_value() -> impl Strategy<Value = CompValue> {
            prop_oneof![
                "[a-z\"\\\\ é]{0,4}".prop_map(CompValue::String),
                any::<bool>().prop_map(CompValue::Bool),
                any::<i32>().prop_map(|n| CompValue::Number(n.into())),
                Just(CompValue::Null),
            ]
        }

        fn arb_short_comparison(simple_paths: bool) -> BoxedStrategy<String> {
            let path = arb_leaf_path(simple_paths);
            (path, proptest::option::of((arb_op(), arb_short_value())))
                .prop_filter_map("keywords are not attribute names", |(path, test)| {
                    let keyword = ["and", "or", "not"]
                        .iter()
                        .any(|k| path.attr.eq_ignore_ascii_case(k));
                    (!keyword).then(|| match test {
                        Some((op, value)) => format!("{path} {op} {value}"),
                        None => format!("{path} pr"),
                    })
                })
                .boxed()
        }

        /// A comparison, or a value path with up to three comparisons inside and one after.
        fn arb_bounded_leaf() -> BoxedStrategy<strategies::Leaf> {
            let value_path = (
                "[a-zA-Z][a-zA-Z0-9]{0,6}",
                proptest::collection::vec((arb_short_comparison(true), any::<bool>()), 1..=3),
                proptest::option::of(arb_short_comparison(true)),
            )
                .prop_filter_map(
                    "keywords are not attribute names",
                    |(attr, inner, tail)| {
                        if ["and", "or", "not"]
                            .iter()
                            .any(|k| attr.eq_ignore_ascii_case(k))
                        {
                            return None;
                        }
                        let terms = inner.len() + usize::from(tail.is_some());
                        let mut text = format!("{attr}[");
                        for (i, (comparison, and)) in inner.iter().enumerate() {
                            if i > 0 {
                                text.push_str(if *and { " and " } else { " or " });
                            }
                            text.push_str(comparison);
                        }
                        text.push(']');
                        if let Some(tail) = tail {
                            text.push_str(&format!(".{tail}"));
                        }
                        Some((text, terms, 1))
                    },
                );
            prop_oneof![
                3 => arb_short_comparison(false).prop_map(|text| (text, 1, 0)),
                1 => value_path,
            ]
            .boxed()
        }

        proptest! {
            /// The store's `scim_match` reads the canonical text back with the depth and term
            /// bounds, so it must never need more of either than the client's text did.
            #[test]
            fn canonical_text_parses_back_within_the_bounds(
                text in strategies::bounded_text(arb_bounded_leaf())
            ) {
                let f = parse(&text).unwrap();
                prop_assert_eq!(parse_canonical(&f.to_string()).unwrap(), f);
            }

            #[test]
            fn display_round_trips(f in arb_filter()) {
                let text = f.to_string();
                prop_assert_eq!(parse(&text).unwrap(), f);
            }

            #[test]
            fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
                if let Ok(f) = parse(&text) {
                    let _ = check(&f, &USER);
                    let _ = matches_resource(&f, &USER, &Map::new());
                }
            }

            #[test]
            fn never_panics_on_filter_like_text(
                text in r#"([ ()\[\]"\\.:]|and|or|not|eq|pr|userName|emails|value|true|null|1|x){0,60}"#
            ) {
                if let Ok(f) = parse(&text) {
                    let _ = check(&f, &USER);
                    let _ = check(&f, &GROUP);
                }
            }
        }
    }
}
