//! The library's front door: a [`Host`] owns the database, the plugin runtime and the clock, and
//! hands out [`Tenant`] handles through which every tenant-scoped operation goes.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Change};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::pending;
use crate::names::named_enum;
use crate::plugins::{Limits, LoadedPlugins, PluginRuntime, RuntimeConfig};
use crate::store::{Store, TenantId, unix_seconds};
use crate::tenant::Tenant;

/// The longest tenant id, in characters (letters, digits, `-` and `_`).
pub const MAX_TENANT_ID: usize = 64;

/// How a [`Host`] is set up.
#[derive(Clone)]
pub struct HostConfig {
    runtime: RuntimeConfig,
    clock: Arc<dyn Clock>,
    resume_on_handles: bool,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            runtime: RuntimeConfig::default(),
            clock: Arc::new(SystemClock),
            resume_on_handles: true,
        }
    }
}

impl HostConfig {
    /// The plugin runtime's configuration.
    ///
    /// By default, [`RuntimeConfig::default`].
    pub fn runtime(mut self, runtime: RuntimeConfig) -> HostConfig {
        self.runtime = runtime;
        self
    }

    /// The clock the host reads the time from.
    ///
    /// By default, the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> HostConfig {
        self.clock = clock;
        self
    }

    /// Whether each tenant handle ([`Host::tenant`]) first runs the hooks its tenant's committed
    /// changes still owe: on (the default), a hook cut short by a crash runs before the tenant's
    /// next operation, at the price of two indexed reads on every handle.
    ///
    /// A process that runs [`Host::resume_owed_hooks`] on a schedule of its own (as `cshost
    /// serve`'s resumer does) turns it off, so that a request does not pay those reads: owed
    /// hooks then wait for the next scheduled run. [`Host::open`] runs them either way. It is
    /// part of the configuration, not a switch on an open host, so every handle of a host
    /// shared between threads behaves alike from the start.
    pub fn resume_on_handles(mut self, on: bool) -> HostConfig {
        self.resume_on_handles = on;
        self
    }
}

/// The cs-host library: the CS data model in one SQLite database, and the plugins that extend it.
///
/// Open one per database and share it (it is `Sync`); every tenant-scoped operation starts from
/// [`Host::tenant`].
pub struct Host {
    store: Arc<Store>,
    runtime_config: RuntimeConfig,
    /// Started on first use: most operations run no plugin, and building the engine (its
    /// instance pool and ticker thread) costs milliseconds.
    runtime: OnceLock<PluginRuntime>,
    clock: Arc<dyn Clock>,
    /// Loaded plugins by content hash, so hooks never compile a plugin twice.
    plugins: LoadedPlugins,
    /// Whether each tenant handle first runs the hooks its tenant owes (see
    /// [`HostConfig::resume_on_handles`]).
    resume_on_handles: bool,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("database", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Opens the database file (creating it if needed, and bringing its schema up to date). The
    /// plugin runtime starts when a plugin is first needed.
    ///
    /// Hooks that committed changes still owe (cut short by a crash) run here, before the host is
    /// returned; see [`Hooks::run_pending`](crate::Hooks::run_pending).
    pub fn open(path: impl AsRef<Path>, config: HostConfig) -> Result<Host> {
        let host = Host::start(Store::open(path.as_ref())?, config)?;
        host.resume_owed_hooks()?;
        Ok(host)
    }

    /// A host on a fresh in-memory database, gone when the host is dropped.
    pub fn open_in_memory(config: HostConfig) -> Result<Host> {
        Host::start(Store::open_in_memory()?, config)
    }

    fn start(store: Store, config: HostConfig) -> Result<Host> {
        Ok(Host {
            store: Arc::new(store),
            runtime_config: config.runtime,
            runtime: OnceLock::new(),
            clock: config.clock,
            plugins: LoadedPlugins::default(),
            resume_on_handles: config.resume_on_handles,
        })
    }

    /// The plugin runtime, started on first use. Fails if the WebAssembly engine cannot be set
    /// up.
    pub fn runtime(&self) -> Result<&PluginRuntime> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = PluginRuntime::new(self.runtime_config.clone())?;
        // Two threads may race here; the loser's runtime is dropped, which stops its ticker.
        Ok(self.runtime.get_or_init(|| runtime))
    }

    /// The platform maxima of plugin limits, known without starting the runtime.
    pub(crate) fn max_limits(&self) -> &Limits {
        self.runtime_config.max_limits_value()
    }

