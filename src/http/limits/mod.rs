//! What one client can hold of the server: a deadline for receiving request bodies
//! ([`body`]) and caps on connections, in total and per client ([`connections`]). The
//! `HttpServer` timeouts that go with them are set in `startup`.

pub mod body;
pub mod connections;
