//! A real `cshost serve` for the tests that drive it over HTTP: started on a free port of
//! 127.0.0.1 on a database the test prepared, with a file mailbox the test reads; and a small
//! HTTP/1.1 client (one request per connection) to speak to it or to a WebDriver server. A test
//! includes it with `#[path = "support/server.rs"] mod server;` besides `mod support;`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `cshost serve` process, killed when dropped (unless a test took it to stop it itself).
pub struct Serve {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The database file.
    pub db: PathBuf,
    /// The file mailbox the outbox worker delivers to.
    pub mailbox: PathBuf,
    /// The server's log (its standard error).
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Prepares a database with `prepare` (given its path), then starts `cshost serve` on it
    /// with `args` besides, delivering the outbox every second.
    pub fn start(prepare: impl FnOnce(&Path), args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cs.db");
        let mailbox = dir.path().join("mailbox");
        let log = dir.path().join("server.log");
        prepare(&db);
        let (child, addr) = spawn(&db, &mailbox, &log, args);
        Serve {
            child: Some(child),
            addr,
            db,
            mailbox,
            log,
            _dir: dir,
        }
    }

    /// Kills the server (as a crash would) and starts it again on the same database, mailbox
    /// and arguments `args`; it listens on a new port.
    pub fn restart(&mut self, args: &[&str]) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let (child, addr) = spawn(&self.db, &self.mailbox, &self.log, args);
        self.child = Some(child);
        self.addr = addr;
    }

    /// The server's process, for a test that stops it itself (then it is not killed on drop).
    pub fn take_process(&mut self) -> Option<Child> {
        self.child.take()
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The text of the first message in the mailbox of `tenant` that contains every one of
    /// `needles`, waiting for the outbox worker to deliver it.
    pub fn mail_containing(&self, tenant: &str, needles: &[&str]) -> String {
        let dir = self.mailbox.join(tenant);
        let started = Instant::now();
        loop {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                paths.sort();
                for path in paths {
                    if path.extension().is_some_and(|e| e == "eml") {
                        let text = std::fs::read_to_string(&path).unwrap_or_default();
                        if needles.iter().all(|n| text.contains(n)) {
                            return text;
                        }
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no message with {needles:?} reached {}; the server's log:\n{}",
                dir.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `cshost serve` on `db` and returns it with the address it listens on.
fn spawn(db: &Path, mailbox: &Path, log: &Path, args: &[&str]) -> (Child, String) {
    let cache = crate::support::cache_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .args(["serve", "--listen", "127.0.0.1:0", "--outbox-every", "1"])
        .arg("--db")
        .arg(db)
        .arg("--mailbox")
        .arg(mailbox)
        .args(args)
        .env("CSHOST_CACHE_DIR", cache)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
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
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_owned();
    (child, addr)
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value, by its name in lower case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on its own connection to `addr` (`HOST:PORT`).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    read_reply(stream, method)
}

/// A request that announces a body of `length` bytes (`Content-Length`) but sends only `sent`
/// of them, then reads the answer: what the server answers before the rest of the body.
pub fn http_partial(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: usize,
    sent: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    // A server that waits for the rest would hang the test: fail it instead.
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(sent).unwrap();
    read_reply(stream, "POST")
}

/// A request whose body is sent chunked (`Transfer-Encoding: chunked`, no length announced),
/// one chunk per item of `chunks`.
pub fn http_chunked(addr: &str, path: &str, headers: &[(&str, &str)], chunks: &[&[u8]]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    for chunk in chunks {
        // The server may answer (and stop reading) before the last chunk.
        if stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|()| stream.write_all(chunk))
            .and_then(|()| stream.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    read_reply(stream, "POST")
}

/// Reads an answer: the head, then as much body as it announces (a server may keep the
/// connection open).
fn read_reply(stream: TcpStream, method: &str) -> Reply {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line, not `{status_line}`"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v): &(String, String)| v.clone())
    };
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16)
                .expect("a chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body).unwrap();
    } else if method != "HEAD" && status != 204 && status != 304 {
        reader.read_to_end(&mut body).unwrap();
    }
    Reply {
        status,
        headers,
        body,
    }
}
