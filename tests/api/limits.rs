//! What one client can hold: the request-body deadline and the connection caps, tested over raw
//! TCP where a well-behaved HTTP client cannot misbehave on purpose.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{TestApp, spawn_app_configured};

/// The body deadline the tests run with.
const BODY_TIMEOUT: Duration = Duration::from_secs(1);
/// Generous bound for "answered and closed by the deadline": the deadline, the lingering close
/// (2 s) and a loaded machine's slack.
const CLOSED_WITHIN: Duration = Duration::from_secs(10);

async fn spawn_app_with_body_timeout() -> TestApp {
    spawn_app_configured(TempDir::new().unwrap(), None, |c| {
        c.body_timeout = BODY_TIMEOUT;
    })
    .await
}

fn socket_addr(app: &TestApp) -> SocketAddr {
    app.address
        .trim_start_matches("http://")
        .parse()
        .expect("host:port")
}

/// A connection from `source` (any 127.0.0.0/8 address) to the app.
async fn connect_from(app: &TestApp, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(socket_addr(app)).await.unwrap()
}

/// Everything the server sends until it closes the connection, and how long that took;
/// `None` when it is still open after `CLOSED_WITHIN`.
async fn read_until_closed(stream: &mut TcpStream) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = CLOSED_WITHIN.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
    Some((
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    ))
}

/// Sends `head` and the first byte of its body, stalls, and returns what the server answered
/// before closing the connection (panics when it stays open).
async fn stall_after_one_byte(app: &TestApp, head: &str) -> String {
    let mut stream = connect_from(app, "127.0.0.1").await;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{").await.unwrap();
    let (answer, _) = read_until_closed(&mut stream)
        .await
        .unwrap_or_else(|| panic!("still open after {CLOSED_WITHIN:?}: {head}"));
    answer
}

/// A request head declaring a 100-byte body, or a chunked one (whose first chunk is the byte
/// that follows).
fn stalled_head(method_path: &str, host: &str, extra: &str, chunked: bool) -> String {
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n\r\n1\r\n"
    } else {
        "Content-Length: 100\r\n\r\n"
    };
    format!("{method_path} HTTP/1.1\r\nHost: {host}\r\n{extra}{framing}")
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_its_connection_closed_by_the_deadline() {
    let app = spawn_app_with_body_timeout().await;
    let org = app.create_org("Acme");
    let host = app.address.trim_start_matches("http://").to_owned();
    let scim = format!(
        "Authorization: Bearer {}\r\nContent-Type: application/scim+json\r\n",
        org.key
    );
    for chunked in [false, true] {
        let answer = stall_after_one_byte(
            &app,
            &stalled_head(&format!("POST /v2/{}/Users", org.id), &host, &scim, chunked),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "chunked {chunked}: {answer}"
        );
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(answer.contains("application/scim+json"), "{answer}");
        assert!(answer.contains(r#""status":"408""#), "{answer}");

        let answer = stall_after_one_byte(
            &app,
            &stalled_head(
                "POST /api/admin/login",
                &host,
                "Content-Type: application/json\r\n",
                chunked,
            ),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "chunked {chunked}: {answer}"
        );
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(
            answer.contains(r#""status":408,"error":"request_timeout""#),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn a_body_left_unread_by_an_early_answer_does_not_hold_the_connection() {
    let app = spawn_app_with_body_timeout().await;
    let org = app.create_org("Acme");
    let host = app.address.trim_start_matches("http://").to_owned();
    let wrong_key = "Authorization: Bearer scim_nope_nope\r\n";
    for chunked in [false, true] {
        let answer = stall_after_one_byte(
            &app,
            &stalled_head(
                &format!("POST /v2/{}/Users", org.id),
                &host,
                wrong_key,
                chunked,
            ),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "chunked {chunked}: {answer}"
        );
        assert!(answer.contains("connection: close"), "{answer}");
    }
}

#[tokio::test]
async fn stalled_bodies_cannot_hold_every_connection_slot() {
    let app = spawn_app_configured(TempDir::new().unwrap(), None, |c| {
        c.body_timeout = BODY_TIMEOUT;
        c.max_connections = 64;
        c.max_connections_per_client = 1000;
    })
    .await;
    let org = app.create_org("Acme");
    let host = app.address.trim_start_matches("http://").to_owned();
    let head = stalled_head(
        &format!("POST /v2/{}/Users", org.id),
        &host,
        &format!("Authorization: Bearer {}\r\n", org.key),
        false,
    );
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut stream = connect_from(&app, "127.0.0.1").await;
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(b"{").await.unwrap();
        stalled.push(stream);
    }

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..3 {
        let alive = client.get(app.url("/alive")).send().await.unwrap();
        assert_eq!(alive.status().as_u16(), 200);
        let users = client
            .get(format!("{}/Users", org.scim_url))
            .bearer_auth(&org.key)
            .send()
            .await
            .unwrap();
        assert_eq!(users.status().as_u16(), 200);
    }
    drop(stalled);
}

/// Sends `GET /alive` on `stream` and reads one response (by its Content-Length).
async fn get_alive(stream: &mut TcpStream, app: &TestApp) -> String {
    let host = app.address.trim_start_matches("http://");
    stream
        .write_all(format!("GET /alive HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = tokio::time::timeout(CLOSED_WITHIN, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        if n == 0 {
            return String::from_utf8_lossy(&received).into_owned();
        }
        received.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn a_client_over_its_connection_cap_gets_503_while_other_addresses_are_served() {
    let app = spawn_app_configured(TempDir::new().unwrap(), None, |c| {
        c.max_connections_per_client = 2;
    })
    .await;
    let mut first = connect_from(&app, "127.0.0.1").await;
    let mut second = connect_from(&app, "127.0.0.1").await;
    assert!(
        get_alive(&mut first, &app)
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get_alive(&mut second, &app)
            .await
            .starts_with("HTTP/1.1 200")
    );

    let mut third = connect_from(&app, "127.0.0.1").await;
    let refused = get_alive(&mut third, &app).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: "), "{refused}");
    assert!(refused.contains("connection: close"), "{refused}");
    assert!(
        read_until_closed(&mut third).await.is_some(),
        "closed after the 503"
    );

    let mut elsewhere = connect_from(&app, "127.0.0.2").await;
    assert!(
        get_alive(&mut elsewhere, &app)
            .await
            .starts_with("HTTP/1.1 200")
    );

    // A closed connection frees its slot.
    drop(first);
    let started = Instant::now();
    loop {
        let mut again = connect_from(&app, "127.0.0.1").await;
        if get_alive(&mut again, &app)
            .await
            .starts_with("HTTP/1.1 200")
        {
            break;
        }
        assert!(
            started.elapsed() < CLOSED_WITHIN,
            "the slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn trusted_proxies_are_exempt_from_the_per_client_cap() {
    let app = spawn_app_configured(TempDir::new().unwrap(), None, |c| {
        c.max_connections_per_client = 2;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from(&app, "127.0.0.1").await;
        let answer = get_alive(&mut stream, &app).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        open.push(stream);
    }
    let mut other = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from(&app, "127.0.0.2").await;
        other.push(get_alive(&mut stream, &app).await);
        open.push(stream);
    }
    assert!(other[2].starts_with("HTTP/1.1 503"), "{}", other[2]);
}
