//! `lookup-probe`: a notifier that looks up the customer of a shared plan, to probe what the
//! host lets a plugin read.
//!
//! It is not an attack by itself but the instrument of tests on capability grants and tenant
//! isolation. It requests the `read-companies` capability and, on each share, looks up the
//! company with the event's `customer-id`:
//!
//! - if the look-up is denied, it fails with the code `lookup-denied`; the host must then
//!   report `capability-not-granted`, because the plugin failed for want of a capability;
//! - otherwise it returns one in-app notification to the CSM who shared the plan, with the
//!   subject "lookup" and as body the found company's name, or "not found". A tenant's plugin
//!   must never find another tenant's company.

use cs_plugin_sdk::host::{self, LookupError};
use cs_plugin_sdk::{
    Capability, Notification, Notifier, Plugin, PluginError, PluginInfo, ShareEvent,
};

struct LookupProbe;

impl Plugin for LookupProbe {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "lookup-probe",
            env!("CARGO_PKG_VERSION"),
            "Test: looks up a shared plan's customer and reports what it found",
        )
        .capability(Capability::ReadCompanies)
        .reads([])
    }
}

impl Notifier for LookupProbe {
    fn on_plan_shared(
        event: &ShareEvent,
        _planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        let found = match host::company_by_id(&event.customer_id) {
            Ok(company) => company,
            Err(LookupError::NotGranted) => {
                let id = &event.customer_id;
                let message = format!("cannot look up `{id}`: read-companies was not granted");
                return Err(PluginError::new("lookup-denied", message));
            }
        };
        let body = found.map_or_else(|| "not found".to_owned(), |company| company.name);
        Ok(vec![Notification::in_app(&event.shared_by, "lookup", body)])
    }
}

cs_plugin_sdk::export!(LookupProbe: Notifier);
