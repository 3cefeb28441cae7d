//! LDAPS: the LDAP directory over TLS on `--ldaps-listen`, with the HTTPS certificate, sharing
//! plain LDAP's connection limit; StartTLS is refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapExtendedRequest, LdapMsg, LdapOp, LdapResultCode,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::codec::Framed;

use crate::helpers::{TestCertificate, serve_binary_until, test_certificate};
use crate::ldap::{Client, Directory, directory_configured};

/// A directory served over plain LDAP and LDAPS, with metrics on, and its certificate.
async fn directory_with_ldaps() -> (Directory, SocketAddr, TestCertificate, TempDir) {
    let certs = TempDir::new().expect("temp dir");
    let certificate = test_certificate(certs.path());
    let tls = (certificate.cert.clone(), certificate.key.clone());
    let dir = directory_configured(|config| {
        config.tls = Some(tls);
        config.ldaps_listen = Some("127.0.0.1:0".to_owned());
        config.metrics = true;
    })
    .await;
    let ldaps = dir.app.ldaps_addr.expect("LDAPS is listening");
    assert_eq!(
        dir.app.state.ldap_listeners.ldaps,
        Some(ldaps),
        "for the page"
    );
    (dir, ldaps, certificate, certs)
}

/// A TLS connection to `addr` that trusts only the test certificate.
async fn tls_connect(addr: SocketAddr, pem: &str) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem.as_bytes()).expect("a PEM certificate"))
        .expect("trusted");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let stream = TcpStream::connect(addr).await.expect("connects");
    let name = ServerName::try_from("127.0.0.1").expect("a server name");
    TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .expect("the TLS handshake succeeds")
}

fn simple_bind(dn: &str, password: &str) -> LdapOp {
    LdapOp::BindRequest(LdapBindRequest {
        dn: dn.to_owned(),
        cred: LdapBindCred::Simple(password.to_owned()),
    })
}

/// Whether a bind sent on a plain connection gets any LDAP answer before the connection ends.
async fn plain_bind_is_answered(addr: SocketAddr) -> bool {
    let stream = TcpStream::connect(addr).await.expect("connects");
    let mut framed = Framed::new(stream, LdapCodec::default());
    if framed
        .send(LdapMsg::new(1, simple_bind("", "")))
        .await
        .is_err()
    {
        return false;
    }
    let reply = tokio::time::timeout(Duration::from_secs(10), framed.next())
        .await
        .expect("an answer or the end of the connection in time");
    matches!(reply, Some(Ok(msg)) if matches!(msg.op, LdapOp::BindResponse(_)))
}

