//! The host interface plugins import, `cs:plugin/host`: logging, the tenant's configuration of
//! the plugin, and read-only company look-ups granted by capability.
//!
//! It is served on a borrowed [`HostView`] of one store: the tenant's immutable context (shared
//! by every instance of the operation), the plugin's recorded manifest, the call's log, and what
//! the current call did that the host must know afterwards. Deny by default: a look-up without
//! the capability answers the WIT error `not-granted` and never traps.

use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::component::{HasData, Linker};

use super::bindings::{self, v0_1, v0_2};
use super::context::{CompanyDirectory, ContextInner};
use super::log::{LogBuffer, LogLevel};
use super::{Capability, Manifest};
use crate::model::Company;

/// What the current call did that the host reads once it returns.
#[derive(Debug, Default)]
pub(crate) struct CallState {
    /// The last `fatal` log message of the call.
    pub(crate) fatal: Option<String>,
    /// A capability the plugin used without holding it.
    pub(crate) denied: Option<Capability>,
}

/// The host interface's view of one store.
pub(crate) struct HostView<'a> {
    pub(crate) context: &'a ContextInner,
    pub(crate) manifest: &'a Manifest,
    pub(crate) log: &'a Mutex<LogBuffer>,
    pub(crate) call: &'a mut CallState,
}

/// A look-up failed through no fault of the plugin (the database, say): the call fails with a
/// host error.
#[derive(Debug)]
pub(crate) struct LookupFailed(pub(crate) crate::Error);

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a company look-up failed: {}", self.0)
    }
}

impl std::error::Error for LookupFailed {}

/// Links `cs:plugin/host` of every contract version for stores whose data gives a
/// [`HostView`].
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> HostView<'_>,
) -> wasmtime::Result<()> {
    v0_1::cs::plugin::host::add_to_linker::<T, HostData>(linker, view)?;
    v0_2::cs::plugin::host::add_to_linker::<T, HostData>(linker, view)
}

struct HostData;

impl HasData for HostData {
    type Data<'a> = HostView<'a>;
}

/// The log buffer of a store, whatever another thread did to it.
pub(crate) fn lock(log: &Mutex<LogBuffer>) -> MutexGuard<'_, LogBuffer> {
    // A poisoned lock only means another thread panicked while logging; the buffer is fine.
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type LookUp = Result<Option<v0_1::t::CompanyResult>, v0_1::LookupError>;

impl HostView<'_> {
    /// The directory to answer a look-up from, or `None` when the plugin does not hold the
    /// capability (both requested at install and granted by the tenant), which is recorded.
    fn granted(&mut self, capability: Capability) -> Option<Option<&Arc<dyn CompanyDirectory>>> {
        let requested = self.manifest.capabilities.contains(&capability);
        if requested && self.context.grants.contains(&capability) {
            return Some(self.context.companies.as_ref());
        }
        self.call.denied = Some(capability);
        lock(self.log).push(
            LogLevel::Warn,
            format!("denied: the plugin does not hold the `{capability}` capability"),
        );
        None
    }

    fn look_up(
        &mut self,
        find: impl FnOnce(&dyn CompanyDirectory) -> crate::Result<Option<Company>>,
    ) -> wasmtime::Result<LookUp> {
        let Some(directory) = self.granted(Capability::ReadCompanies) else {
            return Ok(Err(v0_1::LookupError::NotGranted));
        };
        let Some(directory) = directory else {
            return Ok(Ok(None));
        };
        let company = find(directory.as_ref()).map_err(LookupFailed)?;
        // The plugin sees only the fields its manifest says it reads.
        Ok(Ok(company.map(|mut company| {
            company
                .fields
                .retain(|name, _| self.manifest.reads_field(name));
            bindings::company_result(company)
        })))
    }
}

