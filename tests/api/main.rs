//! One integration-test binary: each module drives the real server over HTTP and the real
//! binary for CLI behaviour.

mod admin;
mod authentication;
mod cli;
mod groups;
mod health;
mod helpers;
mod host_names;
mod hostile;
mod idp_entra;
mod idp_google;
mod idp_jumpcloud;
mod idp_okta;
mod idp_onelogin;
mod idp_ping;
mod keys;
mod ldap;
mod ldap_compare;
mod ldap_observed;
mod ldaps;
mod limits;
mod methods;
mod operations;
mod protocol;
mod storage;
mod users;
mod users_patch;
mod webhooks;
