//! 405 for the paths outside SCIM and the admin API (whose own 405s are a SCIM Error and an
//! admin error): a known path asked with another method answers 405 with `Allow`, not 404.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Resource, Route, web};

/// The `Allow` of a path that answers GET (HEAD is answered as GET).
pub const GET: &str = "GET, HEAD";

/// A resource answering `route`, whose methods `allow` names; any other method gets 405.
pub fn only(path: &str, allow: &'static str, route: Route) -> Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(move |req: HttpRequest| async move {
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .content_type("text/plain; charset=utf-8")
                .body(format!(
                    "{} is not supported here; this path allows {allow}\n",
                    req.method()
                ))
        }))
}
