//! CSV uploads as import jobs. The body is streamed to a temporary file while its bytes are
//! counted against the tenant's import size limit (over it, the upload is refused with 413 and
//! nothing is imported); the import then runs on a blocking thread, and the answer gives the job
//! to poll (`202 Accepted` and its `Location`). A shutdown cancels the imports running: each
//! stops between two rows with its committed rows and counts, and ends `cancelled`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cs_host::model::AccessScope;
use cs_host::{ImportCancel, ImportJob, ImportOptions, ImportTarget, JobStatus};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller, Params, Shared, on_tenant};

/// How much of an oversize upload is still read (and dropped) before the refusal, so the client,
/// still sending, reads the answer instead of a reset connection.
const DRAIN: u64 = 1 << 20;

/// The imports the server runs, so a shutdown can cancel them and wait for them to stop.
#[derive(Default)]
pub struct Imports {
    running: Mutex<HashMap<u64, ImportCancel>>,
    next: AtomicU64,
    closed: AtomicBool,
    ended: tokio::sync::Notify,
}

/// One running import's place in [`Imports`]; dropping it (the import returned) frees it.
pub struct Running {
    app: Shared,
    id: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let imports = &self.app.imports;
        imports
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        imports.ended.notify_waiters();
    }
}

impl Imports {
    /// Registers an import about to start, or `None` when the server is stopping.
    pub(in crate::cli::serve) fn start(app: &Shared, cancel: ImportCancel) -> Option<Running> {
        let imports = &app.imports;
        let mut running = imports.running.lock().unwrap_or_else(|e| e.into_inner());
        if imports.closed.load(Ordering::SeqCst) {
            return None;
        }
        let id = imports.next.fetch_add(1, Ordering::Relaxed);
        running.insert(id, cancel);
        Some(Running {
            app: app.clone(),
            id,
        })
    }

    /// Starts no more imports, cancels those running, and waits until each has stopped (its
    /// committed rows and counts kept, its job `cancelled`).
    pub async fn shut_down(&self) {
        self.closed.store(true, Ordering::SeqCst);
        loop {
            let ended = self.ended.notified();
            {
                let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                if running.is_empty() {
                    return;
                }
                for cancel in running.values() {
                    cancel.cancel();
                }
                tracing::info!(imports = running.len(), "cancelling the imports running");
            }
            ended.await;
        }
    }
}

/// How to import the upload.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// `companies` (the default), `partners` or `relationships`.
    #[serde(default)]
    target: Option<String>,
    /// The partners' access scope, for a partner import at a tenant of both levels.
    #[serde(default)]
    scope: Option<AccessScope>,
    /// The file's name, as the job and its row errors name it.
    #[serde(default)]
    name: Option<String>,
    /// Decide every row and write nothing: the answer is the finished report.
    #[serde(default)]
    dry_run: bool,
}

/// The upload's name as a file name: its last path segment, with nothing a path could use.
fn file_name(name: Option<&str>) -> String {
    let name = name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .unwrap_or_default();
    let name = name.trim().trim_start_matches('.');
    if name.is_empty() {
        "upload.csv".to_owned()
    } else {
        name.to_owned()
    }
}

/// The job an upload started.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Started {
    id: i64,
    status: JobStatus,
}

