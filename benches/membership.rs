//! Membership at scale, end to end over HTTP: does a one-member PATCH on a 50,000-member group
//! cost about the same as on a 5-member group, what does `excludedAttributes=members` save, and
//! how large is a full GET of the big group?
//!
//! Run: `cargo bench --bench membership` (seeds 50,005 users; takes a minute). Prints ratios
//! measured in one run; absolute times depend on the machine.

use std::time::{Duration, Instant};

use scim_appliance::auth::api_key;
use scim_appliance::config::ServeConfig;
use scim_appliance::startup::Application;
use scim_appliance::store::{Actor, IssuedKey, Store, SyncMode};
use serde_json::{Value, json};

const BIG: usize = 50_000;
const SMALL: usize = 5;
const ROUNDS: usize = 200;

#[tokio::main]
async fn main() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let key = api_key::generate().expect("key");
    let org = {
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let org = store
            .create_org(
                "bench",
                Some(IssuedKey {
                    key_id: &key.key_id,
                    phc: &key.phc,
                }),
                Actor::Cli,
            )
            .expect("org");
        let started = Instant::now();
        for i in 0..BIG + SMALL + 1 {
            let mut attrs = serde_json::Map::new();
            attrs.insert("userName".into(), json!(format!("user{i}@example.com")));
            attrs.insert("active".into(), json!(true));
            store
                .create_user(&org.id, &key.key_id, attrs)
                .expect("user");
        }
        eprintln!(
            "seeded {} users in {:.1?}",
            BIG + SMALL + 1,
            started.elapsed()
        );
        org
    };

    let config = ServeConfig::new(
        "127.0.0.1:0".into(),
        dir.path().to_owned(),
        None,
        SyncMode::Normal,
        64 * 1024 * 1024,
    )
    .expect("config");
    let app = Application::build(config).expect("server");
    let base = format!("http://127.0.0.1:{}/v2/{}", app.port(), org.id);
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let token = key.token.clone();

    let mut ids: Vec<String> = Vec::with_capacity(BIG + SMALL + 1);
    let mut start = 1;
    loop {
        let (_, page) = call(
            &client,
            &token,
            "GET",
            &format!("{base}/Users?startIndex={start}&count=1000&attributes=id"),
            None,
        )
        .await;
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        ids.extend(
            items
                .iter()
                .map(|u| u["id"].as_str().unwrap_or_default().to_owned()),
        );
        start += items.len();
    }
    assert_eq!(ids.len(), BIG + SMALL + 1);
    let spare = ids.pop().expect("spare user");

    let members = |range: std::ops::Range<usize>| -> Value {
        ids[range].iter().map(|id| json!({"value": id})).collect()
    };
    let started = Instant::now();
    let (_, big) = call(
        &client,
        &token,
        "POST",
        &format!("{base}/Groups?excludedAttributes=members"),
        Some(json!({"displayName": "big", "members": members(0..BIG)})),
    )
    .await;
    eprintln!(
        "created the {BIG}-member group in {:.1?}",
        started.elapsed()
    );
    let (_, small) = call(
        &client,
        &token,
        "POST",
        &format!("{base}/Groups?excludedAttributes=members"),
        Some(json!({"displayName": "small", "members": members(BIG..BIG + SMALL)})),
    )
    .await;

    let one_member_patch = |group: Value| {
        let (client, token, base, spare) =
            (client.clone(), token.clone(), base.clone(), spare.clone());
        async move {
            let url = format!(
                "{base}/Groups/{}?excludedAttributes=members",
                group["id"].as_str().unwrap_or_default()
            );
            let started = Instant::now();
            for round in 0..ROUNDS {
                let op = if round % 2 == 0 {
                    json!({"op": "add", "path": "members", "value": [{"value": spare}]})
                } else {
                    json!({"op": "remove", "path": format!("members[value eq \"{spare}\"]")})
                };
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
                let (status, _) = call(&client, &token, "PATCH", &url, Some(body)).await;
                assert_eq!(status, 200);
            }
            started.elapsed() / ROUNDS as u32
        }
    };
    let small_patch = one_member_patch(small.clone()).await;
    let big_patch = one_member_patch(big.clone()).await;

    let big_url = format!("{base}/Groups/{}", big["id"].as_str().unwrap_or_default());
    let (full_time, full_size) = timed_get(&client, &token, &big_url).await;
    let (gzip_time, gzip_size) = timed_get_gzip(&client, &token, &big_url).await;
    let (lean_time, lean_size) = timed_get(
        &client,
        &token,
        &format!("{big_url}?excludedAttributes=members"),
    )
    .await;

    println!(
        "one-member PATCH (add/remove alternately, {ROUNDS} rounds, excludedAttributes=members):"
    );
    println!(
        "  {SMALL}-member group: {small_patch:.2?}/op   {BIG}-member group: {big_patch:.2?}/op   ratio big/small: {:.2}",
        ratio(big_patch, small_patch)
    );
    println!("GET of the {BIG}-member group:");
    println!(
        "  with members: {full_time:.1?}, {full_size} bytes ({} bytes/member)",
        full_size / BIG
    );
    println!(
        "  with members, Accept-Encoding: gzip: {gzip_time:.1?}, {gzip_size} bytes on the wire"
    );
    println!(
        "  excludedAttributes=members: {lean_time:.2?}, {lean_size} bytes   ratio full/lean time: {:.0}",
        ratio(full_time, lean_time)
    );

    // Lookups among 50,006 users: an indexed filter should cost about what a GET by id does.
    let probe = &ids[BIG / 2];
    let by_id = format!("{base}/Users/{probe}");
    let user_name = format!(
        "{base}/Users?filter=userName eq \"user{}@example.com\"",
        BIG / 2
    );
    let unindexed = format!("{base}/Users?filter=nickName eq \"nobody\"&count=1");
    let get_by_id = timed_gets(&client, &token, &by_id, ROUNDS).await;
    let get_by_user_name = timed_gets(&client, &token, &user_name, ROUNDS).await;
    let scan = timed_gets(&client, &token, &unindexed, 5).await;
    println!("lookups among {} users ({ROUNDS} rounds):", BIG + SMALL + 1);
    println!(
        "  GET /Users/{{id}}: {get_by_id:.2?}   filter userName eq: {get_by_user_name:.2?}   ratio: {:.2}",
        ratio(get_by_user_name, get_by_id)
    );
    println!(
        "  unindexed filter (nickName eq, evaluated per row): {scan:.1?}   ratio to userName eq: {:.0}",
        ratio(scan, get_by_user_name)
    );
}

async fn timed_gets(client: &reqwest::Client, token: &str, url: &str, rounds: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..rounds {
        let (status, _) = call(client, token, "GET", url, None).await;
        assert_eq!(status, 200, "{url}");
    }
    started.elapsed() / rounds as u32
}

async fn timed_get_gzip(client: &reqwest::Client, token: &str, url: &str) -> (Duration, usize) {
    let started = Instant::now();
    let response = client
        .get(url)
        .bearer_auth(token)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    let body = response.bytes().await.expect("body");
    (started.elapsed(), body.len())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

async fn timed_get(client: &reqwest::Client, token: &str, url: &str) -> (Duration, usize) {
    let started = Instant::now();
    let body = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    (started.elapsed(), body.len())
}

async fn call(
    client: &reqwest::Client,
    token: &str,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value)
}
