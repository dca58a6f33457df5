//! `cshost serve`: the HTTP service. A JSON API for admins and integrators under `/api/v1`, the
//! pages a share link opens under `/shared/<tenant>/<token>`, the web console under `/console`,
//! health and readiness checks, Prometheus metrics, and the background work (the outbox worker,
//! the resumer of owed hooks).
//!
//! The library is synchronous (SQLite, wasmtime): every call into it runs on tokio's blocking
//! pool ([`blocking`]), never on the async executor. Permission checks stay in the library: a
//! request acts through the tenant handle its bearer token resolves to.

mod api;
mod console;
mod cookies;
mod html;
mod metrics;
mod pages;
mod rate;
mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use cs_host::{Host, HostConfig};

pub use api::ApiError;

/// The arguments of `cshost serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on, as IP:PORT (port 0 picks a free port; the address in use is
    /// printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The public address share links point at, such as `https://cs.example.com`. Tenants whose
    /// link base is still the placeholder get `<URL>/shared/<tenant>/` [default: http://<the
    /// address listened on>].
    #[arg(long, value_name = "URL")]
    link_base: Option<String>,
    /// The mailbox directory the outbox worker delivers to (one .eml file per message).
    #[arg(long, default_value = "mailbox", conflicts_with = "smtp")]
    mailbox: PathBuf,
    /// Deliver through this SMTP server instead, as HOST:PORT (no TLS: use a relay).
    #[arg(long, requires = "from")]
    smtp: Option<String>,
    /// The sender address for SMTP.
    #[arg(long)]
    from: Option<String>,
    /// Seconds between two runs of the outbox worker (a one-time code is delivered at once).
    #[arg(long, default_value_t = 5)]
    outbox_every: u64,
    /// Seconds between two runs of the resumer of owed hooks.
    #[arg(long, default_value_t = 30)]
    resume_every: u64,
    /// The most one-time code requests and attempts one client address may make per hour, on
    /// any links (each link has its own limits besides).
    #[arg(long, default_value_t = 60)]
    recipient_tries: u32,
    /// The API requests one bearer token may make a minute, on average (0: no limit).
    #[arg(long, default_value_t = 3000)]
    rate_limit: u32,
    /// The API requests one bearer token may make at once, over its average.
    #[arg(long, default_value_t = 100)]
    rate_burst: u32,
    /// The largest plugin component the API accepts for installation, in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    max_plugin_size: usize,
}

/// What every request handler shares.
pub struct App {
    /// The library.
    pub host: Host,
    /// The public address links point at, without a trailing `/`.
    pub link_base: String,
    /// Keys the CSRF tokens of the recipient's and the console's forms: derived from the
    /// database's secret key ([`Host::derived_key`]), so a form opened before a restart (or on
    /// another server on the same database) still submits.
    pub secret: [u8; 32],
    /// Request counts and durations.
    pub metrics: metrics::Metrics,
    /// False once shutting down: `/readyz` answers 503 so a balancer stops sending requests.
    pub ready: AtomicBool,
    /// Wakes the outbox worker (a one-time code should not wait for the next run).
    pub outbox_wake: tokio::sync::Notify,
    /// Code requests and attempts per client address.
    pub recipient_tries: pages::Tries,
    /// The API's per-token rate limits.
    pub rate: rate::RateLimits,
    /// The imports running, for a shutdown to cancel.
    pub imports: api::Imports,
    /// The largest plugin component an upload may be, in bytes.
    pub max_plugin_size: usize,
    /// The console's sessions and uploads (in memory: a restart signs everyone out).
    pub console: console::Console,
}

/// The shared state of the handlers.
pub type Shared = Arc<App>;

/// Runs `work` on the library, on tokio's blocking pool.
pub async fn blocking<T, E>(
    app: &Shared,
    work: impl FnOnce(&Host) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static + From<ApiError>,
{
    let app = app.clone();
    match tokio::task::spawn_blocking(move || work(&app.host)).await {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "a library call panicked or was cancelled");
            Err(ApiError::internal().into())
        }
    }
}

