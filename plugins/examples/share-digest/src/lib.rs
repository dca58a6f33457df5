//! `share-digest`: a notifier that replaces the default share email with a digest of the plan.
//!
//! When a CSM shares a success plan, each recipient gets one notification:
//!
//! - the subject is the one the CSM chose;
//! - the body names the plan and the customer, lists each objective the recipients may see with
//!   its status and due date, quotes the CSM's note, gives the recipient's link and says when
//!   it expires;
//! - external contacts get it by email, internal users in the platform.
//!
//! A plan shared with no visible objective has nothing to digest: the plugin then sends nothing
//! at all, not even the host's default email.
//!
//! The body carries the placeholder `{link}`, which the host replaces with each recipient's own
//! link: the plugin never sees the links. It reads no company field.

use cs_plugin_sdk::{
    Date, Notification, Notifier, Objective, Plugin, PluginError, PluginInfo, ShareEvent,
};

/// Where each recipient's own link goes; the host fills it in per recipient.
const LINK: &str = "{link}";

struct ShareDigest;

impl Plugin for ShareDigest {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "share-digest",
            env!("CARGO_PKG_VERSION"),
            "Sends a digest of a shared plan's objectives: email to contacts, in-app to users",
        )
        .reads([])
    }
}

impl Notifier for ShareDigest {
    fn on_plan_shared(
        event: &ShareEvent,
        // The digest replaces whatever was planned, so the planned notifications go unused.
        _planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        if event.visible_objectives.is_empty() {
            return Ok(Vec::new());
        }
        // The body is the same for everyone: the host makes it personal by filling in `{link}`.
        let body = digest(event);
        let notifications = event
            .recipients
            .iter()
            .map(|recipient| {
                if recipient.external {
                    Notification::email(&recipient.email, &event.subject, &body)
                } else {
                    Notification::in_app(&recipient.email, &event.subject, &body)
                }
            })
            .collect();
        Ok(notifications)
    }
}

/// The body of the digest, as plain text.
fn digest(event: &ShareEvent) -> String {
    let mut lines = vec![
        format!("Success plan: {}", event.plan_name),
        format!("Customer: {}", event.customer_name),
        String::new(),
        "Objectives:".to_owned(),
    ];
    lines.extend(event.visible_objectives.iter().map(objective_line));
    if let Some(note) = event
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        lines.push(String::new());
        lines.push(format!("Note from {}:", event.shared_by));
        lines.push(note.to_owned());
    }
    lines.push(String::new());
    lines.push(format!("Open the plan: {LINK}"));
    if let Some(expiry) = &event.link_expires_at {
        lines.push(format!("The link expires at {expiry}."));
    }
    lines.join("\n")
}

/// `- Go live on the portal (open, due 2026-03-31)`.
fn objective_line(objective: &Objective) -> String {
    match objective.due_date {
        Some(due) => format!(
            "- {} ({}, due {})",
            objective.name,
            objective.status,
            iso_date(due)
        ),
        None => format!("- {} ({})", objective.name, objective.status),
    }
}

/// A date as `YYYY-MM-DD`, which reads the same to recipients in every country.
fn iso_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

cs_plugin_sdk::export!(ShareDigest: Notifier);
