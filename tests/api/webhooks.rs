//! Webhooks end to end: a loopback receiver verifies every delivery with its own
//! implementation of the Standard Webhooks signature (HMAC-SHA256 over `id.timestamp.body`
//! with the base64 key after `whsec_`), and the tests check what arrives, in which order, and
//! what the appliance does when the receiver fails.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, TestOrg, spawn_app};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    raw: String,
    body: Value,
}

impl Delivery {
    fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Delivery>>,
    /// The status to answer with (204 unless set).
    status: AtomicU16,
    /// While true, requests wait before answering.
    hold: Mutex<Option<tokio::sync::watch::Receiver<bool>>>,
    /// A `Location` header to answer with (for a redirect).
    location: Mutex<Option<String>>,
    /// Answer with a body that never ends.
    endless: AtomicBool,
}

/// A loopback HTTP receiver that records every POST.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    async fn start() -> Receiver {
        Receiver::start_on(0).await
    }

    async fn start_on(port: u16) -> Receiver {
        let state = Arc::new(ReceiverState {
            status: AtomicU16::new(204),
            ..ReceiverState::default()
        });
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", port))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        // The server starts on its first poll: let it run now, so that it answers even while
        // the test blocks on a command-line call.
        tokio::task::yield_now().await;
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            handle,
        }
    }

    fn answer(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    fn got(&self) -> Vec<Delivery> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived (at most 30 s) and returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..300 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} deliveries, got {:#?}", self.got());
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn receive(
    state: web::Data<ReceiverState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let raw = String::from_utf8(body.to_vec()).expect("UTF-8 body");
    state.got.lock().expect("lock").push(Delivery {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: serde_json::from_str(&raw).expect("JSON body"),
        raw,
    });
    let hold = state.hold.lock().expect("lock").clone();
    if let Some(mut hold) = hold {
        let _ = hold.wait_for(|held| !held).await;
    }
    let status = state.status.load(Ordering::SeqCst);
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"));
    if let Some(location) = state.location.lock().expect("lock").clone() {
        response.insert_header(("Location", location));
    }
    if state.endless.load(Ordering::SeqCst) {
        let chunk = web::Bytes::from(vec![b'x'; 1024]);
        return response.streaming(futures_util::stream::repeat_with(move || {
            Ok::<_, std::io::Error>(chunk.clone())
        }));
    }
    response.body("receiver says hi")
}

/// Whether one of the header's signatures is `secret`'s over the delivery (written from the
/// specification, independently of the appliance's code).
fn signed_with(secret: &str, d: &Delivery) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.{}", d.id, d.timestamp, d.raw).as_bytes());
    let expected = BASE64.encode(mac.finalize().into_bytes());
    d.signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

/// `webhook add ORG URL --json [extra]` through the binary: (endpoint id, secret).
fn add_webhook(app: &TestApp, org: &TestOrg, url: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["webhook", "add", &org.id, url, "--json"];
    args.extend_from_slice(extra);
    let out = app.cli(&args);
    assert!(out.status.success(), "webhook add: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (
        v["webhook"]["id"].as_str().expect("id").to_owned(),
        v["secret"].as_str().expect("secret").to_owned(),
    )
}

fn webhook_json(app: &TestApp, org: &TestOrg, id: &str) -> Value {
    let out = app.cli(&["webhook", "list", &org.id, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    list.into_iter()
        .find(|w| w["id"] == id)
        .expect("endpoint listed")
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "displayName": "Test Person",
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true,
    })
}

fn set_active(active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": active}}],
    })
}

