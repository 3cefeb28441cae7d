//! The request side of versions: `If-Match` and `If-None-Match` read from the headers into the
//! domain's [`IfMatch`] and 304 decision ([`crate::scim::etag`]).

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderName};

use crate::scim::etag::{self, IfMatch};

fn listed(req: &HttpRequest, name: HeaderName) -> Option<Vec<String>> {
    etag::listed(req.headers().get_all(name).filter_map(|v| v.to_str().ok()))
}

/// The request's `If-Match` precondition.
pub fn if_match(req: &HttpRequest) -> IfMatch {
    IfMatch::from_tags(listed(req, header::IF_MATCH))
}

/// Whether a read may answer 304: `If-None-Match` names the current version (or `*`).
pub fn not_modified(req: &HttpRequest, version: i64) -> bool {
    etag::not_modified(listed(req, header::IF_NONE_MATCH).as_deref(), version)
}
