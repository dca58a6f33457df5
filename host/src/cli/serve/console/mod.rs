//! The web console at `/console`: server-rendered pages for a tenant's admin (and its other
//! users, who see what their permissions let them), with no JavaScript and no asset from
//! elsewhere (the stylesheet is compiled in).
//!
//! Signing in takes an API token (`cshost token create`) and opens a session in the database
//! ([`Host::open_session`](cs_host::Host::open_session): the SHA-256 of a random id, the token's
//! row, the tenant and the end, so sessions outlive a restart of the server); the browser holds
//! the id in an `HttpOnly`, `SameSite=Strict` cookie scoped to `/console` and living at most
//! [`SESSION_SECS`]; signing out deletes the session. Every request authenticates the session's
//! token again ([`Host::session`](cs_host::Host::session)), so a revoked token stops the session
//! at once, and acts through the tenant handle the token reaches
//! ([`Host::tenant_for`](cs_host::Host::tenant_for)): the library's permission checks and
//! partner scoping apply as on the command line and the API. Every form carries a CSRF token
//! (an HMAC of the session id under the server's key; before signing in, of a random value in a
//! cookie of the browser's own).
//!
//! The pages: plugins (`plugins.rs`), run stats and failures (`runs.rs`, with the charts of
//! `chart.rs`), imports (`imports.rs`, uploads read by `multipart.rs`), and partners, shares and
//! the audit log (`records.rs`).

mod chart;
mod imports;
mod multipart;
mod plugins;
mod records;
mod runs;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use cs_host::access::Authenticated;
use cs_host::{Host, Tenant};
use serde::{Deserialize, Serialize};

use super::html::{esc, frame};
use super::{ApiError, Shared, blocking, cookies};

/// How long a console session lasts, in seconds; then the user signs in again.
pub const SESSION_SECS: u64 = 30 * 60;
/// The session cookie's name.
const SESSION_COOKIE: &str = "cs_console";
/// The cookie that keys the sign-in form's CSRF token.
const SIGNIN_COOKIE: &str = "cs_console_signin";
/// The largest form the console reads, in bytes (uploads have their own limit).
const MAX_FORM: usize = 64 * 1024;

/// The console's memory: the uploaded CSV files waiting to be imported. Sessions are kept in
/// the database by the library ([`Host::open_session`]), so they outlive a restart.
#[derive(Default)]
pub struct Console {
    imports: imports::Uploads,
}

impl Console {
    /// Ends session `id`: in the database, and its uploads waiting here.
    async fn close(&self, app: &Shared, id: &str) {
        let session = id.to_owned();
        if let Err(error) = blocking(app, move |host| {
            host.close_session(&session).map_err(ApiError::from)
        })
        .await
        {
            tracing::warn!(code = error.code, "cannot end a console session");
        }
        self.imports.forget_session(id);
    }
}

/// The console's routes, under `/console`.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/signin", get(signin_page).post(signin))
        .route("/console/signout", post(signout))
        .route("/console/assets/console.css", get(stylesheet))
        .merge(plugins::router())
        .merge(runs::router())
        .merge(records::router())
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .merge(imports::router())
}

/// A signed-in user of the console, from the session cookie, authenticated again now.
pub(super) struct User {
    who: Authenticated,
    tenant: String,
    session: String,
}

/// As an extractor, the session is checked in a blocking call of its own: for the handlers that
/// need to know the user before their first library call (a form's CSRF token, an upload).
impl FromRequestParts<Shared> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<User, Response> {
        let visitor = Visitor::from_request_parts(parts, app).await?;
        let id = visitor.session.clone();
        match blocking(app, move |host| host.session(&id).map_err(ApiError::from)).await {
            Ok((who, tenant)) => Ok(User {
                who,
                tenant,
                session: visitor.session,
            }),
            Err(error) => Err(visitor.refused(app, error).await),
        }
    }
}

/// A request's console session cookie, not checked yet: [`Visitor::run`] checks it (the
/// session's look-up, its token's) in the same call on the blocking pool as the page's library
/// work, so a page that starts with the library hands off to the pool once. A request without
/// the cookie is sent to sign in.
pub(super) struct Visitor {
    session: String,
}

impl FromRequestParts<Shared> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<Visitor, Response> {
        match cookies::get(&parts.headers, SESSION_COOKIE) {
            Some(session) => Ok(Visitor { session }),
            None => Err(see_other("/console/signin")),
        }
    }
}