#[tokio::test]
async fn every_change_yields_its_documented_message_in_order_signed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    let (_, secret) = add_webhook(&app, &org, &receiver.url, &[]);

    let alice = app.create_user(&org, user("alice@example.com")).await;
    let bob = app.create_user(&org, user("bob@example.com")).await;
    let alice_id = alice["id"].as_str().expect("id");
    let bob_id = bob["id"].as_str().expect("id");
    let revoke = app
        .call(
            &org,
            Method::PATCH,
            &format!("Users/{alice_id}"),
            Some(set_active(false)),
        )
        .await;
    assert_eq!(revoke.0, 200);
    let restore = app
        .call(
            &org,
            Method::PATCH,
            &format!("Users/{alice_id}"),
            Some(set_active(true)),
        )
        .await;
    assert_eq!(restore.0, 200);
    let mut renamed = user("alice@example.com");
    renamed["displayName"] = json!("Alice Renamed");
    let put = app
        .call(
            &org,
            Method::PUT,
            &format!("Users/{alice_id}"),
            Some(renamed),
        )
        .await;
    assert_eq!(put.0, 200);
    let (status, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": alice_id}, {"value": bob_id}],
            })),
        )
        .await;
    assert_eq!(status, 201);
    let group_id = group["id"].as_str().expect("id");
    let (status, _) = app
        .call(
            &org,
            Method::PATCH,
            &format!("Groups/{group_id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "remove", "path": format!("members[value eq \"{bob_id}\"]")},
                    {"op": "replace", "path": "displayName", "value": "Eng"},
                ],
            })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.call(&org, Method::DELETE, &format!("Groups/{group_id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        app.call(&org, Method::DELETE, &format!("Users/{bob_id}"), None)
            .await
            .0,
        204
    );

    let expected = [
        "member.created",
        "member.created",
        "member.revoked",
        "member.restored",
        "member.updated",
        "group.created",
        "group.members_changed",
        "group.updated",
        "group.members_changed",
        "group.deleted",
        "member.deleted",
    ];
    let got = receiver.wait_for(expected.len()).await;
    // Nothing more arrives (e.g. no message per member, no duplicate).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = receiver.got();
    assert_eq!(got_all.len(), expected.len(), "{got_all:#?}");
    let kinds: Vec<&str> = got.iter().map(Delivery::kind).collect();
    assert_eq!(kinds, expected);

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut ids = std::collections::HashSet::new();
    for d in &got {
        assert!(signed_with(&secret, d), "signature verifies: {d:?}");
        assert!(!signed_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", d));
        assert!(d.id.starts_with("msg_"), "{}", d.id);
        assert!(ids.insert(d.id.clone()), "ids are unique");
        let ts: i64 = d.timestamp.parse().expect("unix seconds");
        assert!((now - ts).abs() < 120, "timestamp is now: {ts}");
        assert_eq!(d.body["data"]["organization"]["id"], org.id.as_str());
        assert_eq!(d.body["data"]["organization"]["name"], "Acme");
        assert!(
            d.body["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        assert!(d.body["data"]["event"]["id"].as_i64().is_some());
        assert_eq!(d.body["data"]["event"]["actor"], "SCIM");
        assert!(d.body["data"]["event"]["key_id"].is_string());
    }
    // The resource as it was right after each change.
    assert_eq!(
        got[0].body["data"]["member"]["userName"],
        "alice@example.com"
    );
    assert_eq!(
        got[0].body["data"]["event"]["name"],
        "OrganizationUser_Invited"
    );
    assert_eq!(got[2].body["data"]["member"]["active"], false);
    assert_eq!(got[3].body["data"]["member"]["active"], true);
    assert_eq!(
        got[4].body["data"]["member"]["displayName"],
        "Alice Renamed"
    );
    assert_eq!(
        got[4].body["data"]["member"]["meta"]["location"],
        format!("{}/Users/{alice_id}", org.scim_url).as_str()
    );
    assert_eq!(got[5].body["data"]["group"]["displayName"], "Engineering");
    assert!(got[5].body["data"]["group"].get("members").is_none());
    assert_eq!(got[6].body["data"]["added"], json!([alice_id, bob_id]));
    assert_eq!(got[6].body["data"]["removed"], json!([]));
    assert!(got[6].body["data"]["group"].get("members").is_none());
    assert_eq!(got[7].body["data"]["group"]["displayName"], "Eng");
    assert_eq!(got[8].body["data"]["removed"], json!([bob_id]));
    assert_eq!(got[8].body["data"]["added"], json!([]));
    assert_eq!(got[9].body["data"]["group"], json!({ "id": group_id }));
    assert_eq!(got[10].body["data"]["member"], json!({ "id": bob_id }));
    assert_eq!(
        got[10].body["data"]["event"]["name"],
        "OrganizationUser_Removed"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_everything_in_order_once_it_is_up() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    // A port with nothing listening yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (id, secret) = add_webhook(&app, &org, &format!("http://127.0.0.1:{port}/hook"), &[]);
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        app.create_user(&org, user(name)).await;
    }
    // The first attempt fails and holds back the other two.
    let mut first_failure = Value::Null;
    for _ in 0..100 {
        let out = app.cli(&["webhook", "deliveries", &org.id, &id, "--json"]);
        let view: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        if let Some(a) = view["attempts"].as_array().and_then(|a| a.first()) {
            first_failure = a.clone();
            assert_eq!(view["undelivered"].as_array().map(Vec::len), Some(3));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(first_failure["outcome"], "failed", "{first_failure}");
    assert!(first_failure["status"].is_null());
    assert!(
        first_failure["detail"]
            .as_str()
            .is_some_and(|d| d.contains("connect")),
        "{first_failure}"
    );
    let endpoint = webhook_json(&app, &org, &id);
    assert_eq!(endpoint["backlog"], 3);
    assert!(endpoint["failing_since"].is_string());
    assert!(endpoint["oldest_pending_at"].is_string());

    // Up: the scheduled retry (about 5 s later) delivers everything, in order.
    let receiver = Receiver::start_on(port).await;
    let got = receiver.wait_for(3).await;
    let names: Vec<&str> = got
        .iter()
        .map(|d| {
            d.body["data"]["member"]["userName"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, ["a@example.com", "b@example.com", "c@example.com"]);
    assert!(got.iter().all(|d| signed_with(&secret, d)));
    // The redelivered message kept its webhook-id.
    assert_eq!(got[0].id, first_failure["msg_id"].as_str().expect("msg_id"));
    let view: Value = serde_json::from_slice(
        &app.cli(&["webhook", "deliveries", &org.id, &id, "--json"])
            .stdout,
    )
    .expect("JSON");
    assert_eq!(view["undelivered"], json!([]));
    assert_eq!(view["attempts"][2]["attempt"], 2, "{view}");
    assert_eq!(view["attempts"][2]["outcome"], "delivered");
    let endpoint = webhook_json(&app, &org, &id);
    assert_eq!(endpoint["backlog"], 0);
    assert!(endpoint["failing_since"].is_null());
    receiver.stop().await;
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_keeps_its_backlog() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    receiver.answer(410);
    let (id, _) = add_webhook(&app, &org, &receiver.url, &[]);
    app.create_user(&org, user("a@example.com")).await;
    receiver.wait_for(1).await;
    let mut endpoint = Value::Null;
    for _ in 0..100 {
        endpoint = webhook_json(&app, &org, &id);
        if endpoint["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{endpoint}"
    );
    assert_eq!(endpoint["backlog"], 1);
    let events = app.events(&org);
    let disabled = events
        .iter()
        .find(|e| e["type"] == "Webhook_Disabled")
        .expect("the automatic disabling is an event");
    assert_eq!(disabled["actor"], "system");

    // Disabled: changes queue up, nothing is sent.
    app.create_user(&org, user("b@example.com")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got().len(), 1);
    assert_eq!(webhook_json(&app, &org, &id)["backlog"], 2);

    // Enabled again, the backlog goes out in order.
    receiver.answer(204);
    let out = app.cli(&["webhook", "update", &org.id, &id, "--enable", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let got = receiver.wait_for(3).await;
    assert_eq!(got[1].id, got[0].id, "the refused message again, same id");
    assert_eq!(got[2].body["data"]["member"]["userName"], "b@example.com");
    receiver.stop().await;
}

#[tokio::test]
async fn event_type_filters_and_organizations_are_kept_apart() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme");
    let other = app.create_org("Other");
    let acme_receiver = Receiver::start().await;
    let other_receiver = Receiver::start().await;
    let (acme_hook, _) = add_webhook(
        &app,
        &acme,
        &acme_receiver.url,
        &["--events", "member.revoked,member.restored"],
    );
    let (other_hook, _) = add_webhook(&app, &other, &other_receiver.url, &[]);

    let alice = app.create_user(&acme, user("alice@example.com")).await;
    let path = format!("Users/{}", alice["id"].as_str().expect("id"));
    app.call(&acme, Method::PATCH, &path, Some(set_active(false)))
        .await;
    let got = acme_receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(acme_receiver.got().len(), 1);
    assert_eq!(got[0].kind(), "member.revoked");
    assert!(
        other_receiver.got().is_empty(),
        "another org's endpoint saw nothing"
    );

    // The other org's admin paths and CLI cannot reach Acme's endpoint.
    let admin = app.admin().await;
    let (status, _) = admin
        .get(&format!("/orgs/{}/webhooks/{acme_hook}", other.id))
        .await;
    assert_eq!(status, 404);
    let (status, _) = admin
        .send(
            Method::POST,
            &format!("/orgs/{}/webhooks/{acme_hook}/test", other.id),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let out = app.cli(&["webhook", "remove", &other.id, &acme_hook]);
    assert!(!out.status.success());
    let (status, list) = admin.get(&format!("/orgs/{}/webhooks", other.id)).await;
    assert_eq!(status, 200);
    assert_eq!(list["webhooks"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["webhooks"][0]["id"], other_hook.as_str());
    assert!(list["event_types"].as_array().is_some_and(|t| t.len() > 10));
    acme_receiver.stop().await;
    other_receiver.stop().await;
}

#[tokio::test]
async fn a_failed_message_is_retried_by_hand_with_its_id_and_secrets_rotate_with_overlap() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let admin = app.admin().await;
    let (status, created) = admin
        .send(
            Method::POST,
            &format!("/orgs/{}/webhooks", org.id),
            Some(json!({"url": receiver.url, "description": "test receiver"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["webhook"]["id"].as_str().expect("id").to_owned();
    let old_secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(old_secret.starts_with("whsec_"));
    app.create_user(&org, user("a@example.com")).await;
    let first = receiver.wait_for(1).await.remove(0);

    // The attempt is visible with the start of the response.
    let deliveries = format!("/orgs/{}/webhooks/{id}/deliveries", org.id);
    let (_, view) = admin.get(&deliveries).await;
    assert_eq!(view["attempts"][0]["status"], 500, "{view}");
    assert_eq!(view["attempts"][0]["detail"], "receiver says hi");
    assert_eq!(view["undelivered"][0]["msg_id"], first.id.as_str());

    // A manual retry now, before the schedule's: same webhook-id, new timestamp allowed.
    receiver.answer(204);
    let (status, retried) = admin
        .send(
            Method::POST,
            &format!("/orgs/{}/webhooks/{id}/retry", org.id),
            Some(json!({ "msg_id": first.id })),
        )
        .await;
    assert_eq!((status, retried["retried"].as_u64()), (200, Some(1)));
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].id, first.id);
    assert_eq!(
        got[1].raw, first.raw,
        "the body is the same on every attempt"
    );
    // The worker records the success once the receiver has answered: shortly after.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, view) = admin.get(&deliveries).await;
        if view["undelivered"] == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "still undelivered: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Rotation: both secrets sign for a while.
    let (status, rotated) = admin
        .send(
            Method::POST,
            &format!("/orgs/{}/webhooks/{id}/rotate-secret", org.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["previous_valid_until"].is_string());
    let (status, test) = admin
        .send(
            Method::POST,
            &format!("/orgs/{}/webhooks/{id}/test", org.id),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(test["attempt"]["outcome"], "delivered", "{test}");
    let got = receiver.wait_for(3).await;
    let test_delivery = got.last().expect("test");
    assert_eq!(test_delivery.kind(), "webhook.test");
    assert_eq!(test_delivery.signature.split(' ').count(), 2);
    assert!(signed_with(&new_secret, test_delivery));
    assert!(signed_with(&old_secret, test_delivery));

    // The secret never lands in the event log.
    let events = serde_json::to_string(&app.events(&org)).expect("JSON");
    assert!(!events.contains(&old_secret[6..]) && !events.contains(&new_secret[6..]));
    assert!(events.contains("Webhook_SecretRotated"));
    receiver.stop().await;
}

#[tokio::test]
async fn a_receiver_that_hangs_never_holds_up_scim_requests() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    let (release, held) = tokio::sync::watch::channel(true);
    *receiver.state.hold.lock().expect("lock") = Some(held);
    add_webhook(&app, &org, &receiver.url, &[]);
    app.create_user(&org, user("first@example.com")).await;
    receiver.wait_for(1).await;
    // The receiver holds the first delivery; SCIM writes go on regardless.
    for i in 0..20 {
        app.create_user(&org, user(&format!("u{i}@example.com")))
            .await;
    }
    assert_eq!(receiver.got().len(), 1, "one in flight per endpoint");
    release.send(false).expect("release");
    let got = receiver.wait_for(21).await;
    assert_eq!(
        got[20].body["data"]["member"]["userName"],
        "u19@example.com"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn bad_webhook_settings_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let admin = app.admin().await;
    let path = format!("/orgs/{}/webhooks", org.id);
    for body in [
        json!({"url": "ftp://example.com/"}),
        json!({"url": "https://user:pw@example.com/"}),
        json!({"url": "not a url"}),
        json!({"url": "https://example.com/", "event_types": ["member.exploded"]}),
        json!({"url": "https://example.com/", "event_types": []}),
        json!({"url": "https://example.com/", "surprise": 1}),
        json!({"url": format!("https://example.com/{}", "a".repeat(3000))}),
    ] {
        let (status, error) = admin.send(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body} → {error}");
    }
    let (_, list) = admin.get(&path).await;
    assert_eq!(list["webhooks"], json!([]));
    let out = app.cli(&["webhook", "add", &org.id, "gopher://x/"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("http"));
    assert!(
        !app.event_types(&org)
            .iter()
            .any(|t| t.starts_with("Webhook")),
        "no event for a refused endpoint"
    );
}

/// A change acknowledged just before the server is killed (SIGKILL, no shutdown) while the
/// receiver is down still arrives, with the same `webhook-id`, once both are back.
#[tokio::test]
async fn a_message_survives_a_sigkill_between_the_change_and_its_delivery() {
    let dir = tempfile::TempDir::new().expect("dir");
    let cli = |args: &[&str]| {
        let out = crate::helpers::cli_in(dir.path(), args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    let org = cli(&["org", "create", "Acme", "--json"]);
    let (org_id, key) = (
        org["id"].as_str().expect("id").to_owned(),
        org["api_key"].as_str().expect("key").to_owned(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let added = cli(&["webhook", "add", &org_id, &url, "--json"]);
    let (hook, secret) = (
        added["webhook"]["id"].as_str().expect("id").to_owned(),
        added["secret"].as_str().expect("secret").to_owned(),
    );

    let (mut server, addr, _log) = crate::helpers::serve_binary(dir.path(), &[]);
    let created = reqwest::Client::new()
        .post(format!("http://{addr}/v2/{org_id}/Users"))
        .bearer_auth(&key)
        .header("Content-Type", "application/scim+json")
        .body(user("kept@example.com").to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(created.status().as_u16(), 201);
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");

    let view = cli(&["webhook", "deliveries", &org_id, &hook, "--json"]);
    let pending = view["undelivered"].as_array().cloned().unwrap_or_default();
    assert_eq!(pending.len(), 1, "{view}");
    assert_eq!(pending[0]["type"], "member.created");
    let msg_id = pending[0]["msg_id"].as_str().expect("msg_id").to_owned();

    let receiver = Receiver::start_on(port).await;
    let (mut server, _addr, _log) = crate::helpers::serve_binary(dir.path(), &[]);
    let got = receiver.wait_for(1).await;
    server.kill().expect("kill");
    server.wait().expect("reaped");
    assert!(
        got.iter().all(|d| d.id == msg_id),
        "only that message, with its id"
    );
    assert_eq!(
        got[0].body["data"]["member"]["userName"],
        "kept@example.com"
    );
    assert!(signed_with(&secret, &got[0]));
    receiver.stop().await;
}

#[tokio::test]
async fn deliveries_and_backlogs_are_metrics() {
    let app =
        crate::helpers::spawn_app_configured(tempfile::TempDir::new().expect("dir"), None, |c| {
            c.metrics = true;
        })
        .await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    let (hook, _) = add_webhook(&app, &org, &receiver.url, &[]);
    app.create_user(&org, user("a@example.com")).await;
    receiver.wait_for(1).await;
    let backlog = format!(
        "scim_appliance_webhook_backlog{{org=\"{}\",endpoint=\"{hook}\"}} 0",
        org.id
    );
    let mut text = String::new();
    for _ in 0..50 {
        text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if text.contains("scim_appliance_webhook_deliveries_total{outcome=\"delivered\"} 1")
            && text.contains(&backlog)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.contains("scim_appliance_webhook_deliveries_total{outcome=\"delivered\"} 1"),
        "{text}"
    );
    assert!(text.contains(&backlog), "{text}");
    receiver.stop().await;
}

/// `POST /orgs/ORG/webhooks/ID/test` through the admin API: the attempt it reports.
async fn send_test(admin: &crate::helpers::AdminClient, org: &TestOrg, id: &str) -> Value {
    let path = format!("/orgs/{}/webhooks/{id}/test", org.id);
    let (status, test) = admin.send(Method::POST, &path, None).await;
    assert_eq!(status, 200, "{test}");
    test["attempt"].clone()
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let elsewhere = Receiver::start().await;
    let receiver = Receiver::start().await;
    receiver.answer(307);
    *receiver.state.location.lock().expect("lock") = Some(elsewhere.url.clone());
    let (id, _) = add_webhook(&app, &org, &receiver.url, &[]);
    let admin = app.admin().await;

    let attempt = send_test(&admin, &org, &id).await;
    assert_eq!(attempt["outcome"], "failed", "{attempt}");
    assert_eq!(attempt["status"], 307, "{attempt}");
    let detail = attempt["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("not followed") && detail.contains(&elsewhere.url),
        "{attempt}"
    );

    // A queued message is no different.
    app.create_user(&org, user("a@example.com")).await;
    receiver.wait_for(2).await;
    let deliveries = format!("/orgs/{}/webhooks/{id}/deliveries", org.id);
    let mut view = Value::Null;
    for _ in 0..100 {
        view = admin.get(&deliveries).await.1;
        if view["attempts"][0]["type"] == "member.created" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["attempts"][0]["type"], "member.created", "{view}");
    assert_eq!(view["attempts"][0]["status"], 307, "{view}");
    assert_eq!(view["attempts"][0]["outcome"], "failed", "{view}");
    assert_eq!(view["undelivered"].as_array().map(Vec::len), Some(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        elsewhere.got().is_empty(),
        "the redirect's target got nothing"
    );
    receiver.stop().await;
    elsewhere.stop().await;
}

#[tokio::test]
async fn only_the_start_of_an_endless_answer_is_read() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    receiver.answer(200);
    receiver.state.endless.store(true, Ordering::SeqCst);
    let (id, _) = add_webhook(&app, &org, &receiver.url, &[]);
    let admin = app.admin().await;

    let started = Instant::now();
    let attempt = send_test(&admin, &org, &id).await;
    // Reading the whole answer would only end at the 15 s limit.
    assert!(started.elapsed() < Duration::from_secs(10), "{attempt}");
    assert_eq!(attempt["outcome"], "delivered", "{attempt}");
    assert_eq!(attempt["status"], 200, "{attempt}");
    assert!(
        attempt["duration_ms"]
            .as_u64()
            .is_some_and(|ms| ms < 10_000)
    );
    let detail = attempt["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("xxxx"), "{attempt}");
    // The log keeps the first bytes of the answer.
    let (_, view) = admin
        .get(&format!("/orgs/{}/webhooks/{id}/deliveries", org.id))
        .await;
    let kept = view["attempts"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        kept.starts_with("xxxx") && kept.chars().count() <= 257,
        "{kept}"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    let (release, held) = tokio::sync::watch::channel(true);
    *receiver.state.hold.lock().expect("lock") = Some(held);
    let (id, _) = add_webhook(&app, &org, &receiver.url, &[]);
    let admin = app.admin().await;

    let started = Instant::now();
    let attempt = tokio::time::timeout(Duration::from_secs(40), send_test(&admin, &org, &id))
        .await
        .expect("the attempt gives up on its own");
    let took = started.elapsed();
    assert_eq!(receiver.got().len(), 1, "the request arrived");
    assert_eq!(attempt["outcome"], "failed", "{attempt}");
    assert!(attempt["status"].is_null(), "{attempt}");
    assert!(
        attempt["detail"]
            .as_str()
            .is_some_and(|d| d.contains("timed out")),
        "{attempt}"
    );
    assert!(
        (Duration::from_secs(14)..Duration::from_secs(30)).contains(&took),
        "the 15 s limit: {took:?}"
    );
    release.send(false).expect("release");
    receiver.stop().await;
}

#[tokio::test]
async fn an_endpoint_failing_longer_than_the_setting_is_disabled_visibly_with_its_backlog() {
    let app =
        crate::helpers::spawn_app_configured(tempfile::TempDir::new().expect("dir"), None, |c| {
            c.webhook_disable_after = Duration::from_secs(2);
        })
        .await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let (id, _) = add_webhook(&app, &org, &receiver.url, &[]);
    app.create_user(&org, user("a@example.com")).await;
    app.create_user(&org, user("b@example.com")).await;

    // One failed attempt: marked failing, still enabled.
    receiver.wait_for(1).await;
    let mut endpoint = Value::Null;
    for _ in 0..100 {
        endpoint = webhook_json(&app, &org, &id);
        if endpoint["failing_since"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(endpoint["failing_since"].is_string(), "{endpoint}");
    assert_eq!(endpoint["enabled"], true, "{endpoint}");

    // The scheduled retry (about 5 s later) fails more than 2 s after the first: disabled.
    for _ in 0..200 {
        endpoint = webhook_json(&app, &org, &id);
        if endpoint["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    let reason = endpoint["disabled_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("failing since") && reason.contains("receiver says hi"),
        "{endpoint}"
    );
    assert_eq!(endpoint["backlog"], 2, "the backlog is kept and counted");
    let listed =
        String::from_utf8_lossy(&app.cli(&["webhook", "list", &org.id]).stdout).into_owned();
    assert!(
        listed.contains("disabled: failing since") && listed.contains("backlog 2"),
        "{listed}"
    );
    let events = app.events(&org);
    let disabled = events
        .iter()
        .find(|e| e["type"] == "Webhook_Disabled")
        .expect("the disabling is an event");
    assert_eq!(disabled["actor"], "system");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got().len(), 2, "no attempt once disabled");
    receiver.stop().await;
}

#[tokio::test]
async fn the_webhook_cli_tests_rotates_the_secret_retries_and_removes() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let receiver = Receiver::start().await;
    let (id, secret) = add_webhook(
        &app,
        &org,
        &receiver.url,
        &[
            "--description",
            "cli receiver",
            "--events",
            "member.created",
        ],
    );
    let listed = webhook_json(&app, &org, &id);
    assert_eq!(listed["description"], "cli receiver");
    assert_eq!(listed["event_types"], json!(["member.created"]));
    let json_out = |args: &[&str]| -> Value {
        let out = app.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("JSON")
    };

    let test = json_out(&["webhook", "test", &org.id, &id, "--json"]);
    assert_eq!(
        (test["outcome"].as_str(), test["status"].as_u64()),
        (Some("delivered"), Some(204))
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].kind(), "webhook.test");
    assert_eq!(got[0].id, test["msg_id"].as_str().expect("msg_id"));
    assert!(signed_with(&secret, &got[0]));

    // rotate-secret: for 24 h both secrets sign.
    let rotated = json_out(&["webhook", "rotate-secret", &org.id, &id, "--json"]);
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    let until = rotated["previous_valid_until"].as_str().expect("until");
    let now = time::OffsetDateTime::now_utc();
    let (in_23h, in_25h) = (
        scim_appliance::timestamp::format(now + time::Duration::hours(23)),
        scim_appliance::timestamp::format(now + time::Duration::hours(25)),
    );
    assert!(
        until > in_23h.as_str() && until < in_25h.as_str(),
        "{until}"
    );
    json_out(&["webhook", "test", &org.id, &id, "--json"]);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].signature.split(' ').count(), 2, "{:?}", got[1]);
    assert!(signed_with(&new_secret, &got[1]) && signed_with(&secret, &got[1]));

    // retry: after two failed attempts the next is minutes away; a manual retry sends it now,
    // with its webhook-id.
    receiver.answer(500);
    app.create_user(&org, user("a@example.com")).await;
    let got = receiver.wait_for(4).await;
    assert_eq!(got[2].id, got[3].id);
    let msg_id = got[2].id.clone();
    let mut view = Value::Null;
    for _ in 0..100 {
        view = json_out(&["webhook", "deliveries", &org.id, &id, "--json"]);
        if view["undelivered"][0]["attempts"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["undelivered"][0]["attempts"], 2, "{view}");
    receiver.answer(204);
    let out = app.cli(&["webhook", "retry", &org.id, &id, &msg_id]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 message"));
    let got = receiver.wait_for(5).await;
    assert_eq!(got[4].id, msg_id);
    assert!(signed_with(&new_secret, &got[4]));
    let unknown = app.cli(&["webhook", "retry", &org.id, &id, "msg_nosuchmessage"]);
    assert_eq!(unknown.status.code(), Some(1));

    // remove: nothing more is sent.
    let out = app.cli(&["webhook", "remove", &org.id, &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json_out(&["webhook", "list", &org.id, "--json"]), json!([]));
    app.create_user(&org, user("b@example.com")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got().len(), 5);
    assert!(app.event_types(&org).iter().any(|t| t == "Webhook_Removed"));
    receiver.stop().await;
}

/// Creates `n` users through `/Bulk` (1,000 a request) and returns their ids, in order.
async fn bulk_users(app: &TestApp, org: &TestOrg, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let numbers: Vec<usize> = (0..n).collect();
    for chunk in numbers.chunks(1000) {
        let operations: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                       "data": {"userName": format!("user{i}@example.com")}})
            })
            .collect();
        let (status, response) = app
            .call(
                org,
                Method::POST,
                "Bulk",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": operations,
                })),
            )
            .await;
        assert_eq!(status, 200, "{response}");
        for op in response["Operations"].as_array().expect("operations") {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().expect("location");
            ids.push(location.rsplit('/').next().expect("id").to_owned());
        }
    }
    assert_eq!(ids.len(), n);
    ids
}

/// A membership change of 2,500 members arrives as several `group.members_changed` messages
/// of at most 1,000 ids each, in order, each with the group but not its member list; so does
/// a removal of 1,500.
#[tokio::test]
async fn a_membership_change_of_thousands_arrives_in_messages_of_at_most_1000_ids() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let ids = bulk_users(&app, &org, 2500).await;
    let (status, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Everyone",
            })),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().expect("id");
    let receiver = Receiver::start().await;
    let (_, secret) = add_webhook(
        &app,
        &org,
        &receiver.url,
        &["--events", "group.members_changed"],
    );

    let members =
        |ids: &[String]| -> Value { ids.iter().map(|id| json!({ "value": id })).collect() };
    let patch = |op: &str, ids: &[String]| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": op, "path": "members", "value": members(ids)}],
        })
    };
    let path = format!("Groups/{group_id}");
    let (status, answer) = app
        .call(&org, Method::PATCH, &path, Some(patch("add", &ids)))
        .await;
    assert!(status == 200 || status == 204, "{status} {answer}");
    let (status, answer) = app
        .call(
            &org,
            Method::PATCH,
            &path,
            Some(patch("remove", &ids[..1500])),
        )
        .await;
    assert!(status == 200 || status == 204, "{status} {answer}");

    let list = |d: &Delivery, key: &str| -> Vec<String> {
        d.body["data"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} is a list"))
            .iter()
            .map(|id| id.as_str().expect("an id").to_owned())
            .collect()
    };
    // Wait for all 4,000 ids, however they are split.
    let ids_in = |got: &[Delivery]| -> usize {
        got.iter()
            .map(|d| list(d, "added").len() + list(d, "removed").len())
            .sum()
    };
    for _ in 0..300 {
        if ids_in(&receiver.got()) >= 4000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got();
    assert_eq!(ids_in(&got), 4000, "every id arrived, once");
    // 2,500 added: 1,000 + 1,000 + 500; then 1,500 removed: 1,000 + 500.
    let sizes: Vec<(usize, usize)> = got
        .iter()
        .map(|d| (list(d, "added").len(), list(d, "removed").len()))
        .collect();
    assert_eq!(sizes, [(1000, 0), (1000, 0), (500, 0), (0, 1000), (0, 500)]);
    let added: Vec<String> = got[..3].iter().flat_map(|d| list(d, "added")).collect();
    assert_eq!(added, ids, "exactly the 2,500 ids, in order");
    let removed: Vec<String> = got[3..].iter().flat_map(|d| list(d, "removed")).collect();
    assert_eq!(removed, ids[..1500], "exactly the 1,500 ids, in order");
    let mut msg_ids = std::collections::HashSet::new();
    for d in &got {
        assert_eq!(d.kind(), "group.members_changed");
        assert!(signed_with(&secret, d), "signature verifies");
        assert!(msg_ids.insert(d.id.clone()), "one webhook-id per message");
        assert_eq!(d.body["data"]["group"]["id"], group_id);
        assert_eq!(d.body["data"]["group"]["displayName"], "Everyone");
        assert!(
            d.body["data"]["group"].get("members").is_none(),
            "no member list: {}",
            d.body["data"]["group"]
        );
        assert!(d.raw.len() < 100_000, "a message stays small");
    }
    // The pieces of one change name the same event.
    assert_eq!(got[0].body["data"]["event"], got[2].body["data"]["event"]);
    assert_eq!(got[3].body["data"]["event"], got[4].body["data"]["event"]);
    assert_ne!(got[0].body["data"]["event"], got[3].body["data"]["event"]);
    receiver.stop().await;
}

/// Run at trace level, the server logs no API key token and no webhook secret (nor the
/// base64 after `whsec_`) while keys are added, rotated and used (also wrongly), webhook
/// endpoints are added and their secrets rotated, and deliveries succeed and fail.
#[tokio::test]
async fn no_key_token_or_webhook_secret_reaches_the_log_at_trace_level() {
    use std::io::Write;

    let dir = tempfile::TempDir::new().expect("dir");
    let out = crate::helpers::cli_in(dir.path(), &["org", "create", "Acme", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let created: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let org_id = created["id"].as_str().expect("id").to_owned();
    let first_key = created["api_key"].as_str().expect("api_key").to_owned();
    let mut set_password = std::process::Command::new(crate::helpers::BIN)
        .args(["admin", "set-password", "--password-stdin", "--data-dir"])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("runs");
    writeln!(
        set_password.stdin.take().expect("stdin"),
        "{}",
        crate::helpers::ADMIN_PASSWORD
    )
    .expect("written");
    assert!(set_password.wait().expect("exits").success());
    let receiver = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.answer(500);

    let (mut server, addr, log) =
        crate::helpers::serve_binary(dir.path(), &["--log-level", "trace"]);
    let base = format!("http://{addr}");
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let login = browser
        .post(format!("{base}/api/admin/login"))
        .json(&json!({ "password": crate::helpers::ADMIN_PASSWORD }))
        .send()
        .await
        .expect("request");
    assert_eq!(login.status().as_u16(), 200);
    let session: Value = login.json().await.expect("JSON");
    let admin = crate::helpers::AdminClient {
        client: browser,
        csrf: session["csrf_token"].as_str().expect("csrf").to_owned(),
        base: format!("{base}/api/admin"),
    };
    let org = TestOrg {
        id: org_id.clone(),
        key: first_key.clone(),
        scim_url: format!("{base}/v2/{org_id}"),
    };

    // Keys: one added, then rotated with a grace period.
    let keys = format!("/orgs/{org_id}/keys");
    let (status, added) = admin
        .send(
            Method::POST,
            &keys,
            Some(json!({"name": "wiki sync", "scope": "read"})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let read_key = added["api_key"].as_str().expect("api_key").to_owned();
    let key_id = added["key"]["key_id"].as_str().expect("key_id");
    let (status, rotated) = admin
        .send(
            Method::POST,
            &format!("{keys}/{key_id}/rotate"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let rotated_key = rotated["api_key"].as_str().expect("api_key").to_owned();

    // Endpoints: one answering, one failing; the first's secret rotated.
    let hooks = format!("/orgs/{org_id}/webhooks");
    let mut secrets = Vec::new();
    let mut hook_ids = Vec::new();
    for url in [&receiver.url, &failing.url] {
        let (status, hook) = admin
            .send(Method::POST, &hooks, Some(json!({ "url": url })))
            .await;
        assert_eq!(status, 201, "{hook}");
        hook_ids.push(hook["webhook"]["id"].as_str().expect("id").to_owned());
        secrets.push(hook["secret"].as_str().expect("secret").to_owned());
    }
    let (status, rotated) = admin
        .send(
            Method::POST,
            &format!("{hooks}/{}/rotate-secret", hook_ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    secrets.push(rotated["secret"].as_str().expect("secret").to_owned());

    // Every key used (and a wrong one), deliveries made and failed, a test event each.
    let created = status_with_key(
        &org,
        &first_key,
        Method::POST,
        "Users",
        Some(user("a@example.com")),
    )
    .await;
    assert_eq!(created, 201);
    for key in [&read_key, &rotated_key] {
        assert_eq!(
            status_with_key(&org, key, Method::GET, "Users", None).await,
            200
        );
    }
    let mut wrong = rotated_key.clone();
    wrong.replace_range(wrong.len() - 4.., "0000");
    assert_eq!(
        status_with_key(&org, &wrong, Method::GET, "Users", None).await,
        401
    );
    for id in &hook_ids {
        let (status, test) = admin
            .send(Method::POST, &format!("{hooks}/{id}/test"), None)
            .await;
        assert_eq!(status, 200, "{test}");
    }
    let got = receiver.wait_for(2).await;
    assert!(got.iter().all(|d| signed_with(&secrets[2], d)));
    failing.wait_for(2).await;
    let deliveries = format!("{hooks}/{}/deliveries", hook_ids[1]);
    let mut view = Value::Null;
    for _ in 0..100 {
        view = admin.get(&deliveries).await.1;
        if view["undelivered"]
            .as_array()
            .is_some_and(|u| !u.is_empty())
            && view["attempts"][0]["outcome"] == "failed"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["attempts"][0]["outcome"], "failed", "{view}");

    let stop = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stop.success());
    let status = tokio::task::spawn_blocking(move || server.wait().expect("exits"))
        .await
        .expect("joined");
    assert!(status.success(), "{status:?}");
    let lines = log.join().expect("log");
    assert!(
        lines.iter().any(|l| l.contains("TRACE")),
        "the log is at trace level: {lines:#?}"
    );
    let mut hidden: Vec<&str> = Vec::new();
    for token in [&first_key, &read_key, &rotated_key, &wrong] {
        hidden.push(token);
        // `scim_<key id>_<secret>`: the secret alone.
        hidden.push(token.splitn(3, '_').nth(2).expect("a secret part"));
    }
    for secret in &secrets {
        hidden.push(secret);
        hidden.push(secret.strip_prefix("whsec_").expect("whsec_ prefix"));
    }
    for secret in hidden {
        assert!(
            lines.iter().all(|l| !l.contains(secret)),
            "{secret} is in the log: {:#?}",
            lines
                .iter()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
        );
    }
    receiver.stop().await;
    failing.stop().await;
}

/// A SCIM request to `org` with `key` instead of its own: the status.
async fn status_with_key(
    org: &TestOrg,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/{path}", org.scim_url))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
    }
    request.send().await.expect("request").status().as_u16()
}
