//! scim-appliance: a SCIM 2.0 service provider (RFC 7643/7644) for small teams and homelabs,
//! in one binary, keeping every organization's directory in one SQLite file. Its URL shape and
//! membership semantics follow Bitwarden's SCIM service, so IdP app templates made for
//! Bitwarden work unchanged.
//!
//! # Layout
//!
//! A request flows one way: HTTP handler → parse into domain types → one store call inside one
//! transaction → render.
//!
//! - [`cli`]: command-line parsing and dispatch (`serve`, `org …`, `admin …`, `events`); the
//!   binary's `main.rs` only calls [`cli::main`].
//! - [`admin`]: what an operator does (organizations, API keys, the admin password), written
//!   once for both the command line and the admin API.
//! - [`config`]: validated settings for `serve`, apart from raw arguments.
//! - [`directory`]: membership rules independent of the protocol (member email, indexed fields).
//! - [`startup`]: builds the actix-web application (port 0 allowed; the bound port is read back).
//! - [`health`]: `/alive`, `/now`, `/version`.
//! - [`limits`]: what one client can hold: the request-body deadline and the connection caps.
//! - [`metrics`]: Prometheus metrics at `/metrics` (`--metrics`).
//! - [`method_not_allowed`]: 405 with `Allow` for known non-SCIM paths asked with another
//!   method.
//! - [`housekeeping`]: a running server's background work (event retention, scheduled backups).
//! - [`auth`]: per-organization API keys: generation, argon2id hashing, and the request
//!   authenticator that keeps argon2 off the steady-state path; the admin's sign-in, sessions
//!   and setup token ([`auth::session`]).
//! - [`scim`]: the SCIM endpoints under `/v2/{org_id}` and the one error type
//!   ([`scim::ScimError`]) mapped to RFC 7644 error bodies.
//! - [`store`]: the SQLite store; the only place SQL lives besides the migrations in `sql/`.
//! - [`timestamp`]: the one timestamp format stored and shown.
//! - [`tls`]: optional TLS (`--tls-cert`/`--tls-key`) and the healthcheck's TLS client.
//! - [`transfer`]: export and import of a directory as JSON or CSV.
//! - [`web`]: the embedded configuration page (`static/`, compiled in) and the JSON admin API
//!   under `/api/admin` that it uses (`docs/admin-api.md`).

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod directory;
pub mod error;
pub mod healthcheck;
pub mod housekeeping;
pub mod http;
pub mod metrics;
pub mod scim;
pub mod startup;
pub mod state;
pub mod store;
pub mod timestamp;
pub mod tls;
pub mod transfer;
