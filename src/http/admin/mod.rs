//! The embedded configuration page and the admin API it uses.
//!
//! - `/` and `/setup`: the page (`static/index.html`); `/assets/{file}`: everything else under
//!   `static/`, compiled into the binary with rust-embed (also in debug builds), so the binary
//!   needs no files on disk and no network.
//! - `/api/admin/…`: JSON, see `docs/admin-api.md` and `api.rs`.
//!
//! Both answer only for this server's own host names ([`crate::state::ServedHosts`], 421
//! otherwise), and every response of the server carries the security headers
//! ([`crate::http::observe`]).

mod api;
mod error;
mod extract;
mod host;
mod webhooks;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::http::methods;

pub use error::AdminError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// Registers the page, its assets and the admin API, each behind the host-name check.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let page_resource = |path: &str, route| {
        methods::only(path, methods::GET, route).wrap(from_fn(host::page_for_served_hosts))
    };
    cfg.service(page_resource("/", web::get().to(page)))
        .service(page_resource("/setup", web::get().to(page)))
        .service(page_resource("/assets/{file}", web::get().to(asset)))
        .service(
            web::scope("/api/admin")
                .wrap(from_fn(host::api_for_served_hosts))
                .app_data(web::PayloadConfig::new(extract::MAX_BODY))
                .service(api_resource("/session", "GET, HEAD").route(web::get().to(api::session)))
                .service(api_resource("/setup", "POST").route(web::post().to(api::setup)))
                .service(api_resource("/login", "POST").route(web::post().to(api::login)))
                .service(
                    web::scope("")
                        .wrap(from_fn(extract::require_admin))
                        .configure(signed_in_routes),
                ),
        );
}

/// Everything that needs the admin's session (checked by [`extract::require_admin`] first, so
/// that a wrong method gets 405 only with a session: anonymous requests learn nothing).
fn signed_in_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(api_resource("/logout", "POST").route(web::post().to(api::logout)))
        .service(api_resource("/password", "POST").route(web::post().to(api::change_password)))
        .service(
            api_resource("/orgs", "GET, HEAD, POST")
                .route(web::get().to(api::list_orgs))
                .route(web::post().to(api::create_org)),
        )
        .service(
            api_resource("/orgs/{org_id}", "GET, HEAD, PATCH, DELETE")
                .route(web::get().to(api::get_org))
                .route(web::patch().to(api::patch_org))
                .route(web::delete().to(api::delete_org)),
        )
        .service(
            api_resource("/orgs/{org_id}/api-key", "POST")
                .route(web::post().to(api::issue_api_key)),
        )
        .service(
            api_resource("/orgs/{org_id}/keys", "GET, HEAD, POST")
                .route(web::get().to(api::list_keys))
                .route(web::post().to(api::add_key)),
        )
        .service(
            api_resource("/orgs/{org_id}/keys/{key_id}", "DELETE")
                .route(web::delete().to(api::revoke_key)),
        )
        .service(
            api_resource("/orgs/{org_id}/keys/{key_id}/rotate", "POST")
                .route(web::post().to(api::rotate_key)),
        )
        .service(
            api_resource("/orgs/{org_id}/members", "GET, HEAD")
                .route(web::get().to(api::list_members)),
        )
        .service(
            api_resource("/orgs/{org_id}/members/{member_id}", "GET, HEAD")
                .route(web::get().to(api::get_member)),
        )
        .service(
            api_resource("/orgs/{org_id}/groups", "GET, HEAD")
                .route(web::get().to(api::list_groups)),
        )
        .service(
            api_resource("/orgs/{org_id}/groups/{group_id}", "GET, HEAD")
                .route(web::get().to(api::get_group)),
        )
        .service(
            api_resource("/orgs/{org_id}/events", "GET, HEAD")
                .route(web::get().to(api::list_events)),
        )
        .configure(webhook_routes)
        .default_service(web::to(unknown_api_path));
}

/// An organization's webhook endpoints (`webhooks.rs`).
fn webhook_routes(cfg: &mut web::ServiceConfig) {
    const ONE: &str = "/orgs/{org_id}/webhooks/{id}";
    cfg.service(
        api_resource("/orgs/{org_id}/webhooks", "GET, HEAD, POST")
            .route(web::get().to(webhooks::list))
            .route(web::post().to(webhooks::add)),
    )
    .service(
        api_resource(ONE, "GET, HEAD, PATCH, DELETE")
            .route(web::get().to(webhooks::get))
            .route(web::patch().to(webhooks::patch))
            .route(web::delete().to(webhooks::remove)),
    )
    .service(
        api_resource(&format!("{ONE}/rotate-secret"), "POST")
            .route(web::post().to(webhooks::rotate_secret)),
    )
    .service(api_resource(&format!("{ONE}/test"), "POST").route(web::post().to(webhooks::test)))
    .service(
        api_resource(&format!("{ONE}/deliveries"), "GET, HEAD")
            .route(web::get().to(webhooks::deliveries)),
    )
    .service(api_resource(&format!("{ONE}/retry"), "POST").route(web::post().to(webhooks::retry)));
}

/// An admin API path whose methods `allow` names; any other method gets 405 with `Allow` and
/// the admin error body.
fn api_resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(AdminError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        })
    }))
}

async fn unknown_api_path(req: HttpRequest) -> Result<HttpResponse, AdminError> {
    Err(AdminError::NotFound(format!(
        "no admin API endpoint {} {}",
        req.method(),
        req.path()
    )))
}

async fn page(req: HttpRequest) -> HttpResponse {
    embedded(&req, "index.html")
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    embedded(&req, &file)
}

/// An embedded file, revalidated by its SHA-256 ETag (names carry no hash, so browsers must
/// ask; an unchanged file costs a 304).
fn embedded(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(file) = Assets::get(name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if fresh {
        return response.finish();
    }
    response
        .content_type(content_type(name))
        .body(file.data.into_owned())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}
