//! What an unauthenticated client on the internet can do to the server: bursts of wrong
//! passwords and keys cost bounded argon2 work and memory, and one tenant's or stranger's
//! failures never lock another tenant out.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{
    ADMIN_PASSWORD, BIN, assert_scim_error, cli_in, serve_binary, spawn_app, spawn_app_configured,
};

/// Wrong sign-ins and wrong key secrets fired at once, each.
const BURST: usize = 200;
/// Failed sign-ins per address per 15 minutes, and failed key checks per address and key per
/// minute (docs/security.md).
const SIGN_IN_LIMIT: usize = 10;
const KEY_LIMIT: usize = 20;
/// Peak resident memory the server may reach under the burst. Before the argon2 gate, the same
/// burst took it to 2.7–6.5 GiB.
const RSS_CEILING_KIB: u64 = 96 * 1024;

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The value of an unlabelled metric in a Prometheus text exposition.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
}

fn tally(statuses: &[u16]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    counts
}

/// The real binary behind a (simulated) reverse proxy on loopback, so that every request can
/// say which client it comes from in `X-Forwarded-For`: the attacker and the identity provider
/// are different addresses, as on the internet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_passwords_and_keys_runs_bounded_argon2_in_bounded_memory() {
    let dir = TempDir::new().unwrap();
    let out = cli_in(dir.path(), &["org", "create", "Acme", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (org_id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["api_key"].as_str().unwrap().to_owned(),
    );
    let mut set_password = std::process::Command::new(BIN)
        .args(["admin", "set-password", "--password-stdin", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(set_password.stdin.take().unwrap(), "{ADMIN_PASSWORD}").unwrap();
    assert!(set_password.wait().unwrap().success());

    let (mut server, addr, _log) = serve_binary(
        dir.path(),
        &["--metrics", "--trusted-proxies", "127.0.0.0/8"],
    );
    let pid = server.id();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let scim_url = format!("{base}/v2/{org_id}/ServiceProviderConfig");
    let idp = |client: &reqwest::Client| {
        client
            .get(&scim_url)
            .bearer_auth(&key)
            .header("X-Forwarded-For", "198.51.100.7")
            .send()
    };
    assert_eq!(idp(&client).await.unwrap().status().as_u16(), 200);
    let baseline_kib = proc_status_kib(pid, "VmRSS:");

    // The identity provider keeps provisioning while the attack runs.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let provider = {
        let (client, done, scim_url, key) =
            (client.clone(), done.clone(), scim_url.clone(), key.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) || statuses.is_empty() {
                let response = client
                    .get(&scim_url)
                    .bearer_auth(&key)
                    .header("X-Forwarded-For", "198.51.100.7")
                    .send()
                    .await
                    .unwrap();
                statuses.push(response.status().as_u16());
            }
            statuses
        })
    };

    let sign_ins: Vec<_> = (0..BURST)
        .map(|i| {
            let request = client
                .post(format!("{base}/api/admin/login"))
                .header("X-Forwarded-For", "203.0.113.9")
                .json(&serde_json::json!({ "password": format!("wrong password {i}") }));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let key_guesses: Vec<_> = (0..BURST)
        .map(|i| {
            let mut wrong = key.clone();
            wrong.replace_range(wrong.len() - 4.., &format!("{i:04}"));
            let request = client
                .get(&scim_url)
                .bearer_auth(wrong)
                .header("X-Forwarded-For", "203.0.113.9");
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut sign_in_statuses = Vec::new();
    for t in sign_ins {
        sign_in_statuses.push(t.await.unwrap());
    }
    let mut key_statuses = Vec::new();
    for t in key_guesses {
        key_statuses.push(t.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let provider_statuses = provider.await.unwrap();

    let peak_kib = proc_status_kib(pid, "VmHWM:");
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let runs = metric(&metrics, "scim_appliance_argon2_runs_total");
    let peak_concurrent = metric(&metrics, "scim_appliance_argon2_peak_concurrent");
    server.kill().unwrap();
    let _ = server.wait();
    let (signins, keys) = (tally(&sign_in_statuses), tally(&key_statuses));
    eprintln!(
        "burst: sign-ins {signins:?}, key guesses {keys:?}, argon2 runs {runs} (peak {peak_concurrent} at once), \
         RSS {baseline_kib} KiB before, peak {peak_kib} KiB; provider {:?}",
        tally(&provider_statuses)
    );

    // Only the allowed few were checked; every other attempt was refused without argon2.
    let checked_sign_ins = signins.get(&401).copied().unwrap_or(0);
    let checked_keys = keys.get(&401).copied().unwrap_or(0);
    assert!(checked_sign_ins <= SIGN_IN_LIMIT, "{signins:?}");
    assert!(checked_keys <= KEY_LIMIT, "{keys:?}");
    for (what, counts) in [("sign-ins", &signins), ("keys", &keys)] {
        assert!(
            counts.keys().all(|s| [401, 429, 503].contains(s)),
            "{what}: {counts:?}"
        );
        assert!(
            counts.get(&429).copied().unwrap_or(0) >= BURST - KEY_LIMIT - 40,
            "{what}: the throttle refused nearly all: {counts:?}"
        );
    }
    // The one verification of the provider's key, then at most one per checked attempt.
    assert!(
        runs <= (1 + checked_sign_ins + checked_keys) as u64,
        "argon2 ran {runs} times"
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(peak_concurrent >= 1);
    assert!(
        peak_concurrent <= (cores / 2).clamp(1, 4) as u64,
        "at most half the cores run argon2: {peak_concurrent}"
    );
    assert!(
        peak_kib < RSS_CEILING_KIB,
        "peak RSS {peak_kib} KiB (baseline {baseline_kib} KiB)"
    );
    assert!(
        provider_statuses.iter().all(|&s| s == 200),
        "the provider's proven key is served throughout: {:?}",
        tally(&provider_statuses)
    );
}

/// Entra ID and Okta send from addresses many tenants share: a stranger's failures from the
/// same address must not throttle another organization's key, even a new one (not yet proven).
#[tokio::test]
async fn failures_for_one_organization_do_not_throttle_another_behind_the_same_address() {
    let app = spawn_app().await;
    let victim = app.create_org("Victim");
    let stranger = app.create_org("Stranger");
    let mut wrong = stranger.key.clone();
    wrong.replace_range(wrong.len() - 4.., "zzzz");
    for _ in 0..KEY_LIMIT + 5 {
        let r = app
            .scim_get(&stranger.id, "ServiceProviderConfig", &wrong)
            .await;
        assert!([401, 429].contains(&r.status().as_u16()));
    }
    for _ in 0..KEY_LIMIT + 5 {
        let r = app
            .scim_get(&victim.id, "ServiceProviderConfig", "scim_garbage")
            .await;
        assert!([401, 429].contains(&r.status().as_u16()));
    }
    let blocked = app
        .scim_get(&stranger.id, "ServiceProviderConfig", &wrong)
        .await;
    assert_scim_error(blocked, 429).await;

    // The victim's key was never used before: it needs argon2, and gets it.
    let served = app
        .scim_get(&victim.id, "ServiceProviderConfig", &victim.key)
        .await;
    assert_eq!(served.status().as_u16(), 200);
    // The brute force on the stranger's key from this address stays refused.
    let still_blocked = app
        .scim_get(&stranger.id, "ServiceProviderConfig", &wrong)
        .await;
    assert_scim_error(still_blocked, 429).await;
}

/// Concurrent wrong sign-ins are limited as strictly as consecutive ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_sign_ins_are_limited_like_consecutive_ones() {
    let app = spawn_app_configured(TempDir::new().unwrap(), None, |_| {}).await;
    let _admin = app.admin().await;
    let runs_before = app.argon2_runs();
    let attempts: Vec<_> = (0..60)
        .map(|i| {
            let request = app
                .client
                .post(app.url("/api/admin/login"))
                .json(&serde_json::json!({ "password": format!("wrong password {i}") }));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.unwrap());
    }
    let counts = tally(&statuses);
    assert_eq!(counts.get(&401), Some(&SIGN_IN_LIMIT), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&(60 - SIGN_IN_LIMIT)), "{counts:?}");
    assert_eq!(app.argon2_runs() - runs_before, SIGN_IN_LIMIT as u64);
    assert!(app.state.argon2.peak_running() <= app.state.argon2.slots());
}
