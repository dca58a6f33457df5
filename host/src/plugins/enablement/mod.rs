//! Each tenant's enablement of installed plugins: which version, its configuration, priority,
//! limits, failure policy and capability grants, and the circuit breaker's state.
//!
//! Every change is one transaction with its audit record, and takes effect for the next
//! operation: a hook reads the enablements once when the operation starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

mod handle;

use super::registry::{compare_versions, manifest_of, versions_of};
use super::{Capability, ExtensionPoint, Limits, Manifest, Plugin, PluginContext};
use crate::access::Permission;
use crate::audit::{self, Change};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::store::TenantId;
use crate::tenant::Tenant;

pub use handle::Plugins;

/// The circuit breaker's threshold when the admin sets none: consecutive failures before the
/// host disables a plugin for the tenant.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;

/// What happens to an operation when one of its plugins fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// The operation fails with the plugin's error: the import row fails, the share's
    /// notifications are held, the partner is not created, the criteria selection fails.
    #[default]
    FailClosed,
    /// The plugin is skipped for that event, as if it were not enabled, and the failure is
    /// recorded in the run log. A criteria filter that fails open matches no company.
    FailOpen,
}

impl FailurePolicy {
    /// `fail-open` or `fail-closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::FailClosed => "fail-closed",
            FailurePolicy::FailOpen => "fail-open",
        }
    }
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailurePolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<FailurePolicy> {
        match s {
            "fail-open" | "open" => Ok(FailurePolicy::FailOpen),
            "fail-closed" | "closed" => Ok(FailurePolicy::FailClosed),
            other => Err(Error::new(ErrorKind::Invalid(format!(
                "failure policy `{other}`: expected fail-open or fail-closed"
            )))),
        }
    }
}

/// A tenant's enablement of a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Enablement {
    /// The plugin's name.
    pub plugin: String,
    /// The version the tenant runs.
    pub version: String,
    /// The content hash of that version.
    pub hash: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Whether the tenant moves to each newer version when it is installed.
    pub follow_latest: bool,
    /// The configuration, by key.
    pub config: BTreeMap<String, String>,
    /// Its place among the tenant's plugins on the same hook: lower runs first (ties by name).
    pub priority: i32,
    /// The limits of each call (within the platform maxima).
    pub limits: Limits,
    /// What a failure does to the operation.
    pub failure_policy: FailurePolicy,
    /// The capabilities the admin granted (always among those the plugin requests).
    pub grants: BTreeSet<Capability>,
    /// The addresses and domains the admin allows its notifications to reach besides the
    /// egress policy's defaults (the event's own addresses and the tenant's users).
    #[serde(default)]
    pub egress: BTreeSet<String>,
    /// Consecutive failures after which the host disables the plugin for the tenant.
    pub breaker_threshold: u32,
    /// Failures in a row so far.
    pub consecutive_failures: u32,
    /// Why the host disabled it, if it did.
    pub disabled_reason: Option<String>,
    /// Who is told when the host disables it.
    pub admin: Option<String>,
    /// When it last changed, in Unix seconds.
    pub updated_at: i64,
}

/// How to enable a plugin: [`Plugins::enable`] with these.
///
/// Settings left unset keep their current value when the plugin was enabled before (so
/// disabling and enabling again keeps the configuration), or take the default given by each
/// setter.
#[derive(Debug, Clone, Default)]
pub struct EnableOptions {
    version: Option<String>,
    config: Option<BTreeMap<String, String>>,
    priority: Option<i32>,
    limits: Option<Limits>,
    policy: Option<FailurePolicy>,
    grants: Option<BTreeSet<Capability>>,
    follow_latest: Option<bool>,
    breaker_threshold: Option<u32>,
    admin: Option<String>,
}

impl EnableOptions {
    /// Options that keep everything as it is, or take the defaults.
    pub fn new() -> EnableOptions {
        EnableOptions::default()
    }

    /// The version to run.
    ///
    /// By default, the version enabled before, or the newest installed.
    pub fn version(mut self, version: impl Into<String>) -> EnableOptions {
        self.version = Some(version.into());
        self
    }

