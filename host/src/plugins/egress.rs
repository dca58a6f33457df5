//! The egress policy: whom a plugin's notifications may reach, and how many one event may send.
//!
//! Plugins are third-party code, and a notification is the one way their output leaves the
//! platform. So by default a notifier may address only the share's recipients, the user who
//! shared and the tenant's users; a lifecycle plugin only the partner's own addresses (the
//! address fields of its record) and the tenant's users. One call may return at most
//! [`Limits::notifications`](super::Limits::notifications) notifications per address the event
//! names. Anything else needs the tenant admin's grant: an allow-list of addresses and domains
//! per enablement ([`Plugins::allow_egress`](crate::Plugins::allow_egress), audited). A plugin that
//! breaks the policy fails like any other plugin error, and its failure policy applies: nothing
//! it returned is sent.

use std::collections::BTreeSet;

use super::{PluginError, PluginErrorKind};
use crate::model::{FieldValue, Notification, Partner, ShareEvent};
use crate::outbox::normalize_address;

/// Whom the notifications of one event may reach.
pub(crate) struct Egress {
    /// The addresses the event names, normalised.
    named: BTreeSet<String>,
    /// The most notifications one call may return.
    cap: usize,
}

impl Egress {
    /// The policy of a share: its recipients and the sharer, `per_address` notifications each.
    pub(crate) fn for_share(event: &ShareEvent, per_address: usize) -> Egress {
        let named = event
            .recipients
            .iter()
            .map(|r| r.email.as_str())
            .chain([event.shared_by.as_str()])
            .filter_map(normalize_address)
            .collect();
        Egress::new(named, per_address)
    }

    /// The policy of a new partner: the addresses in its record, `per_address` notifications
    /// each.
    pub(crate) fn for_partner(partner: &Partner, per_address: usize) -> Egress {
        let named = partner
            .company
            .fields
            .values()
            .filter_map(|value| match value {
                FieldValue::Text(text) => normalize_address(text),
                _ => None,
            })
            .collect();
        Egress::new(named, per_address)
    }

    fn new(named: BTreeSet<String>, per_address: usize) -> Egress {
        // An event that names nobody still lets a plugin tell the tenant's users something.
        let cap = per_address.saturating_mul(named.len().max(1));
        Egress { named, cap }
    }

    /// Checks what a plugin asks to send, and writes each recipient normalised. `allowed` holds
    /// the addresses and domains the tenant's admin granted the plugin besides the defaults;
    /// `is_user` says whether a normalised address is one of the tenant's users.
    pub(crate) fn check<'a>(
        &self,
        plugin: &str,
        notifications: impl ExactSizeIterator<Item = &'a mut Notification>,
        allowed: &BTreeSet<String>,
        is_user: &dyn Fn(&str) -> bool,
    ) -> Result<(), PluginError> {
        let fail = |kind| Err(PluginError::new(plugin, kind));
        if notifications.len() > self.cap {
            return fail(PluginErrorKind::TooManyNotifications {
                count: notifications.len(),
                limit: self.cap,
            });
        }
        for notification in notifications {
            let Some(to) = normalize_address(&notification.recipient) else {
                return fail(PluginErrorKind::InvalidOutput {
                    reason: format!(
                        "it addressed a notification to `{}`, which is not an email address",
                        notification.recipient.escape_debug()
                    ),
                });
            };
            let domain = to.rsplit_once('@').map_or("", |(_, domain)| domain);
            let granted = allowed.contains(&to) || allowed.contains(domain);
            if !self.named.contains(&to) && !granted && !is_user(&to) {
                return fail(PluginErrorKind::EgressDenied { recipient: to });
            }
            notification.recipient = to;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Audience, Channel, Recipient};

    fn event() -> ShareEvent {
        ShareEvent {
            plan_id: "1".into(),
            plan_name: "Plan".into(),
            customer_id: "2".into(),
            customer_name: "Globex".into(),
            audience: Audience::Contacts,
            recipients: vec![Recipient {
                email: "Pat@Globex.example".into(),
                name: "Pat".into(),
                external: true,
            }],
            visible_objectives: Vec::new(),
            include_tasks: false,
            subject: "Plan".into(),
            note: None,
            shared_by: "csm@acme.example".into(),
            link_expires_at: None,
        }
    }

    fn email(to: &str) -> Notification {
        Notification {
            channel: Channel::Email,
            recipient: to.into(),
            subject: "s".into(),
            body: "b".into(),
        }
    }

    #[test]
    fn a_notifier_may_address_recipients_the_sharer_and_users_only() {
        let egress = Egress::for_share(&event(), 2);
        let users = |to: &str| to == "boss@acme.example";
        let mut ok = [
            email(" \tPAT@GLOBEX.EXAMPLE\r\n"),
            email("csm@acme.example"),
            email("boss@acme.example"),
        ];
        let none = BTreeSet::new();
        egress.check("p", ok.iter_mut(), &none, &users).unwrap();
        assert_eq!(ok[0].recipient, "pat@globex.example");

        let mut out = [email("attacker@evil.example")];
        let error = egress
            .check("p", out.iter_mut(), &none, &users)
            .unwrap_err();
        assert_eq!(error.code(), "egress-denied");
        let granted: BTreeSet<String> = ["evil.example".to_owned()].into();
        egress.check("p", out.iter_mut(), &granted, &users).unwrap();

        let mut flood = vec![email("pat@globex.example"); 5];
        let error = egress
            .check("p", flood.iter_mut(), &none, &users)
            .unwrap_err();
        assert_eq!(
            error.kind(),
            &PluginErrorKind::TooManyNotifications { count: 5, limit: 4 }
        );
    }
}
