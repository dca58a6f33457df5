//! The platform's plugin registry: installed components, stored by content hash, with the
//! manifest each one gave at install time.
//!
//! Installing validates the component through the runtime, stores its bytes in the database
//! (so any host process on the database can load it later) and records what it is. Loaded
//! plugins are kept per content hash in the [`Host`], so hooks never compile a plugin twice.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Manifest, Plugin, PluginError, PluginErrorKind};
use crate::audit::{self, Change};
use crate::error::{Error, ErrorKind, Result};
use crate::host::Host;
use crate::store::TenantId;

/// The plugins this host has loaded, by content hash.
#[derive(Default)]
pub(crate) struct LoadedPlugins {
    plugins: Mutex<HashMap<String, Plugin>>,
}

impl LoadedPlugins {
    fn get(&self, hash: &str) -> Option<Plugin> {
        let plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.get(hash).cloned()
    }

    fn put(&self, plugin: Plugin) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.insert(plugin.manifest().hash.clone(), plugin);
    }

    fn forget(&self, hash: &str) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.remove(hash);
    }
}

/// A plugin installed on the platform: one version of one plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct InstalledPlugin {
    /// What the plugin said about itself and what its component shows, at install time.
    pub manifest: Manifest,
    /// When it was installed, in Unix seconds.
    pub installed_at: i64,
    /// Who installed it.
    pub installed_by: String,
    /// Whether it is the newest installed version of its name.
    pub latest: bool,
    /// The tenants that run this version (enabled or not), by id.
    pub tenants: Vec<String>,
}

/// What [`Host::install_plugin`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Installed {
    /// The installed plugin.
    pub plugin: InstalledPlugin,
    /// What happened.
    pub outcome: InstallOutcome,
    /// The tenants that follow the latest version and were moved to this one.
    pub moved: Vec<String>,
    /// The tenants that follow the latest version but could not move to this one, with why
    /// (their configuration does not fit the new version's keys). They stay where they were.
    pub held: Vec<(String, String)>,
}

/// Whether an install added something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum InstallOutcome {
    /// A plugin whose name was not installed.
    Installed,
    /// A new version of an installed plugin, newer than every installed version.
    Upgraded {
        /// The newest version installed before.
        from: String,
    },
    /// Another version of an installed plugin, not newer than the newest one.
    AddedVersion,
    /// These exact bytes were installed already: nothing changed.
    AlreadyInstalled,
}

