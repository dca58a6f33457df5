//! Who a plugin runs for, and with what: the per-tenant context of a plugin.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Capability, Limits};
use crate::model::Company;

/// Read-only access to one tenant's companies, for plugins granted `read-companies`.
///
/// An implementation answers for exactly one tenant: the host builds one per tenant, so a
/// plugin can never reach another tenant's records whatever ids it asks for.
///
/// An error is the host's failure (the database, say): the plugin's call fails with a host
/// error, never with the plugin to blame.
pub trait CompanyDirectory: Send + Sync {
    /// The tenant's company with this id.
    fn company_by_id(&self, id: &str) -> crate::Result<Option<Company>>;

    /// The tenant's company with exactly this name.
    fn company_by_name(&self, name: &str) -> crate::Result<Option<Company>>;
}

/// A directory over a fixed list of companies, for tests and the `cshost plugin run` harness.
#[derive(Debug, Clone, Default)]
pub struct StaticDirectory {
    companies: Vec<Company>,
}

impl StaticDirectory {
    /// A directory of these companies.
    pub fn new(companies: Vec<Company>) -> StaticDirectory {
        StaticDirectory { companies }
    }
}

impl CompanyDirectory for StaticDirectory {
    fn company_by_id(&self, id: &str) -> crate::Result<Option<Company>> {
        Ok(self.companies.iter().find(|c| c.id == id).cloned())
    }

    fn company_by_name(&self, name: &str) -> crate::Result<Option<Company>> {
        Ok(self.companies.iter().find(|c| c.name == name).cloned())
    }
}

/// The context a plugin runs in for one tenant: the tenant's configuration of the plugin, the
/// capabilities it granted, the limits, and the tenant-scoped data the host functions read.
///
/// Cheap to clone: the contents are shared.
#[derive(Clone)]
pub struct PluginContext {
    inner: Arc<ContextInner>,
}

#[derive(Clone)]
pub(crate) struct ContextInner {
    pub(crate) tenant: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) grants: BTreeSet<Capability>,
    pub(crate) limits: Limits,
    pub(crate) companies: Option<Arc<dyn CompanyDirectory>>,
}

impl PluginContext {
    /// A context for the tenant with no configuration, no grants and default limits.
    pub fn new(tenant: impl Into<String>) -> PluginContext {
        PluginContext {
            inner: Arc::new(ContextInner {
                tenant: tenant.into(),
                config: BTreeMap::new(),
                grants: BTreeSet::new(),
                limits: Limits::default(),
                companies: None,
            }),
        }
    }

    fn edit(&mut self) -> &mut ContextInner {
        Arc::make_mut(&mut self.inner)
    }

    /// Sets a configuration value the plugin reads with `host.config`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> PluginContext {
        self.edit().config.insert(key.into(), value.into());
        self
    }

    /// Sets all configuration values at once.
    pub fn config_map(mut self, config: BTreeMap<String, String>) -> PluginContext {
        self.edit().config = config;
        self
    }

    /// Grants a capability. The plugin only gets it if it also requested it.
    pub fn grant(mut self, capability: Capability) -> PluginContext {
        self.edit().grants.insert(capability);
        self
    }

    /// Sets the limits of each call.
    pub fn limits(mut self, limits: Limits) -> PluginContext {
        self.edit().limits = limits;
        self
    }

    /// Gives look-ups the tenant's companies.
    pub fn companies(mut self, directory: Arc<dyn CompanyDirectory>) -> PluginContext {
        self.edit().companies = Some(directory);
        self
    }

    /// The tenant's id.
    pub fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    /// The limits of each call.
    pub fn limits_value(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn shared(&self) -> Arc<ContextInner> {
        self.inner.clone()
    }
}
