//! What a share will be: the request checked and worked out (for sharing it, and for its
//! preview), and the preview of what each recipient would get, sending nothing.

use super::send::{Resolved, default_notifications};
use super::*;

/// What a share will be, worked out (and checked) before anything is recorded or sent.
pub(super) struct Outline {
    pub(super) plan: Plan,
    pub(super) customer: String,
    pub(super) subject: String,
    pub(super) expires_at: i64,
}

impl Outline {
    /// The *plan shared* hook's event for this share.
    pub(super) fn event(
        &self,
        request: &ShareRequest,
        recipients: Vec<Recipient>,
        note: Option<String>,
        shared_by: String,
    ) -> ShareEvent {
        let external = request.audience == Audience::Contacts;
        ShareEvent {
            plan_id: self.plan.id.to_string(),
            plan_name: self.plan.name.clone(),
            customer_id: self.plan.company_id.to_string(),
            customer_name: self.customer.clone(),
            audience: request.audience,
            recipients,
            visible_objectives: self
                .plan
                .objectives
                .iter()
                .filter(|o| !external || o.shared_externally)
                .map(|o| Objective {
                    id: o.id.to_string(),
                    name: o.name.clone(),
                    status: o.status.clone(),
                    due_date: o.due_date,
                })
                .collect(),
            include_tasks: request.include_tasks,
            subject: self.subject.clone(),
            note,
            shared_by,
            link_expires_at: Some(dates::rfc3339(self.expires_at)),
        }
    }
}

impl Shares<'_> {
    /// Checks a share request and works out its plan, customer, subject, expiry and recipients
    /// (each once); `create` adds contacts who are not yet persons.
    pub(super) fn outline(
        &self,
        op: &Op<'_>,
        request: &ShareRequest,
        now: i64,
        create: bool,
    ) -> Result<(Outline, Vec<Resolved>)> {
        if request.recipients.is_empty() {
            return Err(invalid("a share needs at least one recipient".to_owned()));
        }
        let plan = plans::load_plan(op, request.plan_id)?;
        let customer = customer_label(op, &plan)?;
        let settings = settings(op)?;
        if request.audience == Audience::Contacts && !plan.share_with_contacts {
            return Err(invalid(format!(
                "success plan {} `{}` is not shared with contacts: turn on its sharing with \
                 contacts first",
                plan.id, plan.name
            )));
        }
        let mut resolved: Vec<Resolved> = Vec::new();
        for to in &request.recipients {
            let next = self.resolve(op, &plan, request.audience, to, create)?;
            // The same person twice gets one link.
            if !resolved
                .iter()
                .any(|r| r.email.eq_ignore_ascii_case(&next.email))
            {
                resolved.push(next);
            }
        }
        let subject = request
            .subject
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{} for {}", plan.name, customer));
        let expires_at = now + i64::from(settings.link_expiry_days) * 86_400;
        Ok((
            Outline {
                plan,
                customer,
                subject,
                expires_at,
            },
            resolved,
        ))
    }

    /// What each recipient of this share would get, without recording or sending anything: the
    /// plan as they would see it (objectives, tasks, CTAs), their permission, and the message
    /// after the tenant's notifiers, with `[your link]` where their link would be. The same
    /// checks as [`Shares::share`] apply; contacts are not added as persons.
    pub fn preview(&self, request: &ShareRequest) -> Result<Vec<SharePreview>> {
        // The principal resolved once, for the outline and the notifiers' look-ups alike.
        let tenant = self.tenant.resolved()?;
        Shares { tenant: &tenant }.preview_resolved(request)
    }

    fn preview_resolved(&self, request: &ShareRequest) -> Result<Vec<SharePreview>> {
        let now = self.tenant.host.now();
        let note = trimmed_note(request);
        let (outline, resolved) = self
            .tenant
            .read(|op| self.outline(op, request, now, false))?;
        let recipients: Vec<Recipient> = resolved
            .iter()
            .map(|r| Recipient {
                email: r.email.clone(),
                name: r.name.clone(),
                external: r.external,
            })
            .collect();
        let event = outline.event(request, recipients, note.clone(), self.tenant.actor.clone());
        let planned = default_notifications(&event);
        let (messages, held) = self.notifications(&event, planned);
        let external = request.audience == Audience::Contacts;
        let plan = super::links::visible_plan(
            outline.plan,
            outline.customer,
            &super::links::Seen {
                external,
                include_tasks: request.include_tasks,
                shared_by: self.tenant.actor.clone(),
                note,
                expires_at: outline.expires_at,
            },
        );
        Ok(resolved
            .into_iter()
            .map(|r| {
                let to = outbox::normalize_address(&r.email);
                let messages = messages
                    .iter()
                    .filter(|m| outbox::normalize_address(&m.recipient) == to)
                    .map(|m| Notification {
                        channel: m.channel,
                        recipient: m.recipient.clone(),
                        subject: m.subject.replace(LINK_PLACEHOLDER, PREVIEW_LINK),
                        body: m.body.replace(LINK_PLACEHOLDER, PREVIEW_LINK),
                    })
                    .collect();
                SharePreview {
                    email: r.email,
                    name: r.name,
                    external: r.external,
                    new_person: r.external && r.person_id.is_none(),
                    permission: r.permission,
                    messages,
                    held: held.clone(),
                    plan: SharedPlan {
                        permission: r.permission,
                        ..plan.clone()
                    },
                }
            })
            .collect())
    }
}

/// The name a share gives a plan's customer: the company's, and for a plan of a relationship,
/// the relationship's after it.
pub(super) fn customer_label(op: &Op<'_>, plan: &Plan) -> Result<String> {
    let customer = company_name(op, plan.company_id)?;
    Ok(match plan.relationship_id {
        Some(r) => format!("{customer} ({})", crate::relationships::load(op, r)?.name),
        None => customer,
    })
}

/// What stands for a recipient's link in a preview.
const PREVIEW_LINK: &str = "[your link]";

/// What one recipient of a share would get: the preview of [`Shares::preview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct SharePreview {
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// True for an external contact.
    pub external: bool,
    /// True for a contact who would become a new person.
    pub new_person: bool,
    /// What they could do through their link.
    pub permission: SharePermission,
    /// The messages they would be sent (after the tenant's notifiers), `[your link]` in place
    /// of their link.
    pub messages: Vec<Notification>,
    /// The error of a fail-closed notifier that failed: the messages would be held.
    pub held: Option<String>,
    /// The plan as they would see it.
    pub plan: SharedPlan,
}

/// The sharer's note, trimmed; `None` when empty.
pub(super) fn trimmed_note(request: &ShareRequest) -> Option<String> {
    request
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}
