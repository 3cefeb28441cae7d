//! The listeners and each connection's session: plain LDAP and LDAPS (LDAP over TLS, with the
//! HTTPS certificate) accept on one thread and share one connection limit; each connection
//! reads messages through a size- and depth-bounded codec, answers them one at a time, and is
//! closed when idle.
//!
//! Bounds: a message larger than [`MAX_MESSAGE`] or nested deeper than [`MAX_DEPTH`] closes
//! the connection (before it is buffered whole or parsed); at most [`MAX_CONNECTIONS`] are
//! served at once over both listeners, at most [`MAX_CONNECTIONS_PER_CLIENT`] of one client,
//! counted from the TCP accept, so a TLS handshake holds a place too (more are closed at once);
//! a handshake that takes longer than [`TLS_HANDSHAKE_TIMEOUT`] is dropped; a connection that
//! sends nothing for [`IDLE_TIMEOUT`] ([`ANONYMOUS_IDLE_TIMEOUT`] before it binds), or does not
//! read its replies within [`SEND_TIMEOUT`], is closed; a request runs at most
//! [`REQUEST_TIME_LIMIT`] (a search also within the client's time limit), and at most
//! [`MAX_CONCURRENT_SEARCHES`] read the directory at once. A control marked critical that the
//! server cannot honour gets `unavailableCriticalExtension` (RFC 4511 §4.1.11). Malformed messages and operations a client may not send close the connection
//! with a notice of disconnection; nothing a client sends can panic.
//!
//! StartTLS (RFC 4511 §4.14) is not offered: the extended operation is answered `unavailable`
//! with a message pointing at the LDAPS port, and the connection stays plain.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindResponse, LdapCompareRequest, LdapDerefAliases, LdapExtendedRequest,
    LdapExtendedResponse, LdapFilter, LdapMsg, LdapOp, LdapResult, LdapResultCode,
    LdapSearchRequest, LdapSearchScope, OID_PASSWORD_MODIFY,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::{Decoder, Encoder, Framed};

use super::ber::{self, Header};
use super::bind::{Identity, bind};
use super::entries::Tree;
use super::observe;
use super::search::{self, PageRequest};
use super::{OID_STARTTLS, OID_WHOAMI, blocking};
use crate::auth::throttle::OpenConnections;
use crate::error::error_chain;
use crate::state::{AppState, LdapListeners};

/// Largest message accepted, in bytes.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Deepest nesting of BER elements accepted (a deep filter would otherwise recurse deeply).
pub const MAX_DEPTH: usize = 64;
/// Connections served at once, LDAP and LDAPS together.
pub const MAX_CONNECTIONS: usize = 256;
/// How long an LDAPS client may take to complete its TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections one client (an address; an IPv6 /64) may hold, so that one client cannot take
/// every place.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 64;
/// How long a bound connection may stay silent.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long a connection that has not bound may stay silent (it can only read the root DSE).
pub const ANONYMOUS_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client may take to read a request's replies.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Searches read the directory at once, across connections: fewer than the store's readers,
/// so that LDAP clients can never hold every reader the SCIM API needs.
pub const MAX_CONCURRENT_SEARCHES: usize = 4;

/// The places of [`MAX_CONCURRENT_SEARCHES`].
static SEARCHES: Semaphore = Semaphore::const_new(MAX_CONCURRENT_SEARCHES);
/// Longest any one request may run.
pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(30);
/// How long a closing connection may take to flush its last replies (and, over TLS, its
/// close_notify) to a client that does not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound sockets to serve: plain LDAP, LDAPS with its TLS configuration, or both.
#[derive(Default)]
pub struct Listeners {
    pub ldap: Option<std::net::TcpListener>,
    pub ldaps: Option<(std::net::TcpListener, Arc<rustls::ServerConfig>)>,
}

