//! `cshost serve` over real HTTP on loopback: the real binary is started on a database the test
//! prepared through the library, and spoken to with a small HTTP/1.1 client. Health and
//! readiness, the JSON API's permission refusals and bad input, the security headers, the
//! recipient's pages from the link to a task update (the code read from the file mailbox the
//! server's outbox worker delivers to), a link blocked by three wrong codes, metrics, and a
//! clean stop on SIGTERM.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cs_host::model::{Audience, Date};
use cs_host::{
    Host, Licence, NewCompany, NewPlan, NewTask, SharePermission, ShareRequest, ShareTo, TaskOf,
    TenantLevel,
};

/// A `cshost serve` process on a fresh database, stopped (SIGTERM) when dropped.
struct Server {
    child: Option<Child>,
    addr: String,
    db: PathBuf,
    mailbox: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
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
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cs.db");
        let mailbox = dir.path().join("mailbox");
        let log = dir.path().join("server.log");
        let made = prepare(&db);
        let mut child = Command::new(env!("CARGO_BIN_EXE_cshost"))
            .args(["serve", "--listen", "127.0.0.1:0", "--outbox-every", "1"])
            .arg("--db")
            .arg(&db)
            .arg("--mailbox")
            .arg(&mailbox)
            .args(args)
            .env("CSHOST_CACHE_DIR", support::cache_dir())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("cshost serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| {
                panic!(
                    "cshost serve printed `{line}`; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_owned();
        let server = Server {
            child: Some(child),
            addr,
            db,
            mailbox,
            log,
            _dir: dir,
        };
        (server, made)
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

    /// One request on its own connection.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        Reply::parse(&raw)
    }

    /// The text of the first message in the mailbox of `tenant` whose text contains `needle`,
    /// waiting for the outbox worker to deliver it.
    fn mail_containing(&self, tenant: &str, needle: &str) -> String {
        let dir = self.mailbox.join(tenant);
        let started = Instant::now();
        loop {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                paths.sort();
                for path in paths {
                    if path.extension().is_some_and(|e| e == "eml") {
                        let text = std::fs::read_to_string(&path).unwrap_or_default();
                        if text.contains(needle) {
                            return text;
                        }
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no message with `{needle}` reached {}; the server's log:\n{}",
                dir.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server with SIGTERM and returns whether it exited successfully.
    fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
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
    assert_eq!(refused.code(), "permission_denied");
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
        "permission_denied"
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
    assert_eq!(bad_field.code(), "invalid_field");
    assert!(bad_field.body.contains("arr"), "{}", bad_field.body);

    // A body over the limit (1 MiB) is refused before it is parsed.
    let oversize = format!(r#"{{"name": "{}"}}"#, "x".repeat(1024 * 1024));
    let too_large = server.post_json(companies, &made.admin_token, &oversize);
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert_eq!(too_large.code(), "body_too_large");

    // An unknown tenant, and another tenant than the token's: the same answer.
    let unknown = server.get("/api/v1/tenants/nope/companies", Some(&made.admin_token));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "unknown_tenant");
    let other = server.get("/api/v1/tenants/beta/companies", Some(&made.admin_token));
    assert_eq!(other.status, 404);
    assert_eq!(other.code(), "unknown_tenant");
    assert_eq!(
        server
            .get("/api/v1/tenants/nope/companies", Some(&made.operator_token))
            .code(),
        "unknown_tenant"
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
    server.mail_containing("acme", &link);
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
    let code = code_in(&server.mail_containing("acme", "Your one-time code is "));

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
    let code = code_in(&server.mail_containing("acme", "Your one-time code is "));
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
    let code = code_in(&server.mail_containing("acme", "Your one-time code is "));
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
