//! scim-appliance: a SCIM 2.0 service provider (RFC 7643/7644) for small teams and homelabs,
//! in one binary, keeping every organization's directory in one SQLite file. Its URL shape and
//! membership semantics follow Bitwarden's SCIM service, so IdP app templates made for
//! Bitwarden work unchanged.
//!
//! # Layout
//!
//! A request flows one way: a front door parses it into domain types → one store call inside
//! one transaction → the front door renders the answer. No two top-level modules import each
//! other; the arrows below point from a module to what it may use.
//!
//! **The directory and its protocol** (no HTTP, no SQL):
//! - [`directory`]: the records (users, groups, membership edits) and the membership rules
//!   (member email, the fields a user is indexed and checked for uniqueness by).
//! - [`scim`]: the SCIM protocol as a domain — schemas ([`scim::schema`]), reading bodies
//!   ([`scim::resource`], [`scim::users`], [`scim::groups`]), the filter language
//!   ([`scim::filter`]), PATCH, projection, query parameters and `ListQuery`, ETags, rendering,
//!   and [`scim::ScimError`]. → `directory`.
//!
//! **Keeping it**: [`store`] — SQLite (pool, migrations from `sql/`, one file per table family:
//! `orgs.rs`, `keys.rs`, `users.rs`, `groups.rs`, `events.rs`, …; typed queries); the only place
//! SQL lives besides `sql/`. List calls take the parsed filter and compile it themselves
//! (`store/filter_sql.rs`) and page through `store/lists.rs`; the data directory's layout
//! (database file, backups folder) is known only here (`store/maintenance.rs`). How a call
//! runs (the writer, the readers, `Store::read_now` for bounded reads on the caller's thread,
//! the WAL checkpointer) is in `store/mod.rs`. → `scim`, `directory`.
//!
//! **Front doors** (parse → one store call → render):
//! - [`http`]: every route and middleware — the SCIM API ([`http::scim`], one generic set of
//!   handlers for Users and Groups), the configuration page and admin API ([`http::admin`]),
//!   health, metrics, the request log and security headers, body deadlines and connection
//!   caps.
//! - [`ldap`]: the read-only LDAP directory (`--ldap-listen`, and over TLS `--ldaps-listen`) —
//!   `server.rs` (the listeners on their own thread, the bounded codec, each connection's
//!   session; a compare is a search), `bind.rs` (service accounts: `cn=<key id>,<base>` with
//!   a read key, through [`auth`]), `entries.rs` (an organization's tree rendered from the
//!   stored members and groups; revoked members left out), `narrow.rs` (an LDAP filter
//!   narrowed to the SCIM filter the store reads with — a new indexed attribute goes here),
//!   `filter.rs` (LDAP filters evaluated on entries), `search.rs` (bases, scopes, limits, keyed
//!   paging, the root DSE), `dn.rs` (RFC 4514 escaping and comparison), `observe.rs` (names of
//!   operations and result codes for the metrics); what it reads is `store/ldap.rs`.
//! - [`cli`]: the command line, one file per group of subcommands — `serve.rs` (`serve`,
//!   `config show`, `healthcheck`, `completions`, `manpage`), `org.rs` (`org create`, `list`,
//!   `key add`, `key list`, `key revoke`, `rotate-key`, `rename`, `enable-scim`,
//!   `disable-scim`, `set-seats`, `delete`), `admin.rs`
//!   (`admin set-password`), `data.rs` (`backup`, `restore`, `check`, `export`, `import`),
//!   `events.rs` (`events`) — and `settings.rs`, where every `serve` setting is declared once;
//!   the binary's `main.rs` only calls [`cli::main`]. [`healthcheck`] is the client side of
//!   `healthcheck`.
//! - [`admin`]: what an operator does (organizations, API keys, webhook endpoints, the admin
//!   password), written once for both the command line and the admin API; [`transfer`]:
//!   export and import. `cli/webhook.rs` and `http/admin/webhooks.rs` are webhooks' two doors.
//!
//! **Webhooks** (Standard Webhooks): [`webhook`] is the domain (message types, secrets,
//! signatures, the retry schedule; no HTTP, no SQL); the store writes each event's message in
//! the event's transaction (`store/outbox.rs`) and keeps the queues (`store/webhooks.rs`);
//! [`delivery`] is the worker that sends them, on its own thread. → `store`, `webhook`.
//!
//! **Shared at the root**: [`state`] (the [`state::AppState`] every front door reads), [`auth`]
//! (API keys and their scopes and last use, the argon2 bound [`auth::gate`] every password or
//! key check goes through, throttles, admin sessions), [`config`] (validated settings and their
//! layers), [`error`] (the error chain for logs), [`metrics`] (the Prometheus registry),
//! [`timestamp`], [`tls`].
//!
//! **Running**: [`startup`] builds the state, binds every listener (HTTP, LDAP and LDAPS when
//! asked) and starts the webhook worker; [`housekeeping`] is a running server's background
//! work (event and webhook retention, scheduled backups, writing when API keys were last used).
//!
//! ## Where a change goes
//!
//! - **A SCIM attribute** is defined once in `scim/schema.rs` (type, mutability, returned,
//!   case-exactness): reading, PATCH, filters, projection and `/Schemas` all follow from it.
//!   Every attribute is filterable at once (evaluated per row through the `scim_match` SQL
//!   function). To make it filterable **by index**: store it in a column or side table (a new
//!   numbered migration in `sql/`, the value derived in `directory.rs`'s `UserFields` and
//!   written by `store/users.rs` or `store/groups.rs`), then map the attribute to that column
//!   in `store/filter_sql.rs` (`Compiler::column` or `Compiler::join`); the property test
//!   `sql_and_memory_agree` checks the index answers as the evaluator does.
//! - **Events**: every change becomes an event in the same transaction through one choke
//!   point, `NewEvent::insert` (`store/events.rs`), called by the store's write paths; the
//!   event types are `store::EventType`. The same call writes the event's webhook message:
//!   a new event type gets its message type in `store/outbox.rs` (`message_type`) and in
//!   `webhook::EVENT_TYPES`, and a line in `docs/integrations.md`.
//! - **A new front door** (an LDAP server, a webhook worker): a sibling of [`http`] that takes
//!   what it needs from [`state::AppState`], parses its protocol into [`scim`]'s domain types
//!   (an LDAP filter into [`scim::filter::Filter`]), checks credentials through [`auth`] (its
//!   argon2 runs through [`auth::gate::Argon2Gate`]), calls the [`store`], and is bound by
//!   [`startup`] next to the HTTP listener.
//! - **A `serve` setting**: one entry in the table of `src/cli/settings.rs` (flag, `SCIM_*`
//!   variable, `--config` key, type, default), its field in [`config::ServeConfig`], and one
//!   line in `settings::serve_config`; `config show` follows.
//! - **An HTTP endpoint**: a handler in [`http`] (SCIM ones in `http/scim/`), registered in
//!   that module's `configure`; admin API endpoints are documented in `docs/admin-api.md`.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod directory;
pub mod error;
pub mod healthcheck;
pub mod housekeeping;
pub mod http;
pub mod ldap;
pub mod metrics;
pub mod scim;
pub mod startup;
pub mod state;
pub mod store;
pub mod timestamp;
pub mod tls;
pub mod transfer;
pub mod webhook;