impl Visitor {
    /// Checks the session and runs `work` on the tenant handle its token reaches, in one call on
    /// the blocking pool: the signed-in user with `work`'s answer. A session that ended (or
    /// never was) is sent to sign in again; `work`'s error becomes the user's error page.
    async fn run<T: Send + 'static>(
        self,
        app: &Shared,
        work: impl FnOnce(&Host, &Tenant<'_>) -> cs_host::Result<T> + Send + 'static,
    ) -> Result<(User, T), Response> {
        let id = self.session.clone();
        let checked = blocking(app, move |host: &Host| {
            let (who, tenant) = host.session(&id)?;
            let done = host
                .tenant_for(&who, &tenant)
                .and_then(|handle| work(host, &handle))
                .map_err(ApiError::from);
            Ok::<_, ApiError>((who, tenant, done))
        })
        .await;
        match checked {
            Ok((who, tenant, done)) => {
                let user = User {
                    who,
                    tenant,
                    session: self.session,
                };
                match done {
                    Ok(value) => Ok((user, value)),
                    Err(error) => Err(user.fail(app, error)),
                }
            }
            Err(error) => Err(self.refused(app, error).await),
        }
    }

    /// The answer when the session's check failed: to sign in again when the session ended
    /// (its uploads waiting here are dropped), else the error.
    async fn refused(self, app: &Shared, error: ApiError) -> Response {
        if error.code == "unauthenticated" {
            app.console.close(app, &self.session).await;
            see_other("/console/signin?ended=1")
        } else {
            error.into_response()
        }
    }
}

impl User {
    /// Who the user is, as the pages name them.
    fn name(&self) -> &str {
        match &self.who {
            Authenticated::Operator { .. } => "the platform operator",
            Authenticated::User { email, .. } => email,
        }
    }

    /// The CSRF token of this session's forms.
    fn csrf(&self, app: &Shared) -> String {
        cookies::mac(&app.secret, &["console", &self.session])
    }

    /// The hidden CSRF field of this session's forms.
    fn csrf_field(&self, app: &Shared) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            self.csrf(app)
        )
    }

    /// A form that posts to `action` with one button (`action` is a path of ours).
    fn button(&self, app: &Shared, action: &str, label: &str) -> String {
        format!(
            "<form method=\"post\" action=\"{}\">{}<button type=\"submit\">{}</button></form>",
            esc(action),
            self.csrf_field(app),
            esc(label)
        )
    }

    /// A console page: the navigation, then `body` (HTML built from escaped parts).
    fn page(&self, app: &Shared, title: &str, body: &str) -> Response {
        self.page_with(app, StatusCode::OK, title, "", body)
    }

    /// A console page with a status and more in its head (`head`: HTML of ours).
    fn page_with(
        &self,
        app: &Shared,
        status: StatusCode,
        title: &str,
        head: &str,
        body: &str,
    ) -> Response {
        let nav = format!(
            "<header class=\"bar\"><nav>\
             <a href=\"/console\"><strong>Console</strong></a>\
             <a href=\"/console/plugins\">Plugins</a>\
             <a href=\"/console/stats\">Run stats</a>\
             <a href=\"/console/failures\">Failures</a>\
             <a href=\"/console/imports\">Imports</a>\
             <a href=\"/console/partners\">Partners</a>\
             <a href=\"/console/shares\">Shares</a>\
             <a href=\"/console/audit\">Audit log</a></nav>\
             <span class=\"meta\">{} · tenant {}</span> {}</header>\n",
            esc(self.name()),
            esc(&self.tenant),
            self.button(app, "/console/signout", "Sign out"),
        );
        let head =
            format!("<link rel=\"stylesheet\" href=\"/console/assets/console.css\">\n{head}");
        (
            status,
            Html(frame(
                &format!("{title} · console"),
                &head,
                "console",
                &format!("{nav}<h1>{}</h1>\n{body}", esc(title)),
            )),
        )
            .into_response()
    }

    /// A page saying what went wrong, in the library's words.
    fn fail(&self, app: &Shared, error: ApiError) -> Response {
        let body = format!(
            "<section class=\"error\" role=\"alert\"><p>{}</p></section>\n\
             <p><a href=\"/console\">Back to the console</a></p>",
            esc(&error.message)
        );
        let title = if error.status == StatusCode::FORBIDDEN {
            "Not allowed"
        } else {
            "That did not work"
        };
        self.page_with(app, error.status, title, "", &body)
    }

    /// Checks a form's CSRF token.
    fn check(&self, app: &Shared, given: &str) -> Result<(), Response> {
        if cookies::same(&self.csrf(app), given) {
            Ok(())
        } else {
            Err(self.fail(
                app,
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "stale_form",
                    "This form has expired: open the page again and repeat what you were doing."
                        .to_owned(),
                ),
            ))
        }
    }

    /// A posted form, checked for its CSRF token.
    fn form<T: Posted>(
        &self,
        app: &Shared,
        form: Result<Form<T>, FormRejection>,
    ) -> Result<T, Response> {
        match form {
            Ok(Form(form)) => self.check(app, form.csrf()).map(|()| form),
            Err(rejection) => Err(self.fail(
                app,
                ApiError::new(StatusCode::BAD_REQUEST, "bad_form", rejection.body_text()),
            )),
        }
    }

    /// Runs `work` on the tenant handle the user's token reaches, on the blocking pool; an
    /// error becomes a page.
    async fn run<T: Send + 'static>(
        &self,
        app: &Shared,
        work: impl FnOnce(&Host, &Tenant<'_>) -> cs_host::Result<T> + Send + 'static,
    ) -> Result<T, Response> {
        let (who, tenant) = (self.who.clone(), self.tenant.clone());
        blocking(app, move |host: &Host| {
            let handle = host.tenant_for(&who, &tenant)?;
            work(host, &handle).map_err(ApiError::from)
        })
        .await
        .map_err(|error| self.fail(app, error))
    }
}