impl Listeners {
    /// The addresses actually bound.
    pub fn addresses(&self) -> std::io::Result<LdapListeners> {
        Ok(LdapListeners {
            ldap: self.ldap.as_ref().map(|l| l.local_addr()).transpose()?,
            ldaps: self
                .ldaps
                .as_ref()
                .map(|(l, _)| l.local_addr())
                .transpose()?,
        })
    }
}

/// Running listeners; dropping them stops them and closes their connections.
pub struct LdapServer {
    addresses: LdapListeners,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LdapServer {
    /// The address plain LDAP is served on, when it is.
    pub fn ldap_addr(&self) -> Option<SocketAddr> {
        self.addresses.ldap
    }

    /// The address LDAPS is served on, when it is.
    pub fn ldaps_addr(&self) -> Option<SocketAddr> {
        self.addresses.ldaps
    }
}

impl Drop for LdapServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts serving LDAP on bound listeners, on its own thread.
pub fn start(state: Arc<AppState>, listeners: Listeners) -> std::io::Result<LdapServer> {
    let addresses = listeners.addresses()?;
    let mut accepting = Vec::new();
    if let Some(listener) = listeners.ldap {
        listener.set_nonblocking(true)?;
        accepting.push((listener, Transport::Plain));
    }
    if let Some((listener, tls)) = listeners.ldaps {
        listener.set_nonblocking(true)?;
        accepting.push((listener, Transport::Tls(TlsAcceptor::from(tls))));
    }
    let (stop, stopped) = watch::channel(false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("ldap".into())
        .spawn(move || runtime.block_on(serve(state, accepting, stopped)))?;
    Ok(LdapServer {
        addresses,
        stop,
        thread: Some(thread),
    })
}

/// How a listener's connections speak LDAP.
#[derive(Clone)]
enum Transport {
    Plain,
    Tls(TlsAcceptor),
}

impl Transport {
    /// The listener's name in logs and metrics.
    fn name(&self) -> &'static str {
        match self {
            Transport::Plain => "ldap",
            Transport::Tls(_) => "ldaps",
        }
    }
}

/// Accepts on every listener until stopped; returning drops the runtime, and with it every
/// connection.
async fn serve(
    state: Arc<AppState>,
    accepting: Vec<(std::net::TcpListener, Transport)>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let clients = Arc::new(OpenConnections::default());
    for (listener, transport) in accepting {
        match TcpListener::from_std(listener) {
            Ok(listener) => {
                tokio::spawn(accept_loop(
                    Arc::clone(&state),
                    listener,
                    transport,
                    Arc::clone(&slots),
                    Arc::clone(&clients),
                ));
            }
            Err(e) => {
                tracing::error!(
                    error = %error_chain(&e),
                    listener = transport.name(),
                    "the LDAP listener could not start"
                );
            }
        }
    }
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn accept_loop(
    state: Arc<AppState>,
    listener: TcpListener,
    transport: Transport,
    slots: Arc<Semaphore>,
    clients: Arc<OpenConnections>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(
                    error = %error_chain(&e),
                    listener = transport.name(),
                    "LDAP accept failed"
                );
                // Out of file descriptors, typically: let some close.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(
                client = %peer.ip(),
                listener = transport.name(),
                "LDAP connection refused: too many connections"
            );
            continue;
        };
        let place = clients.count(peer.ip());
        if place.others >= MAX_CONNECTIONS_PER_CLIENT {
            tracing::warn!(
                client = %peer.ip(),
                listener = transport.name(),
                "LDAP connection refused: too many connections from this client"
            );
            continue;
        }
        let state = Arc::clone(&state);
        let transport = transport.clone();
        tokio::spawn(async move {
            let _open = state
                .metrics
                .as_ref()
                .map(|m| m.ldap_connection_opened(transport.name()));
            let client = peer.ip();
            match transport {
                Transport::Plain => serve_connection(&state, stream, client).await,
                Transport::Tls(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => serve_connection(&state, stream, client).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%client, error = %e, "LDAPS handshake failed");
                        }
                        Err(_) => tracing::debug!(%client, "LDAPS handshake took too long"),
                    }
                }
            }
            drop((place, slot));
        });
    }
}

