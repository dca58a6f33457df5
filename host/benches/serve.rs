//! A load test of `cshost serve`: the real server (the release build) on a database file with
//! 1,000 companies, driven over loopback by an in-process HTTP/1.1 client of `CONNECTIONS`
//! keep-alive connections, each on its own thread, sending its next request when the last is
//! answered. It reports requests a second and latency percentiles for a JSON list endpoint
//! (`GET /api/v1/tenants/acme/companies?limit=50`) and the recipient's plan page, and the time
//! from the first byte of a 10,000-row CSV upload to its job's end. The machine's load average
//! is printed beside them: the client shares the cores with the server.
//!
//! Beside each endpoint's figures, the CPU time each request took: the server's (from
//! `/proc/<pid>/stat`) and this client's (its own process's), so that runs on a busy machine
//! still compare.
//!
//! Run with `cargo bench -p cs-host --bench serve` (`CSHOST_BENCH_SECONDS` sets each run's
//! length, 5 by default; `CSHOST_BENCH_SERVER=PATH` runs another build of `cshost`, to compare
//! two builds in turns on the same database shape).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cs_host::model::{Audience, Date};
use cs_host::{
    Host, HostConfig, NewCompany, NewPlan, NewTask, ShareRequest, ShareTo, TaskOf, TenantLevel,
};

const CONNECTIONS: usize = 32;
const COMPANIES: usize = 1_000;
const UPLOAD_ROWS: usize = 10_000;

/// The database: a tenant with companies, an admin's token, and a plan shared by a link that
/// needs no code.
fn prepare(db: &std::path::Path) -> (String, String) {
    let host = Host::open(db, HostConfig::default()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    host.tenant("acme")
        .unwrap()
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    let acme = host
        .tenant("acme")
        .unwrap()
        .as_user("csm@acme.example")
        .unwrap();
    let mut settings = acme.shares().settings().unwrap();
    settings.otp_required = false;
    acme.shares().set_settings(&settings).unwrap();
    let mut first = 0;
    for n in 0..COMPANIES {
        let id = acme
            .companies()
            .add(NewCompany::new(format!("Company {n:04}")))
            .unwrap();
        if n == 0 {
            first = id;
        }
    }
    let plan = acme
        .plans()
        .create(&NewPlan {
            company_id: first,
            name: "Onboarding".into(),
            due_date: Date::new(2027, 6, 30),
            share_with_contacts: true,
            ..NewPlan::default()
        })
        .unwrap();
    for o in 0..3 {
        let objective = acme
            .plans()
            .add_objective(plan, &format!("Objective {o}"), None, Some(true))
            .unwrap();
        for t in 0..4 {
            acme.plans()
                .add_task(
                    TaskOf::Objective(objective),
                    &NewTask {
                        name: format!("Task {o}.{t}"),
                        ..NewTask::default()
                    },
                )
                .unwrap();
        }
    }
    let receipt = acme
        .shares()
        .share(&ShareRequest {
            recipients: vec![ShareTo::email("pat@globex.example")],
            ..ShareRequest::new(plan, Audience::Contacts, [])
        })
        .unwrap();
    let link = receipt.links[0].link.clone();
    let page = link[link.find("/shared/").unwrap()..].to_owned();
    let token = acme
        .access()
        .create_token("csm@acme.example", "bench", 1)
        .unwrap()
        .token;
    (token, page)
}

/// Reads one response from a keep-alive connection; returns its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse().unwrap();
            } else if name == "transfer-encoding" && value.contains("chunked") {
                chunked = true;
            }
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap();
            let mut skip = vec![0; size + 2];
            reader.read_exact(&mut skip).unwrap();
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
    }
    status
}

/// What one endpoint's run measured.
struct Run {
    /// Requests a second.
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// How many requests were answered.
    requests: usize,
}

