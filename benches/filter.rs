//! Micro-benchmarks of the SCIM domain, without HTTP or SQL: parsing and checking the filters
//! identity providers send, evaluating them on a member in memory, and parsing and applying
//! their PATCH bodies to a member. The cost per operation here is the floor under each request
//! of `bench/run.sh`.
//!
//! Run: `cargo bench --bench filter`, a little over a minute (18 benchmarks of 1 s warm-up and
//! 2 s measurement each, with criterion's analysis); `cargo bench --bench filter -- --quick`
//! takes about 10 s. Criterion prints the time per operation with a confidence interval and, from
//! the second run on, the change against the previous run, which it keeps under
//! `target/criterion/`; absolute times depend on the machine. The benchmark ids are
//! `filter/{parse,parse+check,evaluate}/<filter>`, `patch/{parse,parse+apply}/<body>` and
//! `patch/copy-member`; a regex picks some, as in
//! `cargo bench --bench filter -- 'patch/parse\+apply'`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scim_appliance::scim::filter::{self, Filter};
use scim_appliance::scim::patch::PatchRequest;
use scim_appliance::scim::schema::{GROUP, ResourceType, USER};
use serde_json::{Map, Value, json};

/// The filters, as identity providers send them, named by their benchmark id.
const FILTERS: &[(&str, &ResourceType, &str)] = &[
    (
        // Entra and Okta look a user up by userName before creating it.
        "username-lookup",
        &USER,
        r#"userName eq "u12345@bench.test""#,
    ),
    (
        "externalid-and-active",
        &USER,
        r#"externalId eq "ext-12345" and active eq true"#,
    ),
    (
        "value-path-nested-not",
        &USER,
        r#"emails[type eq "work" and value co "@bench.test"] or (name.familyName sw "N1" and not (title pr))"#,
    ),
    (
        // Entra checks a membership before adding or removing it.
        "group-membership-probe",
        &GROUP,
        r#"id eq "6f1c2c52-2a4e-4b39-9d1e-2f4f5b0a7c11" and members[value eq "0b2e2cb0-c97e-44f0-9bcf-56fdca1307c7"]"#,
    ),
];

/// The PATCH bodies, as identity providers send them, applied to [`member`], named by their
/// benchmark id.
fn patches() -> Vec<(&'static str, Value)> {
    let schemas = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);
    vec![
        (
            // Okta and Entra deactivate a user so.
            "replace-active",
            json!({"schemas": schemas, "Operations": [
                {"op": "replace", "path": "active", "value": false}]}),
        ),
        (
            // Entra syncs changed attributes so.
            "entra-sync-4-ops",
            json!({"schemas": schemas, "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Member 12345 (renamed)"},
                {"op": "Replace", "path": "name.givenName", "value": "Renamed"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "renamed@bench.test"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}]}),
        ),
        (
            // Okta sends a replace without a path.
            "no-path-value-object",
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

fn filters(c: &mut Criterion) {
    let mut group = c.benchmark_group("filter");
    for (name, rt, text) in FILTERS {
        let parsed: Filter = filter::parse(text).expect("the filter parses");
        filter::check(&parsed, rt).expect("the filter checks");
        group.bench_with_input(BenchmarkId::new("parse", name), text, |b, text| {
            b.iter(|| black_box(filter::parse(black_box(text)).ok()));
        });
        group.bench_with_input(BenchmarkId::new("parse+check", name), text, |b, text| {
            b.iter(|| {
                if let Ok(f) = filter::parse(black_box(text)) {
                    black_box(filter::check(&f, rt).is_ok());
                }
            });
        });
        if rt.name == USER.name {
            let doc = member();
            group.bench_with_input(BenchmarkId::new("evaluate", name), &doc, |b, doc| {
                b.iter(|| black_box(filter::matches_resource(&parsed, rt, black_box(doc))));
            });
        }
    }
    group.finish();
}

fn patch(c: &mut Criterion) {
    let mut group = c.benchmark_group("patch");
    let doc = member();
    for (name, body) in patches() {
        PatchRequest::parse(&body)
            .and_then(|request| request.apply(&USER, doc.clone()))
            .expect("the PATCH applies");
        group.bench_with_input(BenchmarkId::new("parse", name), &body, |b, body| {
            b.iter(|| black_box(PatchRequest::parse(black_box(body)).ok()));
        });
        // Includes copying the member, which `patch/copy-member` measures alone.
        group.bench_with_input(BenchmarkId::new("parse+apply", name), &body, |b, body| {
            b.iter(|| {
                if let Ok(request) = PatchRequest::parse(black_box(body)) {
                    black_box(request.apply(&USER, doc.clone()).ok());
                }
            });
        });
    }
    group.bench_function("copy-member", |b| b.iter(|| black_box(doc.clone())));
    group.finish();
}

criterion_group! {
    name = benches;
    // Shorter than criterion's default of 3 s + 5 s: the operations take micro-seconds, and 2 s
    // is millions of them. `--warm-up-time` and `--measurement-time` override these.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = filters, patch
}
criterion_main!(benches);
