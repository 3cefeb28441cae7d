//! The request-body deadline: the whole body must arrive within `--body-timeout` of the request
//! reaching the app, or the body stream fails (the handler's extractor answers 408) and the
//! connection is closed after the answer.
//!
//! Closing needs care: actix-http keeps a connection open while it drains a chunked body the
//! handler dropped, with no timer, so a client that stalls mid-body would hold it forever. Here
//! an unfinished body is kept alive by the response until the response is sent, which makes
//! actix-http close the connection (after `client_disconnect_timeout`) instead of draining it.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::{Bytes, Data};
use actix_web::{Error, HttpMessage};
use futures_core::Stream;

use crate::state::AppState;

/// Wraps the request body (if any) in the deadline and, when the response is ready before the
/// whole body was received, marks it `Connection: close` and keeps the body alive until the
/// response is sent (see the module docs).
pub async fn deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, HoldsUnreadBody>>, Error> {
    let timeout = req
        .app_data::<Data<AppState>>()
        .map_or(crate::config::DEFAULT_BODY_TIMEOUT, |s| s.body_timeout);
    let payload = req.take_payload();
    if matches!(payload, Payload::None) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let body = Rc::new(Body {
        payload: RefCell::new(payload),
        ended: Cell::new(false),
    });
    req.set_payload(Payload::from(
        Box::pin(DeadlineStream::new(body.clone(), timeout))
            as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>,
    ));
    let mut res = next.call(req).await?;
    if body.received_whole() {
        return Ok(res.map_into_left_body());
    }
    res.response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(res.map_body(|_, unsent| {
        EitherBody::right(HoldsUnreadBody {
            body: BoxBody::new(unsent),
            _unread: body,
        })
    }))
}

/// Whether a body extractor failed because the body deadline passed.
pub fn timed_out(error: &Error) -> bool {
    matches!(
        error.as_error::<PayloadError>(),
        Some(PayloadError::Io(e)) if e.kind() == io::ErrorKind::TimedOut
    )
}

/// The request body as the connection delivers it, shared by the stream the handler reads and
/// the middleware that checks afterwards whether all of it arrived.
struct Body {
    payload: RefCell<Payload>,
    ended: Cell<bool>,
}

impl Body {
    /// Whether the whole body has arrived: read to its end by the handler, or already buffered
    /// (the rest the handler left is discarded).
    fn received_whole(&self) -> bool {
        if self.ended.get() {
            return true;
        }
        let Ok(mut payload) = self.payload.try_borrow_mut() else {
            return false;
        };
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match Pin::new(&mut *payload).poll_next(&mut cx) {
                Poll::Ready(None) => return true,
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(_))) | Poll::Pending => return false,
            }
        }
    }
}

/// The body as handlers see it: the connection's body until the deadline, then an error.
struct DeadlineStream {
    body: Rc<Body>,
    deadline: Pin<Box<Sleep>>,
    failed: bool,
}

impl DeadlineStream {
    fn new(body: Rc<Body>, timeout: Duration) -> DeadlineStream {
        DeadlineStream {
            body,
            deadline: Box::pin(sleep_until(Instant::now() + timeout)),
            failed: false,
        }
    }
}

impl Stream for DeadlineStream {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed || this.body.ended.get() {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.failed = true;
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        let Ok(mut payload) = this.body.payload.try_borrow_mut() else {
            return Poll::Pending;
        };
        let next = Pin::new(&mut *payload).poll_next(cx);
        if let Poll::Ready(None) = next {
            this.body.ended.set(true);
        }
        next
    }
}

/// A response body that keeps the request's unfinished body alive until it has been sent, so
/// that actix-http closes the connection rather than waiting to drain the rest.
pub struct HoldsUnreadBody {
    body: BoxBody,
    _unread: Rc<Body>,
}

impl MessageBody for HoldsUnreadBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}
