//! What `cshost share create` and `cshost share preview` share, with whom: their common
//! arguments, made into a share request.

use clap::Args;
use cs_host::model::Audience;
use cs_host::{SharePermission, ShareRequest, ShareTo};

/// What to share, with whom: the arguments of `share create` and `share preview`.
#[derive(Args)]
pub struct ShareArgs {
    /// The tenant (or set CSHOST_TENANT).
    #[arg(long, env = "CSHOST_TENANT")]
    pub tenant: String,
    /// The plan.
    #[arg(long)]
    plan: i64,
    /// Internal users, by email (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', required_unless_present = "contacts")]
    users: Vec<String>,
    /// External contacts, as EMAIL or "EMAIL:First Last" (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', conflicts_with = "users")]
    contacts: Vec<String>,
    /// Recipients (among those above, by email) who may update their tasks' status and due
    /// date and comment on objectives; the others view. Viewer licences only view.
    #[arg(long, value_delimiter = ',')]
    can_update: Vec<String>,
    /// Leave the plan's tasks out.
    #[arg(long)]
    no_tasks: bool,
    /// The subject [default: "<plan> for <customer>"].
    #[arg(long)]
    subject: Option<String>,
    /// A note for the recipients.
    #[arg(long)]
    note: Option<String>,
}

impl ShareArgs {
    pub fn request(&self) -> ShareRequest {
        let permission = |email: &str| {
            if self
                .can_update
                .iter()
                .any(|e| e.trim().eq_ignore_ascii_case(email.trim()))
            {
                SharePermission::Update
            } else {
                SharePermission::View
            }
        };
        let (audience, recipients): (_, Vec<ShareTo>) = if self.contacts.is_empty() {
            (
                Audience::Users,
                self.users.iter().map(|e| ShareTo::email(e)).collect(),
            )
        } else {
            (
                Audience::Contacts,
                self.contacts.iter().map(|c| contact(c)).collect(),
            )
        };
        ShareRequest {
            plan_id: self.plan,
            audience,
            recipients: recipients
                .into_iter()
                .map(|to| ShareTo {
                    permission: permission(&to.email),
                    ..to
                })
                .collect(),
            include_tasks: !self.no_tasks,
            subject: self.subject.clone(),
            note: self.note.clone(),
        }
    }
}

/// `EMAIL` or `EMAIL:First Last`.
fn contact(text: &str) -> ShareTo {
    let (email, name) = text.split_once(':').unwrap_or((text, ""));
    let (first, last) = name.trim().split_once(' ').unwrap_or((name.trim(), ""));
    ShareTo {
        email: email.trim().to_owned(),
        first_name: first.to_owned(),
        last_name: last.trim().to_owned(),
        ..ShareTo::default()
    }
}