/// Serves one connection, plain or TLS, until it ends; then closes it cleanly (flushing what
/// is left and, over TLS, sending close_notify), within [`CLOSE_TIMEOUT`].
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    state: &AppState,
    stream: S,
    client: IpAddr,
) {
    let mut framed = Framed::new(stream, BoundedCodec::new(MAX_MESSAGE));
    converse(state, &mut framed, client).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, framed.close()).await;
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    state: &AppState,
    framed: &mut Framed<S, BoundedCodec>,
    client: IpAddr,
) {
    let mut session = Session::new(client);
    loop {
        let idle = match session.identity {
            Identity::Anonymous => ANONYMOUS_IDLE_TIMEOUT,
            Identity::Service { .. } => IDLE_TIMEOUT,
        };
        let msg = match tokio::time::timeout(idle, framed.next()).await {
            Err(_) => {
                let _ = framed
                    .send(notice(LdapResultCode::Unavailable, "idle too long"))
                    .await;
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                tracing::debug!(%client, error = %e, "LDAP message refused");
                let _ = framed
                    .send(notice(LdapResultCode::ProtocolError, "malformed message"))
                    .await;
                return;
            }
            Ok(Some(Ok(msg))) => msg,
        };
        let replies = session.answer(state, msg).await;
        let close = replies.close;
        let sent = tokio::time::timeout(SEND_TIMEOUT, async {
            for reply in replies.messages {
                framed.feed(reply).await?;
            }
            framed.flush().await
        })
        .await;
        if close || !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
}

/// A notice of disconnection (RFC 4511 §4.4.1), sent before closing a connection.
fn notice(code: LdapResultCode, message: &str) -> LdapMsg {
    LdapMsg::new(
        0,
        LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: Some("1.3.6.1.4.1.1466.20036".to_owned()),
            value: None,
        }),
    )
}

/// Controls honoured: paged results on searches; ManageDsaIT anywhere (there are no referrals
/// to manage).
const OID_MANAGE_DSA_IT: &str = "2.16.840.1.113730.3.4.2";

/// The first control `critical` names that this server cannot honour on `op`.
fn unsupported_critical<'a>(op: &LdapOp, critical: &'a [String]) -> Option<&'a str> {
    critical
        .iter()
        .find(|oid| match oid.as_str() {
            OID_MANAGE_DSA_IT => false,
            super::OID_PAGED_RESULTS => !matches!(op, LdapOp::SearchRequest(_)),
            _ => true,
        })
        .map(String::as_str)
}

/// The response `op` gets when it is not carried out: its own response type with `res` (none
/// for abandon; an unbind still closes).
fn answer_only(id: i32, op: &LdapOp, res: LdapResult) -> Replies {
    let response = match op {
        LdapOp::BindRequest(_) => LdapOp::BindResponse(LdapBindResponse {
            res,
            saslcreds: None,
        }),
        LdapOp::SearchRequest(_) => LdapOp::SearchResultDone(res),
        LdapOp::AddRequest(_) => LdapOp::AddResponse(res),
        LdapOp::ModifyRequest(_) => LdapOp::ModifyResponse(res),
        LdapOp::DelRequest(_) => LdapOp::DelResponse(res),
        LdapOp::ModifyDNRequest(_) => LdapOp::ModifyDNResponse(res),
        LdapOp::CompareRequest(_) => LdapOp::CompareResult(res),
        LdapOp::ExtendedRequest(_) => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        LdapOp::UnbindRequest => return Replies::close(Vec::new()),
        _ => return Replies::send(Vec::new()),
    };
    Replies::one(LdapMsg::new(id, response))
}

fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.to_owned(),
        referral: Vec::new(),
    }
}

