//! `partner-welcome`: a lifecycle plugin that starts the onboarding of each new partner.
//!
//! When a company becomes a partner, the plugin asks the host to:
//!
//! - open a high-priority *Lifecycle* CTA named "Partner onboarding" on the partner, due in the
//!   number of days set by the `due-days` configuration key (14 by default);
//! - email the partner a welcome, if its company record has an `email` address. A partner
//!   without one gets no email; the CTA reminds the CSM to reach out instead.
//!
//! The host applies all the actions or none. A `due-days` value that is not a whole number of
//! days is a `bad-config` error naming the value.

use cs_plugin_sdk::{
    AccessScope, ConfigKey, Cta, CtaType, FieldValue, Lifecycle, LifecycleAction, Notification,
    Partner, Plugin, PluginError, PluginInfo, Priority, host,
};

/// The name of the CTA the plugin opens.
const CTA_NAME: &str = "Partner onboarding";

/// Days until the CTA is due when the admin sets no `due-days`.
const DEFAULT_DUE_DAYS: &str = "14";

struct PartnerWelcome;

impl Plugin for PartnerWelcome {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "partner-welcome",
            env!("CARGO_PKG_VERSION"),
            "Opens a Partner onboarding CTA for each new partner and emails it a welcome",
        )
        .config(ConfigKey::optional(
            "due-days",
            "Days from the partner's creation until the onboarding CTA is due",
            DEFAULT_DUE_DAYS,
        ))
        .reads(["email"])
    }
}

impl Lifecycle for PartnerWelcome {
    fn on_partner_created(partner: &Partner) -> Result<Vec<LifecycleAction>, PluginError> {
        let due_in_days = due_days()?;
        let mut actions = vec![LifecycleAction::OpenCta(Cta {
            kind: CtaType::Lifecycle,
            name: CTA_NAME.to_owned(),
            priority: Priority::High,
            due_in_days: Some(due_in_days),
        })];
        let company = &partner.company;
        let email = company
            .field("email")
            .and_then(FieldValue::as_text)
            .map(str::trim)
            .filter(|email| !email.is_empty());
        if let Some(email) = email {
            actions.push(LifecycleAction::Notify(Notification::email(
                email,
                format!("Welcome to the partner program, {}", company.name),
                welcome_body(partner),
            )));
        }
        Ok(actions)
    }
}

/// The `due-days` configuration, as a number of days.
fn due_days() -> Result<u32, PluginError> {
    let value = host::config("due-days").unwrap_or_else(|| DEFAULT_DUE_DAYS.to_owned());
    value.trim().parse().map_err(|_| {
        PluginError::new(
            "bad-config",
            format!("the `due-days` configuration `{value}` is not a whole number of days"),
        )
    })
}

/// A short welcome that tells the partner what its users can now see.
fn welcome_body(partner: &Partner) -> String {
    let access = match partner.scope {
        AccessScope::CompanyRecords => "the company records of the customers you manage",
        AccessScope::RelationshipRecords => "the relationship records of the customers you manage",
        AccessScope::Both => "the company and relationship records of the customers you manage",
    };
    format!(
        "Hello {name} team,\n\n\
         Welcome to the partner program! Your users can now access {access}.\n\n\
         Your partner manager will be in touch shortly to walk you through onboarding.",
        name = partner.company.name,
    )
}

cs_plugin_sdk::export!(PartnerWelcome: Lifecycle);
