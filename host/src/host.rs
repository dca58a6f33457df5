//! The library's front door: a [`Host`] owns the database, the plugin runtime and the clock, and
//! hands out [`Tenant`] handles through which every tenant-scoped operation goes.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::access::{self, Permission, Principal};
use crate::audit::{self, AuditEntry, Change};
use crate::clock::{Clock, SystemClock};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::pending;
use crate::names::named_enum;
use crate::plugins::{Limits, LoadedPlugins, PluginRuntime, RuntimeConfig};
use crate::store::{Store, TenantId, unix_seconds};

/// The longest tenant id, in characters (letters, digits, `-` and `_`).
pub const MAX_TENANT_ID: usize = 64;

/// How a [`Host`] is set up.
#[derive(Clone)]
pub struct HostConfig {
    runtime: RuntimeConfig,
    clock: Arc<dyn Clock>,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            runtime: RuntimeConfig::default(),
            clock: Arc::new(SystemClock),
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
    /// returned; see [`Tenant::run_pending_hooks`].
    pub fn open(path: impl AsRef<Path>, config: HostConfig) -> Result<Host> {
        let host = Host::start(Store::open(path.as_ref())?, config)?;
        for tenant in pending::tenants_owing(&host.store, host.now())? {
            // Each tenant handle runs its tenant's owed hooks.
            host.tenant(&tenant)?;
        }
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

    /// A handle on one tenant, through which all of its data is reached. Fails if there is no
    /// such tenant. Hooks the tenant's committed changes still owe run first.
    pub fn tenant(&self, id: &str) -> Result<Tenant<'_>> {
        let info = self
            .store
            .with(|conn| {
                conn.query_row(
                    "SELECT id, name, level FROM tenants WHERE id = ?1",
                    [id],
                    tenant_row,
                )
                .optional()
                .map_err(Error::from)
            })?
            .ok_or_else(|| Error::new(ErrorKind::UnknownTenant(id.to_owned())))?;
        let operator = Principal::operator();
        let tenant = Tenant {
            host: self,
            id: TenantId::new(info.id.clone()),
            info,
            actor: operator.name().to_owned(),
            acting: Acting::Checked(operator),
        };
        // Hooks the tenant's committed changes still owe run before its next operation.
        tenant.resume_pending_hooks();
        Ok(tenant)
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

/// A handle on one tenant: every tenant-scoped operation is a method of it, so none can forget
/// which tenant it works for. Cheap to make; get one from [`Host::tenant`], which acts as the
/// platform operator, and act as one of the tenant's users with [`Tenant::as_user`].
#[derive(Clone)]
pub struct Tenant<'h> {
    pub(crate) host: &'h Host,
    pub(crate) id: TenantId,
    info: TenantInfo,
    /// The acting principal's name, as the audit log records it.
    pub(crate) actor: String,
    acting: Acting,
}

/// Who a tenant handle acts as.
#[derive(Clone)]
enum Acting {
    /// A principal resolved when the handle was made.
    Checked(Arc<Principal>),
    /// A user named by [`Tenant::acting_as`], resolved by each operation: an operation fails
    /// if the tenant has no such user.
    Named(String),
}

impl fmt::Debug for Tenant<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("id", &self.id)
            .field("actor", &self.actor)
            .finish()
    }
}

impl<'h> Tenant<'h> {
    /// The tenant's id.
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The tenant's record.
    pub fn info(&self) -> &TenantInfo {
        &self.info
    }

    /// The same tenant, acting as its user `email`, with that user's rights (its licence, its
    /// bundles and, for a partner user, only what its partner manages). Fails with
    /// [`ErrorKind::UnknownActor`] if the tenant has no such user.
    pub fn as_user(mut self, email: &str) -> Result<Tenant<'h>> {
        let now = self.host.now();
        let principal = self
            .store()
            .with(|conn| access::resolve_in(conn, &self.id, now, email))?;
        self.actor = principal.name().to_owned();
        self.acting = Acting::Checked(principal);
        Ok(self)
    }

    /// The same tenant, acting as its user `actor` (an email), like [`Tenant::as_user`] but
    /// checked by each operation instead: every operation of the handle fails with
    /// [`ErrorKind::UnknownActor`] if the tenant has no such user.
    pub fn acting_as(mut self, actor: impl Into<String>) -> Tenant<'h> {
        let actor = actor.into();
        self.actor = actor.trim().to_owned();
        self.acting = Acting::Named(actor);
        self
    }

    /// The same tenant, acting as the system (hooks, resumers, the outbox).
    pub(crate) fn as_system(&self) -> Tenant<'h> {
        let mut this = self.clone();
        this.actor = Principal::system().name().to_owned();
        this.acting = Acting::Checked(Arc::new(Principal::system().clone()));
        this
    }

    /// The acting principal, for what outlives one operation (a plugin's company look-ups); a
    /// principal that cannot be resolved (an unknown user) sees nothing.
    pub(crate) fn principal_or_nobody(&self) -> Arc<Principal> {
        let now = self.host.now();
        self.store()
            .with(|conn| self.principal_on(conn, now))
            .unwrap_or_else(|_| Arc::new(Principal::nobody()))
    }

    /// Fails with [`ErrorKind::PermissionDenied`] unless the acting principal may do
    /// `permission` (for operations that check before their transaction starts).
    pub(crate) fn require(&self, permission: Permission) -> Result<()> {
        self.read(|op| op.require(permission))
    }

    /// The tenant's audit log, oldest entry first, with the platform-level entries (plugin
    /// installs) among them. Needs `logs.read`.
    pub fn audit_log(&self) -> Result<Vec<AuditEntry>> {
        self.read(|op| {
            op.require(Permission::ReadLogs)?;
            audit::list(op)
        })
    }

    pub(crate) fn store(&self) -> &'h Store {
        self.host.store()
    }

    /// The acting principal, resolved on `conn` if the handle names a user to check.
    fn principal_on(&self, conn: &rusqlite::Connection, now: i64) -> Result<Arc<Principal>> {
        match &self.acting {
            Acting::Checked(principal) => Ok(principal.clone()),
            Acting::Named(email) => access::resolve_in(conn, &self.id, now, email),
        }
    }

    /// Runs a reading operation of this tenant on a connection of the pool, as the acting
    /// principal.
    pub(crate) fn read<T>(&self, work: impl FnOnce(&Op<'_>) -> Result<T>) -> Result<T> {
        let now = self.host.now();
        self.store().with(|conn| {
            let principal = self.principal_on(conn, now)?;
            work(&Op {
                conn,
                tenant: &self.id,
                now,
                actor: principal.name(),
                principal: &principal,
            })
        })
    }

    /// Runs a writing operation of this tenant in one immediate transaction, as the acting
    /// principal: it commits whole when `work` succeeds and not at all when it fails.
    pub(crate) fn write<T>(&self, work: impl FnOnce(&Op<'_>) -> Result<T>) -> Result<T> {
        let now = self.host.now();
        self.store().write(|tx| {
            let principal = self.principal_on(tx, now)?;
            work(&Op {
                conn: tx,
                tenant: &self.id,
                now,
                actor: principal.name(),
                principal: &principal,
            })
        })
    }
}

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
        let log = host.tenant("acme").unwrap().audit_log().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].action, "tenant.create");
    }
}
