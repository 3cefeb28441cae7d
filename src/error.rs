//! Errors shared across the crate: how a failure's cause is written to the log.
//!
//! Each layer has its own error type (the store's `StoreError`, the protocol's `ScimError`,
//! authentication's `AuthError`, the admin API's `AdminError`, operator actions'
//! `admin::ActionError`, `startup::StartupError`); internal causes are logged with their whole
//! chain by [`error_chain`] and never sent to a client.

use std::fmt::Write as _;

/// "outer: inner: innermost", for logs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}
