//! A tenant's plugins, as the [`Plugins`] handle offers them: enabling, configuring, granting,
//! upgrading and disabling them, and the run log; and the enabled plugins a hook runs, each with
//! the context it runs in.

use std::sync::Arc;

use super::*;

/// The tenant's plugins, from [`Tenant::plugins`]: enabling, configuring, granting, upgrading and disabling them, and their run log.
#[derive(Debug, Clone, Copy)]
pub struct Plugins<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Plugins<'_> {
    /// Enables a plugin for this tenant (or changes an enablement), checking the configuration
    /// against the keys the plugin declares (unknown keys and missing required keys are
    /// refused), the limits against the platform maxima, and the grants against the
    /// capabilities the plugin requests. Takes effect for the next operation.
    pub fn enable(&self, name: &str, options: EnableOptions) -> Result<Enablement> {
        let host = self.tenant.host;
        let now = host.now();
        self.tenant.write(|op| {
            op.require(Permission::ManagePlugins)?;
            let before = enablement(op, name)?;
            let hash = match (&options.version, &before) {
                (Some(version), _) => hash_of(op.conn, name, Some(version))?,
                (None, Some(before)) => before.hash.clone(),
                (None, None) => hash_of(op.conn, name, None)?,
            };
            let manifest = manifest_of(op.conn, &hash)?;
            let previous = before.clone();
            let after = Enablement {
                plugin: name.to_owned(),
                version: manifest.version.clone(),
                hash,
                enabled: true,
                follow_latest: options
                    .follow_latest
                    .or(previous.as_ref().map(|p| p.follow_latest))
                    .unwrap_or(false),
                config: options
                    .config
                    .clone()
                    .or(previous.as_ref().map(|p| p.config.clone()))
                    .unwrap_or_default(),
                priority: options
                    .priority
                    .or(previous.as_ref().map(|p| p.priority))
                    .unwrap_or(0),
                limits: options
                    .limits
                    .or(previous.as_ref().map(|p| p.limits))
                    .unwrap_or_default(),
                failure_policy: options
                    .policy
                    .or(previous.as_ref().map(|p| p.failure_policy))
                    .unwrap_or_default(),
                grants: options
                    .grants
                    .clone()
                    .or(previous.as_ref().map(|p| p.grants.clone()))
                    .unwrap_or_default(),
                egress: previous
                    .as_ref()
                    .map(|p| p.egress.clone())
                    .unwrap_or_default(),
                breaker_threshold: options
                    .breaker_threshold
                    .or(previous.as_ref().map(|p| p.breaker_threshold))
                    .unwrap_or(DEFAULT_BREAKER_THRESHOLD),
                // Enabling again after the breaker tripped starts a fresh count.
                consecutive_failures: 0,
                disabled_reason: None,
                admin: options
                    .admin
                    .clone()
                    .or(previous.as_ref().and_then(|p| p.admin.clone()))
                    .or_else(|| {
                        self.tenant
                            .actor
                            .contains('@')
                            .then(|| self.tenant.actor.clone())
                    }),
                updated_at: now,
            };
            check_config(&manifest, &after.config)?;
            check_grants(&manifest, &after.grants)?;
            let over = after.limits.exceeding(host.max_limits());
            if !over.is_empty() {
                return Err(Error::new(ErrorKind::LimitsExceeded {
                    plugin: name.to_owned(),
                    limits: over.into_iter().map(str::to_owned).collect(),
                }));
            }
            save(op, &after)?;
            audit_plugin(op, "plugin.enable", name, before.as_ref(), Some(&after))?;
            Ok(after)
        })
    }

    /// Disables a plugin for this tenant; its enablement (configuration, grants) is kept for
    /// when it is enabled again. Takes effect for the next operation.
    pub fn disable(&self, name: &str) -> Result<Enablement> {
        self.change(name, "plugin.disable", |e, _| {
            e.enabled = false;
            Ok(())
        })
    }

    /// Replaces the plugin's configuration, checked against the keys it declares.
    pub fn configure(&self, name: &str, config: BTreeMap<String, String>) -> Result<Enablement> {
        self.change(name, "plugin.config", |e, manifest| {
            check_config(manifest, &config)?;
            e.config = config;
            Ok(())
        })
    }

    /// Lets the plugin's notifications reach `target` (an address, or every address of a
    /// domain) besides the egress policy's defaults. Recorded in the audit log.
    pub fn allow_egress(&self, name: &str, target: &str) -> Result<Enablement> {
        let target = egress_target(target)?;
        self.change(name, "plugin.egress.allow", |e, _| {
            e.egress.insert(target);
            Ok(())
        })
    }

    /// Takes back an address or domain given with [`allow_egress`](Self::allow_egress).
    pub fn deny_egress(&self, name: &str, target: &str) -> Result<Enablement> {
        let target = egress_target(target)?;
        self.change(name, "plugin.egress.deny", |e, _| {
            e.egress.remove(&target);
            Ok(())
        })
    }

    /// Grants the plugin a capability it requests.
    pub fn grant(&self, name: &str, capability: Capability) -> Result<Enablement> {
        self.change(name, "plugin.grant", |e, manifest| {
            e.grants.insert(capability);
            check_grants(manifest, &e.grants)
        })
    }

    /// Takes a capability back from the plugin.
    pub fn revoke(&self, name: &str, capability: Capability) -> Result<Enablement> {
        self.change(name, "plugin.revoke", |e, _| {
            e.grants.remove(&capability);
            Ok(())
        })
    }

    /// Moves the tenant to another installed version of a plugin (the newest by default),
    /// keeping its configuration, which must fit the new version's keys.
    pub fn upgrade(&self, name: &str, version: Option<&str>) -> Result<Enablement> {
        let host = self.tenant.host;
        let now = host.now();
        self.tenant.write(|op| {
            op.require(Permission::ManagePlugins)?;
            let before = enablement(op, name)?.ok_or_else(|| self.not_enabled(name))?;
            let hash = hash_of(op.conn, name, version)?;
            let manifest = manifest_of(op.conn, &hash)?;
            check_config(&manifest, &before.config)?;
            let mut after = before.clone();
            after.grants.retain(|c| manifest.capabilities.contains(c));
            after.hash = hash;
            after.version = manifest.version.clone();
            after.updated_at = now;
            save(op, &after)?;
            audit_plugin(op, "plugin.upgrade", name, Some(&before), Some(&after))?;
            Ok(after)
        })
    }

    /// Changes how an enabled (or disabled) plugin runs: its limits (checked against the
    /// platform maxima), failure policy, priority and breaker threshold, leaving it enabled or
    /// disabled as it is. Recorded in the audit log as `plugin.tune`; takes effect for the next
    /// operation.
    pub fn tune(&self, name: &str, tuning: Tuning) -> Result<Enablement> {
        let max = self.tenant.host.max_limits();
        self.change(name, "plugin.tune", |e, _| {
            if let Some(limits) = tuning.limits {
                let over = limits.exceeding(max);
                if !over.is_empty() {
                    return Err(Error::new(ErrorKind::LimitsExceeded {
                        plugin: e.plugin.clone(),
                        limits: over.into_iter().map(str::to_owned).collect(),
                    }));
                }
                e.limits = limits;
            }
            if let Some(policy) = tuning.policy {
                e.failure_policy = policy;
            }
            if let Some(priority) = tuning.priority {
                e.priority = priority;
            }
            if let Some(threshold) = tuning.breaker_threshold {
                e.breaker_threshold = threshold.max(1);
            }
            Ok(())
        })
    }

    /// The plugins installed on the platform that this tenant's admins may enable: the newest
    /// version of each, with the tenant's enablement of it. Only for who may manage the tenant's
    /// plugins: other tenants, and who installed what, are not shown.
    pub fn available(&self) -> Result<Vec<AvailablePlugin>> {
        self.tenant.require(Permission::ManagePlugins)?;
        let mut enablements: BTreeMap<String, Enablement> = self
            .list()?
            .into_iter()
            .map(|e| (e.plugin.clone(), e))
            .collect();
        let mut available: Vec<AvailablePlugin> = Vec::new();
        // Sorted by name and then version, newest first: the first of each name is its newest.
        for installed in self.tenant.host.installed_plugins()? {
            if let Some(last) = available.last_mut()
                && last.manifest.name == installed.manifest.name
            {
                last.versions.push(installed.manifest.version);
                continue;
            }
            let enablement = enablements.remove(&installed.manifest.name);
            available.push(AvailablePlugin {
                versions: vec![installed.manifest.version.clone()],
                manifest: installed.manifest,
                installed_at: installed.installed_at,
                enabled: enablement.as_ref().is_some_and(|e| e.enabled),
                enablement,
            });
        }
        Ok(available)
    }

    /// One of the [`available`](Self::available) plugins, by name.
    pub fn available_one(&self, name: &str) -> Result<AvailablePlugin> {
        self.available()?
            .into_iter()
            .find(|p| p.manifest.name == name)
            .ok_or_else(|| {
                Error::new(ErrorKind::UnknownPlugin {
                    name: name.to_owned(),
                    version: None,
                })
            })
    }

    /// The tenant's plugins (enabled or not), by priority and then name.
    pub fn list(&self) -> Result<Vec<Enablement>> {
        self.tenant.read(all_of)
    }

    /// The tenant's enablement of one plugin.
    pub fn get(&self, name: &str) -> Result<Enablement> {
        self.tenant
            .read(|op| enablement(op, name))?
            .ok_or_else(|| self.not_enabled(name))
    }

    pub(crate) fn not_enabled(&self, name: &str) -> Error {
        Error::new(ErrorKind::PluginNotEnabled {
            tenant: self.tenant.id.as_str().to_owned(),
            plugin: name.to_owned(),
        })
    }

    /// Applies `edit` to an existing enablement, with its audit record.
    fn change(
        &self,
        name: &str,
        action: &str,
        edit: impl FnOnce(&mut Enablement, &Manifest) -> Result<()>,
    ) -> Result<Enablement> {
        let host = self.tenant.host;
        let now = host.now();
        self.tenant.write(|op| {
            op.require(Permission::ManagePlugins)?;
            let before = enablement(op, name)?.ok_or_else(|| self.not_enabled(name))?;
            let manifest = manifest_of(op.conn, &before.hash)?;
            let mut after = before.clone();
            edit(&mut after, &manifest)?;
            after.updated_at = now;
            save(op, &after)?;
            audit_plugin(op, action, name, Some(&before), Some(&after))?;
            Ok(after)
        })
    }

    /// The tenant's enabled plugins implementing `point`, in priority order, each with the
    /// context it runs in. Read once per operation.
    pub(crate) fn active(&self, point: ExtensionPoint) -> Result<Vec<Active>> {
        let enabled: Vec<Enablement> = self.tenant.read(|op| {
            let mut query = op.conn.prepare_cached(ENABLEMENT_QUERY_ENABLED)?;
            query
                .query_map([op.tenant.as_str()], enablement_row)
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })?;
        let mut active = Vec::with_capacity(enabled.len());
        for enablement in enabled {
            let plugin = match self.tenant.host.plugin_by_hash(&enablement.hash) {
                Ok(plugin) => plugin,
                Err(error) => {
                    let ErrorKind::Plugin(failure) = error.kind() else {
                        return Err(error);
                    };
                    // A plugin that cannot load (its manifest changed, say) fails like a call:
                    // recorded in the run log, then its failure policy applies.
                    let sink = crate::plugins::runlog::RunLogSink::for_tenant(self.tenant);
                    let mut log =
                        crate::plugins::runlog::CallLog::of_enablement(&enablement, point.hook());
                    let stats = crate::plugins::CallStats::default();
                    log.failure(
                        &stats,
                        failure,
                        &*sink.clock,
                        || serde_json::json!({"load": enablement.hash}),
                    );
                    sink.write_or_warn([&mut log]);
                    match enablement.failure_policy {
                        FailurePolicy::FailOpen => continue,
                        FailurePolicy::FailClosed => return Err(error),
                    }
                }
            };
            if !plugin.manifest().implements(point) {
                continue;
            }
            let context = self.plugin_context(&plugin, &enablement);
            active.push(Active {
                enablement,
                plugin,
                context,
            });
        }
        Ok(active)
    }

    /// One enabled plugin by name, with its context; an error if it is not enabled.
    pub(crate) fn active_one(&self, name: &str) -> Result<Active> {
        let enablement = self.get(name)?;
        if !enablement.enabled {
            return Err(self.not_enabled(name));
        }
        let plugin = self.tenant.host.plugin_by_hash(&enablement.hash)?;
        let context = self.plugin_context(&plugin, &enablement);
        Ok(Active {
            enablement,
            plugin,
            context,
        })
    }

    /// The context a plugin runs in for this tenant: its configuration, the capabilities it
    /// both requested and was granted, its limits capped by the platform maxima, and the
    /// tenant's companies.
    fn plugin_context(&self, plugin: &Plugin, enablement: &Enablement) -> PluginContext {
        let host = self.tenant.host;
        let mut context = PluginContext::new(self.tenant.id.as_str())
            .config_map(enablement.config.clone())
            .limits(enablement.limits.capped_by(host.max_limits()))
            .companies(Arc::new(crate::companies::Directory::new(
                host.shared_store(),
                host.shared_clock(),
                self.tenant.id.clone(),
                self.tenant.principal_or_nobody(),
            )));
        for capability in &enablement.grants {
            if plugin.manifest().capabilities.contains(capability) {
                context = context.grant(*capability);
            }
        }
        context
    }
}