    /// Creates a tenant. Its id (such as `acme`) is how every later call names it.
    pub fn create_tenant(&self, id: &str, name: &str, level: TenantLevel) -> Result<TenantInfo> {
        let id = id.trim();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "tenant id `{id}`: use letters, digits, `-` and `_`"
            ))));
        }
        // The id names the tenant's directory in a file mailbox, among other things.
        if id.len() > MAX_TENANT_ID {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "tenant id `{}…` is {} characters long; at most {MAX_TENANT_ID}",
                &id[..16],
                id.len()
            ))));
        }
        let tenant = TenantInfo {
            id: id.to_owned(),
            name: name.trim().to_owned(),
            level,
        };
        let now = self.now();
        self.store.write(|tx| {
            let exists: bool = tx
                .query_row("SELECT 1 FROM tenants WHERE id = ?1", [id], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if exists {
                return Err(Error::new(ErrorKind::TenantExists(id.to_owned())));
            }
            tx.execute(
                "INSERT INTO tenants (id, name, level, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, tenant.name, level.as_str(), now],
            )?;
            let tenant_id = TenantId::new(id);
            audit::record(
                tx,
                now,
                Change {
                    tenant: Some(&tenant_id),
                    actor: "system",
                    action: "tenant.create",
                    subject: &format!("tenant:{id}"),
                    before: None,
                    after: serde_json::to_value(&tenant).ok(),
                },
            )
        })?;
        Ok(tenant)
    }

    /// All tenants, by id.
    pub fn tenants(&self) -> Result<Vec<TenantInfo>> {
        self.store.with(|conn| {
            let mut query = conn.prepare("SELECT id, name, level FROM tenants ORDER BY id")?;
            query
                .query_map([], tenant_row)
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })
    }

    /// Runs the hooks every tenant's committed changes still owe, as opening a host does: each
    /// tenant's as its system, oldest first, leaving a share younger than five minutes to the
    /// process sharing it (see [`Hooks::run_pending`](crate::Hooks::run_pending)). A hook's
    /// failure is noted on the hook, not returned; the error is a failure to find what is owed.
    pub fn resume_owed_hooks(&self) -> Result<()> {
        for tenant in pending::tenants_owing(&self.store, self.now())? {
            self.handle(&tenant)?.hooks().resume_pending();
        }
        Ok(())
    }

    /// A handle on one tenant, through which all of its data is reached. Fails if there is no
    /// such tenant. Hooks the tenant's committed changes still owe run first, unless
    /// [`HostConfig::resume_on_handles`] turned that off.
    pub fn tenant(&self, id: &str) -> Result<Tenant<'_>> {
        let tenant = self.handle(id)?;
        if self.resume_on_handles {
            // Hooks the tenant's committed changes still owe run before its next operation.
            tenant.hooks().resume_pending();
        }
        Ok(tenant)
    }

    /// A handle on tenant `id`, without running what it owes.
    fn handle(&self, id: &str) -> Result<Tenant<'_>> {
        let info = self
            .store
            .with(|conn| {
                // Every tenant handle reads it: prepared once per connection.
                conn.prepare_cached("SELECT id, name, level FROM tenants WHERE id = ?1")?
                    .query_row([id], tenant_row)
                    .optional()
                    .map_err(Error::from)
            })?
            .ok_or_else(|| Error::new(ErrorKind::UnknownTenant(id.to_owned())))?;
        Ok(Tenant::new(self, info))
    }

    /// A 32-byte key for `purpose`, derived from the database's secret key (`<database>.key`,
    /// which also seals links and one-time codes): the same in every process on the database
    /// and after a restart, and unknown to whoever has only the database file. `cshost serve`
    /// keys its forms' CSRF tokens with it, so a form opened before a restart still submits.
    pub fn derived_key(&self, purpose: &str) -> Result<[u8; 32]> {
        Ok(self.store.key()?.mac("derived key", &[purpose.as_bytes()]))
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The current time, in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        unix_seconds(self.clock.now())
    }

    /// The store, for what outlives a borrow of the host (plugins' company look-ups).
    pub(crate) fn shared_store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The clock, for what outlives a borrow of the host (an import's run log).
    pub(crate) fn shared_clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The plugins loaded so far, by content hash.
    pub(crate) fn loaded_plugins(&self) -> &LoadedPlugins {
        &self.plugins
    }
}

fn tenant_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TenantInfo> {
    let level: String = row.get(2)?;
    Ok(TenantInfo {
        id: row.get(0)?,
        name: row.get(1)?,
        level: level.parse().map_err(|e: Error| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
    })
}

/// A tenant of the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct TenantInfo {
    /// Its id, such as `acme`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Whether it manages customers as companies, relationships, or both.
    pub level: TenantLevel,
}

/// The level at which a tenant manages its customers; it decides which partner access scopes
/// can be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TenantLevel {
    /// Companies only.
    Company,
    /// Relationships only.
    Relationship,
    /// Both companies and relationships.
    Both,
}

named_enum!(TenantLevel, "tenant level", {
    Company => "company",
    Relationship => "relationship",
    Both => "both",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_created_once_and_found_by_id() {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme Corp", TenantLevel::Both)
            .unwrap();
        let again = host.create_tenant("acme", "Acme again", TenantLevel::Company);
        assert!(matches!(
            again.unwrap_err().kind(),
            ErrorKind::TenantExists(id) if id == "acme"
        ));
        assert_eq!(host.tenant("acme").unwrap().info().name, "Acme Corp");
        let missing = host.tenant("globex").unwrap_err();
        assert!(missing.to_string().contains("globex"), "{missing}");
        let bad = host.create_tenant("a b", "Spaces", TenantLevel::Both);
        assert!(bad.unwrap_err().to_string().contains("a b"));
        let log = host.tenant("acme").unwrap().audit().list().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].action, "tenant.create");
    }
}