impl Host {
    /// Installs a plugin component: validates it, stores its bytes by content hash and records
    /// its manifest. `actor` (an email) is recorded in the audit log.
    ///
    /// Installing the same bytes again changes nothing. Installing a new version of an
    /// installed plugin is an upgrade: tenants keep running the version they enabled until their
    /// admin moves them ([`Plugins::upgrade`](crate::Plugins::upgrade)), except
    /// those that follow the latest version, which move now if their configuration fits.
    pub fn install_plugin(&self, bytes: &[u8], actor: &str) -> Result<Installed> {
        let hash = hex::encode(Sha256::digest(bytes));
        if let Some(plugin) = self.installed_by_hash(&hash)? {
            return Ok(Installed {
                plugin,
                outcome: InstallOutcome::AlreadyInstalled,
                moved: Vec::new(),
                held: Vec::new(),
            });
        }
        // Validate and compile outside the transaction: it takes tens of milliseconds.
        let plugin = self.runtime()?.load(bytes)?;
        let manifest = plugin.manifest().clone();
        let now = self.now();
        let (outcome, moved, held) = self.store().write(|tx| {
            let versions = versions_of(tx, &manifest.name)?;
            if let Some((_, other)) = versions.iter().find(|(v, _)| *v == manifest.version) {
                return Err(Error::new(ErrorKind::Invalid(format!(
                    "plugin `{}` {} is installed already with other content (sha256 {other}); \
                     give the new build a new version",
                    manifest.name, manifest.version
                ))));
            }
            let newest = versions
                .iter()
                .map(|(v, _)| v.as_str())
                .max_by(|a, b| compare_versions(a, b));
            let outcome = match newest {
                None => InstallOutcome::Installed,
                Some(from) if compare_versions(&manifest.version, from) == Ordering::Greater => {
                    InstallOutcome::Upgraded {
                        from: from.to_owned(),
                    }
                }
                Some(_) => InstallOutcome::AddedVersion,
            };
            tx.execute(
                "INSERT INTO plugin_blobs (hash, bytes) VALUES (?1, ?2)",
                params![manifest.hash, bytes],
            )?;
            tx.execute(
                "INSERT INTO plugins (hash, name, version, manifest, installed_at, installed_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    manifest.hash,
                    manifest.name,
                    manifest.version,
                    serde_json::to_string(&manifest).expect("a manifest serializes"),
                    now,
                    actor
                ],
            )?;
            let action = match outcome {
                InstallOutcome::Upgraded { .. } => "plugin.upgrade",
                _ => "plugin.install",
            };
            let before = match &outcome {
                InstallOutcome::Upgraded { from } => {
                    Some(serde_json::json!({"name": manifest.name, "version": from}))
                }
                _ => None,
            };
            audit::record(
                tx,
                now,
                Change {
                    tenant: None,
                    actor,
                    action,
                    subject: &format!("plugin:{}", manifest.name),
                    before,
                    after: Some(summary(&manifest)),
                },
            )?;
            let (moved, held) = if matches!(outcome, InstallOutcome::Upgraded { .. }) {
                super::enablement::follow_latest(tx, &manifest, actor, now)?
            } else {
                (Vec::new(), Vec::new())
            };
            Ok((outcome, moved, held))
        })?;
        self.loaded_plugins().put(plugin);
        let plugin = self
            .installed_by_hash(&manifest.hash)?
            .expect("installed just now");
        Ok(Installed {
            plugin,
            outcome,
            moved,
            held,
        })
    }

    /// Every installed plugin, by name and then version (newest first).
    pub fn installed_plugins(&self) -> Result<Vec<InstalledPlugin>> {
        let mut all = self.store().with(|conn| self.query_installed(conn, None))?;
        all.sort_by(|a, b| {
            a.manifest
                .name
                .cmp(&b.manifest.name)
                .then_with(|| compare_versions(&b.manifest.version, &a.manifest.version))
        });
        Ok(all)
    }

    /// One installed plugin by name: the given version, or the newest.
    pub fn installed_plugin(&self, name: &str, version: Option<&str>) -> Result<InstalledPlugin> {
        let versions = self
            .store()
            .with(|conn| self.query_installed(conn, Some(name)))?;
        let found = match version {
            Some(version) => versions.into_iter().find(|p| p.manifest.version == version),
            None => versions.into_iter().find(|p| p.latest),
        };
        found.ok_or_else(|| {
            Error::new(ErrorKind::UnknownPlugin {
                name: name.to_owned(),
                version: version.map(str::to_owned),
            })
        })
    }

    /// Uninstalls a plugin: one version, or every version when `version` is `None`.
    ///
    /// Refused while a tenant has it enabled, unless `force`: then those tenants' enablements
    /// are removed too, each recorded in the audit log. Disabled enablements are removed with
    /// the plugin.
    pub fn uninstall_plugin(
        &self,
        name: &str,
        version: Option<&str>,
        force: bool,
        actor: &str,
    ) -> Result<Vec<InstalledPlugin>> {
        let targets: Vec<InstalledPlugin> = match version {
            Some(_) => vec![self.installed_plugin(name, version)?],
            None => {
                let all = self
                    .store()
                    .with(|conn| self.query_installed(conn, Some(name)))?;
                if all.is_empty() {
                    return Err(Error::new(ErrorKind::UnknownPlugin {
                        name: name.to_owned(),
                        version: None,
                    }));
                }
                all
            }
        };
        let now = self.now();
        self.store().write(|tx| {
            for target in &targets {
                let hash = &target.manifest.hash;
                let enablements = super::enablement::of_hash(tx, hash)?;
                let enabled: Vec<String> = enablements
                    .iter()
                    .filter(|(_, e)| e.enabled)
                    .map(|(tenant, _)| tenant.clone())
                    .collect();
                if !enabled.is_empty() && !force {
                    return Err(Error::new(ErrorKind::PluginInUse {
                        plugin: format!("{} {}", name, target.manifest.version),
                        tenants: enabled,
                    }));
                }
                for (tenant, enablement) in &enablements {
                    tx.execute(
                        "DELETE FROM plugin_enablements WHERE tenant_id = ?1 AND plugin = ?2",
                        params![tenant, name],
                    )?;
                    audit::record(
                        tx,
                        now,
                        Change {
                            tenant: Some(&TenantId::new(tenant.clone())),
                            actor,
                            action: "plugin.remove",
                            subject: &format!("plugin:{name}"),
                            before: serde_json::to_value(enablement).ok(),
                            after: None,
                        },
                    )?;
                }
                tx.execute("DELETE FROM plugins WHERE hash = ?1", [hash])?;
                tx.execute("DELETE FROM plugin_blobs WHERE hash = ?1", [hash])?;
                audit::record(
                    tx,
                    now,
                    Change {
                        tenant: None,
                        actor,
                        action: "plugin.uninstall",
                        subject: &format!("plugin:{name}"),
                        before: Some(summary(&target.manifest)),
                        after: None,
                    },
                )?;
            }
            Ok(())
        })?;
        for target in &targets {
            self.loaded_plugins().forget(&target.manifest.hash);
        }
        Ok(targets)
    }

    /// The loaded plugin with this content hash: from memory, or loaded from the database.
    pub(crate) fn plugin_by_hash(&self, hash: &str) -> Result<Plugin> {
        if let Some(plugin) = self.loaded_plugins().get(hash) {
            return Ok(plugin);
        }
        let bytes: Vec<u8> = self
            .store()
            .with(|conn| {
                conn.prepare_cached("SELECT bytes FROM plugin_blobs WHERE hash = ?1")
                    .and_then(|mut q| q.query_row([hash], |row| row.get(0)).optional())
                    .map_err(Error::from)
            })?
            .ok_or_else(|| {
                Error::new(ErrorKind::Invalid(format!(
                    "no installed plugin has the content hash {hash}"
                )))
            })?;
        let plugin = self.runtime()?.load(&bytes)?;
        // The manifest recorded at install is the one enforced: a component that describes
        // itself differently now (to read more fields, say) is refused.
        let pinned = self.store().with(|conn| manifest_of(conn, hash))?;
        if let Some(change) = pinned.disagreement(plugin.manifest()) {
            return Err(Error::from(PluginError::new(
                &pinned.name,
                PluginErrorKind::ManifestChanged { change },
            )));
        }
        self.loaded_plugins().put(plugin.clone());
        Ok(plugin)
    }

    /// The stored component bytes of an installed plugin, for `cshost plugin run` replays.
    pub fn plugin_component(&self, name: &str, version: Option<&str>) -> Result<Vec<u8>> {
        let installed = self.installed_plugin(name, version)?;
        self.store().with(|conn| {
            conn.query_row(
                "SELECT bytes FROM plugin_blobs WHERE hash = ?1",
                [&installed.manifest.hash],
                |row| row.get(0),
            )
            .map_err(Error::from)
        })
    }

    fn installed_by_hash(&self, hash: &str) -> Result<Option<InstalledPlugin>> {
        let name: Option<String> = self.store().with(|conn| {
            conn.query_row("SELECT name FROM plugins WHERE hash = ?1", [hash], |row| {
                row.get(0)
            })
            .optional()
            .map_err(Error::from)
        })?;
        let Some(name) = name else { return Ok(None) };
        Ok(self
            .store()
            .with(|conn| self.query_installed(conn, Some(&name)))?
            .into_iter()
            .find(|p| p.manifest.hash == hash))
    }

    /// The installed plugins, all or those of one name, with which is the latest of each name.
    fn query_installed(
        &self,
        conn: &Connection,
        name: Option<&str>,
    ) -> Result<Vec<InstalledPlugin>> {
        let mut query = conn.prepare_cached(
            "SELECT p.manifest, p.installed_at, p.installed_by,
                        (SELECT json_group_array(e.tenant_id) FROM plugin_enablements e
                          WHERE e.hash = p.hash)
                 FROM plugins p WHERE ?1 IS NULL OR p.name = ?1",
        )?;
        let rows: Vec<(String, i64, String, String)> = query
            .query_map([name], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .and_then(|rows| rows.collect())?;
        let mut plugins = Vec::with_capacity(rows.len());
        for (manifest, installed_at, installed_by, tenants) in rows {
            let manifest: Manifest = serde_json::from_str(&manifest).map_err(|e| {
                Error::new(ErrorKind::Invalid(format!(
                    "database {}: a stored plugin manifest is unreadable: {e}",
                    self.store().describe()
                )))
            })?;
            let mut tenants: Vec<String> = serde_json::from_str(&tenants).unwrap_or_default();
            tenants.sort();
            plugins.push(InstalledPlugin {
                manifest,
                installed_at,
                installed_by,
                latest: false,
                tenants,
            });
        }
        let mut newest: HashMap<String, String> = HashMap::new();
        for p in &plugins {
            let entry = newest
                .entry(p.manifest.name.clone())
                .or_insert_with(|| p.manifest.version.clone());
            if compare_versions(&p.manifest.version, entry) == Ordering::Greater {
                *entry = p.manifest.version.clone();
            }
        }
        for p in &mut plugins {
            p.latest = newest.get(&p.manifest.name) == Some(&p.manifest.version);
        }
        Ok(plugins)
    }
}