/// A form of the console: each carries the CSRF token.
trait Posted {
    fn csrf(&self) -> &str;
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
struct Plain {
    #[serde(default)]
    csrf: String,
}

impl Posted for Plain {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A 303 to `location` (a path of ours).
fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
        Html(String::new()),
    )
        .into_response()
}

/// A value's name as its JSON form spells it (`both`, `fail-open`, ...).
fn label<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A Unix time as the pages show it.
fn when(at: i64) -> String {
    esc(&cs_host::utc_timestamp(at))
}

/// `GET /console/assets/console.css`: the console's stylesheet, compiled in.
async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("console.css"),
    )
        .into_response()
}

/// `GET /console`: where each task is, one click away.
async fn home(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, principal) = match visitor.run(&app, |_, t| t.principal()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let sections = [
        (
            "/console/plugins",
            "Plugins",
            "Enable and disable plugins; their configuration, grants, limits and failure policy.",
        ),
        (
            "/console/stats",
            "Run stats",
            "Calls, failures and p50/p99 durations per plugin and hook, charted.",
        ),
        (
            "/console/failures",
            "Failures",
            "The last failures of each plugin, with their inputs to replay.",
        ),
        (
            "/console/imports",
            "Imports",
            "Upload a CSV file of companies or partners; see its mapping, progress and row errors.",
        ),
        (
            "/console/partners",
            "Partners",
            "The partners and the customers and relationships each manages.",
        ),
        (
            "/console/shares",
            "Shares",
            "Every shared plan's recipients and their links; revoke a link.",
        ),
        (
            "/console/audit",
            "Audit log",
            "Who changed what, newest first.",
        ),
    ];
    let mut body = format!(
        "<p class=\"meta\">Signed in as {} ({}), tenant {}.</p>\n<ul class=\"cards\">\n",
        esc(principal.name()),
        esc(&principal.role().name()),
        esc(&user.tenant)
    );
    for (href, title, what) in sections {
        body.push_str(&format!(
            "<li><a href=\"{href}\">{title}</a><p>{what}</p></li>\n"
        ));
    }
    body.push_str("</ul>\n");
    user.page(&app, "Console", &body)
}

#[derive(Deserialize)]
struct SigninQuery {
    ended: Option<String>,
}

/// `GET /console/signin`: the sign-in form.
async fn signin_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<SigninQuery>, QueryRejection>,
) -> Response {
    let ended = query.is_ok_and(|Query(q)| q.ended.is_some());
    signin_form(
        &app,
        &headers,
        StatusCode::OK,
        ended.then_some("Your session ended: sign in again."),
    )
}

