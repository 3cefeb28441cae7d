//! The SCIM 2.0 protocol (RFC 7643/7644) as a domain, apart from any transport: schemas,
//! reading request bodies into canonical documents, the filter language, PATCH, projection,
//! query parameters and ListResponses, versions (ETags), membership splitting, rendering
//! resources, and the protocol's error type.
//!
//! It knows neither HTTP nor the store: the HTTP front door (`http::scim`) parses requests with
//! it, calls the store, and renders with it; the store compiles its filters. Nothing here
//! imports the web framework or the store, so another front door (LDAP) can use all of it.

mod error;
pub mod etag;
pub mod filter;
pub mod groups;
pub mod list;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod users;

pub use error::{SCIM_CONTENT_TYPE, ScimError, ScimType};
