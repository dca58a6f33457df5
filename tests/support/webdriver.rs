//! A small WebDriver client (W3C WebDriver over HTTP, JSON bodies) driving headless Chromium
//! through Debian's `chromedriver`: enough to open pages, fill and click, read the page, and
//! take screenshots. `make browser-tools` installs `chromium` and `chromium-driver`. A test
//! includes it with `#[path = "support/webdriver.rs"] mod webdriver;` besides `#[path =
//! "support/server.rs"] mod server;`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::server::http;

/// The key of an element reference in WebDriver's JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long to wait for chromedriver to answer, and for a page to show what is expected.
const PATIENCE: Duration = Duration::from_secs(60);

/// A headless Chromium session, ended (and chromedriver stopped) when dropped.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session with a 1280×900
    /// window.
    pub fn start() -> Browser {
        let driver_path = which("chromedriver").unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: `make browser-tools` installs Debian's chromium \
                 and chromium-driver (apt-get install -y chromium chromium-driver)"
            )
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                started.elapsed() < PATIENCE,
                "chromedriver does not answer on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
        };
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"]
        });
        if Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({
                "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                }}
            })),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    /// One WebDriver command: its `value`, or WebDriver's error.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let reply = http(
            &self.addr,
            method,
            path,
            &[("Content-Type", "application/json; charset=utf-8")],
            body.as_bytes(),
        );
        let value: Value = serde_json::from_slice(&reply.body).map_err(|e| {
            format!(
                "WebDriver answered {} ({e}): {}",
                reply.status,
                reply.text()
            )
        })?;
        if reply.status == 200 {
            Ok(value["value"].clone())
        } else {
            Err(format!(
                "WebDriver {method} {path} failed ({}): {}",
                reply.status, value["value"]["message"]
            ))
        }
    }

    /// One WebDriver command; its `value`, or a panic with WebDriver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// A command on an element found by `css`, tried again while the page is changing (the
    /// element not there yet, or gone stale under a navigation).
    fn on_element(&self, css: &str, method: &str, action: &str, body: Option<Value>) -> Value {
        let started = Instant::now();
        loop {
            let result = self.try_find(css).and_then(|element| {
                self.try_call(
                    method,
                    &format!("/session/{}/element/{element}{action}", self.session),
                    body.clone(),
                )
            });
            match result {
                Ok(value) => return value,
                Err(error) => assert!(
                    started.elapsed() < PATIENCE,
                    "`{css}` on {}: {error}",
                    self.url()
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_find(&self, css: &str) -> Result<String, String> {
        let found = self.try_call(
            "POST",
            &format!("/session/{}/element", self.session),
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        found[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element `{css}`: {found}"))
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current page's address.
    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The current page's HTML.
    pub fn source(&self) -> String {
        self.session_call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The text the page shows.
    pub fn text(&self) -> String {
        self.on_element("body", "GET", "/text", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page shows `text` (navigations and refreshes may still be under way);
    /// returns the page's text.
    pub fn wait_for(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let shown = self.text();
            if shown.contains(text) {
                return shown;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the page at {} never showed `{text}`; it shows:\n{shown}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page's HTML holds `fragment`; returns the HTML.
    pub fn wait_for_source(&self, fragment: &str) -> String {
        let started = Instant::now();
        loop {
            let source = self.source();
            if source.contains(fragment) {
                return source;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the page at {} never held `{fragment}`; it holds:\n{source}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the first element matching `css` (an option, a checkbox) is selected.
    pub fn selected(&self, css: &str) -> bool {
        self.on_element(css, "GET", "/selected", None)
            .as_bool()
            .unwrap_or(false)
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        self.on_element(css, "POST", "/click", Some(json!({})));
    }

    /// Types `text` into the first element matching `css`, replacing what it held.
    pub fn fill(&self, css: &str, text: &str) {
        self.on_element(css, "POST", "/clear", Some(json!({})));
        self.on_element(css, "POST", "/value", Some(json!({ "text": text })));
    }

    /// Chooses a file in the file input matching `css`.
    pub fn choose_file(&self, css: &str, path: &Path) {
        let text = path.display().to_string();
        self.on_element(css, "POST", "/value", Some(json!({ "text": text })));
    }

    /// The value of the cookie `name` the browser holds for the current page.
    pub fn cookie(&self, name: &str) -> String {
        self.session_call("GET", &format!("/cookie/{name}"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG screenshot of the window.
    pub fn screenshot(&self, path: &Path) {
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64(data.as_str().expect("a base64 screenshot"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                http(
                    &self.addr,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    &[],
                    b"",
                )
            }));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The path of a program found on `PATH`.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// Decodes standard base64 (what WebDriver sends screenshots in).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut bits, mut count) = (0u32, 0);
    for c in text.bytes().filter_map(value) {
        bits = (bits << 6) | u32::from(c);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