/// Waits until a metrics series (`name{labels}`) has `value`, as the server renders it.
async fn wait_for_metric(dir: &Directory, series: &str, value: usize) {
    let state = &dir.app.state;
    let expected = format!("{series} {value}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = state
            .metrics
            .as_ref()
            .expect("metrics are on")
            .render(&state.store, &state.argon2)
            .expect("rendered");
        if text.lines().any(|line| line == expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {expected}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn ldaps_binds_searches_and_says_who_is_bound() {
    let (dir, ldaps, certificate, _certs) = directory_with_ldaps().await;
    let mut client = Client::over(tls_connect(ldaps, &certificate.pem).await);
    let result = client.bind(&dir.service_dn(), &dir.read_key).await;
    assert_eq!(result.code, LdapResultCode::Success, "{result:?}");
    assert_eq!(client.whoami().await, format!("dn:{}", dir.service_dn()));
    assert_eq!(
        client.dns(&dir.base, "(uid=ann)").await,
        [dir.user_dn("ann")]
    );
    // Plain LDAP goes on on its own port.
    let mut plain = dir.bound().await;
    assert_eq!(
        plain.dns(&dir.base, "(uid=bob)").await,
        [dir.user_dn("bob")]
    );
}

#[tokio::test]
async fn plain_ldap_on_the_ldaps_port_is_not_answered() {
    let (dir, ldaps, _certificate, _certs) = directory_with_ldaps().await;
    assert!(!plain_bind_is_answered(ldaps).await);
    assert!(plain_bind_is_answered(dir.ldap).await, "plain LDAP answers");
}

#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_dropped() {
    let (_dir, ldaps, _certificate, _certs) = directory_with_ldaps().await;
    let mut silent = TcpStream::connect(ldaps).await.expect("connects");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        scim_appliance::ldap::server::TLS_HANDSHAKE_TIMEOUT + Duration::from_secs(5),
        silent.read_to_end(&mut rest),
    )
    .await;
    assert!(read.is_ok(), "the connection is closed");
    assert!(
        started.elapsed()
            >= scim_appliance::ldap::server::TLS_HANDSHAKE_TIMEOUT - Duration::from_secs(1),
        "not before the handshake timeout"
    );
}

#[tokio::test]
async fn tls_handshakes_hold_places_in_the_limit_plain_ldap_shares() {
    use scim_appliance::ldap::server::{MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT};
    let (dir, ldaps, _certificate, _certs) = directory_with_ldaps().await;
    // From several loopback addresses, as several clients: one may hold only its own share.
    let mut handshaking = Vec::new();
    for i in 0..MAX_CONNECTIONS {
        let client = u8::try_from(2 + i / MAX_CONNECTIONS_PER_CLIENT).expect("a few clients");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, client], 0)))
            .expect("a loopback source address");
        handshaking.push(socket.connect(ldaps).await.expect("connects"));
    }
    let open = "scim_appliance_ldap_connections{listener=\"ldaps\"}";
    wait_for_metric(&dir, open, MAX_CONNECTIONS).await;
    assert!(
        !plain_bind_is_answered(dir.ldap).await,
        "no place is left for plain LDAP"
    );
    drop(handshaking);
    wait_for_metric(&dir, open, 0).await;
    assert!(plain_bind_is_answered(dir.ldap).await);
}

#[tokio::test]
async fn starttls_is_refused_with_a_pointer_to_the_ldaps_port() {
    let (dir, _ldaps, _certificate, _certs) = directory_with_ldaps().await;
    let mut client = dir.bound().await;
    let replies = client
        .request(
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: "1.3.6.1.4.1.1466.20037".to_owned(),
                value: None,
            }),
            Vec::new(),
        )
        .await;
    match &replies[0].op {
        LdapOp::ExtendedResponse(response) => {
            assert_eq!(response.res.code, LdapResultCode::Unavailable);
            assert!(
                response.res.message.contains("LDAPS"),
                "{}",
                response.res.message
            );
        }
        other => panic!("{other:?}"),
    }
    // The connection stays usable, and plain.
    assert_eq!(client.whoami().await, format!("dn:{}", dir.service_dn()));
}