impl v0_1::Host for HostView<'_> {
    fn log(&mut self, level: v0_1::LogLevel, message: String) {
        if level == v0_1::LogLevel::Fatal {
            self.call.fatal = Some(message.clone());
        }
        lock(self.log).push(level.into(), message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.context.config.get(&key).cloned().or_else(|| {
            let declared = self.manifest.config_key(&key)?;
            declared.default_value.clone()
        })
    }

    fn company_by_id(&mut self, id: String) -> wasmtime::Result<LookUp> {
        self.look_up(|directory| directory.company_by_id(&id))
    }

    fn company_by_name(&mut self, name: String) -> wasmtime::Result<LookUp> {
        self.look_up(|directory| directory.company_by_name(&name))
    }
}

/// `cs:plugin/host@0.2.0` is 0.1.0's interface under another version: served by the same code.
impl v0_2::Host for HostView<'_> {
    fn log(&mut self, level: v0_2::LogLevel, message: String) {
        use v0_1::LogLevel as L;
        let level = match level {
            v0_2::LogLevel::Trace => L::Trace,
            v0_2::LogLevel::Debug => L::Debug,
            v0_2::LogLevel::Info => L::Info,
            v0_2::LogLevel::Warn => L::Warn,
            v0_2::LogLevel::Error => L::Error,
            v0_2::LogLevel::Fatal => L::Fatal,
        };
        v0_1::Host::log(self, level, message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        v0_1::Host::config(self, key)
    }

    fn company_by_id(&mut self, id: String) -> wasmtime::Result<LookUpV0_2> {
        Ok(v0_1::Host::company_by_id(self, id)?.map_err(lookup_error))
    }

    fn company_by_name(&mut self, name: String) -> wasmtime::Result<LookUpV0_2> {
        Ok(v0_1::Host::company_by_name(self, name)?.map_err(lookup_error))
    }
}

type LookUpV0_2 = Result<Option<v0_1::t::CompanyResult>, v0_2::LookupError>;

fn lookup_error(error: v0_1::LookupError) -> v0_2::LookupError {
    match error {
        v0_1::LookupError::NotGranted => v0_2::LookupError::NotGranted,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::Limits;
    use crate::plugins::StaticDirectory;
    use crate::plugins::bindings::v0_1::Host as _;

    fn manifest(capabilities: Vec<Capability>) -> Manifest {
        Manifest {
            name: "probe".into(),
            version: "1.0.0".into(),
            description: String::new(),
            contract: "0.1.0".into(),
            extension_points: Vec::new(),
            capabilities,
            config: Vec::new(),
            reads: vec!["industry".into()],
            reads_source: false,
            imports: Vec::new(),
            size: 0,
            hash: String::new(),
        }
    }

    fn context(grants: BTreeSet<Capability>) -> ContextInner {
        let mut fields = crate::model::Fields::new();
        fields.insert("industry".into(), "Aerospace".into());
        fields.insert("arr".into(), crate::model::FieldValue::Number(5.0));
        ContextInner {
            tenant: "acme".into(),
            config: BTreeMap::new(),
            grants,
            limits: Limits::default(),
            companies: Some(Arc::new(StaticDirectory::new(vec![Company {
                id: "c1".into(),
                name: "AAR Corp".into(),
                fields,
                ..Company::default()
            }]))),
        }
    }

    #[test]
    fn lookup_without_the_grant_is_denied_and_recorded() {
        let context = context(BTreeSet::new());
        let manifest = manifest(vec![Capability::ReadCompanies]);
        let log = Mutex::default();
        let mut call = CallState::default();
        let mut view = HostView {
            context: &context,
            manifest: &manifest,
            log: &log,
            call: &mut call,
        };
        let answer = view.company_by_id("c1".into()).unwrap();
        assert!(matches!(answer, Err(v0_1::LookupError::NotGranted)));
        assert_eq!(call.denied, Some(Capability::ReadCompanies));
    }

    #[test]
    fn lookup_with_the_grant_sees_only_the_fields_it_reads() {
        let context = context([Capability::ReadCompanies].into());
        let manifest = manifest(vec![Capability::ReadCompanies]);
        let log = Mutex::default();
        let mut call = CallState::default();
        let mut view = HostView {
            context: &context,
            manifest: &manifest,
            log: &log,
            call: &mut call,
        };
        let company = view.company_by_name("AAR Corp".into()).unwrap().unwrap();
        let company = company.unwrap();
        let names: Vec<&str> = company.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["industry"]);
    }
}
