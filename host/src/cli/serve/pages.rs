//! The recipient's pages, at `/shared/<tenant>/<token>`: server-rendered HTML that needs no
//! JavaScript. The link opens the plan, or the code form when the tenant asks for one-time
//! codes; a correct code sets a short-lived cookie bound to the link (its path), holding the
//! session the library opened; with update permission the recipient sets tasks' status and due
//! date and comments on objectives.
//!
//! Unknown, expired, revoked and blocked links, and links of unknown tenants, all get the same
//! page. Every form carries a CSRF token: an HMAC, under a key drawn at start, of the link and
//! of a random value in a cookie of the browser's own (double submit), compared in constant
//! time.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use cs_host::model::Date;
use cs_host::{ErrorKind, Opened, OtpError, SharePermission, SharedPlan, TaskUpdate};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::html::{esc, message_page, page};
use super::{ApiError, Shared, blocking};

/// The largest form the pages read, in bytes.
const MAX_FORM: usize = 16 * 1024;

/// The session cookie's name.
const SESSION_COOKIE: &str = "cs_session";
/// The CSRF cookie's name.
const CSRF_COOKIE: &str = "cs_csrf";
/// How long the session cookie lives at most, in seconds (the library's session may last
/// longer; the browser asks for a new code after this).
const COOKIE_SECS: i64 = 3600;

/// The recipient's routes.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/shared/{tenant}/{token}", get(open))
        .route("/shared/{tenant}/{token}/code", post(request_code))
        .route("/shared/{tenant}/{token}/verify", post(verify_code))
        .route("/shared/{tenant}/{token}/tasks/{task}", post(update_task))
        .route(
            "/shared/{tenant}/{token}/objectives/{objective}/comments",
            post(comment),
        )
        .layer(DefaultBodyLimit::max(MAX_FORM))
}

/// A link as the path names it: checked for shape before anything else, so nothing the path
/// holds reaches a page unless it is a tenant id and 64 hex digits.
struct Link {
    tenant: String,
    token: String,
}

impl Link {
    fn parse(tenant: String, token: String) -> Option<Link> {
        let tenant_ok = !tenant.is_empty()
            && tenant.len() <= 64
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let token_ok = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
        (tenant_ok && token_ok).then(|| Link {
            tenant,
            token: token.to_ascii_lowercase(),
        })
    }

    /// The link's path (safe to put in an attribute as it is: letters, digits, `-`, `_`, `/`).
    fn path(&self) -> String {
        format!("/shared/{}/{}", self.tenant, self.token)
    }
}

/// The page every link that cannot be opened gets, whatever the reason (the library's words).
fn unavailable() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "This link is not valid; ask the person who shared it to send you a new one.",
    )
}

/// What a recipient's browser sent: its cookies.
struct Cookies<'a>(&'a HeaderMap);

impl Cookies<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// The CSRF token of `link`'s forms for the browser holding CSRF cookie `cookie`.
fn csrf_token(app: &Shared, link: &Link, cookie: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&app.secret).expect("any key size");
    for part in [link.tenant.as_str(), link.token.as_str(), cookie] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Whether a form's CSRF token is the one for this link and this browser.
fn csrf_ok(app: &Shared, link: &Link, headers: &HeaderMap, given: &str) -> bool {
    let Some(cookie) = Cookies(headers).get(CSRF_COOKIE) else {
        return false;
    };
    let expected = csrf_token(app, link, &cookie);
    bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes()))
}

/// Code requests and code attempts per client address (the TCP peer's: behind a proxy, the
/// proxy's), counted over a window; the library's limits per link apply besides.
pub struct Tries {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Tries {
    /// At most `max` tries per address in each `window`.
    pub fn new(max: u32, window: Duration) -> Tries {
        Tries {
            max,
            window,
            seen: Mutex::default(),
        }
    }

    /// Counts a try from `address`; false when the address is over its limit.
    fn allow(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the addresses whose window is over, so the map stays small.
        if seen.len() > 10_000 {
            seen.retain(|_, (since, _)| now.duration_since(*since) < self.window);
        }
        let entry = seen.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.max
    }
}

/// The page for an address over its limit of code requests and attempts.
fn too_many_tries() -> Response {
    message_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many tries",
        "Too many codes were asked for or tried from your address; try again in an hour.",
    )
}

/// The page for a form whose CSRF token is missing or wrong (a stale page, or a forgery).
fn stale_form() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Open the link from your email again and repeat what you were doing.",
    )
}

/// A 303 to the link's page, with a notice.
fn back_to(link: &Link, notice: &str) -> Response {
    let location = format!("{}?notice={notice}", link.path());
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location)],
        Html(String::new()),
    )
        .into_response()
}

/// A fixed notice a page shows after a redirect; the query names it, the text is ours.
#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