#[tokio::test]
async fn ldaps_without_a_certificate_is_a_configuration_error() {
    let data = TempDir::new().expect("temp dir");
    let mut config = scim_appliance::config::ServeConfig::new(
        "127.0.0.1:0".into(),
        data.path().to_owned(),
        None,
        scim_appliance::store::SyncMode::Normal,
        1024 * 1024,
    )
    .expect("config");
    config.ldaps_listen = Some("127.0.0.1:0".to_owned());
    let error = scim_appliance::startup::Application::build(config)
        .err()
        .expect("refused");
    assert!(
        matches!(error, scim_appliance::startup::StartupError::Config(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("--tls-cert"), "{error}");

    let serve = |args: &[&str]| {
        std::process::Command::new(crate::helpers::BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(args)
            .env_remove("SCIM_TLS_CERT")
            .env_remove("SCIM_TLS_KEY")
            .env_remove("SCIM_LDAPS_LISTEN")
            .output()
            .expect("runs")
    };
    let out = serve(&["--ldaps-listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--ldaps-listen needs --tls-cert and --tls-key"),
        "{stderr}"
    );
    let other = serve(&["--tls-cert", "/nonexistent.pem"]);
    assert_eq!(
        out.status.code(),
        other.status.code(),
        "the exit code of other configuration errors"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn serve_says_where_ldaps_listens_and_serves_it() {
    let data = TempDir::new().expect("temp dir");
    let certificate = test_certificate(data.path());
    let (cert, key) = (
        certificate.cert.to_string_lossy().into_owned(),
        certificate.key.to_string_lossy().into_owned(),
    );
    let (mut server, addr, log) = serve_binary_until(
        data.path(),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--ldaps-listen",
            "127.0.0.1:0",
        ],
        "LDAPS listening on ldaps://",
    );
    let addr: SocketAddr = addr.trim().parse().expect("an address in the log line");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let whoami = runtime.block_on(async {
        let mut client = Client::over(tls_connect(addr, &certificate.pem).await);
        client.whoami().await
    });
    let _ = server.kill();
    let _ = server.wait();
    let lines = log.join().expect("log");
    assert_eq!(whoami, "", "anonymous over TLS");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("LDAPS listening on ldaps://{addr}"))),
        "{lines:?}"
    );
}

#[test]
fn config_show_lists_the_ldaps_address_and_where_it_came_from() {
    let dir = TempDir::new().expect("temp dir");
    let certificate = test_certificate(dir.path());
    let (cert, key) = (
        certificate.cert.to_string_lossy(),
        certificate.key.to_string_lossy(),
    );
    let shown = |args: &[&str], env: Option<&str>, file: &str| {
        let args: Vec<&str> = ["--tls-cert", &cert, "--tls-key", &key]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        crate::helpers::config_shown("ldaps_listen", "SCIM_LDAPS_LISTEN", &args, env, file)
    };
    assert_eq!(shown(&[], None, "").1, "default");
    assert_eq!(
        shown(&["--ldaps-listen", "127.0.0.1:6360"], None, ""),
        (
            Value::from("127.0.0.1:6360"),
            "flag --ldaps-listen".to_owned()
        )
    );
    assert_eq!(
        shown(&[], Some("0.0.0.0:636"), ""),
        (
            Value::from("0.0.0.0:636"),
            "environment SCIM_LDAPS_LISTEN".to_owned()
        )
    );
    let (value, source) = shown(&[], None, "ldaps_listen = \"[::1]:6360\"\n");
    assert_eq!(value, Value::from("[::1]:6360"));
    assert!(source.starts_with("config file"), "{source}");
}

/// Runs an OpenLDAP client tool trusting `ca`, or says why the test is skipped.
fn openldap_trusting(
    ca: &std::path::Path,
    tool: &str,
    args: &[&str],
) -> Option<std::process::Output> {
    let run = std::process::Command::new(tool)
        .args(args)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand")
        .output();
    match run {
        Ok(out) => Some(out),
        Err(_) => {
            eprintln!("skipped: `{tool}` is not installed (Debian: apt-get install ldap-utils)");
            None
        }
    }
}

#[tokio::test]
async fn openldap_clients_speak_ldaps_and_starttls_is_refused() {
    let (dir, ldaps, certificate, _certs) = directory_with_ldaps().await;
    let dn = dir.service_dn();
    let url = format!("ldaps://{ldaps}");
    let Some(out) = openldap_trusting(
        &certificate.ca,
        "ldapwhoami",
        &["-x", "-H", &url, "-D", &dn, "-w", &dir.read_key],
    ) else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("dn:{dn}")
    );

    // -ZZ insists on StartTLS on the plain port: refused, and the tool says why.
    let plain = format!("ldap://{}", dir.ldap);
    let out = openldap_trusting(
        &certificate.ca,
        "ldapwhoami",
        &["-x", "-ZZ", "-H", &plain, "-D", &dn, "-w", &dir.read_key],
    )
    .expect("installed");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use the LDAPS port"),
        "{out:?}"
    );
}