/// What a message gets: replies, then possibly the end of the connection.
#[derive(Debug)]
pub struct Replies {
    pub messages: Vec<LdapMsg>,
    /// Close the connection after sending the replies (an unbind, or a message a client may
    /// not send).
    pub close: bool,
}

impl Replies {
    fn send(messages: Vec<LdapMsg>) -> Replies {
        Replies {
            messages,
            close: false,
        }
    }

    fn one(message: LdapMsg) -> Replies {
        Replies::send(vec![message])
    }

    fn close(messages: Vec<LdapMsg>) -> Replies {
        Replies {
            messages,
            close: true,
        }
    }
}

/// One connection's state: who it is bound as.
pub struct Session {
    pub identity: Identity,
    pub client: IpAddr,
}

impl Session {
    /// A fresh, anonymous session of a client.
    pub fn new(client: IpAddr) -> Session {
        Session {
            identity: Identity::Anonymous,
            client,
        }
    }

    /// The replies to one message, within [`REQUEST_TIME_LIMIT`].
    /// Each request is counted in the metrics by its operation and the result it got.
    pub async fn answer(&mut self, state: &AppState, incoming: Incoming) -> Replies {
        let Incoming { msg, critical } = incoming;
        let operation = observe::operation(&msg.op);
        let replies = match unsupported_critical(&msg.op, &critical) {
            // RFC 4511 §4.1.11: a critical control the server cannot honour stops the
            // operation.
            Some(oid) => answer_only(
                msg.msgid,
                &msg.op,
                result(
                    LdapResultCode::UnavailableCriticalExtension,
                    &format!("the critical control {oid} is not supported here"),
                ),
            ),
            None => match tokio::time::timeout(REQUEST_TIME_LIMIT, self.dispatch(state, msg)).await
            {
                Ok(replies) => replies,
                Err(_) => Replies::close(vec![notice(
                    LdapResultCode::TimeLimitExceeded,
                    "the request took too long",
                )]),
            },
        };
        if let (Some(metrics), Some(operation)) = (&state.metrics, operation) {
            metrics.ldap_operation(operation, observe::result(&replies.messages));
        }
        replies
    }

    async fn dispatch(&mut self, state: &AppState, msg: LdapMsg) -> Replies {
        let id = msg.msgid;
        let read_only = || {
            answer_only(
                id,
                &msg.op,
                result(
                    LdapResultCode::UnwillingToPerform,
                    "this directory is read-only: change it at the identity provider",
                ),
            )
        };
        match msg.op {
            LdapOp::BindRequest(request) => {
                let res = match bind(state, self.client, &request.dn, &request.cred).await {
                    Ok(identity) => {
                        self.identity = identity;
                        result(LdapResultCode::Success, "")
                    }
                    Err(refusal) => {
                        // A failed bind leaves the connection anonymous (RFC 4511 §4.2.1).
                        self.identity = Identity::Anonymous;
                        result(refusal.code, &refusal.message)
                    }
                };
                Replies::one(LdapMsg::new(
                    id,
                    LdapOp::BindResponse(LdapBindResponse {
                        res,
                        saslcreds: None,
                    }),
                ))
            }
            LdapOp::UnbindRequest => Replies::close(Vec::new()),
            LdapOp::SearchRequest(request) => {
                Replies::send(self.search(state, id, &msg.ctrl, request).await)
            }
            LdapOp::AddRequest(_)
            | LdapOp::ModifyRequest(_)
            | LdapOp::DelRequest(_)
            | LdapOp::ModifyDNRequest(_) => read_only(),
            LdapOp::CompareRequest(request) => Replies::one(LdapMsg::new(
                id,
                LdapOp::CompareResult(self.compare(state, request).await),
            )),
            // Requests are answered one at a time: there is never one to abandon.
            LdapOp::AbandonRequest(_) => Replies::send(Vec::new()),
            LdapOp::ExtendedRequest(request) => Replies::one(self.extended(id, &request)),
            _ => Replies::close(vec![notice(LdapResultCode::ProtocolError, "not a request")]),
        }
    }

