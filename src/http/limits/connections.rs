//! Connection caps: how many connections one client may hold (an IPv6 /64 counts as one
//! client), and fitting the total cap under the process's open-file limit.

use std::any::Any;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use actix_web::{Error, HttpResponse, web};

use crate::auth::throttle::{CountedConnection, OpenConnections};
use crate::state::AppState;

/// `Retry-After` of a refused connection: long enough for the client's other connections to
/// finish a request or two.
const RETRY_AFTER_SECONDS: u64 = 5;

/// File descriptors kept free for everything but client connections: the database pool (nine
/// connections, each with its file, `-wal` and `-shm`), backups, the listener, the runtime's
/// own descriptors and the log.
pub const FD_RESERVE: u64 = 128;

/// Open connections per client, shared by every worker.
pub struct ClientConnections {
    open: Arc<OpenConnections>,
    cap: usize,
}

impl ClientConnections {
    pub fn new(cap: usize) -> Arc<ClientConnections> {
        Arc::new(ClientConnections {
            open: Arc::default(),
            cap,
        })
    }

    /// Counts a new connection from `peer`; the returned slot uncounts it when the connection
    /// (which keeps it in its extensions) closes.
    fn open(&self, peer: IpAddr) -> ClientSlot {
        let counted = self.open.count(peer);
        ClientSlot {
            over_cap: counted.others >= self.cap,
            _counted: counted,
            peer,
        }
    }

    /// For `HttpServer::on_connect`: counts the connection and leaves its slot in the
    /// connection's extensions, where [`refuse_over_cap`] finds it.
    pub fn on_connect(&self, connection: &dyn Any, data: &mut Extensions) {
        type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<TcpStream>;
        let peer = if let Some(tcp) = connection.downcast_ref::<TcpStream>() {
            tcp.peer_addr()
        } else if let Some(tls) = connection.downcast_ref::<TlsStream>() {
            tls.get_ref().0.peer_addr()
        } else {
            return;
        };
        if let Ok(peer) = peer {
            data.insert(self.open(peer.ip()));
        }
    }
}

/// One counted connection.
struct ClientSlot {
    _counted: CountedConnection,
    peer: IpAddr,
    /// Whether the client already had its cap of connections when this one opened.
    over_cap: bool,
}

/// Answers every request on a connection that is over its client's cap with 503 and
/// `Connection: close`, before the body is read; trusted proxies carry everyone and are exempt.
pub async fn refuse_over_cap(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let refused = req.conn_data::<ClientSlot>().is_some_and(|slot| {
        slot.over_cap
            && !req
                .app_data::<web::Data<AppState>>()
                .is_some_and(|state| state.is_trusted_proxy(slot.peer))
    });
    if !refused {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
        .force_close()
        .content_type("text/plain; charset=utf-8")
        .body("too many connections from this address; retry later\n");
    Ok(req.into_response(response).map_into_right_body())
}

/// Raises the soft open-file limit to the hard one and returns the connection cap that fits
/// under it (with [`FD_RESERVE`] kept free): `wanted`, or less with a warning.
pub fn fit_to_file_limit(wanted: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return wanted;
        }
    };
    let fits = usize::try_from(limit.saturating_sub(FD_RESERVE))
        .unwrap_or(usize::MAX)
        .max(1);
    if fits >= wanted {
        return wanted;
    }
    tracing::warn!(
        "the open-file limit ({limit}) cannot hold --max-connections {wanted} plus {FD_RESERVE} \
         for the database and backups: serving at most {fits} connections (raise the limit, \
         e.g. LimitNOFILE= in the systemd unit)"
    );
    fits
}