    /// Sets one configuration value (added to those set before with this method).
    ///
    /// By default, the configuration enabled before, or none (the plugin's defaults apply).
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> EnableOptions {
        self.config
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Sets the whole configuration.
    pub fn config_map(mut self, config: BTreeMap<String, String>) -> EnableOptions {
        self.config = Some(config);
        self
    }

    /// The plugin's place among the tenant's plugins on the same hook: lower runs first.
    ///
    /// By default, 0 (plugins of equal priority run by name).
    pub fn priority(mut self, priority: i32) -> EnableOptions {
        self.priority = Some(priority);
        self
    }

    /// The limits of each call; they must lie within the platform maxima.
    ///
    /// By default, [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> EnableOptions {
        self.limits = Some(limits);
        self
    }

    /// What a failure does to the operation.
    ///
    /// By default, [`FailurePolicy::FailClosed`].
    pub fn failure_policy(mut self, policy: FailurePolicy) -> EnableOptions {
        self.policy = Some(policy);
        self
    }

    /// Grants a capability, which the plugin must request (added to those granted before with
    /// this method).
    ///
    /// By default, the grants made before, or none.
    pub fn grant(mut self, capability: Capability) -> EnableOptions {
        self.grants
            .get_or_insert_with(BTreeSet::new)
            .insert(capability);
        self
    }

    /// Whether the tenant moves to each newer version when it is installed (when its
    /// configuration fits the new version).
    ///
    /// By default, false: the tenant moves only when its admin says so.
    pub fn follow_latest(mut self, follow: bool) -> EnableOptions {
        self.follow_latest = Some(follow);
        self
    }

    /// Consecutive failures after which the host disables the plugin for the tenant.
    ///
    /// By default, [`DEFAULT_BREAKER_THRESHOLD`] (5).
    pub fn breaker_threshold(mut self, failures: u32) -> EnableOptions {
        self.breaker_threshold = Some(failures.max(1));
        self
    }

    /// Who is told (an email address) when the host disables the plugin.
    ///
    /// By default, the admin who enabled it, when that is an email address.
    pub fn admin(mut self, email: impl Into<String>) -> EnableOptions {
        self.admin = Some(email.into());
        self
    }
}

/// How an enabled plugin runs, changed without enabling or disabling it
/// ([`Plugins::tune`]): what is left `None` keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// The limits of each call and operation, checked against the platform maxima.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// What a failure does to the operation.
    #[serde(default)]
    pub policy: Option<FailurePolicy>,
    /// Order among the tenant's plugins on the same hook: lower runs first.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Consecutive failures after which the host disables the plugin (at least 1).
    #[serde(default)]
    pub breaker_threshold: Option<u32>,
}

/// A plugin installed on the platform as a tenant's admin sees it ([`Plugins::available`]): the
/// newest version's manifest, and the tenant's enablement of it, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct AvailablePlugin {
    /// The newest installed version's manifest.
    pub manifest: Manifest,
    /// When that version was installed, in Unix seconds.
    pub installed_at: i64,
    /// Every installed version, newest first.
    pub versions: Vec<String>,
    /// Whether the plugin runs for this tenant.
    pub enabled: bool,
    /// The tenant's enablement (enabled or not), if it ever enabled the plugin.
    pub enablement: Option<Enablement>,
}

/// Records a change of the tenant's enablement of plugin `name` in the audit log, in the
/// operation's transaction.
fn audit_plugin(
    op: &Op<'_>,
    action: &str,
    name: &str,
    before: Option<&Enablement>,
    after: Option<&Enablement>,
) -> Result<()> {
    op.audit(
        action,
        &format!("plugin:{name}"),
        before.and_then(|e| serde_json::to_value(e).ok()),
        after.and_then(|e| serde_json::to_value(e).ok()),
    )
}

/// An enabled plugin, ready to run for one operation.
pub(crate) struct Active {
    pub(crate) enablement: Enablement,
    pub(crate) plugin: Plugin,
    pub(crate) context: PluginContext,
}

/// An egress allow-list entry, normalised: an email address, or a domain such as
/// `partner.example`.
fn egress_target(target: &str) -> Result<String> {
    if let Some(address) = crate::outbox::normalize_address(target) {
        return Ok(address);
    }
    // A domain is what follows the `@` of an address.
    match crate::outbox::normalize_address(&format!("x@{}", target.trim())) {
        Some(address) => Ok(address["x@".len()..].to_owned()),
        None => Err(Error::new(ErrorKind::Invalid(format!(
            "`{}` is neither an email address nor a domain",
            crate::inert::inert(target)
        )))),
    }
}