/// Runs `cshost serve` until Ctrl-C or SIGTERM.
pub fn run(
    args: ServeArgs,
    open: &dyn Fn(HostConfig) -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let ServeArgs {
        listen,
        link_base,
        mailbox,
        smtp,
        from,
        outbox_every,
        resume_every,
        recipient_tries,
        rate_limit,
        rate_burst,
        max_plugin_size,
    } = args;
    let transport = super::outbox::transport(&mailbox, smtp.as_deref(), from)?;
    // Opening the host runs what is owed; from then on the resumer runs what comes to be owed
    // (a process that died elsewhere), every `--resume-every`, so requests do not look for it.
    let host = open(HostConfig::default().resume_on_handles(false))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        let link_base = link_base
            .unwrap_or_else(|| format!("http://{local}"))
            .trim_end_matches('/')
            .to_owned();
        let secret = host.derived_key("cshost serve: forms")?;
        let app: Shared = Arc::new(App {
            host,
            link_base,
            secret,
            metrics: metrics::Metrics::default(),
            ready: AtomicBool::new(true),
            outbox_wake: tokio::sync::Notify::new(),
            recipient_tries: pages::Tries::new(recipient_tries, Duration::from_secs(3600)),
            rate: rate::RateLimits::new(rate_limit, rate_burst),
            imports: api::Imports::default(),
            max_plugin_size,
            console: console::Console::default(),
        });
        blocking(&app, workers::link_bases(&app))
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let outbox = tokio::spawn(workers::outbox(
            app.clone(),
            transport,
            Duration::from_secs(outbox_every.max(1)),
            stopped.clone(),
        ));
        let resumer = tokio::spawn(workers::resumer(
            app.clone(),
            Duration::from_secs(resume_every.max(1)),
            stopped,
        ));
        // A notice for whoever started the server: once nobody reads standard output any more
        // (`cshost serve | head -1` read the address), the server goes on serving.
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on http://{local}").and_then(|()| out.flush());
        }
        tracing::info!(address = %local, "listening");
        let shutdown_app = app.clone();
        axum::serve(
            listener,
            router(app.clone()).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            shutdown_app.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: finishing the requests in flight");
        })
        .await
        .context("the HTTP server failed")?;
        // The requests are done (an upload in flight has started its import): the imports
        // running are cancelled, each keeping the rows it committed, and waited for.
        app.imports.shut_down().await;
        // The workers finish the run they are in, then stop.
        let _ = stop.send(true);
        let _ = outbox.await;
        let _ = resumer.await;
        tracing::info!("stopped");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Every route of the service.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/assets/style.css", get(html::stylesheet))
        .nest("/api/v1", api::router())
        .merge(pages::router())
        .merge(console::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

/// `/healthz`: the process answers.
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// `/readyz`: the database answers and the server is not shutting down.
async fn readyz(State(app): State<Shared>) -> Response {
    if !app.ready.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "shutting down" })),
        )
            .into_response();
    }
    match blocking(&app, |host| host.tenants().map_err(ApiError::from)).await {
        Ok(_) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(error) => {
            tracing::error!(error = %error.message, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "database unavailable" })),
            )
                .into_response()
        }
    }
}

/// Any other address: JSON under `/api/`, a page elsewhere.
async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_route",
            "there is no such API route".to_owned(),
        )
        .into_response()
    } else {
        html::message_page(StatusCode::NOT_FOUND, "Not found", "There is no page here.")
    }
}

/// Logs each request (by its route, never its path: a path can hold a link's secret token),
/// counts it for `/metrics`, and adds the security headers every response carries.
async fn observe(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // A shared string, not a copy: nothing is formatted or copied for the log line unless its
    // level is on.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    tracing::info!(
        target: "cshost::http",
        %method,
        route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    app.metrics
        .record(method.as_str(), route, status, elapsed.as_secs_f64());
    let headers = response.headers_mut();
    for (name, value) in [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, html::CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