/// The installed versions of a plugin, with their hashes.
pub(crate) fn versions_of(conn: &Connection, name: &str) -> Result<Vec<(String, String)>> {
    conn.prepare_cached("SELECT version, hash FROM plugins WHERE name = ?1")
        .and_then(|mut q| {
            q.query_map([name], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(Error::from)
}

/// The stored manifest of an installed version.
pub(crate) fn manifest_of(conn: &Connection, hash: &str) -> Result<Manifest> {
    let text: String = conn
        .prepare_cached("SELECT manifest FROM plugins WHERE hash = ?1")
        .and_then(|mut q| q.query_row([hash], |row| row.get(0)))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::new(ErrorKind::Invalid(format!(
            "the stored manifest of {hash} is unreadable: {e}"
        )))
    })
}

/// What the audit log keeps of a manifest.
fn summary(manifest: &Manifest) -> serde_json::Value {
    serde_json::json!({
        "name": manifest.name,
        "version": manifest.version,
        "hash": manifest.hash,
        "extension_points": manifest.extension_points,
        "capabilities": manifest.capabilities,
        "config": manifest.config.iter().map(|k| &k.name).collect::<Vec<_>>(),
    })
}

/// Orders semantic versions: by major, minor and patch, and a pre-release below its release.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> (Vec<u64>, Option<&str>) {
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (v, None),
        };
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            pre,
        )
    }
    let (core_a, pre_a) = parts(a);
    let (core_b, pre_b) = parts(b);
    core_a.cmp(&core_b).then_with(|| match (pre_a, pre_b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.cmp(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically_with_prereleases_first() {
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0-beta.1", "1.0.0"), Ordering::Less);
        assert_eq!(compare_versions("1.0.0+build", "1.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("2.0.0", "10.0.0"), Ordering::Less);
    }
}
