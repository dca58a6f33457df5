//! The run log: per tenant, plugin and hook, how many calls, which failures, how much fuel and
//! time, kept bounded (aggregates, a duration histogram, and the last failures with their
//! input), and the circuit breaker it feeds.
//!
//! Calls are counted in memory during an operation and written once when it ends, so an import
//! of many rows costs one small transaction, not one per row.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::enablement::Plugins;
use super::enablement::{Active, BreakerFeed, Enablement, feed_breaker};
use super::{CallStats, Capability, PluginError};
use crate::access::Permission;
use crate::clock::Clock;
use crate::context::Op;
use crate::error::{Error, Result};
use crate::store::{Store, TenantId, unix_seconds};
use crate::tenant::Tenant;

/// How many failures (with their input) the run log keeps per tenant and plugin.
pub const KEPT_FAILURES: usize = 20;

/// The aggregates of one tenant's plugin on one hook.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RunStats {
    /// The plugin.
    pub plugin: String,
    /// The hook, such as `csv-row-mapped`.
    pub hook: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Failed calls by kind of error (`trap`, `fuel-exhausted`, ...).
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Calls in which the plugin used a capability it does not hold.
    pub denied: u64,
    /// Fuel burned in all (calls stopped at their deadline count nothing).
    pub fuel: u64,
    /// The median call's duration, in microseconds (within about 10%).
    pub p50_us: u64,
    /// The 99th percentile of call durations, in microseconds (within about 10%).
    pub p99_us: u64,
    /// The last error.
    pub last_error: Option<String>,
    /// When it happened, in Unix seconds.
    pub last_error_at: Option<i64>,
}

/// One failure kept by the run log, with what is needed to replay it with `cshost plugin run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RecordedFailure {
    /// Its id in the run log.
    pub id: i64,
    /// When, in Unix seconds.
    pub at: i64,
    /// The plugin.
    pub plugin: String,
    /// The version that failed.
    pub version: String,
    /// The hook, such as `csv-row-mapped`.
    pub hook: String,
    /// The kind of error, such as `trap`.
    pub code: String,
    /// The error.
    pub message: String,
    /// The input, in the JSON shape `cshost plugin run --input` takes for the hook.
    pub input: serde_json::Value,
    /// The plugin's configuration at the time.
    pub config: BTreeMap<String, String>,
    /// The capabilities it held.
    pub grants: BTreeSet<Capability>,
}