/// `POST /api/v1/tenants/{tenant}/imports?target=&scope=&name=&dry_run=`: the body is the CSV.
///
/// Before a byte of the body is read, the library checks the caller may import into the
/// tenant, and a `Content-Length` over the tenant's limit is refused: a refused upload is
/// answered while the client is still sending it. A body without a length (chunked) is counted
/// against the limit as it streams.
pub async fn upload(
    State(app): State<Shared>,
    Caller(token): Caller,
    Params(tenant): Params<String>,
    super::QueryOf(query): super::QueryOf<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Uploaded, ApiError> {
    let target: ImportTarget = query
        .target
        .as_deref()
        .unwrap_or("companies")
        .parse()
        .map_err(ApiError::from)?;
    let name = file_name(query.name.as_deref());
    let cancel = ImportCancel::new();
    let options = match target {
        ImportTarget::Companies => ImportOptions::companies(),
        ImportTarget::Partners => ImportOptions::partners(query.scope),
        ImportTarget::Relationships => ImportOptions::relationships(),
    }
    .dry_run(query.dry_run)
    .cancel_on(cancel.clone());
    let shared = app.clone();
    let on = tenant.clone();
    let (who, limit, options) = super::blocking(&app, move |host| {
        let who = token.check(&shared)?;
        let limit = host.tenant_for(&who, &on)?.imports().admit(&options)?;
        Ok::<_, ApiError>((who, limit, options))
    })
    .await?;
    let too_large = |name: &str| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "{name}: over {limit} bytes, the tenant's import limit; nothing was imported; \
                 an admin can raise it"
            ),
        )
    };
    if super::content_length(&headers).is_some_and(|length| length > limit) {
        return Err(too_large(&name));
    }

    let server_error = |error: std::io::Error| {
        tracing::error!(%error, "cannot keep an upload");
        ApiError::internal()
    };
    let dir = tempfile::Builder::new()
        .prefix("cshost-upload-")
        .tempdir()
        .map_err(server_error)?;
    let path = dir.path().join(&name);
    // Chunks go to the page cache; a write takes microseconds, so it is done here rather than
    // handed to the blocking pool chunk by chunk.
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(server_error)?);
    let mut body = body;
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                format!("{name}: the upload was cut short: {e}"),
            )
        })?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        size += data.len() as u64;
        if size > limit {
            let mut drained = 0;
            while drained < DRAIN {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        drained += frame.data_ref().map_or(0, |d| d.len() as u64);
                    }
                    _ => break,
                }
            }
            return Err(too_large(&name));
        }
        file.write_all(data).map_err(server_error)?;
    }
    file.flush().map_err(server_error)?;
    drop(file);

    let running = Imports::start(&app, cancel).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is stopping and starts no import; upload again later".to_owned(),
        )
    })?;
    let (started, job_id) = tokio::sync::oneshot::channel();
    let worker = app.clone();
    let on = tenant.clone();
    let import = tokio::task::spawn_blocking(move || {
        let _running = running;
        let _dir = dir;
        let handle = worker.host.tenant_for(&who, &on)?;
        let mut started = Some(started);
        handle
            .imports()
            .file_with_progress(&path, &options, &mut |progress| {
                if let (Some(id), Some(started)) = (progress.job, started.take()) {
                    let _ = started.send(id);
                }
            })
            .map_err(ApiError::from)
    });
    match job_id.await {
        Ok(id) => Ok(Uploaded::Started {
            location: format!("/api/v1/tenants/{tenant}/imports/{id}"),
            job: Started {
                id,
                status: JobStatus::Running,
            },
        }),
        // No job was recorded: a dry run (its report is the answer), or a file refused before
        // its first row.
        Err(_) => match import.await {
            Ok(result) => result.map(Uploaded::Report),
            Err(error) => {
                tracing::error!(%error, "an import panicked");
                Err(ApiError::internal())
            }
        },
    }
}

/// The answer to an upload: the job started, or the report of a dry run or of a file refused
/// before its first row.
pub enum Uploaded {
    /// `202 Accepted`: the job to poll, and its address (`Location`).
    Started {
        /// The job's address.
        location: String,
        /// The job.
        job: Started,
    },
    /// `200 OK`: the finished report.
    Report(ImportJob),
}

impl IntoResponse for Uploaded {
    fn into_response(self) -> Response {
        match self {
            Uploaded::Started { location, job } => (
                StatusCode::ACCEPTED,
                [(header::LOCATION, location)],
                Json(job),
            )
                .into_response(),
            Uploaded::Report(job) => Json(job).into_response(),
        }
    }
}

impl super::openapi::Answers for Uploaded {
    fn answers(generator: &mut schemars::SchemaGenerator) -> Vec<super::openapi::Answer> {
        vec![
            super::openapi::Answer {
                status: "202",
                media: "application/json",
                schema: generator.subschema_for::<Started>(),
                description: "The import job started (its address in `Location`): poll it.",
            },
            super::openapi::Answer {
                status: "200",
                media: "application/json",
                schema: generator.subschema_for::<ImportJob>(),
                description: "A dry run's report, or a file refused before its first row.",
            },
        ]
    }
}

/// A job's row errors as a CSV file to download.
pub struct ErrorCsv {
    job: i64,
    csv: Vec<u8>,
}

impl IntoResponse for ErrorCsv {
    fn into_response(self) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{}-errors.csv\"", self.job),
                ),
            ],
            self.csv,
        )
            .into_response()
    }
}

impl super::openapi::Answers for ErrorCsv {
    fn answers(_: &mut schemars::SchemaGenerator) -> Vec<super::openapi::Answer> {
        vec![super::openapi::Answer {
            status: "200",
            media: "text/csv",
            schema: schemars::json_schema!({ "type": "string" }),
            description: "The row errors: `row,outcome,column,field,plugin,reason`.",
        }]
    }
}

/// `GET /api/v1/tenants/{tenant}/imports`: the tenant's import jobs, oldest first.
pub async fn jobs(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<ImportJob>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.imports().jobs())
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/imports/{job}`: the job's status and counts so far (the rows
/// committed), with its first row errors.
pub async fn job(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<ImportJob>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.imports().job(id))
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/imports/{job}/errors.csv`: every row error of the job, as the
/// command line writes them: `row,outcome,column,field,plugin,reason`.
pub async fn error_csv(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<ErrorCsv, ApiError> {
    let csv = on_tenant(&app, who, tenant, move |t| {
        let mut out = Vec::new();
        t.imports().write_error_csv(id, &mut out)?;
        Ok(out)
    })
    .await?;
    Ok(ErrorCsv { job: id, csv })
}

/// `POST /api/v1/tenants/{tenant}/imports/{job}/cancel`: asks a running import to stop.
pub async fn cancel(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Started>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.imports().cancel(id))
        .await
        .map(|status| Json(Started { id, status }))
}
