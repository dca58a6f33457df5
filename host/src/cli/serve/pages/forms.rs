//! The forms of a link's page: ask for a code, enter it, update a task, comment. Each passes
//! [`checked`] first (the link's shape, the client's tries, the form, its CSRF token); a code's
//! refusal shows on the code form ([`code_refused`]), a change's on the plan ([`act`]).

use std::net::{IpAddr, SocketAddr};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cs_host::model::Date;
use cs_host::{ErrorKind, Opened, OtpError, SharedPlan, TaskUpdate};
use serde::Deserialize;

use super::{
    Link, LinkError, SESSION_COOKIE, View, back_to, csrf_ok, render, secure, session, unavailable,
};
use crate::cli::serve::html::message_page;
use crate::cli::serve::{Shared, blocking, cookies};

/// How long the session cookie lives at most, in seconds (the library's session may last
/// longer; the browser asks for a new code after this).
const COOKIE_SECS: i64 = 3600;

/// A form of a link's page: each carries the CSRF token.
trait Posted {
    fn csrf(&self) -> &str;
}

/// Checks what every form of a link's page must pass, in this order: the link's shape, the
/// client address's tries (for code requests and attempts, which pass `peer`), a readable form,
/// and its CSRF token. A failure is the page to answer with.
fn checked<F: Posted>(
    app: &Shared,
    peer: Option<IpAddr>,
    (tenant, token): (String, String),
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
) -> Result<(Link, F), Response> {
    let link = Link::parse(tenant, token).ok_or_else(unavailable)?;
    if let Some(peer) = peer
        && !app.recipient_tries.allow(peer)
    {
        return Err(message_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many tries",
            "Too many codes were asked for or tried from your address; try again in an hour.",
        ));
    }
    match form {
        Ok(Form(form)) if csrf_ok(app, &link, headers, form.csrf()) => Ok((link, form)),
        // A stale page, or a forgery.
        _ => Err(message_page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the link from your email again and repeat what you were doing.",
        )),
    }
}