/// Refuses configuration keys the plugin does not declare, and missing required keys.
fn check_config(manifest: &Manifest, config: &BTreeMap<String, String>) -> Result<()> {
    manifest.check_config(config)
}

/// Refuses grants of capabilities the plugin does not request.
fn check_grants(manifest: &Manifest, grants: &BTreeSet<Capability>) -> Result<()> {
    match grants.iter().find(|c| !manifest.capabilities.contains(c)) {
        Some(capability) => Err(Error::new(ErrorKind::Invalid(format!(
            "plugin `{}` does not request the `{capability}` capability, so it cannot be granted",
            manifest.name
        )))),
        None => Ok(()),
    }
}

/// The hash of a plugin's version, or of its newest version.
fn hash_of(conn: &Connection, name: &str, version: Option<&str>) -> Result<String> {
    let versions = versions_of(conn, name)?;
    let found = match version {
        Some(version) => versions.into_iter().find(|(v, _)| v == version),
        None => versions
            .into_iter()
            .max_by(|(a, _), (b, _)| compare_versions(a, b)),
    };
    found.map(|(_, hash)| hash).ok_or_else(|| {
        Error::new(ErrorKind::UnknownPlugin {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    })
}

const ENABLEMENT_COLUMNS: &str = "e.plugin, p.version, e.hash, e.enabled, e.follow_latest, \
     e.config, e.priority, e.limits, e.failure_policy, e.grants, e.breaker_threshold, \
     e.consecutive_failures, e.disabled_reason, e.admin, e.updated_at, e.egress";

const ENABLEMENT_QUERY_ENABLED: &str = "SELECT e.plugin, p.version, e.hash, e.enabled, \
     e.follow_latest, e.config, e.priority, e.limits, e.failure_policy, e.grants, \
     e.breaker_threshold, e.consecutive_failures, e.disabled_reason, e.admin, e.updated_at, \
     e.egress \
     FROM plugin_enablements e JOIN plugins p ON p.hash = e.hash \
     WHERE e.tenant_id = ?1 AND e.enabled = 1 ORDER BY e.priority, e.plugin";

fn enablement_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Enablement> {
    fn json<T: serde::de::DeserializeOwned>(
        row: &rusqlite::Row<'_>,
        i: usize,
    ) -> rusqlite::Result<T> {
        let text: String = row.get(i)?;
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    }
    let policy: String = row.get(8)?;
    Ok(Enablement {
        plugin: row.get(0)?,
        version: row.get(1)?,
        hash: row.get(2)?,
        enabled: row.get(3)?,
        follow_latest: row.get(4)?,
        config: json(row, 5)?,
        priority: row.get(6)?,
        limits: json(row, 7)?,
        failure_policy: policy.parse().map_err(|e: Error| {
            rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, e.into())
        })?,
        grants: json(row, 9)?,
        breaker_threshold: row.get(10)?,
        consecutive_failures: row.get(11)?,
        disabled_reason: row.get(12)?,
        admin: row.get(13)?,
        updated_at: row.get(14)?,
        egress: json(row, 15)?,
    })
}

/// One tenant's enablement of a plugin, if there is one.
pub(crate) fn enablement(op: &Op<'_>, name: &str) -> Result<Option<Enablement>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(&format!(
        "SELECT {ENABLEMENT_COLUMNS} FROM plugin_enablements e JOIN plugins p ON p.hash = e.hash
         WHERE e.tenant_id = ?1 AND e.plugin = ?2"
    ))
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), name], enablement_row)
            .optional()
    })
    .map_err(Error::from)
}

fn all_of(op: &Op<'_>) -> Result<Vec<Enablement>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(&format!(
        "SELECT {ENABLEMENT_COLUMNS} FROM plugin_enablements e JOIN plugins p ON p.hash = e.hash
         WHERE e.tenant_id = ?1 ORDER BY e.priority, e.plugin"
    ))
    .and_then(|mut q| q.query_map([tenant.as_str()], enablement_row)?.collect())
    .map_err(Error::from)
}

