//! `/metrics`, in Prometheus' text format: requests by route and status with their durations,
//! plugin calls, failures and durations per tenant, plugin and hook (from the library's run
//! log), and each tenant's outbox backlog. It names tenants, so it needs the platform
//! operator's token (Prometheus sends it with `authorization: {credentials: ...}`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cs_host::OutboxStatus;

use super::api::{ApiError, Caller};
use super::{Shared, blocking};

/// The upper bounds of the request duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Request counts and durations, by method, route and status (nested, so that counting a
/// request of a series already seen copies no string).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<String, Routes>>,
}

/// One method's series, by route and status.
type Routes = BTreeMap<String, BTreeMap<u16, Series>>;

/// The value of `key` in `map`, inserted (its key copied) only when missing.
fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    /// Requests at or under each bound of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
}

impl Metrics {
    /// Counts one request that took `seconds`.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let series = slot(slot(&mut requests, method), route)
            .entry(status)
            .or_default();
        series.count += 1;
        series.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(&mut series.buckets) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }

    fn write(&self, out: &mut String) {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let requests: Vec<((&str, &str, u16), &Series)> = requests
            .iter()
            .flat_map(|(method, routes)| {
                routes.iter().flat_map(move |(route, statuses)| {
                    statuses
                        .iter()
                        .map(move |(status, series)| ((&**method, &**route, *status), series))
                })
            })
            .collect();
        out.push_str(
            "# HELP cshost_http_requests_total HTTP requests answered, by route and status.\n\
             # TYPE cshost_http_requests_total counter\n",
        );
        for ((method, route, status), series) in &requests {
            let _ = writeln!(
                out,
                "cshost_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                label(method),
                label(route),
                series.count
            );
        }
        out.push_str(
            "# HELP cshost_http_request_duration_seconds Time to answer HTTP requests.\n\
             # TYPE cshost_http_request_duration_seconds histogram\n",
        );
        for ((method, route, status), series) in &requests {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{status}\"",
                label(method),
                label(route)
            );
            for (bound, count) in BUCKETS.iter().zip(series.buckets) {
                let _ = writeln!(
                    out,
                    "cshost_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "cshost_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 cshost_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 cshost_http_request_duration_seconds_count{{{labels}}} {}",
                series.count, series.sum, series.count
            );
        }
    }
}

/// A label value, escaped as the text format wants.
fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What the library knows, per tenant.
struct TenantFigures {
    tenant: String,
    stats: Vec<cs_host::RunStats>,
    backlog: usize,
}

/// One figure of a plugin's run stats, as the text format writes it.
type Figure = fn(&cs_host::RunStats) -> String;

/// `GET /metrics`.
pub async fn metrics(State(app): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    super::api::require_operator(&caller.check(&app).await?)?;
    let figures = blocking(&app, |host| {
        let mut figures = Vec::new();
        for tenant in host.tenants()? {
            let handle = host.tenant(&tenant.id)?;
            figures.push(TenantFigures {
                stats: handle.plugins().stats()?,
                backlog: handle.outbox().list(Some(OutboxStatus::Pending))?.len(),
                tenant: tenant.id,
            });
        }
        Ok::<_, ApiError>(figures)
    })
    .await?;
    let mut out = String::new();
    app.metrics.write(&mut out);
    out.push_str(
        "# HELP cshost_outbox_backlog Messages waiting in the outbox, per tenant.\n\
         # TYPE cshost_outbox_backlog gauge\n",
    );
    for f in &figures {
        let _ = writeln!(
            out,
            "cshost_outbox_backlog{{tenant=\"{}\"}} {}",
            label(&f.tenant),
            f.backlog
        );
    }
    let per_plugin: [(&str, &str, &str, Figure); 4] = [
        (
            "cshost_plugin_calls_total",
            "counter",
            "Plugin calls, per tenant, plugin and hook.",
            |s| s.calls.to_string(),
        ),
        (
            "cshost_plugin_failures_total",
            "counter",
            "Plugin calls that failed, per tenant, plugin and hook.",
            |s| s.failures.to_string(),
        ),
        (
            "cshost_plugin_call_p50_seconds",
            "gauge",
            "The median plugin call's duration, per tenant, plugin and hook.",
            |s| (s.p50_us as f64 / 1e6).to_string(),
        ),
        (
            "cshost_plugin_call_p99_seconds",
            "gauge",
            "The 99th percentile of plugin call durations, per tenant, plugin and hook.",
            |s| (s.p99_us as f64 / 1e6).to_string(),
        ),
    ];
    for (name, kind, help, value) in per_plugin {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for f in &figures {
            for s in &f.stats {
                let _ = writeln!(
                    out,
                    "{name}{{tenant=\"{}\",plugin=\"{}\",hook=\"{}\"}} {}",
                    label(&f.tenant),
                    label(&s.plugin),
                    label(&s.hook),
                    value(s)
                );
            }
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