fn notice_text(notice: Option<&str>) -> Option<&'static str> {
    match notice? {
        "sent" => Some("We sent a code to your email address. It is valid for 5 minutes."),
        "verified" => Some("Thank you: your code is correct."),
        "saved" => Some("Your change is saved."),
        "commented" => Some("Your comment is saved."),
        _ => None,
    }
}

/// The recipient's session, from the cookie bound to the link.
fn session(headers: &HeaderMap) -> Option<String> {
    Cookies(headers).get(SESSION_COOKIE)
}

/// `GET /shared/{tenant}/{token}`: the plan, or the code form.
async fn open(
    State(app): State<Shared>,
    Path((tenant, token)): Path<(String, String)>,
    notice: Result<Query<Notice>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Some(link) = Link::parse(tenant, token) else {
        return unavailable();
    };
    let notice = notice
        .ok()
        .and_then(|Query(n)| notice_text(n.notice.as_deref()));
    let (tenant, token, session) = (link.tenant.clone(), link.token.clone(), session(&headers));
    let opened = blocking(&app, move |host| {
        host.tenant(&tenant)
            .and_then(|t| t.links().open_with(&token, session.as_deref()))
            .map_err(LinkError::from)
    })
    .await;
    let view = match opened {
        Ok(Opened::Plan(plan)) => View::Plan {
            plan: Box::new(plan),
            error: None,
        },
        Ok(Opened::CodeRequired) => View::Code { error: None },
        Err(error) => return error.page(),
    };
    render(&app, &link, &headers, view, notice, StatusCode::OK)
}

/// What a link's page shows.
enum View {
    Plan {
        plan: Box<SharedPlan>,
        error: Option<String>,
    },
    Code {
        error: Option<String>,
    },
}

