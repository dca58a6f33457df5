//! `{{name}}`: a lifecycle plugin. It runs when a partner is created and returns actions the
//! host checks and applies: set a field, open a CTA, send a notification.

use cs_plugin_sdk::{
    Cta, CtaType, FieldValue, Lifecycle, LifecycleAction, Notification, Partner, Plugin,
    PluginError, PluginInfo, Priority,
};

struct {{type}};

impl Plugin for {{type}} {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "{{name}}",
            env!("CARGO_PKG_VERSION"),
            "Opens a kickoff CTA for each new partner and emails the partner",
        )
        .reads(["email"])
    }
}

impl Lifecycle for {{type}} {
    fn on_partner_created(partner: &Partner) -> Result<Vec<LifecycleAction>, PluginError> {
        let company = &partner.company;
        let mut actions = vec![LifecycleAction::OpenCta(Cta {
            kind: CtaType::Lifecycle,
            name: "Partner kickoff".to_owned(),
            priority: Priority::High,
            due_in_days: Some(7),
        })];
        if let Some(email) = company.field("email").and_then(FieldValue::as_text) {
            actions.push(LifecycleAction::Notify(Notification::email(
                email,
                format!("Welcome, {}", company.name),
                "We will be in touch this week to plan your kickoff.",
            )));
        }
        Ok(actions)
    }
}

cs_plugin_sdk::export!({{type}}: Lifecycle);