impl Plugins<'_> {
    /// The run log's aggregates for this tenant, by plugin and hook.
    pub fn stats(&self) -> Result<Vec<RunStats>> {
        self.tenant.read(|op| {
            op.require(Permission::ReadLogs)?;
            let mut query = op.conn.prepare_cached(
                "SELECT plugin, hook, calls, failures, failures_by_kind, denied, fuel,
                            durations, last_error, last_error_at
                     FROM plugin_run_stats WHERE tenant_id = ?1 ORDER BY plugin, hook",
            )?;
            query
                .query_map([op.tenant.as_str()], |row| {
                    let kinds: String = row.get(4)?;
                    let durations: String = row.get(7)?;
                    let histogram = Histogram::parse(&durations);
                    Ok(RunStats {
                        plugin: row.get(0)?,
                        hook: row.get(1)?,
                        calls: row.get::<_, i64>(2)?.max(0) as u64,
                        failures: row.get::<_, i64>(3)?.max(0) as u64,
                        failures_by_kind: serde_json::from_str(&kinds).unwrap_or_default(),
                        denied: row.get::<_, i64>(5)?.max(0) as u64,
                        fuel: row.get::<_, i64>(6)?.max(0) as u64,
                        p50_us: histogram.percentile(0.50),
                        p99_us: histogram.percentile(0.99),
                        last_error: row.get(8)?,
                        last_error_at: row.get(9)?,
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })
    }

    /// The failures the run log keeps for this tenant (of one plugin, or all), newest first.
    pub fn failures(&self, plugin: Option<&str>) -> Result<Vec<RecordedFailure>> {
        self.tenant.read(|op| {
            op.require(Permission::ReadLogs)?;
            let mut query = op.conn.prepare_cached(
                "SELECT id, at, plugin, version, hook, code, message, input, config, grants
                     FROM plugin_failures WHERE tenant_id = ?1 AND (?2 IS NULL OR plugin = ?2)
                     ORDER BY id DESC",
            )?;
            query
                .query_map(params![op.tenant.as_str(), plugin], |row| {
                    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
                        let text: String = row.get(i)?;
                        Ok(serde_json::from_str(&text).unwrap_or_default())
                    };
                    Ok(RecordedFailure {
                        id: row.get(0)?,
                        at: row.get(1)?,
                        plugin: row.get(2)?,
                        version: row.get(3)?,
                        hook: row.get(4)?,
                        code: row.get(5)?,
                        message: row.get(6)?,
                        input: json(7)?,
                        config: serde_json::from_value(json(8)?).unwrap_or_default(),
                        grants: serde_json::from_value(json(9)?).unwrap_or_default(),
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })
    }
}

/// Durations in quarter-octave buckets: bucket `b` (from 1) holds durations `d` (µs) with
/// `floor(4 log2 d) + 1 == b`; bucket 0 holds zero.
#[derive(Debug, Default, Clone)]
struct Histogram(BTreeMap<u32, u64>);

impl Histogram {
    fn parse(json: &str) -> Histogram {
        let map: BTreeMap<String, u64> = serde_json::from_str(json).unwrap_or_default();
        Histogram(
            map.into_iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                .collect(),
        )
    }

    fn to_json(&self) -> String {
        let map: BTreeMap<String, u64> = self.0.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        serde_json::to_string(&map).expect("a histogram serializes")
    }

    fn bucket(micros: u64) -> u32 {
        if micros == 0 {
            0
        } else {
            ((micros as f64).log2() * 4.0).floor() as u32 + 1
        }
    }

    fn add(&mut self, micros: u64) {
        *self.0.entry(Histogram::bucket(micros)).or_default() += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (bucket, count) in &other.0 {
            *self.0.entry(*bucket).or_default() += count;
        }
    }

    /// The duration at quantile `q`: the geometric middle of the bucket it falls in.
    fn percentile(&self, q: f64) -> u64 {
        let total: u64 = self.0.values().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in &self.0 {
            seen += count;
            if seen >= rank {
                return match bucket {
                    0 => 0,
                    b => 2f64.powf((*b as f64 - 0.5) / 4.0).round() as u64,
                };
            }
        }
        0
    }
}

/// A failure waiting to be written.
struct PendingFailure {
    at: i64,
    code: &'static str,
    message: String,
    input: serde_json::Value,
}

/// The calls of one plugin on one hook during one operation, counted in memory.
pub(crate) struct CallLog {
    plugin: String,
    version: String,
    hash: String,
    hook: &'static str,
    config: BTreeMap<String, String>,
    grants: BTreeSet<Capability>,
    calls: u64,
    failures: u64,
    by_kind: BTreeMap<&'static str, u64>,
    denied: u64,
    fuel: u64,
    durations: Histogram,
    last_error: Option<(i64, String)>,
    pending: Vec<PendingFailure>,
    /// Whether a call succeeded in this operation (which resets the breaker's count).
    succeeded: bool,
    /// Failures in a row since the last success (or the operation's start).
    trailing: u32,
    /// The breaker's count when the operation started, and its threshold.
    consecutive_at_start: u32,
    threshold: u32,
}

impl CallLog {
    pub(crate) fn new(active: &Active, hook: &'static str) -> CallLog {
        CallLog::of_enablement(&active.enablement, hook)
    }

    /// The log of a plugin that may not have loaded.
    pub(crate) fn of_enablement(e: &Enablement, hook: &'static str) -> CallLog {
        CallLog {
            plugin: e.plugin.clone(),
            version: e.version.clone(),
            hash: e.hash.clone(),
            hook,
            config: e.config.clone(),
            grants: e.grants.clone(),
            calls: 0,
            failures: 0,
            by_kind: BTreeMap::new(),
            denied: 0,
            fuel: 0,
            durations: Histogram::default(),
            last_error: None,
            pending: Vec::new(),
            succeeded: false,
            trailing: 0,
            consecutive_at_start: e.consecutive_failures,
            threshold: e.breaker_threshold,
        }
    }

    fn count(&mut self, stats: &CallStats) {
        self.calls += 1;
        self.fuel += stats.fuel_used.unwrap_or(0);
        self.durations
            .add(u64::try_from(stats.wall_time.as_micros()).unwrap_or(u64::MAX));
        if stats.denied.is_some() {
            self.denied += 1;
        }
    }

    /// Records a call that succeeded.
    pub(crate) fn success(&mut self, stats: &CallStats) {
        self.count(stats);
        self.succeeded = true;
        self.trailing = 0;
    }

    /// Records a call that failed; `input` makes its input (only called for the failures kept).
    pub(crate) fn failure(
        &mut self,
        stats: &CallStats,
        error: &PluginError,
        clock: &dyn Clock,
        input: impl FnOnce() -> serde_json::Value,
    ) {
        self.count(stats);
        self.failures += 1;
        *self.by_kind.entry(error.code()).or_default() += 1;
        self.trailing = self.trailing.saturating_add(1);
        let at = unix_seconds(clock.now());
        let message = error.to_string();
        if self.pending.len() == KEPT_FAILURES {
            self.pending.remove(0);
        }
        self.pending.push(PendingFailure {
            at,
            code: error.code(),
            message: message.clone(),
            input: input(),
        });
        self.last_error = Some((at, message));
    }

    /// Empties the counts once written, so a second write of the same log adds nothing.
    fn mark_written(&mut self) {
        if !self.succeeded {
            self.trailing = self.consecutive_at_start.saturating_add(self.trailing);
        }
        self.consecutive_at_start = self.trailing;
        self.trailing = 0;
        self.succeeded = false;
        self.calls = 0;
        self.failures = 0;
        self.by_kind.clear();
        self.denied = 0;
        self.fuel = 0;
        self.durations = Histogram::default();
        self.last_error = None;
        self.pending.clear();
    }

    /// Whether the breaker's count has reached its threshold: the plugin is not called again
    /// in this operation, and is disabled when the operation's log is written.
    pub(crate) fn tripped(&self) -> bool {
        let count = if self.succeeded {
            self.trailing
        } else {
            self.consecutive_at_start.saturating_add(self.trailing)
        };
        self.trailing > 0 && count >= self.threshold
    }
}

/// Where run logs are written: the store, the clock, the tenant.
#[derive(Clone)]
pub(crate) struct RunLogSink {
    pub(crate) store: Arc<Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tenant: TenantId,
}

impl RunLogSink {
    pub(crate) fn for_tenant(tenant: &Tenant<'_>) -> RunLogSink {
        RunLogSink {
            store: tenant.host.shared_store(),
            clock: tenant.host.shared_clock(),
            tenant: tenant.id.clone(),
        }
    }

    /// Writes the logs of an operation, in one transaction, and feeds the breaker.
    pub(crate) fn write<'a>(&self, logs: impl IntoIterator<Item = &'a mut CallLog>) -> Result<()> {
        let logs: Vec<&mut CallLog> = logs.into_iter().filter(|log| log.calls > 0).collect();
        if logs.is_empty() {
            return Ok(());
        }
        let now = unix_seconds(self.clock.now());
        self.store.write(|tx| {
            let op = Op {
                conn: tx,
                tenant: &self.tenant,
                now,
                actor: "system",
                principal: crate::access::Principal::system(),
            };
            for log in logs {
                write_log(&op, log)?;
                let feed = BreakerFeed {
                    plugin: &log.plugin,
                    hash: &log.hash,
                    reset: log.succeeded,
                    failures: log.trailing,
                    last_error: log.last_error.as_ref().map(|(_, m)| m.as_str()),
                };
                feed_breaker(&op, feed)?;
                log.mark_written();
            }
            Ok(())
        })
    }

    /// Writes the logs, reporting a failure to write in the host's log only: losing statistics
    /// must not fail the operation they describe.
    pub(crate) fn write_or_warn<'a>(&self, logs: impl IntoIterator<Item = &'a mut CallLog>) {
        if let Err(error) = self.write(logs) {
            tracing::warn!(tenant = %self.tenant, "cannot write the plugin run log: {error}");
        }
    }
}

fn write_log(op: &Op<'_>, log: &CallLog) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    let existing: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT failures_by_kind, durations FROM plugin_run_stats
             WHERE tenant_id = ?1 AND plugin = ?2 AND hook = ?3",
        )
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), log.plugin, log.hook], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })?;
    let (mut kinds, mut durations) = match existing {
        Some((kinds, durations)) => (
            serde_json::from_str::<BTreeMap<String, u64>>(&kinds).unwrap_or_default(),
            Histogram::parse(&durations),
        ),
        None => (BTreeMap::new(), Histogram::default()),
    };
    for (kind, count) in &log.by_kind {
        *kinds.entry((*kind).to_owned()).or_default() += count;
    }
    durations.merge(&log.durations);
    let (last_at, last_error) = match &log.last_error {
        Some((at, message)) => (Some(*at), Some(message.as_str())),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO plugin_run_stats (tenant_id, plugin, hook, calls, failures,
             failures_by_kind, denied, fuel, durations, last_error, last_error_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (tenant_id, plugin, hook) DO UPDATE SET
             calls = calls + excluded.calls, failures = failures + excluded.failures,
             failures_by_kind = excluded.failures_by_kind, denied = denied + excluded.denied,
             fuel = fuel + excluded.fuel, durations = excluded.durations,
             last_error = coalesce(excluded.last_error, last_error),
             last_error_at = coalesce(excluded.last_error_at, last_error_at)",
    )
    .and_then(|mut q| {
        q.execute(params![
            tenant.as_str(),
            log.plugin,
            log.hook,
            log.calls as i64,
            log.failures as i64,
            serde_json::to_string(&kinds).expect("counts serialize"),
            log.denied as i64,
            i64::try_from(log.fuel).unwrap_or(i64::MAX),
            durations.to_json(),
            last_error,
            last_at,
        ])
    })?;
    for failure in &log.pending {
        conn.prepare_cached(
            "INSERT INTO plugin_failures (tenant_id, plugin, version, hash, hook, at, code,
                 message, input, config, grants)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .and_then(|mut q| {
            q.execute(params![
                tenant.as_str(),
                log.plugin,
                log.version,
                log.hash,
                log.hook,
                failure.at,
                failure.code,
                failure.message,
                failure.input.to_string(),
                serde_json::to_string(&log.config).expect("config serializes"),
                serde_json::to_string(&log.grants).expect("grants serialize"),
            ])
        })?;
    }
    if !log.pending.is_empty() {
        conn.prepare_cached(
            "DELETE FROM plugin_failures WHERE tenant_id = ?1 AND plugin = ?2 AND id NOT IN
                 (SELECT id FROM plugin_failures WHERE tenant_id = ?1 AND plugin = ?2
                  ORDER BY id DESC LIMIT ?3)",
        )
        .and_then(|mut q| q.execute(params![tenant.as_str(), log.plugin, KEPT_FAILURES as i64]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_within_a_bucket_of_the_truth() {
        let mut histogram = Histogram::default();
        for micros in 1..=1000 {
            histogram.add(micros);
        }
        let p50 = histogram.percentile(0.50) as f64;
        let p99 = histogram.percentile(0.99) as f64;
        assert!((p50 - 500.0).abs() / 500.0 < 0.2, "p50 {p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.2, "p99 {p99}");
        let back = Histogram::parse(&histogram.to_json());
        assert_eq!(back.percentile(0.5), histogram.percentile(0.5));
        assert_eq!(Histogram::default().percentile(0.99), 0);
    }
}
