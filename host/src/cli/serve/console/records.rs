//! The tenant's records: partners and each one's portfolio, the manage-shares view with its
//! revoke buttons, and the audit log. A partner user sees its own partner and shares only: the
//! library scopes every list.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use cs_host::LinkState;

use super::{Plain, User, Visitor, label, see_other, when};
use crate::cli::serve::Shared;
use crate::cli::serve::html::esc;

/// The most audit entries the page shows (the newest).
const AUDIT_SHOWN: usize = 500;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/console/partners", get(partners))
        .route("/console/partners/{id}", get(portfolio))
        .route("/console/shares", get(shares))
        .route("/console/shares/{recipient}/revoke", post(revoke))
        .route("/console/audit", get(audit))
}

/// `GET /console/partners`.
async fn partners(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, partners) = match visitor.run(&app, |_, t| t.partners().list()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = String::from(
        "<table>\n<thead><tr><th>Partner</th><th>Id</th><th>Access scope</th><th>Fields</th>\
         </tr></thead>\n<tbody>\n",
    );
    if partners.is_empty() {
        body.push_str("<tr><td colspan=\"4\">No partners yet.</td></tr>\n");
    }
    for p in &partners {
        let fields: Vec<String> = p
            .company
            .fields
            .iter()
            .map(|(k, v)| format!("{}: {}", esc(k), esc(&label(v))))
            .collect();
        body.push_str(&format!(
            "<tr><td><a href=\"/console/partners/{id}\">{name}</a></td><td>{id}</td><td>{}</td>\
             <td>{}</td></tr>\n",
            esc(&label(&p.scope)),
            fields.join("<br>"),
            id = esc(&p.company.id),
            name = esc(&p.company.name),
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    user.page(&app, "Partners", &body)
}

/// `GET /console/partners/{id}`: a partner's portfolio.
async fn portfolio(State(app): State<Shared>, visitor: Visitor, Path(id): Path<i64>) -> Response {
    let (user, portfolio) = match visitor
        .run(&app, move |_, t| t.partners().portfolio(id))
        .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = format!(
        "<p class=\"meta\">Partner {} · access scope {} · <a href=\"/console/partners\">all \
         partners</a></p>\n<section>\n<h2>Customers it manages ({})</h2>\n",
        esc(&portfolio.partner.company.id),
        esc(&label(&portfolio.partner.scope)),
        portfolio.customers.len()
    );
    if portfolio.customers.is_empty() {
        body.push_str("<p>None.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for c in &portfolio.customers {
            body.push_str(&format!(
                "<li>{} <span class=\"meta\">company {}</span></li>\n",
                esc(&c.name),
                esc(&c.id)
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str(&format!(
        "</section>\n<section>\n<h2>Relationships it manages ({})</h2>\n",
        portfolio.relationships.len()
    ));
    if portfolio.relationships.is_empty() {
        body.push_str("<p>None.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for r in &portfolio.relationships {
            body.push_str(&format!(
                "<li>{} <span class=\"meta\">{} · relationship {} of company {}</span></li>\n",
                esc(&r.name),
                esc(&r.type_name),
                r.id,
                r.company_id
            ));
        }
        body.push_str("</ul>\n");
    }
    body.push_str("</section>\n");
    user.page(&app, &portfolio.partner.company.name, &body)
}

/// `GET /console/shares`: the manage-shares view.
async fn shares(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, shares) = match visitor.run(&app, |_, t| t.shares().list(None)).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = String::from(
        "<table>\n<thead><tr><th>Plan</th><th>Recipient</th><th>Permission</th><th>State</th>\
         <th>Shared</th><th>Expires</th><th>Last opened</th><th></th></tr></thead>\n<tbody>\n",
    );
    if shares.is_empty() {
        body.push_str("<tr><td colspan=\"8\">No plan is shared.</td></tr>\n");
    }
    for s in &shares {
        let revoke = if s.state == LinkState::Active {
            user.button(
                &app,
                &format!("/console/shares/{}/revoke", s.recipient_id),
                "Revoke",
            )
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<tr id=\"recipient-{}\"><td>{} <span class=\"meta\">plan {}</span></td>\
             <td>{}{}</td><td>{}</td><td class=\"state\">{}</td><td>{} by {}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>\n",
            s.recipient_id,
            esc(&s.plan_name),
            s.plan_id,
            esc(&s.email),
            if s.external { " (external)" } else { "" },
            esc(&label(&s.permission)),
            esc(&label(&s.state)),
            when(s.shared_on),
            esc(&s.shared_by),
            when(s.expires_at),
            s.last_access_at.map(when).unwrap_or_default(),
            revoke
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    user.page(&app, "Shares", &body)
}

/// `POST /console/shares/{recipient}/revoke`: revokes one recipient's link.
async fn revoke(
    State(app): State<Shared>,
    user: User,
    Path(recipient): Path<i64>,
    form: Result<Form<Plain>, FormRejection>,
) -> Response {
    if let Err(page) = user.form(&app, form) {
        return page;
    }
    match user
        .run(&app, move |_, t| t.shares().revoke_recipient(recipient))
        .await
    {
        Ok(_) => see_other(&format!("/console/shares#recipient-{recipient}")),
        Err(page) => page,
    }
}

/// `GET /console/audit`: the audit log, newest first.
async fn audit(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, log) = match visitor.run(&app, |_, t| t.audit().list()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = format!(
        "<p class=\"meta\">{} entries{}.</p>\n<table>\n<thead><tr><th>At</th><th>Actor</th>\
         <th>Role</th><th>Action</th><th>Subject</th><th>Change</th></tr></thead>\n<tbody>\n",
        log.len(),
        if log.len() > AUDIT_SHOWN {
            format!(", the newest {AUDIT_SHOWN} shown")
        } else {
            String::new()
        }
    );
    for e in log.iter().rev().take(AUDIT_SHOWN) {
        let change = match (&e.before, &e.after) {
            (Some(_), Some(after)) => format!("→ {}", shorten(&after.to_string())),
            (None, Some(after)) => format!("created {}", shorten(&after.to_string())),
            (Some(_), None) => "removed".to_owned(),
            (None, None) => String::new(),
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>\
             </tr>\n",
            when(e.at),
            esc(&e.actor),
            esc(e.role.as_deref().unwrap_or("")),
            esc(&e.action),
            esc(&e.subject),
            esc(&change)
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    user.page(&app, "Audit log", &body)
}

/// At most 160 characters of a change, with `…` when cut.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 160 {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(159).collect();
    out.push('…');
    out
}