/// The sign-in form, with a message, setting the browser's CSRF cookie when it has none.
fn signin_form(
    app: &Shared,
    headers: &HeaderMap,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let (cookie, fresh) = match cookies::get(headers, SIGNIN_COOKIE) {
        Some(cookie) => (cookie, false),
        None => match cookies::random_hex() {
            Some(cookie) => (cookie, true),
            None => return ApiError::internal().into_response(),
        },
    };
    let csrf = cookies::mac(&app.secret, &["console-signin", &cookie]);
    let message = message.map_or_else(String::new, |m| {
        format!(
            "<section class=\"error\" role=\"alert\"><p>{}</p></section>\n",
            esc(m)
        )
    });
    let body = format!(
        "<h1>Sign in to the console</h1>\n{message}<section>\n\
         <form class=\"block\" method=\"post\" action=\"/console/signin\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p><label for=\"token\">API token</label><br>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" \
         placeholder=\"csh_…\" size=\"40\" required></p>\
         <p><label for=\"tenant\">Tenant</label> <span class=\"meta\">(the platform \
         operator's token only)</span><br><input id=\"tenant\" name=\"tenant\" size=\"20\"></p>\
         <button type=\"submit\">Sign in</button></form>\n\
         <p class=\"meta\">A token comes from <code>cshost token create --tenant T --user \
         EMAIL</code>. The session lasts {} minutes.</p>\n</section>",
        SESSION_SECS / 60
    );
    let head = "<link rel=\"stylesheet\" href=\"/console/assets/console.css\">\n";
    let mut response = (status, Html(frame("Sign in · console", head, "", &body))).into_response();
    if fresh {
        cookies::set(
            &mut response,
            SIGNIN_COOKIE,
            &cookie,
            "/console",
            None,
            app.link_base.starts_with("https://"),
        );
    }
    response
}

#[derive(Deserialize)]
struct SigninForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    tenant: String,
}

/// `POST /console/signin`: checks the token and opens a session.
async fn signin(
    State(app): State<Shared>,
    headers: HeaderMap,
    form: Result<Form<SigninForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(_) => return signin_form(&app, &headers, StatusCode::BAD_REQUEST, None),
    };
    let csrf_ok = cookies::get(&headers, SIGNIN_COOKIE).is_some_and(|cookie| {
        cookies::same(
            &cookies::mac(&app.secret, &["console-signin", &cookie]),
            &form.csrf,
        )
    });
    if !csrf_ok {
        return signin_form(
            &app,
            &headers,
            StatusCode::FORBIDDEN,
            Some("This form has expired: sign in again."),
        );
    }
    let token = form.token.trim().to_owned();
    let tenant = form.tenant.trim().to_owned();
    let checked: Result<_, ApiError> = blocking(&app, move |host| {
        let who = host.authenticate(&token).map_err(ApiError::from)?;
        let tenant = match &who {
            Authenticated::User { tenant, .. } => tenant.clone(),
            Authenticated::Operator { .. } => tenant,
        };
        // The tenant must be reachable now: a wrong one is refused here, not on every page.
        host.open_session(&who, &tenant, SESSION_SECS)
            .map_err(ApiError::from)
    })
    .await;
    let id = match checked {
        Ok(session) => session.id,
        Err(error) => return signin_form(&app, &headers, error.status, Some(&error.message)),
    };
    let mut response = see_other("/console");
    cookies::set(
        &mut response,
        SESSION_COOKIE,
        &id,
        "/console",
        Some(SESSION_SECS as i64),
        app.link_base.starts_with("https://"),
    );
    response
}

/// `POST /console/signout`: ends the session (the token itself stays valid).
async fn signout(
    State(app): State<Shared>,
    user: User,
    form: Result<Form<Plain>, FormRejection>,
) -> Response {
    if let Err(page) = user.form(&app, form) {
        return page;
    }
    app.console.close(&app, &user.session).await;
    let mut response = see_other("/console/signin");
    // Expire the cookie in the browser too.
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A JSON file to download, named `name` (made of safe characters by the caller).
fn download_json(value: &serde_json::Value, name: &str) -> Response {
    let mut response = Json(value).into_response();
    if let Ok(value) =
        axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Keeps the characters of a name that are safe in a file name and a header: letters, digits,
/// `-`, `+` and `.`; others become `_`.
fn safe_name(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '+' | '.' => c,
            _ => '_',
        })
        .collect()
}
