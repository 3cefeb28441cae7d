//! One integration-test binary: each module drives the real server over HTTP and the real
//! binary for CLI behaviour.

mod authentication;
mod cli;
mod health;
mod helpers;
mod storage;
