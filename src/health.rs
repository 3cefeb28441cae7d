//! Unauthenticated health endpoints, on Bitwarden's paths so existing probes keep working.

use actix_web::{HttpResponse, web};

use crate::scim::ScimError;
use crate::startup::AppState;
use crate::timestamp;

/// `GET /alive` (and `/now`): 200 with the current time as a JSON string, after a query has
/// gone through the database; 503 when the database cannot answer.
pub async fn alive(state: web::Data<AppState>) -> Result<HttpResponse, ScimError> {
    let store = state.store.clone();
    web::block(move || store.ping()).await?.map_err(|e| {
        tracing::error!(error = %crate::scim::error_chain(&e), "health check failed");
        ScimError::Unavailable("The database is not available.".into())
    })?;
    Ok(HttpResponse::Ok().json(timestamp::now()))
}

/// `GET /version`: the version as a JSON string.
pub async fn version() -> HttpResponse {
    HttpResponse::Ok().json(env!("CARGO_PKG_VERSION"))
}

/// Asks a running server's `/alive` over plain HTTP (for `scim-appliance healthcheck`, a
/// container HEALTHCHECK without curl). `listen` is the server's `--listen` address; a wildcard
/// host is reached through loopback. `Ok` only for a 200 answer within `timeout`.
pub fn probe(listen: &str, timeout: std::time::Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};

    let target = listen
        .replacen("0.0.0.0:", "127.0.0.1:", 1)
        .replacen("[::]:", "[::1]:", 1);
    let addr = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {target}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET /alive HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .map_err(|e| format!("no answer from {addr}: {e}"))?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => Err(format!("{addr} answered /alive with HTTP {code}")),
        None => Err(format!("{addr} did not answer HTTP")),
    }
}
