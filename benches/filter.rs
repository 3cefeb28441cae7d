//! Micro-benchmarks of the SCIM domain, without HTTP or SQL: parsing and checking the filters
//! identity providers send, evaluating them on a member in memory, and parsing and applying
//! their PATCH bodies to a member. The cost per operation here is the floor under each request
//! of `bench/run.sh`.
//!
//! Run: `cargo bench --bench filter` (about 30 s). Prints the median time per operation over 7
//! batches of about 0.2 s each; absolute times depend on the machine. (A plain harness, as
//! `benches/membership.rs`, with no new dependency: criterion is not in the local registry.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use scim_appliance::scim::filter::{self, Filter};
use scim_appliance::scim::patch::PatchRequest;
use scim_appliance::scim::schema::{GROUP, ResourceType, USER};
use serde_json::{Map, Value, json};

const BATCHES: usize = 7;
const BATCH: Duration = Duration::from_millis(200);

/// The filters, as identity providers send them.
const FILTERS: &[(&str, &ResourceType, &str)] = &[
    (
        "Entra/Okta lookup",
        &USER,
        r#"userName eq "u12345@bench.test""#,
    ),
    (
        "externalId and active",
        &USER,
        r#"externalId eq "ext-12345" and active eq true"#,
    ),
    (
        "value path, nested not",
        &USER,
        r#"emails[type eq "work" and value co "@bench.test"] or (name.familyName sw "N1" and not (title pr))"#,
    ),
    (
        "Entra group membership probe",
        &GROUP,
        r#"id eq "6f1c2c52-2a4e-4b39-9d1e-2f4f5b0a7c11" and members[value eq "0b2e2cb0-c97e-44f0-9bcf-56fdca1307c7"]"#,
    ),
];

/// The PATCH bodies, as identity providers send them, applied to [`member`].
fn patches() -> Vec<(&'static str, Value)> {
    let schemas = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);
    vec![
        (
            "replace active (Okta, Entra)",
            json!({"schemas": schemas, "Operations": [
                {"op": "replace", "path": "active", "value": false}]}),
        ),
        (
            "Entra attribute sync, 4 ops",
            json!({"schemas": schemas, "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Member 12345 (renamed)"},
                {"op": "Replace", "path": "name.givenName", "value": "Renamed"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "renamed@bench.test"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}]}),
        ),
        (
            "no-path value object (Okta)",
            json!({"schemas": schemas, "Operations": [
                {"op": "replace", "value": {"active": true, "displayName": "Member 12345", "name.familyName": "N12345"}}]}),
        ),
    ]
}

/// A member as the store keeps it: the attributes an identity provider sent.
fn member() -> Map<String, Value> {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "u12345@bench.test",
        "externalId": "ext-12345",
        "name": {"givenName": "Member", "familyName": "N12345"},
        "displayName": "Member 12345",
        "active": true,
        "emails": [{"value": "u12345@bench.test", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "12345"}
    })
    .as_object()
    .cloned()
    .expect("a JSON object")
}

fn main() {
    println!("filters (per filter):");
    for (name, rt, text) in FILTERS {
        let parsed: Filter = filter::parse(text).expect("the filter parses");
        filter::check(&parsed, rt).expect("the filter checks");
        let parse = median(|| {
            black_box(filter::parse(black_box(text)).ok());
        });
        let parse_and_check = median(|| {
            if let Ok(f) = filter::parse(black_box(text)) {
                black_box(filter::check(&f, rt).is_ok());
            }
        });
        print!("  {name:<30} parse {parse:>9.2?}   parse+check {parse_and_check:>9.2?}");
        if rt.name == USER.name {
            let doc = member();
            let evaluate = median(|| {
                black_box(filter::matches_resource(&parsed, rt, black_box(&doc)));
            });
            print!("   evaluate on a member {evaluate:>9.2?}");
        }
        println!();
    }

    println!("PATCH on a member (per request):");
    for (name, body) in patches() {
        let doc = member();
        PatchRequest::parse(&body)
            .and_then(|request| request.apply(&USER, doc.clone()))
            .expect("the PATCH applies");
        let parse = median(|| {
            black_box(PatchRequest::parse(black_box(&body)).ok());
        });
        let parse_and_apply = median(|| {
            if let Ok(request) = PatchRequest::parse(black_box(&body)) {
                black_box(request.apply(&USER, doc.clone()).ok());
            }
        });
        let copy = median(|| {
            black_box(doc.clone());
        });
        println!(
            "  {name:<30} parse {parse:>9.2?}   parse+apply {parse_and_apply:>9.2?}   (of which copying the member {copy:>9.2?})"
        );
    }
}

/// The median time per call of `f` over [`BATCHES`] batches of about [`BATCH`] each.
fn median(mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < BATCH / 10 {
        f();
        calls += 1;
    }
    let per_batch = (calls * 10).max(1);
    let mut times: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            started.elapsed() / per_batch
        })
        .collect();
    times.sort();
    times[BATCHES / 2]
}
