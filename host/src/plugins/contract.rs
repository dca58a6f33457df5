//! Type-checks a component's exports against the contract, function by function.
//!
//! The names of a component's exports are read before it is compiled (see `validate`); their
//! types can only be checked against a live instance. Without this check a component whose
//! `map-row` takes a `string` would install as a field mapper and fail only when an import ran
//! it.

use wasmtime::Store;
use wasmtime::component::{ComponentNamedList, Instance, Lift, Lower};

use super::ExtensionPoint;
use super::bindings::v0_1::{self, t};
use super::bindings::v0_2;
use super::runtime::Contract;

/// Checks the metadata interface and each extension interface in `points` against the
/// contract version the component speaks, returning a reason that names the first function
/// that does not match.
pub(crate) fn check<T>(
    contract: Contract,
    store: &mut Store<T>,
    instance: &Instance,
    points: &[ExtensionPoint],
) -> Result<(), String> {
    let mut check = Checker {
        store,
        instance,
        version: contract.version(),
    };
    check.func::<(), (t::PluginInfo,)>("metadata", "describe")?;
    for point in points {
        match point {
            ExtensionPoint::FieldMapper if contract == Contract::V0_1 => {
                check.func::<(&[&str], &[&str]), ()>("field-mapper", "begin")?;
                check.func::<(v0_1::field_mapper::Row<'_>,), (v0_1::field_mapper::RowOutcome,)>(
                    "field-mapper",
                    "map-row",
                )?;
            }
            ExtensionPoint::FieldMapper => {
                use v0_2::field_mapper as fm;
                check.func::<(Option<fm::RecordKind>, &[&str], &[&str]), ()>(
                    "field-mapper",
                    "begin",
                )?;
                check.func::<(fm::Rows<'_>,), (fm::Mapped,)>("field-mapper", "map-rows")?;
            }
            ExtensionPoint::CriteriaFilter => {
                check.func::<
                    (&[t::FieldParam<'_>], &[t::CompanyParam<'_>]),
                    (Result<Vec<bool>, t::PluginError>,),
                >("criteria-filter", "matches")?;
            }
            ExtensionPoint::Notifier => {
                check.func::<
                    (t::ShareEvent<'_>, &[t::NotificationParam<'_>]),
                    (Result<Vec<t::NotificationResult>, t::PluginError>,),
                >("notifier", "on-plan-shared")?;
            }
            ExtensionPoint::Lifecycle => {
                check
                    .func::<(t::Partner<'_>,), (Result<Vec<t::LifecycleAction>, t::PluginError>,)>(
                        "lifecycle",
                        "on-partner-created",
                    )?;
            }
        }
    }
    Ok(())
}

struct Checker<'a, T: 'static> {
    store: &'a mut Store<T>,
    instance: &'a Instance,
    version: &'static str,
}

impl<T> Checker<'_, T> {
    /// Checks that `interface` exports `name` with the parameters `P` and results `R`.
    fn func<P, R>(&mut self, interface: &str, name: &str) -> Result<(), String>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        let full = format!("cs:plugin/{interface}@{}", self.version);
        let at = |what: &str| format!("its export `{full}` {what}");
        let parent = self
            .instance
            .get_export_index(&mut *self.store, None, &full)
            .ok_or_else(|| at("is missing"))?;
        let func = self
            .instance
            .get_export_index(&mut *self.store, Some(&parent), name)
            .ok_or_else(|| at(&format!("has no function `{name}`")))?;
        self.instance
            .get_typed_func::<P, R>(&mut *self.store, &func)
            .map(drop)
            .map_err(|e| {
                at(&format!(
                    "has a function `{name}` whose type does not match the contract: {e:#}"
                ))
            })
    }
}
