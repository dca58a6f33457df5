//! `lookup-probe`: looks up companies during a share, an import and a criteria run, to probe
//! what the host lets a plugin read.
//!
//! It is not an attack by itself but the instrument of tests on capability grants, tenant
//! isolation and partner scoping. It requests the `read-companies` capability and looks up a
//! company: the one named by its optional `look-up` configuration key (an id or a name), or
//! else the shared plan's customer (as a notifier), the row's name (as a field mapper), or the
//! candidate itself (as a criteria filter):
//!
//! - if the look-up is denied, it fails with the code `lookup-denied`; the host must then
//!   report `capability-not-granted`, because the plugin failed for want of a capability;
//! - as a notifier, it returns one in-app notification to the CSM who shared the plan, with
//!   the subject "lookup" and as body the found company's name, or "not found";
//! - as a field mapper, it sets the row's `notes` to the found company's name, or "not found";
//! - as a criteria filter, a company matches when the look-up finds a company.
//!
//! A tenant's plugin must never find another tenant's company, and a plugin running in a
//! partner user's operation never one outside the partner's portfolio.

use cs_plugin_sdk::host::{self, LookupError};
use cs_plugin_sdk::{
    Arguments, Capability, Company, ConfigKey, CriteriaFilter, FieldMapper, Notification, Notifier,
    Plugin, PluginError, PluginInfo, Refusal, Row, ShareEvent,
};

struct LookupProbe;

impl Plugin for LookupProbe {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "lookup-probe",
            env!("CARGO_PKG_VERSION"),
            "Test: looks up a company during a share, an import or a criteria run and reports \
             what it found",
        )
        .capability(Capability::ReadCompanies)
        .config(ConfigKey::optional(
            "look-up",
            "The company to look up (an id or a name) instead of the share's customer, the \
             row's name or the candidate; empty for those",
            "",
        ))
        .reads(["name", "notes"])
    }
}

/// Looks up the configured company (by id when the key is all digits, else by name), or else
/// `fallback`: an id when `fallback_is_id`, a name otherwise. `Ok(None)` when nothing is found;
/// the message of a denied look-up otherwise.
fn look_up(fallback: &str, fallback_is_id: bool) -> Result<Option<Company>, String> {
    let configured = host::config("look-up").filter(|key| !key.trim().is_empty());
    let by_id = match &configured {
        Some(key) => key.trim().bytes().all(|b| b.is_ascii_digit()),
        None => fallback_is_id,
    };
    let key = configured.unwrap_or_else(|| fallback.to_owned());
    let key = key.trim();
    let found = if by_id {
        host::company_by_id(key)
    } else {
        host::company_by_name(key)
    };
    found.map_err(|error| match error {
        LookupError::NotGranted => {
            format!("cannot look up `{key}`: read-companies was not granted")
        }
    })
}

fn denied(message: String) -> PluginError {
    PluginError::new("lookup-denied", message)
}

fn name_or_not_found(found: Option<Company>) -> String {
    found.map_or_else(|| "not found".to_owned(), |company| company.name)
}

impl Notifier for LookupProbe {
    fn on_plan_shared(
        event: &ShareEvent,
        _planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        let body = name_or_not_found(look_up(&event.customer_id, true).map_err(denied)?);
        Ok(vec![Notification::in_app(&event.shared_by, "lookup", body)])
    }
}

impl FieldMapper for LookupProbe {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        let name = row.text("name").unwrap_or_default().to_owned();
        let found = look_up(&name, false).map_err(|message| Refusal::reject("notes", message))?;
        row.set("notes", name_or_not_found(found));
        Ok(())
    }
}

impl CriteriaFilter for LookupProbe {
    fn matches(company: &Company, _arguments: &Arguments) -> Result<bool, PluginError> {
        Ok(look_up(&company.id, true).map_err(denied)?.is_some())
    }
}

cs_plugin_sdk::export!(LookupProbe: Notifier, FieldMapper, CriteriaFilter);