/// `CONNECTIONS` clients asking `path` for `seconds`.
fn load(addr: &str, path: &str, token: Option<&str>, seconds: f64) -> Run {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n");
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                let request = request.as_bytes();
                scope.spawn(move || {
                    let stream = TcpStream::connect(addr).unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut mine = Vec::new();
                    while Instant::now() < until {
                        let sent = Instant::now();
                        writer.write_all(request).unwrap();
                        let status = read_response(&mut reader);
                        assert_eq!(status, 200, "{path}");
                        mine.push(sent.elapsed());
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Run {
        rate: latencies.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        requests: latencies.len(),
    }
}

/// Uploads a CSV of `UPLOAD_ROWS` companies and polls its job to the end: the time taken.
fn upload(addr: &str, token: &str, round: usize) -> Duration {
    let mut csv = String::from("Name,Industry\n");
    for n in 0..UPLOAD_ROWS {
        csv.push_str(&format!("Uploaded {round}-{n},Retail\n"));
    }
    // The last round's job reads `completed` a moment before its import lets go of the tenant's
    // one-import claim: an upload in that moment is refused (409), and is sent again.
    let (started, answer) = loop {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "POST /api/v1/tenants/acme/imports?name=bench.csv HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {token}\r\nContent-Type: text/csv\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            csv.len()
        )
        .unwrap();
        stream.write_all(csv.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        if !answer.starts_with("HTTP/1.1 409") {
            break (started, answer);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let id: i64 = answer
        .split("\"id\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|id| id.trim().parse().ok())
        .unwrap_or_else(|| panic!("{answer}"));
    loop {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /api/v1/tenants/acme/imports/{id} HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut job = String::new();
        stream.read_to_string(&mut job).unwrap();
        if !job.contains("\"status\":\"running\"") {
            assert!(job.contains("\"status\":\"completed\""), "{job}");
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The CPU time process `pid` has used so far (user and system), from `/proc`.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name (in parentheses, which may hold spaces): utime and
    // stime are the 12th and 13th of them, in clock ticks.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    // SAFETY: sysconf only reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn main() {
    let seconds: f64 = std::env::var("CSHOST_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let (token, page) = prepare(&db);
    let binary = std::env::var("CSHOST_BENCH_SERVER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cshost").into());
    let mut server: Child = Command::new(&binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
        .arg("--db")
        .arg(&db)
        .arg("--mailbox")
        .arg(dir.path().join("mailbox"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cshost serve starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_owned();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "cshost serve, {CONNECTIONS} connections, {seconds} s a run, {cores} cores; load average \
         before: {}",
        load_average()
    );
    println!("server: {binary}");
    println!("| what | requests/s | p50 | p99 | server CPU a request | client CPU a request |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let server_pid = server.id().to_string();
    let json = "/api/v1/tenants/acme/companies?limit=50";
    // A short warm-up: the first requests open the database's connections.
    load(&addr, json, Some(&token), 0.5);
    for (label, path, auth) in [
        ("JSON list (50 companies)", json, Some(token.as_str())),
        ("recipient's plan page", page.as_str(), None),
    ] {
        let (server_before, client_before) = (cpu_time(&server_pid), cpu_time("self"));
        let run = load(&addr, path, auth, seconds);
        let per_request = |spent: Duration| spent.as_secs_f64() * 1e6 / run.requests as f64;
        println!(
            "| {label} | {:.0} | {:.2} ms | {:.2} ms | {:.0} µs | {:.0} µs |",
            run.rate,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3,
            per_request(cpu_time(&server_pid) - server_before),
            per_request(cpu_time("self") - client_before),
        );
    }
    let mut uploads: Vec<Duration> = (0..3).map(|round| upload(&addr, &token, round)).collect();
    uploads.sort_unstable();
    println!(
        "| CSV upload of {UPLOAD_ROWS} rows to its job's end (median of 3) | {:.0} rows/s | {:.0} ms | | | |",
        UPLOAD_ROWS as f64 / uploads[1].as_secs_f64(),
        uploads[1].as_secs_f64() * 1e3
    );
    println!("load average after: {}", load_average());
    // SAFETY: sending a signal to the child process this bench started.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let _ = server.wait();
}
