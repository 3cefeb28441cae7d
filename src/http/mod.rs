//! The HTTP front door: every route and every middleware of the server, over the shared
//! [`AppState`]. Handlers parse their input into domain types, make one store call on the
//! blocking pool, and render; none builds SQL.
//!
//! - [`scim`]: the SCIM API under `/v2/{org_id}`, authenticated by API key.
//! - [`admin`]: the embedded configuration page and the JSON admin API it uses.
//! - [`health`]: `/alive`, `/now`, `/version`; [`metrics`]: `/metrics`.
//! - [`observe`]: the request log, request id, metrics and security headers of every answer.
//! - [`limits`]: the request-body deadline and the connection caps; [`client`]: who is asking.
//! - [`methods`]: 405 with `Allow` for the paths outside SCIM and the admin API.
//!
//! `startup` binds the listeners and sets the server's timeouts; everything a request meets
//! once accepted is here.

pub mod admin;
pub mod client;
pub mod health;
pub mod limits;
pub mod methods;
pub mod metrics;
pub mod observe;
pub mod scim;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, Uri};
use actix_web::{App, middleware, web};

use crate::state::AppState;
use methods::{GET, only};

/// The application one worker serves: routes, then middleware from the innermost out.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.max_body;
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(max_body))
        .configure(scim::configure)
        .service(only("/alive", GET, web::get().to(health::alive)))
        .service(only("/now", GET, web::get().to(health::alive)))
        .service(only("/version", GET, web::get().to(health::version)))
        .service(only("/metrics", GET, web::get().to(metrics::endpoint)))
        .configure(admin::configure)
        // gzip when the client asks: a 50,000-member group is ~10 MB of JSON, ~1 MB gzipped.
        .wrap(middleware::Compress::default())
        // Inside the body deadline, which closes connections answered before their body
        // arrived.
        .wrap(middleware::from_fn(limits::connections::refuse_over_cap))
        .wrap(middleware::from_fn(limits::body::deadline))
        .wrap_fn(|mut req, srv| {
            // Runs before routing. HEAD is answered as GET: the HTTP layer decided from the
            // original method that no body is sent (RFC 9110 §9.3.2).
            if req.method() == Method::HEAD {
                req.head_mut().method = Method::GET;
            }
            srv.call(req)
        })
        .wrap(middleware::from_fn(observe::observe))
        .wrap_fn(|mut req, srv| {
            // Canonical SCIM endpoint names (see scim::routing), before `observe` reads the
            // route template.
            if let Some(path) = scim::canonical_path(req.path()) {
                let uri = match req.query_string() {
                    "" => path,
                    query => format!("{path}?{query}"),
                };
                if let Ok(uri) = uri.parse::<Uri>() {
                    req.match_info_mut().get_mut().update(&uri);
                    req.head_mut().uri = uri;
                }
            }
            srv.call(req)
        })
}
