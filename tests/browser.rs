//! The web console and the recipient's pages in a real browser: headless Chromium driven through
//! WebDriver (Debian's `chromium` and `chromium-driver`; `make browser-tools` installs them),
//! against the real `cshost serve` on a free port. One server and one browser session serve
//! every scenario, to keep the wall time small:
//!
//! - an admin signs in with an API token, enables a plugin, uploads a CSV file, starts the
//!   import and reads its row error (and downloads the error CSV), and reads the run stats;
//! - a viewer signs in and cannot enable a plugin (the library's refusal, in its words);
//! - a recipient opens a share link, asks for a code, reads it from the file mailbox, enters it,
//!   sees the plan and marks a task done;
//! - three wrong codes block a link, which then looks like any unknown link.
//!
//! `CSHOST_SCREENSHOTS=docs/screenshots cargo test -p cs-host --test all browser::` also saves the
//! screenshots the README shows (relative paths are from the repository's root).

use crate::support;

use crate::support::server;
use crate::support::webdriver;

use std::path::{Path, PathBuf};

use cs_host::model::{Audience, Date};
use cs_host::{
    Host, Licence, NewCompany, NewPlan, NewTask, SharePermission, ShareRequest, ShareTo, TaskOf,
    TenantLevel,
};
use server::{Serve, http};
use webdriver::Browser;

/// What the fixture made.
struct Made {
    plan: i64,
    task: i64,
    admin_token: String,
    viewer_token: String,
}

/// A tenant `acme` (both levels) with an admin and a viewer, two installed plugins, and a plan
/// with an objective shared externally and its task.
fn prepare(db: &Path) -> Made {
    let host = Host::open(db, support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    for plugin in ["normalize-partner", "arr-tier"] {
        host.install_plugin(&support::plugin_bytes(plugin), "operator")
            .unwrap();
    }
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
        .create_token("csm@acme.example", "browser", 1)
        .unwrap()
        .token;
    let viewer_token = host
        .tenant("acme")
        .unwrap()
        .access()
        .create_token("viewer@acme.example", "browser", 1)
        .unwrap()
        .token;
    Made {
        plan,
        task,
        admin_token,
        viewer_token,
    }
}

/// Where screenshots go, when asked for.
fn screenshots() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("CSHOST_SCREENSHOTS")?);
    let dir = if dir.is_absolute() {
        dir
    } else {
        support::root().join(dir)
    };
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

fn shot(browser: &Browser, name: &str) {
    if let Some(dir) = screenshots() {
        browser.screenshot(&dir.join(format!("{name}.png")));
    }
}

fn sign_in(browser: &Browser, server: &Serve, token: &str) {
    browser.goto(&server.url("/console"));
    browser.wait_for("Sign in to the console");
    browser.fill("#token", token);
    browser.click("form[action='/console/signin'] button");
    browser.wait_for("Signed in as");
}

fn sign_out(browser: &Browser) {
    browser.click("form[action='/console/signout'] button");
    browser.wait_for("Sign in to the console");
}

/// Shares the plan with `email`, who may update it; returns the link's path.
fn share(server: &Serve, made: &Made, email: &str) -> String {
    let host = Host::open(&server.db, support::host_config()).unwrap();
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
    let link = &receipt.links[0].link;
    link[link.find("/shared/").expect("a link to a shared plan")..].to_owned()
}

/// The six-digit code in the code message to `email`.
fn code_for(server: &Serve, email: &str) -> String {
    let mail = server.mail_containing("acme", &[email, "Your one-time code is "]);
    let at = mail.find("Your one-time code is ").expect("a code message") + 22;
    mail[at..at + 6].to_owned()
}