/// Every tenant's enablement of one installed version, with the tenant's id.
pub(crate) fn of_hash(conn: &Connection, hash: &str) -> Result<Vec<(String, Enablement)>> {
    conn.prepare_cached(&format!(
        "SELECT {ENABLEMENT_COLUMNS}, e.tenant_id FROM plugin_enablements e
         JOIN plugins p ON p.hash = e.hash WHERE e.hash = ?1 ORDER BY e.tenant_id"
    ))
    .and_then(|mut q| {
        q.query_map([hash], |row| Ok((row.get(16)?, enablement_row(row)?)))?
            .collect()
    })
    .map_err(Error::from)
}

fn save(op: &Op<'_>, e: &Enablement) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    fn json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("enablement columns serialize")
    }
    conn.prepare_cached(
        "INSERT INTO plugin_enablements (tenant_id, plugin, hash, enabled, follow_latest, config,
             priority, limits, failure_policy, grants, breaker_threshold, consecutive_failures,
             disabled_reason, admin, updated_at, egress)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT (tenant_id, plugin) DO UPDATE SET hash = excluded.hash,
             enabled = excluded.enabled, follow_latest = excluded.follow_latest,
             config = excluded.config, priority = excluded.priority, limits = excluded.limits,
             failure_policy = excluded.failure_policy, grants = excluded.grants,
             breaker_threshold = excluded.breaker_threshold,
             consecutive_failures = excluded.consecutive_failures,
             disabled_reason = excluded.disabled_reason, admin = excluded.admin,
             updated_at = excluded.updated_at, egress = excluded.egress",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            tenant.as_str(),
            e.plugin,
            e.hash,
            e.enabled,
            e.follow_latest,
            json(&e.config),
            e.priority,
            json(&e.limits),
            e.failure_policy.as_str(),
            json(&e.grants),
            e.breaker_threshold,
            e.consecutive_failures,
            e.disabled_reason,
            e.admin,
            e.updated_at,
            json(&e.egress),
        ])
    })?;
    Ok(())
}

/// Moves the tenants that follow the latest version of `manifest`'s plugin to it, in the
/// install's transaction. Returns the tenants moved, and those held back with why.
pub(crate) fn follow_latest(
    conn: &Connection,
    manifest: &Manifest,
    actor: &str,
    now: i64,
) -> Result<(Vec<String>, Vec<Held>)> {
    let followers: Vec<String> = conn
        .prepare_cached(
            "SELECT tenant_id FROM plugin_enablements WHERE plugin = ?1 AND follow_latest = 1
             ORDER BY tenant_id",
        )
        .and_then(|mut q| q.query_map([&manifest.name], |row| row.get(0))?.collect())?;
    let mut moved = Vec::new();
    let mut held = Vec::new();
    for tenant in followers {
        let tenant_id = TenantId::new(tenant.clone());
        let op = Op {
            conn,
            tenant: &tenant_id,
            now,
            actor,
            principal: crate::access::Principal::system(),
        };
        let Some(before) = enablement(&op, &manifest.name)? else {
            continue;
        };
        if compare_versions(&manifest.version, &before.version) != std::cmp::Ordering::Greater {
            continue;
        }
        if let Err(error) = check_config(manifest, &before.config) {
            held.push((tenant, error.to_string()));
            continue;
        }
        let mut after = before.clone();
        after.grants.retain(|c| manifest.capabilities.contains(c));
        after.hash = manifest.hash.clone();
        after.version = manifest.version.clone();
        after.updated_at = now;
        save(&op, &after)?;
        audit::record(
            conn,
            now,
            Change {
                tenant: Some(&tenant_id),
                actor,
                action: "plugin.upgrade",
                subject: &format!("plugin:{}", manifest.name),
                before: serde_json::to_value(&before).ok(),
                after: serde_json::to_value(&after).ok(),
            },
        )?;
        moved.push(tenant);
    }
    Ok((moved, held))
}

/// A tenant following the latest version that could not move, and why.
pub(crate) type Held = (String, String);