    fn extended(&self, id: i32, request: &LdapExtendedRequest) -> LdapMsg {
        let (res, value) = match request.name.as_str() {
            OID_WHOAMI => (
                result(LdapResultCode::Success, ""),
                Some(self.identity.authz_id().into_bytes()),
            ),
            OID_STARTTLS => (
                result(
                    LdapResultCode::Unavailable,
                    "StartTLS is not offered: use the LDAPS port (--ldaps-listen)",
                ),
                None,
            ),
            OID_PASSWORD_MODIFY => (
                result(
                    LdapResultCode::UnwillingToPerform,
                    "passwords are not kept here: change them at the identity provider",
                ),
                None,
            ),
            _ => (
                result(
                    LdapResultCode::ProtocolError,
                    "unsupported extended operation",
                ),
                None,
            ),
        };
        LdapMsg::new(
            id,
            LdapOp::ExtendedResponse(LdapExtendedResponse {
                res,
                name: None,
                value,
            }),
        )
    }

    async fn search(
        &self,
        state: &AppState,
        id: i32,
        controls: &[LdapControl],
        request: LdapSearchRequest,
    ) -> Vec<LdapMsg> {
        let page = controls.iter().find_map(|c| match c {
            LdapControl::SimplePagedResults { size, cookie } => Some(PageRequest {
                size: usize::try_from(*size).unwrap_or(0),
                cookie: cookie.clone(),
            }),
            _ => None,
        });
        let answer = self.find(state, &request, page).await;
        let mut replies: Vec<LdapMsg> = answer
            .entries
            .into_iter()
            .map(|entry| LdapMsg::new(id, LdapOp::SearchResultEntry(entry)))
            .collect();
        let done = LdapOp::SearchResultDone(LdapResult {
            matcheddn: answer.matched_dn,
            ..result(answer.code, &answer.message)
        });
        replies.push(match answer.next_page {
            Some(cookie) => LdapMsg::new_with_ctrls(
                id,
                done,
                vec![LdapControl::SimplePagedResults { size: 0, cookie }],
            ),
            None => LdapMsg::new(id, done),
        });
        replies
    }

    /// A compare (RFC 4511 §4.10) is the search for the entry with an equality filter on the
    /// asserted value: found means `compareTrue`, not found `compareFalse` (also when the entry
    /// has no such attribute), and a DN outside the tree `noSuchObject`, as a search says.
    async fn compare(&self, state: &AppState, request: LdapCompareRequest) -> LdapResult {
        let search = LdapSearchRequest {
            base: request.dn,
            scope: LdapSearchScope::Base,
            aliases: LdapDerefAliases::Never,
            sizelimit: 1,
            timelimit: 0,
            typesonly: true,
            filter: LdapFilter::Equality(
                request.atype,
                String::from_utf8_lossy(&request.val).into_owned(),
            ),
            attrs: vec!["1.1".to_owned()],
        };
        let answer = self.find(state, &search, None).await;
        let code = match answer.code {
            LdapResultCode::Success if answer.entries.is_empty() => LdapResultCode::CompareFalse,
            LdapResultCode::Success => LdapResultCode::CompareTrue,
            other => other,
        };
        LdapResult {
            matcheddn: answer.matched_dn,
            ..result(code, &answer.message)
        }
    }

