//! `lookup-unrequested`: a notifier that looks up the customer of a shared plan without having
//! requested the `read-companies` capability in its manifest.
//!
//! The attack: an admin grants `read-companies` to the tenant's enablement (perhaps for another
//! plugin, perhaps by mistake), and a plugin that never declared the need hopes the grant alone
//! opens the directory. The host must refuse: a capability works only when the plugin both
//! requested it (so the admin saw it asked) and was granted it.
//!
//! On each share it looks up the company with the event's `customer-id` and fails with the code
//! `lookup-denied` when refused; otherwise it returns one in-app notification to the CSM who
//! shared the plan, with as body the company's name (or "not found").

use cs_plugin_sdk::host::{self, LookupError};
use cs_plugin_sdk::{Notification, Notifier, Plugin, PluginError, PluginInfo, ShareEvent};

struct LookupUnrequested;

impl Plugin for LookupUnrequested {
    fn info() -> PluginInfo {
        // No `.capability(Capability::ReadCompanies)`: that is the point.
        PluginInfo::new(
            "lookup-unrequested",
            env!("CARGO_PKG_VERSION"),
            "Hostile: looks up a shared plan's customer without requesting read-companies",
        )
        .reads([])
    }
}

impl Notifier for LookupUnrequested {
    fn on_plan_shared(
        event: &ShareEvent,
        _planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        let found = match host::company_by_id(&event.customer_id) {
            Ok(company) => company,
            Err(LookupError::NotGranted) => {
                let id = &event.customer_id;
                let message = format!("cannot look up `{id}`: read-companies was refused");
                return Err(PluginError::new("lookup-denied", message));
            }
        };
        let body = found.map_or_else(|| "not found".to_owned(), |company| company.name);
        Ok(vec![Notification::in_app(&event.shared_by, "lookup", body)])
    }
}

cs_plugin_sdk::export!(LookupUnrequested: Notifier);
