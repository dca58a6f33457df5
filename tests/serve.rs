//! `cshost serve` over real HTTP on loopback: the real binary is started on a database the test
//! prepared through the library, and spoken to with a small HTTP/1.1 client. Health and
//! readiness, the JSON API's permission refusals and bad input, the security headers, the
//! recipient's pages from the link to a task update (the code read from the file mailbox the
//! server's outbox worker delivers to), a link blocked by three wrong codes, metrics, and a
//! clean stop on SIGTERM.

use crate::support;
use crate::support::server;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use cs_host::model::{Audience, Date};
use cs_host::{
    FieldType, Host, Licence, NewCompany, NewPlan, NewTask, SharePermission, ShareRequest, ShareTo,
    TaskOf, TenantLevel,
};

/// A `cshost serve` process on a fresh database, stopped (SIGTERM) when dropped.
struct Server(server::Serve);

impl std::ops::Deref for Server {
    type Target = server::Serve;

    fn deref(&self) -> &server::Serve {
        &self.0
    }
}

/// What the fixture made: the plan's ids and the bearer tokens.
struct Made {
    company: i64,
    plan: i64,
    task: i64,
    admin_token: String,
    viewer_token: String,
    operator_token: String,
}

/// A tenant `acme` with an admin and a viewer, a second tenant `beta`, a customer and a plan
/// that may be shared with contacts, with one objective shared externally and its task.
fn prepare(db: &Path) -> Made {
    let host = Host::open(db, support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    host.create_tenant("beta", "Beta", TenantLevel::Both)
        .unwrap();
    let operator = host.tenant("acme").unwrap();
    operator
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    operator
        .users()
        .add("viewer@acme.example", "Vic", Licence::Viewer)
        .unwrap();
    let acme = host
        .tenant("acme")
        .unwrap()
        .as_user("csm@acme.example")
        .unwrap();
    let company = acme.companies().add(NewCompany::new("Globex")).unwrap();
    let plan = acme
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Onboarding <pilot>".into(),
            due_date: Date::new(2027, 6, 30),
            share_with_contacts: true,
            ..NewPlan::default()
        })
        .unwrap();
    let objective = acme
        .plans()
        .add_objective(plan, "Go live", Date::new(2027, 4, 30), Some(true))
        .unwrap();
    let task = acme
        .plans()
        .add_task(
            TaskOf::Objective(objective),
            &NewTask {
                name: "Train <b>admins</b>".into(),
                ..NewTask::default()
            },
        )
        .unwrap();
    let admin_token = acme
        .access()
        .create_token("csm@acme.example", "tests", 1)
        .unwrap()
        .token;
    let viewer_token = host
        .tenant("acme")
        .unwrap()
        .access()
        .create_token("viewer@acme.example", "tests", 1)
        .unwrap()
        .token;
    let operator_token = host
        .create_operator_token("tests", 1, "operator")
        .unwrap()
        .token;
    Made {
        company,
        plan,
        task,
        admin_token,
        viewer_token,
        operator_token,
    }
}

impl Server {
    /// Prepares a database and starts `cshost serve` on a free port of 127.0.0.1.
    fn start() -> (Server, Made) {
        Server::start_with(&[])
    }

    /// The same, with more arguments for `cshost serve`.
    fn start_with(args: &[&str]) -> (Server, Made) {
        let mut made = None;
        let serve = server::Serve::start(|db| made = Some(prepare(db)), args);
        (Server(serve), made.expect("the fixture ran"))
    }

    fn host(&self) -> Host {
        Host::open(&self.db, support::host_config()).unwrap()
    }

    fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        self.request("GET", path, &headers, b"")
    }

    fn post_json(&self, path: &str, token: &str, body: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// A request with a JSON body (`""` for none) and the token.
    fn send_json(&self, method: &str, path: &str, token: &str, body: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// A CSV upload to the tenant's imports (`query` after `?`).
    fn upload(&self, tenant: &str, query: &str, token: &str, csv: &[u8]) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(
            "POST",
            &format!("/api/v1/tenants/{tenant}/imports?{query}"),
            &[("Authorization", &auth), ("Content-Type", "text/csv")],
            csv,
        )
    }

    /// The import job `id` once it has ended, polled as a client would.
    fn finished_job(&self, tenant: &str, id: i64, token: &str) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let job = self.get(
                &format!("/api/v1/tenants/{tenant}/imports/{id}"),
                Some(token),
            );
            assert_eq!(job.status, 200, "{}", job.body);
            let job = job.json();
            if job["status"] != "running" {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "import job {id} still runs: {job}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the server's log holds `needle`.
    fn log_shows(&self, needle: &str) {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.contains(needle) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the log never showed `{needle}`:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One request on its own connection.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let reply = server::http(&self.addr, method, path, headers, body);
        Reply {
            body: reply.text(),
            status: reply.status,
            headers: reply.headers,
        }
    }

    /// Stops the server with SIGTERM and returns whether it exited successfully.
    fn stop(&mut self) -> bool {
        let Some(mut child) = self.0.take_process() else {
            return true;
        };
        // SAFETY: sending a signal to the child process this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        child.wait().unwrap().success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP response.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The stable code of an API error.
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an API error: {}", self.body))
            .to_owned()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        body = &body[end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// A browser of one recipient: it keeps the cookies the server sets (by name; one link each).
struct Browser<'s> {
    server: &'s Server,
    cookies: BTreeMap<String, String>,
}

impl<'s> Browser<'s> {
    fn new(server: &'s Server) -> Browser<'s> {
        Browser {
            server,
            cookies: BTreeMap::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let body = form
            .iter()
            .map(|(n, v)| format!("{n}={}", v.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if !cookie.is_empty() {
            headers.push(("Cookie", &cookie));
        }
        let reply = self.server.request(method, path, &headers, body.as_bytes());
        for set in reply.cookies() {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        reply
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[])
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send("POST", path, form)
    }
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF token on the page:\n{page}"))
        + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

/// The path of a link (`http://127.0.0.1:PORT/shared/acme/<token>`).
fn path_of(link: &str) -> String {
    let at = link.find("/shared/").expect("a link to a shared plan");
    link[at..].to_owned()
}

/// Shares the plan with `email`, who may update it; returns the link.
fn share(server: &Server, made: &Made, email: &str) -> String {
    let host = server.host();
    let acme = host
        .tenant("acme")
        .unwrap()
        .as_user("csm@acme.example")
        .unwrap();
    let receipt = acme
        .shares()
        .share(&ShareRequest {
            recipients: vec![ShareTo {
                permission: SharePermission::Update,
                ..ShareTo::email(email)
            }],
            ..ShareRequest::new(made.plan, Audience::Contacts, [])
        })
        .unwrap();
    receipt.links[0].link.clone()
}

/// The six-digit code in a message.
fn code_in(mail: &str) -> String {
    let at = mail.find("Your one-time code is ").expect("a code message") + 22;
    mail[at..at + 6].to_owned()
}

#[test]
fn health_readiness_and_a_clean_stop_on_sigterm() {
    let (mut server, _) = Server::start();
    let health = server.get("/healthz", None);
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = server.get("/readyz", None);
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["status"], "ready");
    assert!(server.stop(), "the server exits successfully on SIGTERM");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // Request logs name the route, never the path's values.
    assert!(
        log.contains("route=\"/healthz\"") || log.contains("route=/healthz"),
        "{log}"
    );
}

#[test]
fn the_api_checks_tokens_and_permissions_and_answers_errors_as_json() {
    let (server, made) = Server::start();
    let companies = "/api/v1/tenants/acme/companies";

    // No token, and a token that does not exist.
    let none = server.get(companies, None);
    assert_eq!(none.status, 401);
    assert_eq!(none.code(), "unauthenticated");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let forged = server.get(companies, Some(&format!("csh_{}", "0".repeat(64))));
    assert_eq!(forged.status, 401);
    assert_eq!(forged.code(), "unauthenticated");

    // The admin lists and adds companies.
    let list = server.get(companies, Some(&made.admin_token));
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()[0]["name"], "Globex");
    let added = server.post_json(
        companies,
        &made.admin_token,
        r#"{"name": "Initech", "fields": {"industry": "Software"}}"#,
    );
    assert_eq!(added.status, 201, "{}", added.body);
    assert!(added.json()["id"].as_i64().is_some());
    let names: Vec<String> = server
        .get(companies, Some(&made.admin_token))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Globex", "Initech"]);

    // A viewer may read but not add: the library's refusal, in the command line's words.
    assert_eq!(server.get(companies, Some(&made.viewer_token)).status, 200);
    let refused = server.post_json(companies, &made.viewer_token, r#"{"name": "Hooli"}"#);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.code(), "forbidden");
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("viewer@acme.example"), "{message}");
    assert!(message.contains("may not do this"), "{message}");
    // Only the platform operator lists the installed plugins.
    assert_eq!(
        server
            .get("/api/v1/plugins", Some(&made.admin_token))
            .code(),
        "forbidden"
    );
    assert_eq!(
        server
            .get("/api/v1/plugins", Some(&made.operator_token))
            .status,
        200
    );

    // Malformed JSON, a body that is not JSON, and a field of the wrong type.
    let malformed = server.post_json(companies, &made.admin_token, r#"{"name": "#);
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(malformed.code(), "malformed_json");
    let plain = server.request(
        "POST",
        companies,
        &[("Authorization", &format!("Bearer {}", made.admin_token))],
        b"name=Hooli",
    );
    assert_eq!(plain.status, 415);
    assert_eq!(plain.code(), "unsupported_media_type");
    let wrong_type = server.post_json(companies, &made.admin_token, r#"{"name": 7}"#);
    assert_eq!(wrong_type.code(), "malformed_json");
    // A field the schema refuses: the library's words, naming the field.
    let bad_field = server.post_json(
        companies,
        &made.admin_token,
        r#"{"name": "Hooli", "fields": {"arr": "lots"}}"#,
    );
    assert_eq!(bad_field.status, 422, "{}", bad_field.body);
    assert_eq!(bad_field.code(), "invalid_input");
    assert!(bad_field.body.contains("arr"), "{}", bad_field.body);

    // A body over the limit (1 MiB) is refused before it is parsed.
    let oversize = format!(r#"{{"name": "{}"}}"#, "x".repeat(1024 * 1024));
    let too_large = server.post_json(companies, &made.admin_token, &oversize);
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert_eq!(too_large.code(), "too_large");

    // An unknown tenant, and another tenant than the token's: the same answer.
    let unknown = server.get("/api/v1/tenants/nope/companies", Some(&made.admin_token));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "not_found");
    let other = server.get("/api/v1/tenants/beta/companies", Some(&made.admin_token));
    assert_eq!(other.status, 404);
    assert_eq!(other.code(), "not_found");
    assert_eq!(
        server
            .get("/api/v1/tenants/nope/companies", Some(&made.operator_token))
            .code(),
        "not_found"
    );
    // A malformed id in the path, and a route that does not exist.
    let bad_path = server.get(
        "/api/v1/tenants/acme/companies/x/plans",
        Some(&made.admin_token),
    );
    assert_eq!(bad_path.status, 400);
    assert_eq!(bad_path.code(), "invalid_path");
    assert_eq!(
        server
            .get("/api/v1/nothing", Some(&made.admin_token))
            .code(),
        "no_such_route"
    );

    // Shares: listed, revoked; the outbox, the plugins, the audit log.
    share(&server, &made, "pat@globex.example");
    let shares = server.get("/api/v1/tenants/acme/shares", Some(&made.admin_token));
    assert_eq!(shares.status, 200, "{}", shares.body);
    let recipient = shares.json()[0]["recipient_id"].as_i64().unwrap();
    assert_eq!(shares.json()[0]["state"], "active");
    let viewer_revokes = server.post_json(
        &format!("/api/v1/tenants/acme/shares/{recipient}/revoke"),
        &made.viewer_token,
        "",
    );
    assert_eq!(viewer_revokes.status, 403, "{}", viewer_revokes.body);
    let revoked = server.post_json(
        &format!("/api/v1/tenants/acme/shares/{recipient}/revoke"),
        &made.admin_token,
        "",
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["revoked"], true);
    let shares = server.get("/api/v1/tenants/acme/shares", Some(&made.admin_token));
    assert_eq!(shares.json()[0]["state"], "revoked");
    let outbox = server.get(
        "/api/v1/tenants/acme/outbox?status=pending",
        Some(&made.admin_token),
    );
    assert_eq!(outbox.status, 200, "{}", outbox.body);
    let bad_status = server.get(
        "/api/v1/tenants/acme/outbox?status=lost",
        Some(&made.admin_token),
    );
    assert_eq!(bad_status.status, 422, "{}", bad_status.body);
    for path in ["plugins", "audit", "partners"] {
        let reply = server.get(
            &format!("/api/v1/tenants/acme/{path}"),
            Some(&made.admin_token),
        );
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    let audit = server.get("/api/v1/tenants/acme/audit", Some(&made.admin_token));
    assert!(audit.body.contains("share.revoke"), "{}", audit.body);
    let plans = server.get(
        &format!("/api/v1/tenants/acme/companies/{}/plans", made.company),
        Some(&made.admin_token),
    );
    assert_eq!(plans.status, 200, "{}", plans.body);
    assert_eq!(plans.json()[0]["name"], "Onboarding <pilot>");

    // Metrics name tenants: the platform operator's token only.
    assert_eq!(server.get("/metrics", None).status, 401);
    assert_eq!(server.get("/metrics", Some(&made.admin_token)).status, 403);
    let metrics = server.get("/metrics", Some(&made.operator_token));
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains(
            "cshost_http_requests_total{method=\"GET\",route=\"/api/v1/tenants/{tenant}/companies\",status=\"200\"}"
        ),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("cshost_outbox_backlog{tenant=\"acme\"}")
    );
}

#[test]
fn a_recipient_opens_the_link_enters_the_mailed_code_and_updates_a_task() {
    let (server, made) = Server::start();
    let link = share(&server, &made, "pat@globex.example");
    // The link points at this server, and the share email carries it.
    assert!(
        link.starts_with(&format!("http://{}/shared/acme/", server.addr)),
        "{link}"
    );
    server.mail_containing("acme", &[&link]);
    let path = path_of(&link);

    let mut browser = Browser::new(&server);
    let page = browser.get(&path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Send me a code"), "{}", page.body);
    // Every page: no referrer, no caching, a strict policy, no script.
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert!(!page.body.contains("<script"));
    let token = csrf(&page.body);

    // A form without its CSRF token is refused, and sends nothing.
    let forged = browser.post(&format!("{path}/code"), &[]);
    assert_eq!(forged.status, 403);
    let forged = browser.post(&format!("{path}/code"), &[("csrf", &"0".repeat(64))]);
    assert_eq!(forged.status, 403);

    let sent = browser.post(&format!("{path}/code"), &[("csrf", &token)]);
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(
        sent.header("location"),
        Some(&*format!("{path}?notice=sent"))
    );
    let code = code_in(&server.mail_containing("acme", &["Your one-time code is "]));

    let verified = browser.post(
        &format!("{path}/verify"),
        &[("csrf", &token), ("code", &code)],
    );
    assert_eq!(verified.status, 303, "{}", verified.body);
    let session = verified
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("cs_session="))
        .expect("a session cookie")
        .to_owned();
    // The cookie is bound to this link, short-lived, and out of scripts' and other sites' reach.
    assert!(session.contains(&format!("Path={path}")), "{session}");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Max-Age=3600"), "{session}");

    let plan = browser.get(&path);
    assert_eq!(plan.status, 200, "{}", plan.body);
    // Untrusted text is escaped.
    assert!(
        plan.body.contains("Onboarding &lt;pilot&gt;"),
        "{}",
        plan.body
    );
    assert!(
        plan.body.contains("Train &lt;b&gt;admins&lt;/b&gt;"),
        "{}",
        plan.body
    );
    assert!(!plan.body.contains("<b>admins"));
    let token = csrf(&plan.body);
    let task_path = format!("{path}/tasks/{}", made.task);
    assert!(plan.body.contains(&task_path), "{}", plan.body);

    let done = browser.post(&task_path, &[("csrf", &token), ("done", "1")]);
    assert_eq!(done.status, 303, "{}", done.body);
    let due = browser.post(&task_path, &[("csrf", &token), ("due", "2027-04-20")]);
    assert_eq!(due.status, 303, "{}", due.body);
    let after = browser.get(&path);
    assert!(after.body.contains("Reopen"), "{}", after.body);
    assert!(after.body.contains("2027-04-20"), "{}", after.body);

    // The CSM sees the change, made by the recipient.
    let host = server.host();
    let acme = host.tenant("acme").unwrap();
    let task = &acme.plans().get(made.plan).unwrap().objectives[0].tasks[0];
    assert_eq!(task.status, "done");
    assert_eq!(task.due_date, Date::new(2027, 4, 20));
    assert!(
        acme.audit()
            .list()
            .unwrap()
            .iter()
            .any(|e| e.actor == "recipient:pat@globex.example")
    );

    // Another browser, without the session, gets the code form again and cannot change tasks.
    let mut stranger = Browser::new(&server);
    let page = stranger.get(&path);
    assert!(page.body.contains("Send me a code"));
    let refused = stranger.post(&task_path, &[("csrf", &csrf(&page.body)), ("done", "0")]);
    assert_eq!(refused.status, 401, "{}", refused.body);
    let task = &acme.plans().get(made.plan).unwrap().objectives[0].tasks[0];
    assert_eq!(task.status, "done");
}

#[test]
fn three_wrong_codes_block_the_link_which_then_looks_like_any_unknown_link() {
    let (server, made) = Server::start();
    let path = path_of(&share(&server, &made, "sam@globex.example"));
    let mut browser = Browser::new(&server);
    let token = csrf(&browser.get(&path).body);
    assert_eq!(
        browser
            .post(&format!("{path}/code"), &[("csrf", &token)])
            .status,
        303
    );
    let code = code_in(&server.mail_containing("acme", &["Your one-time code is "]));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for tries_left in ["2 more tries", "1 more try"] {
        let reply = browser.post(
            &format!("{path}/verify"),
            &[("csrf", &token), ("code", wrong)],
        );
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains(tries_left), "{}", reply.body);
    }
    let blocked = browser.post(
        &format!("{path}/verify"),
        &[("csrf", &token), ("code", wrong)],
    );
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    assert!(blocked.body.contains("blocked"), "{}", blocked.body);
    // The right code no longer opens it.
    let late = browser.post(
        &format!("{path}/verify"),
        &[("csrf", &token), ("code", &code)],
    );
    assert_eq!(late.status, 404, "{}", late.body);

    // Blocked, unknown token, unknown tenant, malformed token: the same page.
    let blocked = browser.get(&path);
    let unknown = browser.get(&format!("/shared/acme/{}", "ab".repeat(32)));
    let no_tenant = browser.get(&path.replace("/shared/acme/", "/shared/nope/"));
    let malformed = browser.get("/shared/acme/%3Cscript%3E");
    for reply in [&unknown, &no_tenant, &malformed] {
        assert_eq!(reply.status, blocked.status);
        assert_eq!(reply.body, blocked.body);
    }
    assert_eq!(blocked.status, 404);
    assert!(blocked.body.contains("This link is not valid"));
}

#[test]
fn one_client_address_gets_a_limited_number_of_code_requests_and_attempts() {
    let (server, made) = Server::start_with(&["--recipient-tries", "3"]);
    let path = path_of(&share(&server, &made, "pat@globex.example"));
    let mut browser = Browser::new(&server);
    let token = csrf(&browser.get(&path).body);
    let sent = browser.post(&format!("{path}/code"), &[("csrf", &token)]);
    assert_eq!(sent.status, 303, "{}", sent.body);
    let code = code_in(&server.mail_containing("acme", &["Your one-time code is "]));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let first = browser.post(
        &format!("{path}/verify"),
        &[("csrf", &token), ("code", wrong)],
    );
    assert_eq!(first.status, 400, "{}", first.body);
    let second = browser.post(&format!("{path}/code"), &[("csrf", &token)]);
    assert_eq!(second.status, 303, "{}", second.body);
    // The fourth try from this address is refused before it reaches the link, which stays
    // open (a wrong code counted there would have been its second).
    let refused = browser.post(
        &format!("{path}/verify"),
        &[("csrf", &token), ("code", wrong)],
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("Too many tries"), "{}", refused.body);
    let host = server.host();
    let shares = host.tenant("acme").unwrap().shares().list(None).unwrap();
    assert_eq!(shares[0].state, cs_host::LinkState::Active);
}

/// Every class of error answers its stable code with its HTTP status, over real HTTP.
#[test]
fn each_class_of_error_answers_its_code_and_status() {
    let (server, made) = Server::start_with(&["--rate-limit", "1", "--rate-burst", "60"]);
    let admin = made.admin_token.as_str();
    let companies = "/api/v1/tenants/acme/companies";
    {
        let host = server.host();
        let acme = host.tenant("acme").unwrap();
        acme.imports().set_size_limit(200).unwrap();
        acme.access()
            .set_settings(cs_host::access::AccessSettings {
                max_partners: Some(0),
                max_partner_users: None,
            })
            .unwrap();
    }
    let cases: Vec<(Reply, u16, &str)> = vec![
        (server.get(companies, None), 401, "unauthenticated"),
        (
            server.post_json(companies, &made.viewer_token, r#"{"name": "Hooli"}"#),
            403,
            "forbidden",
        ),
        (
            server.get("/api/v1/tenants/nope/companies", Some(admin)),
            404,
            "not_found",
        ),
        (
            server.get(&format!("{companies}/999999"), Some(admin)),
            404,
            "not_found",
        ),
        (
            server.post_json(
                companies,
                admin,
                r#"{"name": "Hooli", "fields": {"arr": "lots"}}"#,
            ),
            422,
            "invalid_input",
        ),
        (
            server.post_json(
                "/api/v1/tenants",
                &made.operator_token,
                r#"{"id": "acme", "name": "Again", "level": "both"}"#,
            ),
            409,
            "conflict",
        ),
        (
            server.post_json(
                "/api/v1/tenants/acme/partners",
                admin,
                r#"{"name": "Bennett", "scope": "both"}"#,
            ),
            422,
            "limit_exceeded",
        ),
        (
            server.upload(
                "acme",
                "name=big.csv",
                admin,
                "Name\n".repeat(100).as_bytes(),
            ),
            413,
            "too_large",
        ),
        (
            server.post_json(companies, admin, "{"),
            400,
            "malformed_json",
        ),
        (
            server.get(&format!("{companies}/x"), Some(admin)),
            400,
            "invalid_path",
        ),
        (
            server.get("/api/v1/nothing", Some(admin)),
            404,
            "no_such_route",
        ),
        (
            server.send_json("DELETE", "/api/v1/whoami", admin, ""),
            405,
            "method_not_allowed",
        ),
    ];
    for (reply, status, code) in &cases {
        assert_eq!(reply.status, *status, "{code}: {}", reply.body);
        assert_eq!(reply.code(), *code, "{}", reply.body);
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!message.is_empty());
    }
    // The library's words: the refused field and the full file are named.
    assert!(cases[4].0.body.contains("arr"), "{}", cases[4].0.body);
    assert!(cases[7].0.body.contains("big.csv"), "{}", cases[7].0.body);
    // Nothing of the refused upload was imported.
    let host = server.host();
    assert!(
        host.tenant("acme")
            .unwrap()
            .imports()
            .jobs()
            .unwrap()
            .is_empty()
    );

    // The viewer's token spends its own bucket: 60 at once, then 429 with Retry-After, while the
    // admin's token goes on.
    let mut limited = None;
    for _ in 0..61 {
        let reply = server.get(companies, Some(&made.viewer_token));
        if reply.status != 200 {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("the 61st request of a burst of 60 is refused");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.code(), "rate_limited");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
    assert_eq!(server.get(companies, Some(admin)).status, 200);
}

/// The API does what the command line does, through the library's checks: tenants and users,
/// relationships, partners and criteria, plans, tasks and CTAs, shares, plugins and their
/// enablements, the run log and the audit log.
#[test]
fn the_api_covers_what_the_command_line_does() {
    let (server, made) = Server::start();
    let admin = made.admin_token.as_str();
    let operator = made.operator_token.as_str();
    let api = |path: &str| format!("/api/v1/tenants/acme{path}");
    let ok = |reply: Reply, status: u16| -> serde_json::Value {
        assert_eq!(reply.status, status, "{}", reply.body);
        reply.json()
    };

    // Tenants: the operator creates one and sees all; a user sees its own.
    let created = ok(
        server.post_json(
            "/api/v1/tenants",
            operator,
            r#"{"id": "gamma", "name": "Gamma", "level": "company"}"#,
        ),
        201,
    );
    assert_eq!(created["id"], "gamma");
    let all = ok(server.get("/api/v1/tenants", Some(operator)), 200);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let own = ok(server.get("/api/v1/tenants", Some(admin)), 200);
    assert_eq!(own[0]["id"], "acme");
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(
        server
            .post_json(
                "/api/v1/tenants",
                admin,
                r#"{"id": "x", "name": "X", "level": "both"}"#
            )
            .code(),
        "forbidden"
    );

    // Users: an admin adds a viewer; a viewer may not add users.
    ok(
        server.post_json(
            &api("/users"),
            admin,
            r#"{"email": "val@acme.example", "name": "Val", "licence": "viewer"}"#,
        ),
        201,
    );
    let users = ok(server.get(&api("/users"), Some(admin)), 200);
    assert!(users.to_string().contains("val@acme.example"), "{users}");
    assert_eq!(
        server
            .post_json(
                &api("/users"),
                &made.viewer_token,
                r#"{"email": "eve@acme.example", "admin": true}"#
            )
            .code(),
        "forbidden"
    );

    // Relationship types and relationships.
    let kind = ok(
        server.post_json(
            &api("/relationship-types"),
            admin,
            r#"{"name": "Subsidiary"}"#,
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let body = format!(
        r#"{{"company_id": {}, "type_id": {kind}, "name": "Globex EU"}}"#,
        made.company
    );
    let relationship = ok(server.post_json(&api("/relationships"), admin, &body), 201)["id"]
        .as_i64()
        .unwrap();
    let listed = ok(
        server.get(
            &api(&format!("/relationships?company={}", made.company)),
            Some(admin),
        ),
        200,
    );
    assert_eq!(listed[0]["name"], "Globex EU");
    ok(
        server.send_json(
            "PATCH",
            &api(&format!("/relationships/{relationship}")),
            admin,
            r#"{"name": "Globex Europe"}"#,
        ),
        200,
    );
    let one = ok(
        server.get(&api(&format!("/relationships/{relationship}")), Some(admin)),
        200,
    );
    assert_eq!(one["name"], "Globex Europe");
    assert_eq!(
        server
            .send_json(
                "DELETE",
                &api(&format!("/relationships/{relationship}")),
                &made.viewer_token,
                ""
            )
            .code(),
        "forbidden"
    );
    ok(
        server.send_json(
            "DELETE",
            &api(&format!("/relationships/{relationship}")),
            admin,
            "",
        ),
        200,
    );

    // Partners: added, tagged from a company, and by criteria.
    let initech = ok(
        server.post_json(
            &api("/companies"),
            admin,
            r#"{"name": "Initech", "fields": {"industry": "Software"}}"#,
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let tagged = ok(
        server.post_json(
            &api("/partners/tag"),
            admin,
            &format!(r#"{{"ids": [{initech}], "scope": "both"}}"#),
        ),
        200,
    );
    assert_eq!(tagged[0]["id"], initech);
    let criteria = serde_json::to_string(&cs_host::Criteria::new(vec![cs_host::Filter::field(
        "name",
        cs_host::Operator::Eq,
        [cs_host::model::FieldValue::Text("Globex".into())],
    )]))
    .unwrap();
    let selection = ok(
        server.post_json(&api("/criteria/run"), admin, &criteria),
        200,
    );
    assert_eq!(selection["count"], 1);
    let portfolio = ok(
        server.get(&api(&format!("/partners/{initech}/portfolio")), Some(admin)),
        200,
    );
    assert!(portfolio.is_object(), "{portfolio}");
    ok(
        server.send_json("DELETE", &api(&format!("/partners/{initech}")), admin, ""),
        200,
    );

    // A plan with an objective and a task, updated; a CTA opened, closed and reopened.
    let plan = ok(
        server.post_json(
            &api("/plans"),
            admin,
            &format!(
                r#"{{"company_id": {}, "name": "Renewal", "due_date": "2027-09-30"}}"#,
                made.company
            ),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let objective = ok(
        server.post_json(
            &api(&format!("/plans/{plan}/objectives")),
            admin,
            r#"{"name": "Expand", "due_date": "2027-08-31"}"#,
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let task = ok(
        server.post_json(
            &api(&format!("/objectives/{objective}/tasks")),
            admin,
            r#"{"name": "Call the sponsor"}"#,
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    ok(
        server.send_json(
            "PATCH",
            &api(&format!("/tasks/{task}")),
            admin,
            r#"{"done": true, "due_date": "2027-07-01"}"#,
        ),
        200,
    );
    let shown = ok(
        server.get(&api(&format!("/plans/{plan}")), Some(admin)),
        200,
    );
    assert!(shown.to_string().contains("Call the sponsor"), "{shown}");
    ok(
        server.post_json(
            &api(&format!("/plans/{plan}/status")),
            admin,
            r#"{"status": "active"}"#,
        ),
        200,
    );
    let refused = server.post_json(
        &api(&format!("/plans/{plan}/status")),
        admin,
        r#"{"status": "draft"}"#,
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.code(), "conflict");
    let cta = ok(
        server.post_json(
            &api("/ctas"),
            admin,
            &format!(
                r#"{{"company_id": {}, "kind": "risk", "name": "Usage drop"}}"#,
                made.company
            ),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    ok(
        server.post_json(
            &api(&format!("/ctas/{cta}/close")),
            admin,
            r#"{"reason": "resolved"}"#,
        ),
        200,
    );
    ok(
        server.post_json(&api(&format!("/ctas/{cta}/reopen")), admin, ""),
        200,
    );
    let ctas = ok(
        server.get(
            &api(&format!("/ctas?company_id={}", made.company)),
            Some(admin),
        ),
        200,
    );
    assert!(ctas.to_string().contains("Usage drop"), "{ctas}");

    // Shares: created (the answer holds the link), re-issued (a new link), revoked.
    let share = format!(
        r#"{{"plan_id": {}, "audience": "contacts", "recipients": [{{"email": "kim@globex.example"}}]}}"#,
        made.plan
    );
    let receipt = ok(server.post_json(&api("/shares"), admin, &share), 201);
    let first = receipt["links"][0]["link"].as_str().unwrap().to_owned();
    let recipient = ok(server.get(&api("/shares"), Some(admin)), 200)[0]["recipient_id"]
        .as_i64()
        .unwrap();
    let reissued = ok(
        server.post_json(&api(&format!("/shares/{recipient}/reissue")), admin, ""),
        200,
    );
    assert_ne!(reissued["link"].as_str().unwrap(), first);
    assert_eq!(server.get(&path_of(&first), None).status, 404);

    // Plugins: the operator installs one, a tenant admin enables it with limits and a policy,
    // configures it, and the platform refuses limits over its maxima.
    let wasm = support::plugin_bytes("slow-mapper");
    let installed = server.request(
        "POST",
        "/api/v1/plugins",
        &[
            ("Authorization", &format!("Bearer {operator}")),
            ("Content-Type", "application/wasm"),
        ],
        &wasm,
    );
    assert_eq!(installed.status, 201, "{}", installed.body);
    let inspected = ok(
        server.get("/api/v1/plugins/slow-mapper", Some(operator)),
        200,
    );
    assert_eq!(inspected["manifest"]["name"], "slow-mapper");
    let enabled = ok(
        server.send_json(
            "PUT",
            &api("/plugins/slow-mapper"),
            admin,
            r#"{"config": {"ms-per-row": "1"}, "policy": "fail-open", "limits": {"fuel": 5000000}}"#,
        ),
        200,
    );
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["failure_policy"], "fail-open");
    assert_eq!(enabled["limits"]["fuel"], 5_000_000);
    let over = server.send_json(
        "PUT",
        &api("/plugins/slow-mapper/limits"),
        admin,
        r#"{"fuel": 1000000000000000}"#,
    );
    assert_eq!(over.status, 422, "{}", over.body);
    assert_eq!(over.code(), "limit_exceeded");
    let configured = ok(
        server.send_json(
            "PUT",
            &api("/plugins/slow-mapper/config"),
            admin,
            r#"{"ms-per-row": "2"}"#,
        ),
        200,
    );
    assert_eq!(configured["config"]["ms-per-row"], "2");
    let bad_key = server.send_json(
        "PUT",
        &api("/plugins/slow-mapper/config"),
        admin,
        r#"{"nope": "1"}"#,
    );
    assert_eq!(bad_key.code(), "invalid_input", "{}", bad_key.body);
    assert_eq!(
        server
            .send_json(
                "PUT",
                &api("/plugins/slow-mapper"),
                &made.viewer_token,
                "{}"
            )
            .code(),
        "forbidden"
    );
    let in_use = server.send_json("DELETE", "/api/v1/plugins/slow-mapper", operator, "");
    assert_eq!(in_use.status, 409, "{}", in_use.body);
    ok(
        server.post_json(&api("/plugins/slow-mapper/disable"), admin, ""),
        200,
    );
    ok(server.get(&api("/runs/stats"), Some(admin)), 200);
    ok(
        server.get(&api("/runs/failures?plugin=slow-mapper"), Some(admin)),
        200,
    );
    ok(
        server.send_json(
            "DELETE",
            "/api/v1/plugins/slow-mapper?force=true",
            operator,
            "",
        ),
        200,
    );

    // All of it is in the audit log, by whom.
    let audit = server.get(&api("/audit"), Some(admin)).body;
    for action in [
        "plan.status",
        "share.reissue",
        "plugin.enable",
        "plugin.disable",
    ] {
        assert!(audit.contains(action), "{action} missing: {audit}");
    }
}

/// A CSV upload becomes an import job: polled to its end, with its row errors and their CSV;
/// relationships likewise; a viewer may not import.
#[test]
fn a_csv_upload_becomes_an_import_job_with_progress_and_row_errors() {
    let (server, made) = Server::start();
    let admin = made.admin_token.as_str();
    let mut csv = String::from("Name,ARR\n");
    for n in 1..=2000 {
        csv.push_str(&format!("Company {n},{}\n", n * 10));
    }
    csv.push_str("Broken,not a number\n");
    let started = server.upload("acme", "name=customers.csv", admin, csv.as_bytes());
    assert_eq!(started.status, 202, "{}", started.body);
    let id = started.json()["id"].as_i64().unwrap();
    assert_eq!(
        started.header("location"),
        Some(format!("/api/v1/tenants/acme/imports/{id}").as_str())
    );
    let job = server.finished_job("acme", id, admin);
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["source"], "customers.csv");
    assert_eq!(
        (job["created"].as_u64(), job["failed"].as_u64()),
        (Some(2000), Some(1))
    );
    assert_eq!(job["errors"][0]["row"], 2001, "{job}");
    let errors = server.get(
        &format!("/api/v1/tenants/acme/imports/{id}/errors.csv"),
        Some(admin),
    );
    assert_eq!(errors.status, 200);
    assert!(
        errors
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(errors.body.starts_with("row,"), "{}", errors.body);
    assert!(errors.body.contains("2001"), "{}", errors.body);
    let jobs = server
        .get("/api/v1/tenants/acme/imports", Some(admin))
        .json();
    assert_eq!(jobs.as_array().unwrap().len(), 1);

    // A dry run answers its report at once and writes nothing.
    let dry = server.upload("acme", "dry_run=true", admin, b"Name\nNever Written\n");
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.json()["created"], 1);
    let search = server.get("/api/v1/tenants/acme/companies?search=Never", Some(admin));
    assert_eq!(
        search.json().as_array().unwrap().len(),
        0,
        "{}",
        search.body
    );

    // A file refused before its first row answers at once, in the library's words.
    let refused = server.upload("acme", "name=headless.csv", admin, b"Industry\nRetail\n");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.code(), "invalid_input");
    assert!(refused.body.contains("headless.csv"), "{}", refused.body);
    // A viewer may not import; an unknown target is refused.
    let viewer = server.upload("acme", "", &made.viewer_token, b"Name\nX\n");
    assert_eq!(viewer.status, 403, "{}", viewer.body);
    assert_eq!(
        server
            .upload("acme", "target=planets", admin, b"Name\nX\n")
            .code(),
        "invalid_input"
    );

    // Relationships: an upload of their own target.
    server
        .host()
        .tenant("acme")
        .unwrap()
        .relationship_types()
        .add("Subsidiary")
        .unwrap();
    let rows =
        b"Relationship Name,Company,Type\nGlobex EU,Globex,Subsidiary\nLost,Nobody,Subsidiary\n";
    let started = server.upload("acme", "target=relationships&name=rel.csv", admin, rows);
    assert_eq!(started.status, 202, "{}", started.body);
    let job = server.finished_job("acme", started.json()["id"].as_i64().unwrap(), admin);
    assert_eq!(
        (job["created"].as_u64(), job["failed"].as_u64()),
        (Some(1), Some(1)),
        "{job}"
    );
    assert!(
        job["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("Nobody"),
        "{job}"
    );
}

/// Plugin uploads: only the operator's, only components, only up to the platform maximum.
#[test]
fn plugin_uploads_refuse_what_is_not_a_component_or_too_large() {
    let (server, made) = Server::start_with(&["--max-plugin-size", "4096"]);
    let upload = |token: &str, bytes: &[u8]| {
        server.request(
            "POST",
            "/api/v1/plugins",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/wasm"),
            ],
            bytes,
        )
    };
    let not_wasm = upload(&made.operator_token, b"#!/bin/sh\necho hello\n");
    assert_eq!(not_wasm.status, 422, "{}", not_wasm.body);
    assert_eq!(not_wasm.code(), "invalid_input");
    assert!(not_wasm.body.contains("WebAssembly"), "{}", not_wasm.body);
    // A WebAssembly module that is no component: the library's refusal.
    let module = upload(&made.operator_token, b"\0asm\x01\0\0\0");
    assert_eq!(module.status, 422, "{}", module.body);
    assert_eq!(module.code(), "invalid_input");
    let big = upload(&made.operator_token, &vec![0u8; 8192]);
    assert_eq!(big.status, 413, "{}", big.body);
    assert_eq!(big.code(), "too_large");
    let admin = upload(&made.admin_token, b"\0asm\x01\0\0\0");
    assert_eq!(admin.status, 403, "{}", admin.body);
    assert!(server.host().installed_plugins().unwrap().is_empty());
}

/// The OpenAPI document lists every route the API mounts, and every route it lists is mounted.
#[test]
fn the_openapi_document_and_the_mounted_routes_agree() {
    let (server, _) = Server::start();
    let document = server.get("/api/v1/openapi.json", None);
    assert_eq!(document.status, 200, "{}", document.body);
    let document = document.json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() > 40, "{}", paths.len());
    // Documented → mounted: every documented operation reaches its handler (which asks for a
    // token), never the fallbacks for unknown routes and methods.
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let concrete: String = path
                .split('/')
                .map(|segment| match segment {
                    "{tenant}" => "acme",
                    "{plugin}" | "{key}" => "x",
                    "{capability}" => "read-companies",
                    s if s.starts_with('{') => "1",
                    s => s,
                })
                .collect::<Vec<_>>()
                .join("/");
            let reply = server.request(
                &method.to_uppercase(),
                &format!("/api/v1{concrete}"),
                &[],
                b"",
            );
            assert!(
                reply.status == 401 || path == "/openapi.json",
                "{method} {path}: {} {}",
                reply.status,
                reply.body
            );
        }
    }
    // Mounted → documented: the API mounts routes only from the table the document is made of.
    let dir = support::root().join("host/src/cli/serve/api");
    let mut mounts = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for call in [
            ".route(",
            ".nest(",
            ".merge(",
            ".route_service(",
            ".nest_service(",
        ] {
            mounts += source.matches(call).count();
            if call != ".route(" {
                assert!(
                    !source.contains(call),
                    "{} mounts with {call}",
                    path.display()
                );
            }
        }
    }
    assert_eq!(mounts, 1, "only the route table's macro mounts API routes");
}

/// The OpenAPI document is OpenAPI 3.1 with a schema for every JSON body, and what the running
/// server really answers (companies, a plan, a share, plugin stats, the audit log, an error)
/// matches the schema the document gives for the route and status; a body the request schema
/// refuses (a field missing, an unknown field) is refused by the server with the error the
/// document lists for that status.
#[test]
fn the_openapi_schemas_describe_what_the_server_really_reads_and_answers() {
    let (server, made) = Server::start();
    let admin = made.admin_token.as_str();
    let operator = made.operator_token.as_str();
    let document = server.get("/api/v1/openapi.json", None);
    assert_eq!(document.status, 200, "{}", document.body);
    let doc = document.json();

    // The shape of an OpenAPI 3.1 document, and every schema in it checkable here.
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        for (method, operation) in operations.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(
                operation_ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                "{at}: operationId repeated"
            );
            assert!(operation["summary"].is_string(), "{at}");
            let parameters = operation["parameters"].as_array().unwrap();
            for parameter in parameters {
                assert!(
                    ["path", "query"].contains(&parameter["in"].as_str().unwrap()),
                    "{at}: {parameter}"
                );
                known_keywords(&doc, &parameter["schema"], &at);
            }
            let declared: Vec<&str> = parameters
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for name in path.split('/').filter_map(|s| s.strip_prefix('{')) {
                assert!(declared.contains(&name.trim_end_matches('}')), "{at}");
            }
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{at}");
            let mut schemas: Vec<&serde_json::Value> = responses
                .values()
                .flat_map(|r| r["content"].as_object().unwrap().values())
                .map(|media| &media["schema"])
                .collect();
            if let Some(body) = operation.get("requestBody") {
                let (media, content) = body["content"].as_object().unwrap().iter().next().unwrap();
                if media == "application/json" {
                    // Generated from the handler's type, never a bare `object`.
                    assert_ne!(
                        content["schema"],
                        serde_json::json!({"type": "object"}),
                        "{at}"
                    );
                }
                schemas.push(&content["schema"]);
            }
            for schema in schemas {
                known_keywords(&doc, schema, &at);
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        known_keywords(&doc, schema, name);
    }
    // Query parameters come from the handlers' query types.
    let query = |method: &str, route: &str| -> Vec<String> {
        doc["paths"][route][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        query("get", "/tenants/{tenant}/companies"),
        ["after", "limit", "search"]
    );
    assert_eq!(
        query("post", "/tenants/{tenant}/imports"),
        ["dry_run", "name", "scope", "target"]
    );
    assert!(query("get", "/tenants/{tenant}/plans/{plan}").is_empty());
    // Path parameters take their types from the handlers' too.
    let path_types: Vec<&serde_json::Value> = doc["paths"]["/tenants/{tenant}/plans/{plan}"]["get"]
        ["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["schema"]["type"])
        .collect();
    assert_eq!(path_types, ["string", "integer"]);
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let ok = &operation["responses"]["200"]["content"]["application/json"]["schema"];
            if method == "get" && path != "/openapi.json" && !path.ends_with(".csv") {
                assert!(ok.is_object(), "{method} {path} documents no JSON answer");
            }
        }
    }

    // Real answers of the running server, each against its route's schema for its status.
    {
        // Custom fields, so that the answers hold every kind of field value.
        let host = server.host();
        let acme = host.tenant("acme").unwrap();
        acme.companies()
            .define_field("renewal", FieldType::Date, false)
            .unwrap();
        acme.companies()
            .define_field("seats", FieldType::Number, false)
            .unwrap();
        acme.companies()
            .define_field("churned", FieldType::Boolean, false)
            .unwrap();
    }
    let api = |path: &str| format!("/api/v1/tenants/acme{path}");
    let checked = |method: &str, route: &str, reply: Reply| -> serde_json::Value {
        assert!(
            matches!(reply.status, 200..=299),
            "{method} {route}: {} {}",
            reply.status,
            reply.body
        );
        answers_as_documented(&doc, method, route, &reply);
        reply.json()
    };
    let refused = |method: &str, route: &str, reply: Reply| {
        assert!(reply.status >= 400, "{method} {route}: {}", reply.status);
        answers_as_documented(&doc, method, route, &reply);
    };
    checked("get", "/whoami", server.get("/api/v1/whoami", Some(admin)));
    checked(
        "get",
        "/whoami",
        server.get("/api/v1/whoami", Some(operator)),
    );
    checked(
        "get",
        "/tenants",
        server.get("/api/v1/tenants", Some(operator)),
    );
    let company = server.post_json(
        &api("/companies"),
        admin,
        r#"{"name": "Initech", "fields": {"arr": 1200.5, "renewal": {"date": "2027-01-31"}, "seats": 40, "churned": false, "industry": "Software", "region": null}}"#,
    );
    checked("post", "/tenants/{tenant}/companies", company);
    let companies = checked(
        "get",
        "/tenants/{tenant}/companies",
        server.get(&api("/companies"), Some(admin)),
    );
    assert_eq!(companies.as_array().unwrap().len(), 2, "{companies}");
    checked(
        "get",
        "/tenants/{tenant}/plans/{plan}",
        server.get(&api(&format!("/plans/{}", made.plan)), Some(admin)),
    );
    let share = format!(
        r#"{{"plan_id": {}, "audience": "contacts", "recipients": [{{"email": "kim@globex.example"}}]}}"#,
        made.plan
    );
    request_as_documented(&doc, "post", "/tenants/{tenant}/shares", &share).unwrap();
    let receipt = checked(
        "post",
        "/tenants/{tenant}/shares",
        server.post_json(&api("/shares"), admin, &share),
    );
    assert!(receipt["links"][0]["link"].is_string(), "{receipt}");
    checked(
        "get",
        "/tenants/{tenant}/shares",
        server.get(&api("/shares"), Some(admin)),
    );
    let wasm = support::plugin_bytes("slow-mapper");
    let installed = server.request(
        "POST",
        "/api/v1/plugins",
        &[
            ("Authorization", &format!("Bearer {operator}")),
            ("Content-Type", "application/wasm"),
        ],
        &wasm,
    );
    checked("post", "/plugins", installed);
    checked(
        "get",
        "/plugins",
        server.get("/api/v1/plugins", Some(operator)),
    );
    let enable =
        r#"{"config": {"ms-per-row": "0"}, "policy": "fail-open", "limits": {"fuel": 50000000}}"#;
    request_as_documented(&doc, "put", "/tenants/{tenant}/plugins/{plugin}", enable).unwrap();
    checked(
        "put",
        "/tenants/{tenant}/plugins/{plugin}",
        server.send_json("PUT", &api("/plugins/slow-mapper"), admin, enable),
    );
    let started = server.upload(
        "acme",
        "name=few.csv",
        admin,
        b"Name,ARR\nHooli,10\nBroken,x\n",
    );
    let id = checked("post", "/tenants/{tenant}/imports", started)["id"]
        .as_i64()
        .unwrap();
    server.finished_job("acme", id, admin);
    checked(
        "get",
        "/tenants/{tenant}/imports/{job}",
        server.get(&api(&format!("/imports/{id}")), Some(admin)),
    );
    let dry = server.upload("acme", "dry_run=true", admin, b"Name\nNever\n");
    checked("post", "/tenants/{tenant}/imports", dry);
    let stats = checked(
        "get",
        "/tenants/{tenant}/runs/stats",
        server.get(&api("/runs/stats"), Some(admin)),
    );
    assert!(!stats.as_array().unwrap().is_empty(), "{stats}");
    checked(
        "get",
        "/tenants/{tenant}/plugins",
        server.get(&api("/plugins"), Some(admin)),
    );
    let audit = checked(
        "get",
        "/tenants/{tenant}/audit",
        server.get(&api("/audit"), Some(admin)),
    );
    assert!(!audit.as_array().unwrap().is_empty(), "{audit}");

    // Errors: each matches its status's schema, whose codes the document lists.
    let missing = server.get(&api("/plans/999999"), Some(admin));
    assert_eq!(missing.status, 404, "{}", missing.body);
    refused("get", "/tenants/{tenant}/plans/{plan}", missing);
    let forbidden = server.get("/api/v1/plugins", Some(admin));
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    refused("get", "/plugins", forbidden);

    // A body the request schema refuses is refused by the server, naming the same field.
    for (body, field) in [
        (r#"{}"#, "name"),
        (r#"{"name": "A", "colour": "red"}"#, "colour"),
    ] {
        let refusal = request_as_documented(&doc, "post", "/tenants/{tenant}/companies", body)
            .expect_err(body);
        assert!(refusal.contains(field), "{refusal}");
        let reply = server.post_json(&api("/companies"), admin, body);
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.code(), "malformed_json");
        assert!(reply.body.contains(&format!("`{field}`")), "{}", reply.body);
        refused("post", "/tenants/{tenant}/companies", reply);
    }
}

/// Asserts `reply` is an answer the document gives for `method route`: its status is listed,
/// and its JSON body matches that status's schema.
fn answers_as_documented(doc: &serde_json::Value, method: &str, route: &str, reply: &Reply) {
    let at = format!("{method} {route} answered {}", reply.status);
    let operation = &doc["paths"][route][method];
    assert!(operation.is_object(), "{method} {route} is not documented");
    let answer = &operation["responses"][reply.status.to_string()];
    assert!(
        answer.is_object(),
        "{at}, a status not documented: {}",
        reply.body
    );
    let schema = &answer["content"]["application/json"]["schema"];
    if let Err(mismatch) = conforms(doc, schema, &reply.json(), "$") {
        panic!("{at}: {mismatch}\n{}", reply.body);
    }
}

/// Checks a request body against the schema the document gives for `method route`.
fn request_as_documented(
    doc: &serde_json::Value,
    method: &str,
    route: &str,
    body: &str,
) -> Result<(), String> {
    let schema =
        &doc["paths"][route][method]["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {route} documents no JSON body"
    );
    conforms(doc, schema, &serde_json::from_str(body).unwrap(), "$")
}

/// The JSON Schema keywords [`conforms`] checks, and those that only annotate.
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "uniqueItems",
    "minLength",
    "maxLength",
    "prefixItems",
    "minItems",
    "maxItems",
    "format",
    "pattern",
];
const ANNOTATIONS: &[&str] = &["description", "title", "default", "examples", "deprecated"];

/// Asserts every keyword of `schema` (and of the schemas inside it) is one [`conforms`] checks
/// or an annotation, so a schema it cannot check fails here rather than passing unchecked.
fn known_keywords(doc: &serde_json::Value, schema: &serde_json::Value, at: &str) {
    let Some(object) = schema.as_object() else {
        assert!(schema.is_boolean(), "{at}: {schema}");
        return;
    };
    for (keyword, inner) in object {
        assert!(
            CHECKED.contains(&keyword.as_str()) || ANNOTATIONS.contains(&keyword.as_str()),
            "{at}: keyword `{keyword}` is not checked by the tests"
        );
        match keyword.as_str() {
            "$ref" => {
                let name = inner
                    .as_str()
                    .unwrap()
                    .strip_prefix("#/components/schemas/");
                let name = name.unwrap_or_else(|| panic!("{at}: $ref {inner}"));
                assert!(
                    doc["components"]["schemas"][name].is_object(),
                    "{at}: {name}"
                );
            }
            "pattern" => assert_eq!(object["format"], "date", "{at}: only dates have a pattern"),
            "properties" => {
                for (name, property) in inner.as_object().unwrap() {
                    known_keywords(doc, property, &format!("{at}.{name}"));
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                for option in inner.as_array().unwrap() {
                    known_keywords(doc, option, at);
                }
            }
            "items" | "additionalProperties" => known_keywords(doc, inner, at),
            "prefixItems" => {
                for item in inner.as_array().unwrap() {
                    known_keywords(doc, item, at);
                }
            }
            _ => {}
        }
    }
}

/// Whether `value` matches `schema` (a schema of the document, `$ref`s into its components):
/// `Err` says the first mismatch and where it is.
fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    let schema = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: nothing may be here")),
        Value::Object(object) => object,
        other => panic!("{at}: not a schema: {other}"),
    };
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let name = target.trim_start_matches("#/components/schemas/");
        conforms(doc, &doc["components"]["schemas"][name], value, at)?;
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            many => many
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect(),
        };
        let is = |kind: &str| match kind {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other}"),
        };
        if !types.iter().any(|kind| is(kind)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return Err(format!("{at}: {value} is not {constant}"));
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for option in all {
            conforms(doc, option, value, at)?;
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let misses: Vec<String> = any
            .iter()
            .filter_map(|option| conforms(doc, option, value, at).err())
            .collect();
        if misses.len() == any.len() {
            return Err(format!("{at}: matches none of anyOf: {misses:?}"));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let matches = one
            .iter()
            .filter(|option| conforms(doc, option, value, at).is_ok())
            .count();
        if matches != 1 {
            return Err(format!("{at}: {value} matches {matches} of oneOf, not one"));
        }
    }
    if let (Some(number), Some(minimum)) = (value.as_f64(), schema.get("minimum"))
        && number < minimum.as_f64().unwrap()
    {
        return Err(format!("{at}: {value} is under {minimum}"));
    }
    if let (Some(number), Some(maximum)) = (value.as_f64(), schema.get("maximum"))
        && number > maximum.as_f64().unwrap()
    {
        return Err(format!("{at}: {value} is over {maximum}"));
    }
    if let (Some(text), Some("date")) =
        (value.as_str(), schema.get("format").and_then(Value::as_str))
    {
        let digits = |range: std::ops::Range<usize>| {
            text.get(range)
                .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
        };
        if !(text.len() == 10
            && digits(0..4)
            && &text[4..5] == "-"
            && digits(5..7)
            && &text[7..8] == "-"
            && digits(8..10))
        {
            return Err(format!("{at}: {value} is not a date YYYY-MM-DD"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema
            .get("minLength")
            .is_some_and(|n| length < n.as_u64().unwrap())
            || schema
                .get("maxLength")
                .is_some_and(|n| length > n.as_u64().unwrap())
        {
            return Err(format!("{at}: {value} is not of the length allowed"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(name.as_str().unwrap()) {
                return Err(format!(
                    "{at}: required property `{}` is missing",
                    name.as_str().unwrap()
                ));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, inner) in object {
            let at = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(property), _) => conforms(doc, property, inner, &at)?,
                (None, Some(Value::Bool(false))) => {
                    return Err(format!("{at}: unknown property `{name}`"));
                }
                (None, Some(additional)) => conforms(doc, additional, inner, &at)?,
                (None, None) => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        let length = items.len() as u64;
        if schema
            .get("minItems")
            .is_some_and(|n| length < n.as_u64().unwrap())
            || schema
                .get("maxItems")
                .is_some_and(|n| length > n.as_u64().unwrap())
        {
            return Err(format!("{at}: {length} items is not a number allowed"));
        }
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (n, (item, inner)) in prefix.into_iter().flatten().zip(items).enumerate() {
            conforms(doc, item, inner, &format!("{at}[{n}]"))?;
        }
        if let Some(item) = schema.get("items") {
            // `items` applies after the `prefixItems`.
            let skip = prefix.map_or(0, Vec::len);
            for (n, inner) in items.iter().enumerate().skip(skip) {
                conforms(doc, item, inner, &format!("{at}[{n}]"))?;
            }
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (n, inner) in items.iter().enumerate() {
                if items[..n].contains(inner) {
                    return Err(format!("{at}: {inner} appears twice"));
                }
            }
        }
    }
    Ok(())
}

/// SIGTERM during an upload: the upload in flight completes and starts its job, the import
/// running is cancelled between two rows with what it committed kept, and the process exits 0.
#[test]
fn sigterm_finishes_the_request_in_flight_and_leaves_a_running_import_cancelled() {
    let (mut server, made) = Server::start();
    let admin = made.admin_token.as_str();
    {
        let host = server.host();
        host.install_plugin(
            &support::plugin_bytes("slow-mapper"),
            "ops@platform.example",
        )
        .unwrap();
        let acme = host.tenant("acme").unwrap();
        acme.companies()
            .define_field("notes", cs_host::FieldType::Text, false)
            .unwrap();
        acme.plugins()
            .enable("slow-mapper", cs_host::EnableOptions::new())
            .unwrap();
    }
    // 20 ms a row: 20,000 rows would take minutes.
    let mut csv = String::from("Name,Notes\n");
    for n in 1..=20_000 {
        csv.push_str(&format!("Slow {n},\n"));
    }
    let started = server.upload("acme", "name=slow.csv", admin, csv.as_bytes());
    assert_eq!(started.status, 202, "{}", started.body);
    let slow = started.json()["id"].as_i64().unwrap();

    // A second upload (to another tenant) is in flight, half sent, when SIGTERM comes.
    let body = b"Name\nLate One\nLate Two\n";
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let head = format!(
        "POST /api/v1/tenants/beta/imports?name=late.csv HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        made.operator_token,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..7]).unwrap();
    stream.flush().unwrap();
    // The server accepts connections in order: once a later one is answered, the upload's
    // connection was accepted, and its head read soon after.
    assert_eq!(server.get("/healthz", None).status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let host = server.host();
    let child = server.0.take_process().unwrap();
    // SAFETY: sending a signal to the child process this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    server.log_shows("shutting down");
    stream.write_all(&body[7..]).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let late = Reply::parse(&raw);
    assert!(late.status == 202 || late.status == 200, "{}", late.body);
    let mut child = child;
    assert!(child.wait().unwrap().success(), "the server exits 0");

    // The slow import ended cancelled, its counts matching the rows it committed.
    let acme = host.tenant("acme").unwrap();
    let job = acme.imports().job(slow).unwrap();
    assert_eq!(job.status, cs_host::JobStatus::Cancelled, "{job:?}");
    assert!(job.created < 20_000, "{job:?}");
    let slow_companies = acme
        .companies()
        .page(0, 100_000)
        .unwrap()
        .iter()
        .filter(|c| c.name.starts_with("Slow "))
        .count();
    assert_eq!(slow_companies as u64, job.created);
    // The late upload's import ran or was cancelled: either way, whole.
    let beta = host.tenant("beta").unwrap();
    let late_job = &beta.imports().jobs().unwrap()[0];
    assert!(
        matches!(
            late_job.status,
            cs_host::JobStatus::Completed | cs_host::JobStatus::Cancelled
        ),
        "{late_job:?}"
    );
    assert_eq!(
        beta.companies().page(0, 10).unwrap().len() as u64,
        late_job.created
    );
}

/// A partner user's token reaches only what its partner manages: other companies are unknown
/// to it, as on the command line.
#[test]
fn a_partner_users_token_sees_only_its_partners_records() {
    let (server, made) = Server::start();
    let (partner_token, managed) = {
        let host = server.host();
        let acme = host
            .tenant("acme")
            .unwrap()
            .as_user("csm@acme.example")
            .unwrap();
        let (partner, _) = acme
            .partners()
            .add(
                NewCompany::new("Bennett"),
                Some(cs_host::model::AccessScope::CompanyRecords),
            )
            .unwrap();
        acme.users()
            .add_partner(partner, "pam@bennett.example", "Pam")
            .unwrap();
        let managed = acme
            .companies()
            .add(NewCompany {
                managed_by: Some(partner),
                ..NewCompany::new("Managed Co")
            })
            .unwrap();
        let token = acme
            .access()
            .create_token("pam@bennett.example", "tests", 1)
            .unwrap()
            .token;
        (token, managed)
    };
    let listed = server.get("/api/v1/tenants/acme/companies", Some(&partner_token));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let names: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Managed Co"]);
    let own = server.get(
        &format!("/api/v1/tenants/acme/companies/{managed}"),
        Some(&partner_token),
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let other = server.get(
        &format!("/api/v1/tenants/acme/companies/{}", made.company),
        Some(&partner_token),
    );
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(other.code(), "not_found");
    // Nor may it reach another tenant, or the operator's routes.
    assert_eq!(
        server
            .get("/api/v1/tenants/beta/companies", Some(&partner_token))
            .code(),
        "not_found"
    );
    assert_eq!(
        server.get("/api/v1/plugins", Some(&partner_token)).code(),
        "forbidden"
    );
}

#[test]
fn the_server_goes_on_serving_after_its_standard_output_is_closed() {
    // Its address printed to a reader that went away, as `cshost serve | head -1` leaves it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    prepare(&db);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
        .args(["serve", "--listen", &addr, "--db"])
        .arg(&db)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let started = Instant::now();
    let status = loop {
        if std::net::TcpStream::connect(&addr).is_ok() {
            break server::http(&addr, "GET", "/healthz", &[], b"").status;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server stopped when its standard output closed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status, 200);
    assert!(child.try_wait().unwrap().is_none(), "the server still runs");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Uploads are refused from their head: a CSV over the tenant's import limit, a viewer's CSV, a
/// CSV for an unknown tenant, a plugin over the platform's maximum and a plugin from a tenant
/// admin are answered while the client has sent a few bytes of the body and waits to send the
/// rest. A chunked body, whose length is not announced, is still counted against the limit as
/// it streams. Nothing is imported or installed.
#[test]
fn uploads_are_refused_before_their_body_is_sent() {
    let (server, made) = Server::start_with(&["--max-plugin-size", "4096"]);
    server
        .host()
        .tenant("acme")
        .unwrap()
        .imports()
        .set_size_limit(1000)
        .unwrap();
    let code = |reply: &server::Reply| -> String {
        let body: serde_json::Value = serde_json::from_str(&reply.text())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()));
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let csv = |token: &str, tenant: &str, length: usize| {
        server::http_partial(
            &server.addr,
            &format!("/api/v1/tenants/{tenant}/imports?name=big.csv"),
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "text/csv"),
            ],
            length,
            b"Name\n",
        )
    };
    let over = csv(&made.admin_token, "acme", 1_000_000);
    assert_eq!((over.status, code(&over)), (413, "too_large".into()));
    assert!(
        over.text().contains("big.csv: over 1000 bytes"),
        "{}",
        over.text()
    );
    let viewer = csv(&made.viewer_token, "acme", 500);
    assert_eq!((viewer.status, code(&viewer)), (403, "forbidden".into()));
    assert!(
        viewer.text().contains("viewer@acme.example"),
        "{}",
        viewer.text()
    );
    let unknown = csv(&made.operator_token, "nowhere", 500);
    assert_eq!((unknown.status, code(&unknown)), (404, "not_found".into()));
    let other = csv(&made.admin_token, "beta", 500);
    assert_eq!((other.status, code(&other)), (404, "not_found".into()));

    let wasm = |token: &str| {
        server::http_partial(
            &server.addr,
            "/api/v1/plugins",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/wasm"),
            ],
            1 << 20,
            b"\0asm",
        )
    };
    let big = wasm(&made.operator_token);
    assert_eq!((big.status, code(&big)), (413, "too_large".into()));
    let admin = wasm(&made.admin_token);
    assert_eq!((admin.status, code(&admin)), (403, "forbidden".into()));

    // Chunked: no length to refuse from, so the body is counted as it comes.
    let rows = "Company Name Of Some Length\n".repeat(20);
    let chunked = server::http_chunked(
        &server.addr,
        "/api/v1/tenants/acme/imports",
        &[
            ("Authorization", &format!("Bearer {}", made.admin_token)),
            ("Content-Type", "text/csv"),
        ],
        &[b"Name\n", rows.as_bytes(), rows.as_bytes(), rows.as_bytes()],
    );
    assert_eq!((chunked.status, code(&chunked)), (413, "too_large".into()));
    // Under the limit, a chunked upload is imported.
    let small = server::http_chunked(
        &server.addr,
        "/api/v1/tenants/acme/imports?dry_run=true",
        &[
            ("Authorization", &format!("Bearer {}", made.admin_token)),
            ("Content-Type", "text/csv"),
        ],
        &[b"Name\n", b"Initech\n"],
    );
    assert_eq!(small.status, 200, "{}", small.text());

    let jobs = server
        .get("/api/v1/tenants/acme/imports", Some(&made.admin_token))
        .json();
    assert_eq!(jobs.as_array().unwrap().len(), 0, "{jobs}");
    assert!(server.host().installed_plugins().unwrap().is_empty());
}

/// The plugins a tenant's admin may enable are a read of their own, refused to a viewer; an
/// enabled plugin's policy, priority and limits change without enabling it (API, console and
/// command line), each change checked by the library and in the audit log; a viewer changes
/// nothing (disable, configuration, grants, tuning).
#[test]
fn an_admin_lists_the_plugins_it_may_enable_and_tunes_one_without_enabling_it() {
    let (server, made) = Server::start();
    let admin = made.admin_token.as_str();
    let viewer = made.viewer_token.as_str();
    server
        .host()
        .install_plugin(&support::plugin_bytes("slow-mapper"), "operator")
        .unwrap();
    let api = |path: &str| format!("/api/v1/tenants/acme{path}");

    let refused = server.get(&api("/available-plugins"), Some(viewer));
    assert_eq!((refused.status, refused.code()), (403, "forbidden".into()));
    let available = server.get(&api("/available-plugins"), Some(admin));
    assert_eq!(available.status, 200, "{}", available.body);
    let available = available.json();
    let entry = &available[0];
    assert_eq!(entry["manifest"]["name"], "slow-mapper", "{available}");
    assert_eq!(entry["enabled"], false);
    assert!(entry["enablement"].is_null(), "{entry}");
    assert_eq!(entry["versions"].as_array().unwrap().len(), 1, "{entry}");
    // Who installed it and which other tenants run it are the platform's business.
    assert!(entry.get("installed_by").is_none(), "{entry}");
    assert!(entry.get("tenants").is_none(), "{entry}");

    let enabled = server.send_json(
        "PUT",
        &api("/plugins/slow-mapper"),
        admin,
        r#"{"config": {"ms-per-row": "1"}}"#,
    );
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    let disabled = server.post_json(&api("/plugins/slow-mapper/disable"), admin, "");
    assert_eq!(disabled.status, 200, "{}", disabled.body);

    // Tuned while disabled: it stays disabled.
    let tuned = server.send_json(
        "PATCH",
        &api("/plugins/slow-mapper"),
        admin,
        r#"{"policy": "fail-open", "priority": 3, "limits": {"fuel": 7000000}}"#,
    );
    assert_eq!(tuned.status, 200, "{}", tuned.body);
    let tuned = tuned.json();
    assert_eq!(tuned["enabled"], false, "{tuned}");
    assert_eq!(tuned["failure_policy"], "fail-open");
    assert_eq!(tuned["priority"], 3);
    assert_eq!(tuned["limits"]["fuel"], 7_000_000);
    assert_eq!(tuned["config"]["ms-per-row"], "1");
    let limits = server.send_json(
        "PUT",
        &api("/plugins/slow-mapper/limits"),
        admin,
        r#"{"fuel": 6000000}"#,
    );
    assert_eq!(limits.status, 200, "{}", limits.body);
    assert_eq!(limits.json()["enabled"], false);
    assert_eq!(limits.json()["failure_policy"], "fail-open");
    let over = server.send_json(
        "PATCH",
        &api("/plugins/slow-mapper"),
        admin,
        r#"{"limits": {"fuel": 1000000000000000}}"#,
    );
    assert_eq!((over.status, over.code()), (422, "limit_exceeded".into()));

    // Enabled again, it keeps what was tuned.
    let again = server.send_json("PUT", &api("/plugins/slow-mapper"), admin, "{}");
    assert_eq!(
        again.json()["failure_policy"],
        "fail-open",
        "{}",
        again.body
    );
    assert_eq!(again.json()["limits"]["fuel"], 6_000_000);

    // A viewer changes nothing.
    let before = server
        .host()
        .tenant("acme")
        .unwrap()
        .plugins()
        .get("slow-mapper")
        .unwrap();
    for (method, path, body) in [
        ("PATCH", "/plugins/slow-mapper", r#"{"priority": 9}"#),
        (
            "PUT",
            "/plugins/slow-mapper/policy",
            r#"{"policy": "fail-closed"}"#,
        ),
        ("POST", "/plugins/slow-mapper/disable", ""),
        (
            "PUT",
            "/plugins/slow-mapper/config",
            r#"{"ms-per-row": "5"}"#,
        ),
        ("DELETE", "/plugins/slow-mapper/grants/read-companies", ""),
    ] {
        let reply = server.send_json(method, &api(path), viewer, body);
        assert_eq!(
            (reply.status, reply.code()),
            (403, "forbidden".into()),
            "{method} {path}: {}",
            reply.body
        );
    }
    let after = server
        .host()
        .tenant("acme")
        .unwrap()
        .plugins()
        .get("slow-mapper")
        .unwrap();
    assert_eq!(before, after);

    // The command line tunes it too, as the admin; a viewer is refused in the same words.
    let cli = |actor: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
            .args(args)
            .env("CSHOST_DB", &server.db)
            .env("CSHOST_CACHE_DIR", support::cache_dir())
            .env("CSHOST_ACTOR", actor)
            .output()
            .unwrap()
    };
    let tune = [
        "tenant",
        "tune",
        "acme",
        "slow-mapper",
        "--policy",
        "fail-closed",
        "--deadline-ms",
        "250",
    ];
    let by_viewer = cli("viewer@acme.example", &tune);
    assert!(!by_viewer.status.success());
    assert!(
        String::from_utf8_lossy(&by_viewer.stderr).contains("may not"),
        "{}",
        String::from_utf8_lossy(&by_viewer.stderr)
    );
    let by_admin = cli("csm@acme.example", &tune);
    assert!(
        by_admin.status.success(),
        "{}",
        String::from_utf8_lossy(&by_admin.stderr)
    );
    let e = server
        .host()
        .tenant("acme")
        .unwrap()
        .plugins()
        .get("slow-mapper")
        .unwrap();
    assert!(e.enabled);
    assert_eq!(e.failure_policy, cs_host::FailurePolicy::FailClosed);
    assert_eq!(e.limits.deadline_value(), Duration::from_millis(250));
    assert_eq!(e.limits.fuel_value(), 6_000_000);
    let nothing = cli(
        "csm@acme.example",
        &["tenant", "tune", "acme", "slow-mapper"],
    );
    assert!(!nothing.status.success());

    // The console's form saves policy, priority and limits; the plugin stays as it was.
    let mut browser = Browser::new(&server);
    let signin = browser.get("/console/signin");
    let signed = browser.post(
        "/console/signin",
        &[("csrf", &csrf(&signin.body)), ("token", admin)],
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    let page = browser.get("/console/plugins/slow-mapper");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">Save</button>"), "{}", page.body);
    assert!(!page.body.contains("Save and enable"), "{}", page.body);
    server.post_json(&api("/plugins/slow-mapper/disable"), admin, "");
    let saved = browser.post(
        "/console/plugins/slow-mapper/settings",
        &[
            ("csrf", &csrf(&page.body)),
            ("policy", "fail-open"),
            ("priority", "2"),
            ("deadline_ms", "300"),
            ("fuel", "5000000"),
            ("memory_mb", "16"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let e = server
        .host()
        .tenant("acme")
        .unwrap()
        .plugins()
        .get("slow-mapper")
        .unwrap();
    assert!(!e.enabled, "saving the settings does not enable it");
    assert_eq!(
        (e.failure_policy, e.priority, e.limits.fuel_value()),
        (cs_host::FailurePolicy::FailOpen, 2, 5_000_000)
    );
    let list = browser.get("/console/plugins");
    assert!(list.body.contains("slow-mapper"), "{}", list.body);

    let audit = server.get(&api("/audit"), Some(admin)).body;
    assert!(audit.contains("plugin.tune"), "{audit}");
}

/// Console sessions are kept in the database: a signed-in browser stays signed in across a
/// restart (even a crash) of the server; signing out deletes the session, so its cookie opens
/// nothing afterwards, on a restarted server too; revoking the token ends its sessions.
#[test]
fn console_sessions_survive_a_restart_and_end_at_sign_out() {
    let (mut server, made) = Server::start();
    let sign_in = |server: &Server, token: &str| {
        let mut browser = Browser::new(server);
        let signin = browser.get("/console/signin");
        let signed = browser.post(
            "/console/signin",
            &[("csrf", &csrf(&signin.body)), ("token", token)],
        );
        assert_eq!(signed.status, 303, "{}", signed.body);
        format!("cs_console={}", browser.cookies["cs_console"])
    };
    let home = |server: &Server, cookie: &str| {
        server.request("GET", "/console", &[("Cookie", cookie)], b"")
    };
    let admin = sign_in(&server, &made.admin_token);
    let viewer = sign_in(&server, &made.viewer_token);
    assert_eq!(home(&server, &admin).status, 200);

    server.0.restart(&[]);
    let page = home(&server, &admin);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Signed in as csm@acme.example"),
        "{}",
        page.body
    );
    assert_eq!(home(&server, &viewer).status, 200);

    // Signing out deletes the session.
    let out = server.request(
        "POST",
        "/console/signout",
        &[
            ("Cookie", &admin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        format!("csrf={}", csrf(&page.body)).as_bytes(),
    );
    assert_eq!(out.status, 303, "{}", out.body);
    let ended = home(&server, &admin);
    assert_eq!(ended.status, 303);
    assert!(
        ended
            .header("location")
            .unwrap()
            .starts_with("/console/signin")
    );
    server.0.restart(&[]);
    assert_eq!(home(&server, &admin).status, 303);

    // Revoking the viewer's token ends the viewer's session.
    assert_eq!(home(&server, &viewer).status, 200);
    let host = server.host();
    let acme = host.tenant("acme").unwrap();
    let token = acme
        .access()
        .tokens()
        .unwrap()
        .into_iter()
        .find(|t| t.user.as_deref() == Some("viewer@acme.example"))
        .expect("the viewer's token");
    assert!(acme.access().revoke_token(token.id).unwrap());
    assert_eq!(home(&server, &viewer).status, 303);
}

#[test]
fn a_token_revoked_elsewhere_fails_on_its_next_request_and_its_use_is_noted() {
    let (server, made) = Server::start();
    let companies = "/api/v1/tenants/acme/companies";
    // Used many times in a row, as a client under load uses it.
    for _ in 0..20 {
        let list = server.get(companies, Some(&made.viewer_token));
        assert_eq!(list.status, 200, "{}", list.body);
    }
    // Its use is noted, though requests only read the token.
    let host = server.host();
    let acme = host
        .tenant("acme")
        .unwrap()
        .as_user("csm@acme.example")
        .unwrap();
    let viewer = acme
        .access()
        .tokens()
        .unwrap()
        .into_iter()
        .find(|t| t.user.as_deref() == Some("viewer@acme.example"))
        .unwrap();
    assert!(viewer.last_used_at.is_some(), "{viewer:?}");
    // Revoked by another process on the database (as `cshost token revoke` does): the very
    // next request is refused, and so is every one after.
    assert!(acme.access().revoke_token(viewer.id).unwrap());
    for _ in 0..3 {
        let refused = server.get(companies, Some(&made.viewer_token));
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert_eq!(refused.code(), "unauthenticated");
    }
    // The other tokens work on.
    assert_eq!(server.get(companies, Some(&made.admin_token)).status, 200);
}

/// The forms' CSRF key is derived from the database's secret key, not drawn when the server
/// starts: a form opened before a restart submits after it, on the console (signing in, then
/// signing out) and on a recipient's page (asking for a code). A forged token still fails.
#[test]
fn forms_opened_before_a_restart_submit_after_it() {
    let (mut server, made) = Server::start();
    let path = path_of(&share(&server, &made, "pat@globex.example"));
    // Each page is opened, the server restarts, and the page's form is sent: the browser
    // keeps its cookies across.
    let (signin, code_form, cookies) = {
        let mut browser = Browser::new(&server);
        let signin = browser.get("/console/signin");
        let code_form = browser.get(&path);
        assert!(
            code_form.body.contains("Send me a code"),
            "{}",
            code_form.body
        );
        (signin, code_form, browser.cookies)
    };
    server.0.restart(&[]);
    let (home, cookies) = {
        let mut browser = Browser {
            server: &server,
            cookies,
        };
        let signed = browser.post(
            "/console/signin",
            &[("csrf", &csrf(&signin.body)), ("token", &made.admin_token)],
        );
        assert_eq!(signed.status, 303, "{}", signed.body);
        let sent = browser.post(&format!("{path}/code"), &[("csrf", &csrf(&code_form.body))]);
        assert_eq!(sent.status, 303, "{}", sent.body);
        assert_eq!(
            sent.header("location"),
            Some(&*format!("{path}?notice=sent"))
        );
        let forged = browser.post(&format!("{path}/code"), &[("csrf", &"0".repeat(64))]);
        assert_eq!(forged.status, 403);
        let home = browser.get("/console");
        assert_eq!(home.status, 200, "{}", home.body);
        (home, browser.cookies)
    };
    server.0.restart(&[]);
    let mut browser = Browser {
        server: &server,
        cookies,
    };
    let out = browser.post("/console/signout", &[("csrf", &csrf(&home.body))]);
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(browser.get("/console").status, 303, "signed out");
}

/// Requests leave owed hooks to the server's resumer: a *partner created* hook that a process
/// which died after its change committed left owed (written here as that change leaves it) is
/// run by the resumer within `--resume-every` seconds, while the API goes on answering.
#[test]
fn the_resumer_runs_the_hooks_another_process_left_owed() {
    let (server, made) = Server::start_with(&["--resume-every", "1"]);
    let owed = || -> i64 {
        let conn = rusqlite::Connection::open(&server.db).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.query_row("SELECT count(*) FROM pending_hooks", [], |row| row.get(0))
            .unwrap()
    };
    {
        let conn = rusqlite::Connection::open(&server.db).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        conn.execute(
            "INSERT INTO pending_hooks (tenant_id, hook, subject, undo, created_at)
             VALUES ('acme', 'partner_created', ?1, 'untag', ?2)",
            rusqlite::params![made.company, now],
        )
        .unwrap();
    }
    let companies = "/api/v1/tenants/acme/companies";
    let deadline = Instant::now() + Duration::from_secs(60);
    while owed() > 0 {
        assert!(
            Instant::now() < deadline,
            "the resumer never ran the owed hook"
        );
        assert_eq!(server.get(companies, Some(&made.admin_token)).status, 200);
        std::thread::sleep(Duration::from_millis(50));
    }
}