/// What an operation tells the circuit breaker about one plugin.
pub(crate) struct BreakerFeed<'a> {
    /// The plugin.
    pub(crate) plugin: &'a str,
    /// The version that ran.
    pub(crate) hash: &'a str,
    /// Whether a call succeeded (which resets the count before `failures`).
    pub(crate) reset: bool,
    /// Failures in a row at the end of the operation.
    pub(crate) failures: u32,
    /// The last error's message.
    pub(crate) last_error: Option<&'a str>,
}

/// Records the outcome of an operation's calls for the breaker, in the caller's transaction:
/// `reset` when a call succeeded after the last failure, then `failures` more in a row. Trips
/// the breaker (disables the plugin, records why, tells the admin through the outbox) when the
/// count reaches the threshold. Returns whether it tripped now.
pub(crate) fn feed_breaker(op: &Op<'_>, feed: BreakerFeed<'_>) -> Result<bool> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    let BreakerFeed {
        plugin,
        hash,
        reset,
        failures,
        last_error,
    } = feed;
    if !reset && failures == 0 {
        return Ok(false);
    }
    // Only the version that ran is counted: an upgrade in the meantime starts afresh.
    conn.prepare_cached(
        "UPDATE plugin_enablements SET consecutive_failures =
             CASE WHEN ?4 THEN ?5 ELSE consecutive_failures + ?5 END
         WHERE tenant_id = ?1 AND plugin = ?2 AND hash = ?3",
    )
    .and_then(|mut q| q.execute(params![tenant.as_str(), plugin, hash, reset, failures]))?;
    let Some(before) = enablement(op, plugin)? else {
        return Ok(false);
    };
    if !before.enabled
        || before.hash != hash
        || before.consecutive_failures < before.breaker_threshold
    {
        return Ok(false);
    }
    let reason = format!(
        "circuit breaker: {} consecutive failures (threshold {}); last: {}",
        before.consecutive_failures,
        before.breaker_threshold,
        last_error.unwrap_or("unknown")
    );
    let mut after = before.clone();
    after.enabled = false;
    after.disabled_reason = Some(reason.clone());
    after.updated_at = now;
    save(op, &after)?;
    audit::record(
        conn,
        now,
        Change {
            tenant: Some(tenant),
            actor: "system",
            action: "plugin.auto-disable",
            subject: &format!("plugin:{plugin}"),
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(&after).ok(),
        },
    )?;
    if let Some(admin) = &after.admin {
        let message = crate::model::Notification {
            channel: crate::model::Channel::Email,
            recipient: admin.clone(),
            subject: format!("Plugin {plugin} was disabled for tenant {tenant}"),
            body: format!(
                "The host disabled plugin {plugin} {} for tenant {tenant}.\n\n{reason}\n\n\
                 Its configuration is kept. Look at `cshost tenant stats {tenant}` for the \
                 failures, and enable it again with `cshost tenant enable {tenant} {plugin}` \
                 once it is fixed.",
                after.version
            ),
        };
        crate::outbox::enqueue(
            op,
            &format!("plugin-disabled:{plugin}:{hash}:{now}"),
            crate::outbox::MessageKind::PluginDisabled,
            &message,
        )?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Host, HostConfig, NewCompany, TenantLevel};

    #[test]
    fn lookup_rejects_other_tenants_ids_and_names() {
        use crate::plugins::CompanyDirectory;
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("a", "A", TenantLevel::Both).unwrap();
        host.create_tenant("b", "B", TenantLevel::Both).unwrap();
        let ours = host
            .tenant("a")
            .unwrap()
            .companies()
            .add(NewCompany::new("Ours"));
        let theirs = host
            .tenant("b")
            .unwrap()
            .companies()
            .add(NewCompany::new("Theirs"));
        let directory = crate::companies::Directory::new(
            host.shared_store(),
            host.shared_clock(),
            TenantId::new("a"),
            crate::access::Principal::operator(),
        );
        let found = directory.company_by_id(&ours.unwrap().to_string()).unwrap();
        assert_eq!(found.unwrap().name, "Ours");
        let theirs = theirs.unwrap().to_string();
        assert_eq!(directory.company_by_id(&theirs).unwrap(), None);
        assert_eq!(directory.company_by_name("Theirs").unwrap(), None);
        assert_eq!(
            directory
                .company_by_id(&format!("{theirs} OR 1=1"))
                .unwrap(),
            None
        );
    }
}