/// A code request or attempt the library refused: a blocked link gets its own page (the
/// recipient just caused it and may know), other refusals show on the code form with `status`.
fn code_refused(
    app: &Shared,
    link: &Link,
    headers: &HeaderMap,
    error: LinkError,
    status: StatusCode,
) -> Response {
    if error.unavailable() {
        return unavailable();
    }
    let LinkError::Library(error) = error else {
        return error.page();
    };
    match error.kind() {
        ErrorKind::Otp(OtpError::Wrong { tries_left: 0 }) => message_page(
            StatusCode::FORBIDDEN,
            "This link is blocked",
            &error.to_string(),
        ),
        ErrorKind::Otp(_) | ErrorKind::Invalid(_) => {
            let view = View::Code {
                error: Some(error.to_string()),
            };
            render(app, link, headers, view, None, status)
        }
        _ => LinkError::Library(error).page(),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl Posted for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /shared/{tenant}/{token}/code`: sends a one-time code.
pub(super) async fn request_code(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(link): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let (link, _) = match checked(&app, Some(peer.ip()), link, &headers, form) {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let (tenant, token) = (link.tenant.clone(), link.token.clone());
    let sent = blocking(&app, move |host| {
        host.tenant(&tenant)
            .and_then(|t| t.links().request_otp(&token))
            .map_err(LinkError::from)
    })
    .await;
    match sent {
        Ok(()) => {
            app.outbox_wake.notify_one();
            back_to(&link, "sent")
        }
        Err(error) => code_refused(&app, &link, &headers, error, StatusCode::TOO_MANY_REQUESTS),
    }
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

impl Posted for CodeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /shared/{tenant}/{token}/verify`: checks a code; a correct one sets the session
/// cookie.
pub(super) async fn verify_code(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(link): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let (link, form) = match checked(&app, Some(peer.ip()), link, &headers, form) {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let (tenant, token) = (link.tenant.clone(), link.token.clone());
    let code: String = form.code.chars().take(16).collect();
    let verified = blocking(&app, move |host| {
        let tenant = host.tenant(&tenant)?;
        let now = unix_now();
        tenant
            .links()
            .start_session(&token, &code)
            .map(|session| (session, now))
            .map_err(LinkError::from)
    })
    .await;
    match verified {
        Ok((session, now)) => {
            let mut response = back_to(&link, "verified");
            if let Some(token) = session.token {
                let max_age = (session.expires_at - now).clamp(0, COOKIE_SECS);
                cookies::set(
                    &mut response,
                    SESSION_COOKIE,
                    &token,
                    &link.path(),
                    Some(max_age),
                    secure(&app),
                );
            }
            response
        }
        Err(error) => code_refused(&app, &link, &headers, error, StatusCode::BAD_REQUEST),
    }
}

/// The time now, in Unix seconds, as the library reads it (the system clock).
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Deserialize)]
pub(super) struct TaskForm {
    #[serde(default)]
    csrf: String,
    done: Option<String>,
    due: Option<String>,
}

impl Posted for TaskForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /shared/{tenant}/{token}/tasks/{task}`: a recipient with update permission sets a
/// task's status or due date.
pub(super) async fn update_task(
    State(app): State<Shared>,
    Path((tenant, token, task)): Path<(String, String, i64)>,
    headers: HeaderMap,
    form: Result<Form<TaskForm>, FormRejection>,
) -> Response {
    let (link, form) = match checked(&app, None, (tenant, token), &headers, form) {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let done = match form.done.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(_) => return message_page(StatusCode::BAD_REQUEST, "Bad request", "bad status"),
    };
    let due_date = match form.due.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<Date>() {
            Ok(date) => Some(date),
            Err(error) => {
                return message_page(StatusCode::BAD_REQUEST, "Bad date", &error.to_string());
            }
        },
    };
    let update = TaskUpdate { done, due_date };
    act(app, link, headers, "saved", move |t, token, session| {
        t.links().update_task(token, session, task, &update)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct CommentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

impl Posted for CommentForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /shared/{tenant}/{token}/objectives/{objective}/comments`.
pub(super) async fn comment(
    State(app): State<Shared>,
    Path((tenant, token, objective)): Path<(String, String, i64)>,
    headers: HeaderMap,
    form: Result<Form<CommentForm>, FormRejection>,
) -> Response {
    let (link, form) = match checked(&app, None, (tenant, token), &headers, form) {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    act(app, link, headers, "commented", move |t, token, session| {
        t.links()
            .comment_objective(token, session, objective, &form.body)
    })
    .await
}

/// Runs a recipient's change and goes back to the plan; a refusal shows on the plan's page.
async fn act(
    app: Shared,
    link: Link,
    headers: HeaderMap,
    notice: &'static str,
    change: impl FnOnce(&cs_host::Tenant<'_>, &str, Option<&str>) -> cs_host::Result<SharedPlan>
    + Send
    + 'static,
) -> Response {
    let (tenant, token, session) = (link.tenant.clone(), link.token.clone(), session(&headers));
    let done = blocking(&app, move |host| {
        let tenant = host.tenant(&tenant)?;
        match change(&tenant, &token, session.as_deref()) {
            Ok(_) => Ok(Ok(())),
            // A refused change: show it on the plan as the recipient sees it.
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::RecipientRefused { .. }
                        | ErrorKind::Invalid(_)
                        | ErrorKind::InvalidField { .. }
                ) =>
            {
                match tenant.links().open_with(&token, session.as_deref())? {
                    Opened::Plan(plan) => Ok(Err((error.to_string(), Some(plan)))),
                    _ => Ok(Err((error.to_string(), None))),
                }
            }
            Err(error) => Err(LinkError::from(error)),
        }
    })
    .await;
    let (view, status) = match done {
        Ok(Ok(())) => return back_to(&link, notice),
        Ok(Err((error, Some(plan)))) => (
            View::Plan {
                plan: Box::new(plan),
                error: Some(error),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(Err((error, None))) => (View::Code { error: Some(error) }, StatusCode::UNAUTHORIZED),
        Err(error) if error.unavailable() => return unavailable(),
        Err(LinkError::Library(error)) if matches!(error.kind(), ErrorKind::SessionRequired) => (
            View::Code {
                error: Some(error.to_string()),
            },
            StatusCode::UNAUTHORIZED,
        ),
        Err(error) => return error.page(),
    };
    render(&app, &link, &headers, view, None, status)
}