    /// What a search finds for this connection: the root DSE for anyone, the bound
    /// organization's tree for a service account, nothing for an anonymous one.
    async fn find(
        &self,
        state: &AppState,
        request: &LdapSearchRequest,
        page: Option<PageRequest>,
    ) -> search::Answer {
        if search::is_root_dse(request) {
            let naming_context = match &self.identity {
                Identity::Anonymous => None,
                Identity::Service { org_id, key_id, .. } => {
                    let (store, org_id, key_id) =
                        (state.store.clone(), org_id.clone(), key_id.clone());
                    blocking(move || store.ldap_read(&org_id, |r| r.base_for_key(&key_id)))
                        .await
                        .ok()
                        .flatten()
                }
            };
            return search::root_dse(naming_context, request);
        }
        let Identity::Service { org_id, key_id, .. } = &self.identity else {
            return search::Answer::failed(
                LdapResultCode::InsufficentAccessRights,
                "bind as cn=<key id>,<base DN> with a read key to search",
            );
        };
        let limit = u64::try_from(request.timelimit)
            .ok()
            .filter(|s| *s > 0)
            .map_or(REQUEST_TIME_LIMIT, Duration::from_secs)
            .min(REQUEST_TIME_LIMIT);
        let deadline = std::time::Instant::now() + limit;
        let (store, org_id, key_id, request) = (
            state.store.clone(),
            org_id.clone(),
            key_id.clone(),
            request.clone(),
        );
        let Ok(_place) = tokio::time::timeout_at(deadline.into(), SEARCHES.acquire()).await else {
            return search::Answer::failed(LdapResultCode::TimeLimitExceeded, "");
        };
        let searched = blocking(move || {
            store.ldap_read(&org_id, |reader| {
                // The key is checked again, and the base read again, on every search: a
                // revoked key reads nothing more, a new base applies.
                match reader.base_for_key(&key_id)? {
                    Some(base) => {
                        search::search_org(reader, &Tree { base }, &request, page, deadline)
                    }
                    None => Ok(search::Answer::failed(
                        LdapResultCode::InsufficentAccessRights,
                        "the key this connection bound with is revoked or expired",
                    )),
                }
            })
        });
        match searched.await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "LDAP search could not read the directory");
                search::Answer::failed(
                    LdapResultCode::Unavailable,
                    "the directory could not be read",
                )
            }
        }
    }
}

/// `ldap3_proto`'s codec behind two checks on each message's BER header before it is
/// buffered whole or parsed: its length, and how deeply its elements nest.
pub struct BoundedCodec {
    inner: LdapCodec,
    max: usize,
}

impl BoundedCodec {
    pub fn new(max: usize) -> BoundedCodec {
        BoundedCodec {
            inner: LdapCodec::new(Some(max)),
            max,
        }
    }
}

fn malformed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "LDAP message refused")
}

/// A message as read: the protocol crate's parse of it, and the OIDs of the controls it marks
/// critical (which that parse drops for controls it does not know).
#[derive(Debug)]
pub struct Incoming {
    pub msg: LdapMsg,
    pub critical: Vec<String>,
}

impl Decoder for BoundedCodec {
    type Item = Incoming;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, std::io::Error> {
        let total = match ber::header(buf) {
            Header::Incomplete => return Ok(None),
            Header::Invalid => return Err(malformed()),
            Header::Element { header, length, .. } => header.saturating_add(length),
        };
        if total > self.max {
            return Err(malformed());
        }
        let Some(message) = buf.get(..total) else {
            return Ok(None);
        };
        if !ber::nesting_within(message, MAX_DEPTH) {
            return Err(malformed());
        }
        let critical = ber::critical_controls(message);
        // The whole message is buffered: a parser still wanting more means it is malformed.
        let msg = self.inner.decode(buf)?.ok_or_else(malformed)?;
        Ok(Some(Incoming { msg, critical }))
    }
}

impl Encoder<LdapMsg> for BoundedCodec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), std::io::Error> {
        self.inner.encode(msg, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_buffering() {
        let mut codec = BoundedCodec::new(1024);
        // SEQUENCE of 16 MiB: only the header has arrived.
        let mut buf = BytesMut::from(&[0x30, 0x84, 0x01, 0x00, 0x00, 0x00][..]);
        assert!(codec.decode(&mut buf).is_err());
    }

    #[test]
    fn a_partial_header_waits_for_more() {
        let mut codec = BoundedCodec::new(1024);
        let mut buf = BytesMut::from(&[0x30][..]);
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
    }
}
