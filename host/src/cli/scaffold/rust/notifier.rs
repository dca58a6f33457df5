//! `{{name}}`: a notifier. It runs when a success plan is shared and decides which notifications
//! go out.

use cs_plugin_sdk::{ConfigKey, Notification, Notifier, Plugin, PluginError, PluginInfo, ShareEvent};

struct {{type}};

impl Plugin for {{type}} {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "{{name}}",
            env!("CARGO_PKG_VERSION"),
            "Tags share emails with a prefix and lists the plan's visible objectives",
        )
        .reads([])
        .config(ConfigKey::optional("prefix", "Put before every subject", "[Success plan]"))
    }
}

impl Notifier for {{type}} {
    fn on_plan_shared(
        event: &ShareEvent,
        planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        let prefix = cs_plugin_sdk::host::config("prefix").unwrap_or_default();
        let objectives: Vec<String> = event
            .visible_objectives
            .iter()
            .map(|o| format!("- {}", o.name))
            .collect();
        // Keep the planned notifications (they carry `{link}`, which the host replaces with
        // each recipient's own link), and change their subject and body.
        Ok(planned
            .into_iter()
            .map(|mut n| {
                n.subject = format!("{prefix} {}", n.subject);
                if !objectives.is_empty() {
                    n.body = format!("{}\n\nObjectives:\n{}", n.body, objectives.join("\n"));
                }
                n
            })
            .collect())
    }
}

cs_plugin_sdk::export!({{type}}: Notifier);