#[test]
fn the_console_and_the_recipient_pages_work_in_a_real_browser() {
    let mut made = None;
    let server = Serve::start(|db| made = Some(prepare(db)), &[]);
    let made = made.unwrap();
    let browser = Browser::start();
    let host = || Host::open(&server.db, support::host_config()).unwrap();

    // The console asks for a token first; a wrong one is refused in the library's words.
    browser.goto(&server.url("/console/plugins"));
    browser.wait_for("Sign in to the console");
    browser.fill("#token", &format!("csh_{}", "0".repeat(64)));
    browser.click("form[action='/console/signin'] button");
    browser.wait_for("the token is not valid");

    // An admin signs in: the home page leads to every task.
    sign_in(&browser, &server, &made.admin_token);
    let home = browser.wait_for("Signed in as csm@acme.example (tenant_admin)");
    for section in [
        "Plugins",
        "Run stats",
        "Failures",
        "Imports",
        "Partners",
        "Shares",
    ] {
        assert!(home.contains(section), "{home}");
    }
    shot(&browser, "console-home");
    // The session cookie is out of scripts' reach (WebDriver reads it; the page cannot).
    assert_eq!(browser.cookie("cs_console").len(), 64);

    // Enables a plugin from the plugins page.
    browser.click("a[href='/console/plugins']");
    browser.wait_for("normalize-partner");
    assert!(
        browser
            .source()
            .contains("<td class=\"state\">not enabled</td>"),
        "{}",
        browser.source()
    );
    browser.click("#plugin-normalize-partner button");
    browser.wait_for_source("<td class=\"state\">enabled</td>");
    let enabled = host().tenant("acme").unwrap().plugins().list().unwrap();
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].plugin, "normalize-partner");
    assert!(enabled[0].enabled);
    shot(&browser, "console-plugins");

    // Uploads a CSV file, checks its properties and mapping, imports it, reads its row error.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    std::fs::write(
        &csv,
        "Company Name;Industry;ARR\nInitech;Software;120000\nHooli;Search;lots\nUmbrella;Pharma;5\n",
    )
    .unwrap();
    browser.click("a[href='/console/imports']");
    browser.wait_for("Upload a CSV file");
    browser.choose_file("#file", &csv);
    browser.click("form[action='/console/imports'] button");
    let preview = browser.wait_for("Detected properties");
    assert!(preview.contains("semicolon"), "{preview}");
    assert!(
        browser.selected("#c0 option[value='name']"),
        "the Company Name column maps to name:\n{}",
        browser.source()
    );
    browser.click("form[action^='/console/imports/uploads/'] button");
    let job = browser.wait_for("Row errors");
    assert!(job.contains("3 rows: 2 created"), "{job}");
    assert!(job.contains("arr"), "{job}");
    assert!(job.contains("Download the error CSV"), "{job}");
    shot(&browser, "console-import");
    // The error CSV, fetched with the browser's session cookie.
    let job_path = browser.url();
    let job_path = &job_path[job_path.find("/console/").unwrap()..];
    let cookie = format!("cs_console={}", browser.cookie("cs_console"));
    let errors = http(
        &server.addr,
        "GET",
        &format!("{job_path}/errors.csv"),
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(errors.status, 200, "{}", errors.text());
    assert_eq!(
        errors.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let errors = errors.text();
    assert!(
        errors.starts_with("row,outcome,column,field,plugin,reason"),
        "{errors}"
    );
    assert!(errors.contains("2,failed,ARR,arr"), "{errors}");
    // Without the cookie, the console answers nothing but the way to sign in.
    let stranger = http(
        &server.addr,
        "GET",
        &format!("{job_path}/errors.csv"),
        &[],
        b"",
    );
    assert_eq!(stranger.status, 303);
    assert_eq!(stranger.header("location"), Some("/console/signin"));

    // The run stats chart the plugin's calls; the failures page lists none.
    browser.click("a[href='/console/stats']");
    browser.wait_for("Calls and failures");
    let stats = browser.source();
    assert!(stats.contains("<svg"), "{stats}");
    assert!(
        stats.contains("normalize-partner · csv-row-mapped"),
        "{stats}"
    );
    shot(&browser, "console-stats");
    browser.click("a[href='/console/audit']");
    browser.wait_for("plugin.enable");
    sign_out(&browser);
    // The session is gone: the console asks for a token again.
    browser.goto(&server.url("/console/plugins"));
    browser.wait_for("Sign in to the console");

    // A viewer may not see the plugins the tenant's admins may enable, nor enable one.
    sign_in(&browser, &server, &made.viewer_token);
    browser.click("a[href='/console/plugins']");
    let refused = browser.wait_for("Not allowed");
    assert!(refused.contains("viewer@acme.example"), "{refused}");
    assert!(refused.contains("may not do this"), "{refused}");
    let plugins = host().tenant("acme").unwrap().plugins().list().unwrap();
    assert!(
        plugins.iter().all(|e| e.plugin != "arr-tier"),
        "{plugins:?}"
    );
    sign_out(&browser);

    // A recipient opens the link, asks for a code, enters it, sees the plan, marks a task done.
    let path = share(&server, &made, "pat@globex.example");
    browser.goto(&server.url(&path));
    browser.wait_for("Send me a code");
    browser.click(&format!("form[action='{path}/code'] button"));
    browser.wait_for("We sent a code");
    let code = code_for(&server, "pat@globex.example");
    browser.fill("#code", &code);
    browser.click(&format!("form[action='{path}/verify'] button"));
    let plan = browser.wait_for("Train <b>admins</b>");
    assert!(plan.contains("Onboarding <pilot>"), "{plan}");
    browser.click(&format!("form[action='{path}/tasks/{}'] button", made.task));
    browser.wait_for("Your change is saved");
    browser.wait_for("Reopen");
    shot(&browser, "recipient-plan");
    let task = &host()
        .tenant("acme")
        .unwrap()
        .plans()
        .get(made.plan)
        .unwrap()
        .objectives[0]
        .tasks[0];
    assert_eq!(task.status, "done");

    // Three wrong codes block another recipient's link.
    let path = share(&server, &made, "sam@globex.example");
    browser.goto(&server.url(&path));
    browser.click(&format!("form[action='{path}/code'] button"));
    browser.wait_for("We sent a code");
    let code = code_for(&server, "sam@globex.example");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for tries_left in ["2 more tries", "1 more try"] {
        browser.fill("#code", wrong);
        browser.click(&format!("form[action='{path}/verify'] button"));
        browser.wait_for(tries_left);
    }
    browser.fill("#code", wrong);
    browser.click(&format!("form[action='{path}/verify'] button"));
    browser.wait_for("This link is blocked");
    browser.goto(&server.url(&path));
    browser.wait_for("This link is not valid");
}

/// The value of cookie `name` among a reply's `Set-Cookie` headers, and the whole header.
fn set_cookie(reply: &server::Reply, name: &str) -> (String, String) {
    let header = reply
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.clone())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name}: {:?}", reply.headers));
    let value = header[name.len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (value, header)
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF token on the page:\n{page}"))
        + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

#[test]
fn console_sessions_are_short_lived_cookies_and_every_form_needs_its_csrf_token() {
    let mut made = None;
    let server = Serve::start(|db| made = Some(prepare(db)), &[]);
    let made = made.unwrap();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];

    // The sign-in form, without its CSRF cookie and token, signs nobody in.
    let page = http(&server.addr, "GET", "/console/signin", &[], b"");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let (signin_cookie, _) = set_cookie(&page, "cs_console_signin");
    let token = csrf(&page.text());
    let body = format!("csrf={token}&token={}", made.admin_token);
    let forged = http(
        &server.addr,
        "POST",
        "/console/signin",
        &form,
        body.as_bytes(),
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(!forged.text().contains("Signed in"));

    // With both, the token opens a session: an HttpOnly, SameSite=Strict cookie for /console
    // that lives half an hour.
    let cookie = format!("cs_console_signin={signin_cookie}");
    let with_cookie = [form[0], ("Cookie", &cookie)];
    let signed = http(
        &server.addr,
        "POST",
        "/console/signin",
        &with_cookie,
        body.as_bytes(),
    );
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert_eq!(signed.header("location"), Some("/console"));
    let (session, header) = set_cookie(&signed, "cs_console");
    for part in [
        "Path=/console",
        "Max-Age=1800",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(header.contains(part), "{header}");
    }
    let session = format!("cs_console={session}");
    let home = http(
        &server.addr,
        "GET",
        "/console",
        &[("Cookie", &session)],
        b"",
    );
    assert_eq!(home.status, 200, "{}", home.text());
    assert!(home.text().contains("Signed in as csm@acme.example"));
    assert!(!home.text().contains("<script"));

    // A console form without its token, or with another session's, changes nothing.
    let enable = "/console/plugins/arr-tier/enable";
    let with_session = [form[0], ("Cookie", &session)];
    for body in [
        "",
        "csrf=0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let refused = http(&server.addr, "POST", enable, &with_session, body.as_bytes());
        assert_eq!(refused.status, 403, "{}", refused.text());
        assert!(refused.text().contains("This form has expired"));
    }
    let host = Host::open(&server.db, support::host_config()).unwrap();
    assert!(
        host.tenant("acme")
            .unwrap()
            .plugins()
            .list()
            .unwrap()
            .is_empty()
    );
    let token = csrf(&home.text());
    let enabled = http(
        &server.addr,
        "POST",
        enable,
        &with_session,
        format!("csrf={token}").as_bytes(),
    );
    assert_eq!(enabled.status, 303, "{}", enabled.text());
    assert_eq!(
        host.tenant("acme").unwrap().plugins().list().unwrap().len(),
        1
    );

    // Signing out ends the session on the server, whatever the browser keeps.
    let out = http(
        &server.addr,
        "POST",
        "/console/signout",
        &with_session,
        format!("csrf={token}").as_bytes(),
    );
    assert_eq!(out.status, 303);
    let after = http(
        &server.addr,
        "GET",
        "/console",
        &[("Cookie", &session)],
        b"",
    );
    assert_eq!(after.status, 303);
    assert_eq!(after.header("location"), Some("/console/signin?ended=1"));
}
