//! Prometheus metrics (served at `GET /metrics` by `http::metrics` with `--metrics`): requests
//! by route template and status, request latency per route, SCIM provisioning operations per
//! organization, and — read at scrape time — the database size, each organization's members,
//! the argon2 gate's runs and refusals, webhook deliveries by outcome and each endpoint's
//! backlog, LDAP requests by operation and result code, and open LDAP connections by
//! listener. Labels are route templates, organization ids and fixed names only, never raw
//! paths or anything a client sends, so the number of series stays bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::auth::gate::Argon2Gate;
use crate::store::{Store, StoreError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    org: String,
    resource: String,
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgLabels {
    org: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    org: String,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LdapOperationLabels {
    operation: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: &'static str,
}

/// An open LDAP connection, counted in the gauge until dropped.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The delivery worker's handle on the webhook delivery counter.
#[derive(Clone, Debug, Default)]
pub struct DeliveryMetrics {
    deliveries: Family<OutcomeLabels, Counter>,
}

impl DeliveryMetrics {
    /// Counts one delivery attempt by how it ended (`delivered`, `failed`, `gone`).
    pub fn attempt(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

/// Why a scrape could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the metrics could not be encoded")]
    Encoding(#[from] std::fmt::Error),
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    operations: Family<OperationLabels, Counter>,
    database_bytes: Gauge,
    members: Family<OrgLabels, Gauge>,
    active_members: Family<OrgLabels, Gauge>,
    groups: Family<OrgLabels, Gauge>,
    argon2_runs: Counter,
    argon2_refused: Counter,
    argon2_peak: Gauge,
    delivery: DeliveryMetrics,
    webhook_backlog: Family<EndpointLabels, Gauge>,
    ldap_operations: Family<LdapOperationLabels, Counter>,
    ldap_connections: Family<ListenerLabels, Gauge>,
    /// Serializes the catch-up of the counters above from the gate's own counts.
    argon2_sync: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("scim_appliance");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        // 0.5 ms … ~7 s
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.5, 11))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template",
            latency.clone(),
        );
        let operations = Family::<OperationLabels, Counter>::default();
        registry.register(
            "provisioning_operations",
            "Successful SCIM writes by organization, resource and operation",
            operations.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register(
            "database_bytes",
            "Size of the database file and its write-ahead log",
            database_bytes.clone(),
        );
        let members = Family::<OrgLabels, Gauge>::default();
        registry.register("members", "Members per organization", members.clone());
        let active_members = Family::<OrgLabels, Gauge>::default();
        registry.register(
            "active_members",
            "Active (not revoked) members per organization",
            active_members.clone(),
        );
        let groups = Family::<OrgLabels, Gauge>::default();
        registry.register("groups", "Groups per organization", groups.clone());
        let argon2_runs = Counter::default();
        registry.register(
            "argon2_runs",
            "argon2 verifications run (API keys seen for the first time, admin sign-ins)",
            argon2_runs.clone(),
        );
        let argon2_refused = Counter::default();
        registry.register(
            "argon2_refused",
            "Credential checks refused with 503 because the argon2 queue was full",
            argon2_refused.clone(),
        );
        let argon2_peak = Gauge::default();
        registry.register(
            "argon2_peak_concurrent",
            "The most argon2 runs under way at once since start (bounded by the gate's slots)",
            argon2_peak.clone(),
        );
        let delivery = DeliveryMetrics::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, failed, gone)",
            delivery.deliveries.clone(),
        );
        let webhook_backlog = Family::<EndpointLabels, Gauge>::default();
        registry.register(
            "webhook_backlog",
            "Messages waiting for delivery, per webhook endpoint",
            webhook_backlog.clone(),
        );
        let ldap_operations = Family::<LdapOperationLabels, Counter>::default();
        registry.register(
            "ldap_operations",
            "LDAP requests by operation and result code (RFC 4511 names)",
            ldap_operations.clone(),
        );
        let ldap_connections = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "ldap_connections",
            "Open LDAP connections by listener (ldap, ldaps), TLS handshakes included",
            ldap_connections.clone(),
        );
        Metrics {
            registry,
            ldap_operations,
            ldap_connections,
            delivery,
            webhook_backlog,
            requests,
            latency,
            operations,
            database_bytes,
            members,
            active_members,
            groups,
            argon2_runs,
            argon2_refused,
            argon2_peak,
            argon2_sync: std::sync::Mutex::new(()),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64, org: Option<&str>) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
        if let (Some(org), Some((resource, operation))) = (org, operation(method, route))
            && (200..300).contains(&status)
        {
            self.operations
                .get_or_create(&OperationLabels {
                    org: org.to_owned(),
                    resource: resource.to_owned(),
                    operation: operation.to_owned(),
                })
                .inc();
        }
    }

    /// Counts one LDAP request by its operation (`bind`, `search`, …) and result code name.
    pub fn ldap_operation(&self, operation: &'static str, result: &'static str) {
        self.ldap_operations
            .get_or_create(&LdapOperationLabels { operation, result })
            .inc();
    }

    /// Counts an LDAP connection of `listener` as open until the handle is dropped.
    pub fn ldap_connection_opened(&self, listener: &'static str) -> OpenConnection {
        let gauge = self
            .ldap_connections
            .get_or_create(&ListenerLabels { listener })
            .clone();
        gauge.inc();
        OpenConnection(gauge)
    }

    /// The counter the webhook delivery worker increments.
    pub fn delivery(&self) -> DeliveryMetrics {
        self.delivery.clone()
    }

    /// The text exposition, with the database gauges and the gate's counts read now.
    pub fn render(&self, store: &Store, argon2: &Argon2Gate) -> Result<String, RenderError> {
        {
            let _sync = self
                .argon2_sync
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (counter, now) in [
                (&self.argon2_runs, argon2.runs()),
                (&self.argon2_refused, argon2.refused()),
            ] {
                counter.inc_by(now.saturating_sub(counter.get()));
            }
            self.argon2_peak
                .set(i64::try_from(argon2.peak_running()).unwrap_or(i64::MAX));
        }
        let bytes = store.database_bytes();
        self.database_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        let orgs = store.list_orgs()?;
        for family in [&self.members, &self.active_members, &self.groups] {
            family.clear();
        }
        for o in &orgs {
            let labels = OrgLabels {
                org: o.org.id.clone(),
            };
            let set = |family: &Family<OrgLabels, Gauge>, n: u64| {
                family
                    .get_or_create(&labels)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            };
            set(&self.members, o.members);
            set(&self.active_members, o.active_members);
            set(&self.groups, o.groups);
        }
        self.webhook_backlog.clear();
        for b in store.webhook_backlogs()? {
            self.webhook_backlog
                .get_or_create(&EndpointLabels {
                    org: b.org_id,
                    endpoint: b.endpoint_id,
                })
                .set(i64::try_from(b.pending).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The SCIM write a route template and method stand for, as (resource, operation).
fn operation(method: &str, route: &str) -> Option<(&'static str, &'static str)> {
    let rest = route.strip_prefix("/v2/{org_id}/")?;
    let resource = match rest.split('/').next()? {
        "Users" => "Users",
        "Groups" => "Groups",
        "Bulk" => return (method == "POST").then_some(("Bulk", "bulk")),
        _ => return None,
    };
    let on_item = rest.contains('/');
    match (method, on_item) {
        ("POST", false) => Some((resource, "create")),
        ("PUT", true) => Some((resource, "replace")),
        ("PATCH", true) => Some((resource, "patch")),
        ("DELETE", true) => Some((resource, "delete")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn scim_writes_are_named_by_route_and_method() {
        assert_eq!(
            operation("POST", "/v2/{org_id}/Users"),
            Some(("Users", "create"))
        );
        assert_eq!(
            operation("PATCH", "/v2/{org_id}/Groups/{id}"),
            Some(("Groups", "patch"))
        );
        assert_eq!(
            operation("POST", "/v2/{org_id}/Bulk"),
            Some(("Bulk", "bulk"))
        );
        assert_eq!(operation("GET", "/v2/{org_id}/Users/{id}"), None);
        assert_eq!(operation("POST", "/v2/{org_id}/Users/.search"), None);
        assert_eq!(operation("POST", "/api/admin/orgs"), None);
    }
}
