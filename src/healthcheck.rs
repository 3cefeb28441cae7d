//! The client side of `scim-appliance healthcheck`: asks a running server's `/alive`, so a
//! container `HEALTHCHECK` needs no curl.

/// Asks a running server's `/alive` (for `scim-appliance healthcheck`, a container
/// HEALTHCHECK without curl), over TLS when `tls` is set. `listen` is the server's `--listen`
/// address; a wildcard host is reached through loopback. `Ok` only for a 200 answer within
/// `timeout`.
pub fn probe(listen: &str, tls: bool, timeout: std::time::Duration) -> Result<(), String> {
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
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout))
        .and_then(|()| tcp.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let request = format!("GET /alive HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    let mut head = Vec::new();
    if tls {
        let name = rustls::pki_types::ServerName::from(addr.ip());
        let conn = rustls::ClientConnection::new(
            std::sync::Arc::new(crate::tls::liveness_client_config()),
            name,
        )
        .map_err(|e| format!("TLS setup failed: {e}"))?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("cannot send to {addr}: {e}"))?;
        let _ = stream.read_to_end(&mut head);
    } else {
        tcp.write_all(request.as_bytes())
            .map_err(|e| format!("cannot send to {addr}: {e}"))?;
        let _ = tcp.read_to_end(&mut head);
    }
    let status_line = String::from_utf8_lossy(&head[..head.len().min(64)]).into_owned();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => Err(format!("{addr} answered /alive with HTTP {code}")),
        None => Err(format!("no HTTP answer from {addr}")),
    }
}