/// Renders a link's page, setting the browser's CSRF cookie when it has none.
fn render(
    app: &Shared,
    link: &Link,
    headers: &HeaderMap,
    view: View,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let (cookie, fresh) = match Cookies(headers).get(CSRF_COOKIE) {
        Some(cookie) => (cookie, false),
        None => match random_hex() {
            Some(cookie) => (cookie, true),
            None => return ApiError::internal().into_response(),
        },
    };
    let csrf = csrf_token(app, link, &cookie);
    let mut body = String::new();
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<section class=\"notice\"><p>{}</p></section>\n",
            esc(notice)
        ));
    }
    let html = match view {
        View::Plan { plan, error } => {
            if let Some(error) = error {
                body.push_str(&error_box(&error));
            }
            body.push_str(&plan_body(link, &plan, &csrf));
            page(&format!("{} for {}", plan.name, plan.customer), &body)
        }
        View::Code { error } => {
            if let Some(error) = error {
                body.push_str(&error_box(&error));
            }
            body.push_str(&code_body(link, &csrf));
            page("Enter your code", &body)
        }
    };
    let mut response = (status, Html(html)).into_response();
    if fresh {
        let value = format!(
            "{CSRF_COOKIE}={cookie}; Path={}; HttpOnly; SameSite=Strict{}",
            link.path(),
            secure(app)
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `; Secure` when links are served over HTTPS (behind a proxy that terminates TLS).
fn secure(app: &Shared) -> &'static str {
    if app.link_base.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn error_box(error: &str) -> String {
    format!(
        "<section class=\"error\" role=\"alert\"><p>{}</p></section>\n",
        esc(error)
    )
}

fn hidden_csrf(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

fn code_body(link: &Link, csrf: &str) -> String {
    let path = link.path();
    let csrf = hidden_csrf(csrf);
    format!(
        "<h1>A shared success plan</h1>\n<section>\n\
         <p>To open it, ask for a one-time code: we send it to the email address the plan was \
         shared with.</p>\n\
         <form class=\"block\" method=\"post\" action=\"{path}/code\">{csrf}\
         <button type=\"submit\">Send me a code</button></form>\n</section>\n<section>\n\
         <form class=\"block\" method=\"post\" action=\"{path}/verify\">{csrf}\
         <label for=\"code\">Your code</label> \
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
         pattern=\"[0-9]{{6}}\" maxlength=\"6\" required> \
         <button type=\"submit\">Open the plan</button></form>\n</section>"
    )
}

fn plan_body(link: &Link, plan: &SharedPlan, csrf: &str) -> String {
    let update = plan.permission == SharePermission::Update;
    let mut out = format!(
        "<h1>{}</h1>\n<p class=\"meta\">For {} · {} · due {} · shared by {}</p>\n",
        esc(&plan.name),
        esc(&plan.customer),
        esc(&plan.status.to_string()),
        plan.due_date.map_or("—".to_owned(), |d| d.to_string()),
        esc(&plan.shared_by),
    );
    if let Some(note) = &plan.note {
        out.push_str(&format!("<blockquote>{}</blockquote>\n", esc(note)));
    }
    if plan.objectives.is_empty() {
        out.push_str("<section><p>Nothing of this plan is shared with you yet.</p></section>\n");
    }
    for objective in &plan.objectives {
        out.push_str(&format!(
            "<section>\n<h2>{}</h2>\n<p class=\"meta\">{} · due {}</p>\n",
            esc(&objective.name),
            esc(&objective.status),
            objective.due_date.map_or("—".to_owned(), |d| d.to_string())
        ));
        tasks(&mut out, link, &objective.tasks, update, csrf);
        for cta in plan
            .ctas
            .iter()
            .filter(|c| c.objective_id == Some(objective.id))
        {
            out.push_str(&format!(
                "<h3>{}</h3>\n<p class=\"meta\">{} · due {}</p>\n",
                esc(&cta.name),
                esc(&cta.status),
                cta.due_date.map_or("—".to_owned(), |d| d.to_string())
            ));
            tasks(&mut out, link, &cta.tasks, update, csrf);
        }
        if !objective.comments.is_empty() {
            out.push_str("<h3>Comments</h3>\n<ul>\n");
            for comment in &objective.comments {
                out.push_str(&format!(
                    "<li><span class=\"meta\">{}</span><blockquote>{}</blockquote></li>\n",
                    esc(&comment.author),
                    esc(&comment.body)
                ));
            }
            out.push_str("</ul>\n");
        }
        if update {
            out.push_str(&format!(
                "<form class=\"block\" method=\"post\" action=\"{}/objectives/{}/comments\">{}\
                 <label for=\"comment-{2}\">Comment</label> \
                 <input id=\"comment-{2}\" name=\"body\" maxlength=\"2000\" required> \
                 <button type=\"submit\">Add</button></form>\n",
                link.path(),
                objective.id,
                hidden_csrf(csrf),
            ));
        }
        out.push_str("</section>\n");
    }
    out.push_str(&format!(
        "<p class=\"meta\">This link works until {}.</p>\n",
        esc(&cs_host::utc_timestamp(plan.expires_at))
    ));
    out
}

fn tasks(out: &mut String, link: &Link, tasks: &[cs_host::Task], update: bool, csrf: &str) {
    if tasks.is_empty() {
        return;
    }
    out.push_str("<ul>\n");
    for task in tasks {
        let done = task.status == "done";
        out.push_str(&format!(
            "<li id=\"task-{}\"><span class=\"{}\">{}</span> <span class=\"meta\">{} · due {}</span>",
            task.id,
            if done { "done" } else { "open" },
            esc(&task.name),
            esc(&task.status),
            task.due_date.map_or("—".to_owned(), |d| d.to_string())
        ));
        if update {
            let action = format!("{}/tasks/{}", link.path(), task.id);
            let csrf = hidden_csrf(csrf);
            let (value, label) = if done {
                ("0", "Reopen")
            } else {
                ("1", "Mark done")
            };
            out.push_str(&format!(
                "<br><form method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"hidden\" name=\"done\" value=\"{value}\">\
                 <button type=\"submit\">{label}</button></form> \
                 <form method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"date\" name=\"due\" aria-label=\"Due date\" required> \
                 <button type=\"submit\">Set due date</button></form>"
            ));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
}

/// A library error on a link's page, or a library call that panicked.
enum LinkError {
    Library(cs_host::Error),
    Internal,
}

impl From<cs_host::Error> for LinkError {
    fn from(error: cs_host::Error) -> LinkError {
        LinkError::Library(error)
    }
}

impl From<ApiError> for LinkError {
    fn from(_: ApiError) -> LinkError {
        // Only a library call that panicked ends here; it is logged where it happened.
        LinkError::Internal
    }
}

impl LinkError {
    /// Whether the link cannot be opened (or its tenant does not exist).
    fn unavailable(&self) -> bool {
        matches!(
            self,
            LinkError::Library(error) if matches!(
                error.kind(),
                ErrorKind::LinkUnavailable | ErrorKind::UnknownTenant(_)
            )
        )
    }

    /// The page for an error that needs no form around it.
    fn page(self) -> Response {
        if self.unavailable() {
            return unavailable();
        }
        let api = match self {
            LinkError::Library(error) => ApiError::from(error),
            LinkError::Internal => ApiError::internal(),
        };
        message_page(api.status, "Something went wrong", &api.message)
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /shared/{tenant}/{token}/code`: sends a one-time code.
async fn request_code(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((tenant, token)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<axum::Form<CsrfForm>, FormRejection>,
) -> Response {
    let Some(link) = Link::parse(tenant, token) else {
        return unavailable();
    };
    if !app.recipient_tries.allow(peer.ip()) {
        return too_many_tries();
    }
    let Ok(axum::Form(form)) = form else {
        return stale_form();
    };
    if !csrf_ok(&app, &link, &headers, &form.csrf) {
        return stale_form();
    }
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
        Err(error) if error.unavailable() => unavailable(),
        Err(LinkError::Library(error)) => match error.kind() {
            ErrorKind::Otp(_) | ErrorKind::Invalid(_) => {
                let view = View::Code {
                    error: Some(error.to_string()),
                };
                render(
                    &app,
                    &link,
                    &headers,
                    view,
                    None,
                    StatusCode::TOO_MANY_REQUESTS,
                )
            }
            _ => LinkError::Library(error).page(),
        },
        Err(internal) => internal.page(),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /shared/{tenant}/{token}/verify`: checks a code; a correct one sets the session
/// cookie.
async fn verify_code(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((tenant, token)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<axum::Form<CodeForm>, FormRejection>,
) -> Response {
    let Some(link) = Link::parse(tenant, token) else {
        return unavailable();
    };
    if !app.recipient_tries.allow(peer.ip()) {
        return too_many_tries();
    }
    let Ok(axum::Form(form)) = form else {
        return stale_form();
    };
    if !csrf_ok(&app, &link, &headers, &form.csrf) {
        return stale_form();
    }
    let (tenant, token) = (link.tenant.clone(), link.token.clone());
    let code: String = form.code.chars().take(16).collect();
    let verified = blocking(&app, move |host| {
        let tenant = host.tenant(&tenant)?;
        let now = host_now();
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
                let value = format!(
                    "{SESSION_COOKIE}={token}; Path={}; Max-Age={max_age}; HttpOnly; \
                     SameSite=Strict{}",
                    link.path(),
                    secure(&app)
                );
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(error) if error.unavailable() => unavailable(),
        Err(LinkError::Library(error)) => match error.kind() {
            // The link is blocked now: it gets the page every unusable link gets, with the
            // reason, which the recipient just caused and may know.
            ErrorKind::Otp(OtpError::Wrong { tries_left: 0 }) => message_page(
                StatusCode::FORBIDDEN,
                "This link is blocked",
                &error.to_string(),
            ),
            ErrorKind::Otp(_) => {
                let view = View::Code {
                    error: Some(error.to_string()),
                };
                render(&app, &link, &headers, view, None, StatusCode::BAD_REQUEST)
            }
            _ => LinkError::Library(error).page(),
        },
        Err(internal) => internal.page(),
    }
}

/// The time now, in Unix seconds, as the library reads it (the system clock).
fn host_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Deserialize)]
struct TaskForm {
    #[serde(default)]
    csrf: String,
    done: Option<String>,
    due: Option<String>,
}

/// `POST /shared/{tenant}/{token}/tasks/{task}`: a recipient with update permission sets a
/// task's status or due date.
async fn update_task(
    State(app): State<Shared>,
    Path((tenant, token, task)): Path<(String, String, i64)>,
    headers: HeaderMap,
    form: Result<axum::Form<TaskForm>, FormRejection>,
) -> Response {
    let Some(link) = Link::parse(tenant, token) else {
        return unavailable();
    };
    let Ok(axum::Form(form)) = form else {
        return stale_form();
    };
    if !csrf_ok(&app, &link, &headers, &form.csrf) {
        return stale_form();
    }
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
struct CommentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

/// `POST /shared/{tenant}/{token}/objectives/{objective}/comments`.
async fn comment(
    State(app): State<Shared>,
    Path((tenant, token, objective)): Path<(String, String, i64)>,
    headers: HeaderMap,
    form: Result<axum::Form<CommentForm>, FormRejection>,
) -> Response {
    let Some(link) = Link::parse(tenant, token) else {
        return unavailable();
    };
    let Ok(axum::Form(form)) = form else {
        return stale_form();
    };
    if !csrf_ok(&app, &link, &headers, &form.csrf) {
        return stale_form();
    }
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
    match done {
        Ok(Ok(())) => back_to(&link, notice),
        Ok(Err((error, Some(plan)))) => {
            let view = View::Plan {
                plan: Box::new(plan),
                error: Some(error),
            };
            render(
                &app,
                &link,
                &headers,
                view,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Ok(Err((error, None))) => {
            let view = View::Code { error: Some(error) };
            render(&app, &link, &headers, view, None, StatusCode::UNAUTHORIZED)
        }
        Err(error) if error.unavailable() => unavailable(),
        Err(LinkError::Library(error)) if matches!(error.kind(), ErrorKind::SessionRequired) => {
            let view = View::Code {
                error: Some(error.to_string()),
            };
            render(&app, &link, &headers, view, None, StatusCode::UNAUTHORIZED)
        }
        Err(error) => error.page(),
    }
}
