//! The recipient's pages, at `/shared/<tenant>/<token>`: server-rendered HTML that needs no
//! JavaScript. The link opens the plan, or the code form when the tenant asks for one-time
//! codes; a correct code sets a short-lived cookie bound to the link (its path), holding the
//! session the library opened; with update permission the recipient sets tasks' status and due
//! date and comments on objectives.
//!
//! Unknown, expired, revoked and blocked links, and links of unknown tenants, all get the same
//! page. Every form carries a CSRF token: an HMAC, under the server's forms key (derived from the
//! database's secret key, so it outlives a restart), of the link and of a random value in a
//! cookie of the browser's own (double submit), compared in constant time.
//!
//! This file holds the link, its checks and the page that opens it; `forms.rs` the forms'
//! handlers, `view.rs` the HTML.

mod forms;
mod view;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use cs_host::{ErrorKind, Opened, SharedPlan};
use serde::Deserialize;

use super::html::{message_page, page};
use super::{ApiError, Shared, blocking, cookies};

/// The largest form the pages read, in bytes.
const MAX_FORM: usize = 16 * 1024;

/// The session cookie's name.
const SESSION_COOKIE: &str = "cs_session";
/// The CSRF cookie's name.
const CSRF_COOKIE: &str = "cs_csrf";

/// The recipient's routes.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/shared/{tenant}/{token}", get(open))
        .route("/shared/{tenant}/{token}/code", post(forms::request_code))
        .route("/shared/{tenant}/{token}/verify", post(forms::verify_code))
        .route(
            "/shared/{tenant}/{token}/tasks/{task}",
            post(forms::update_task),
        )
        .route(
            "/shared/{tenant}/{token}/objectives/{objective}/comments",
            post(forms::comment),
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

/// The CSRF token of `link`'s forms for the browser holding CSRF cookie `cookie`.
fn csrf_token(app: &Shared, link: &Link, cookie: &str) -> String {
    cookies::mac(&app.secret, &[&link.tenant, &link.token, cookie])
}

/// Whether a form's CSRF token is the one for this link and this browser.
fn csrf_ok(app: &Shared, link: &Link, headers: &HeaderMap, given: &str) -> bool {
    cookies::get(headers, CSRF_COOKIE)
        .is_some_and(|cookie| cookies::same(&csrf_token(app, link, &cookie), given))
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
    cookies::get(headers, SESSION_COOKIE)
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
    let (cookie, fresh) = match cookies::get(headers, CSRF_COOKIE) {
        Some(cookie) => (cookie, false),
        None => match cookies::random_hex() {
            Some(cookie) => (cookie, true),
            None => return ApiError::internal().into_response(),
        },
    };
    let csrf = csrf_token(app, link, &cookie);
    let mut body = String::new();
    if let Some(notice) = notice {
        body.push_str(&view::notice_box(notice));
    }
    let html = match view {
        View::Plan { plan, error } => {
            if let Some(error) = error {
                body.push_str(&view::error_box(&error));
            }
            body.push_str(&view::plan_body(&link.path(), &plan, &csrf));
            page(&format!("{} for {}", plan.name, plan.customer), &body)
        }
        View::Code { error } => {
            if let Some(error) = error {
                body.push_str(&view::error_box(&error));
            }
            body.push_str(&view::code_body(&link.path(), &csrf));
            page("Enter your code", &body)
        }
    };
    let mut response = (status, Html(html)).into_response();
    if fresh {
        cookies::set(
            &mut response,
            CSRF_COOKIE,
            &cookie,
            &link.path(),
            None,
            secure(app),
        );
    }
    response
}

/// Whether links are served over HTTPS (behind a proxy that terminates TLS): cookies are then
/// `Secure`.
fn secure(app: &Shared) -> bool {
    app.link_base.starts_with("https://")
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
