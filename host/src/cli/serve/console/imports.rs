//! Imports in the console: upload a CSV file of companies or partners, see the properties
//! detected and the column-to-field mapping (and change it), start it and watch its progress,
//! then read its row errors and download them as CSV.
//!
//! An upload waits in memory, for its session only, until it is started or an hour passes. A
//! started import runs on the blocking pool through the library's own import
//! ([`Imports::file_with_progress`](cs_host::Imports::file_with_progress)), so the
//! tenant's size limit, its permission checks, the *CSV row mapped* hook and the job log all
//! apply as on the command line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use cs_host::model::AccessScope;
use cs_host::{CsvProperties, ImportCancel, ImportOptions, ImportTarget, JobStatus, Mapping};

use super::multipart;
use super::{User, Visitor, label, safe_name, see_other, when};
use crate::cli::serve::api::Imports;
use crate::cli::serve::html::esc;
use crate::cli::serve::{ApiError, Shared};

/// The largest upload the console reads, in bytes. The tenant's own import limit applies
/// within it: the library refuses a larger file, naming both sizes.
const MAX_UPLOAD: usize = 64 << 20;
/// How long an upload waits to be started.
const KEPT: Duration = Duration::from_secs(3600);
/// The most uploads kept at once, of all sessions; the oldest go first.
const MAX_UPLOADS: usize = 64;
/// How many bytes of a file the preview reads (as the import's detection does).
const SAMPLE: usize = 64 * 1024;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/console/imports", get(list).post(upload))
        .route(
            "/console/imports/uploads/{upload}",
            get(preview).post(start),
        )
        .route("/console/imports/runs/{upload}", get(progress))
        .route("/console/imports/{job}", get(job))
        .route("/console/imports/{job}/errors.csv", get(errors_csv))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
}

/// Uploads waiting to be imported, and the imports started from them.
#[derive(Default)]
pub struct Uploads {
    map: Mutex<HashMap<String, Upload>>,
}

struct Upload {
    session: String,
    name: String,
    target: ImportTarget,
    scope: Option<AccessScope>,
    data: Arc<Vec<u8>>,
    at: Instant,
    run: Option<Arc<Mutex<Run>>>,
}

/// Where a started import is.
enum Run {
    Running { bytes: u64, total: u64, rows: u64 },
    Done(Option<i64>),
    Failed(ApiError),
}

impl Uploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Upload>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, upload: Upload) -> Option<String> {
        let id = crate::cli::serve::cookies::random_hex()?;
        let mut map = self.lock();
        map.retain(|_, u| u.at.elapsed() < KEPT);
        while map.len() >= MAX_UPLOADS {
            let oldest = map
                .iter()
                .min_by_key(|(_, u)| u.at)
                .map(|(k, _)| k.clone())?;
            map.remove(&oldest);
        }
        map.insert(id.clone(), upload);
        Some(id)
    }

    /// Forgets a session's uploads (at sign-out); imports already started go on.
    pub(super) fn forget_session(&self, session: &str) {
        self.lock().retain(|_, u| u.session != session);
    }

    /// Runs `f` on the session's upload `id`, if there is one.
    fn with<T>(&self, session: &str, id: &str, f: impl FnOnce(&mut Upload) -> T) -> Option<T> {
        let mut map = self.lock();
        map.get_mut(id)
            .filter(|u| u.session == session && u.at.elapsed() < KEPT)
            .map(f)
    }
}

fn gone(user: &User, app: &Shared) -> Response {
    user.fail(
        app,
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this upload is gone (uploads wait an hour, for the session that sent them): upload \
             the file again"
                .to_owned(),
        ),
    )
}

/// `GET /console/imports`: the tenant's import jobs and the upload form.
async fn list(State(app): State<Shared>, visitor: Visitor) -> Response {
    let (user, jobs) = match visitor.run(&app, |_, t| t.imports().jobs()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut body = format!(
        "<section>\n<h2>Upload a CSV file</h2>\n\
         <form class=\"block\" method=\"post\" action=\"/console/imports\" \
         enctype=\"multipart/form-data\">{}\
         <p><label for=\"target\">Records</label> <select id=\"target\" name=\"target\">\
         <option value=\"companies\">companies</option>\
         <option value=\"partners\">partners</option></select> \
         <label for=\"scope\">Partners' access scope</label> <select id=\"scope\" name=\"scope\">\
         <option value=\"\">as the tenant's level sets it</option>\
         <option value=\"company_records\">company records</option>\
         <option value=\"relationship_records\">relationship records</option>\
         <option value=\"both\">both</option></select></p>\
         <p><input id=\"file\" type=\"file\" name=\"file\" accept=\".csv,text/csv\" required></p>\
         <button type=\"submit\">Upload and check</button></form>\n</section>\n",
        user.csrf_field(&app)
    );
    body.push_str(
        "<table>\n<thead><tr><th>Job</th><th>File</th><th>Records</th><th>Status</th>\
         <th>Rows</th><th>Created</th><th>Updated</th><th>Skipped</th><th>Failed</th>\
         <th>Started</th></tr></thead>\n<tbody>\n",
    );
    if jobs.is_empty() {
        body.push_str("<tr><td colspan=\"10\">No imports yet.</td></tr>\n");
    }
    for j in jobs.iter().rev() {
        let id = j.id.unwrap_or_default();
        body.push_str(&format!(
            "<tr><td><a href=\"/console/imports/{id}\">{id}</a></td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&j.source),
            j.target,
            j.status,
            j.rows,
            j.created,
            j.updated,
            j.skipped,
            j.failed,
            when(j.started_at)
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    user.page(&app, "Imports", &body)
}

/// `POST /console/imports`: keeps the uploaded file and shows what the import would do.
async fn upload(
    State(app): State<Shared>,
    user: User,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |message: String| {
        user.fail(
            &app,
            ApiError::new(StatusCode::BAD_REQUEST, "bad_upload", message),
        )
    };
    let Some(boundary) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
    else {
        return bad("the upload must be sent as multipart/form-data".to_owned());
    };
    let parts = match multipart::parse(&body, &boundary) {
        Ok(parts) => parts,
        Err(message) => return bad(message),
    };
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    let text = |name: &str| field(name).map(|p| String::from_utf8_lossy(&p.data).trim().to_owned());
    if let Err(page) = user.check(&app, &text("csrf").unwrap_or_default()) {
        return page;
    }
    let target = match text("target").as_deref() {
        Some("partners") => ImportTarget::Partners,
        _ => ImportTarget::Companies,
    };
    let scope = match text("scope").as_deref() {
        None | Some("") => None,
        Some(scope) => match serde_json::from_value(serde_json::Value::String(scope.to_owned())) {
            Ok(scope) => Some(scope),
            Err(_) => return bad(format!("unknown access scope `{scope}`")),
        },
    };
    let Some(file) = field("file").filter(|f| f.filename.as_deref().is_some_and(|n| !n.is_empty()))
    else {
        return bad("choose a CSV file to upload".to_owned());
    };
    // The name as the job will show it: its last path segment, in safe characters.
    let raw = file.filename.as_deref().unwrap_or("upload.csv");
    let name = safe_name(raw.rsplit(['/', '\\']).next().unwrap_or(raw));
    let name = if name.trim_matches(['.', '_']).is_empty() {
        "upload.csv".to_owned()
    } else {
        name
    };
    let upload = Upload {
        session: user.session.clone(),
        name,
        target,
        scope,
        data: Arc::new(file.data.clone()),
        at: Instant::now(),
        run: None,
    };
    match app.console.imports.add(upload) {
        Some(id) => see_other(&format!("/console/imports/uploads/{id}")),
        None => ApiError::internal().into_response(),
    }
}

/// The columns of a file's header row as the import reads them (`1`, `2`, ... without one).
fn columns(data: &[u8], properties: &CsvProperties) -> Vec<String> {
    let sample = &data[..data.len().min(SAMPLE)];
    let text = match properties.encoding {
        cs_host::Encoding::Utf8 => {
            String::from_utf8_lossy(sample.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(sample))
                .into_owned()
        }
        cs_host::Encoding::Utf16Le => encoding_rs::UTF_16LE.decode(sample).0.into_owned(),
        cs_host::Encoding::Utf16Be => encoding_rs::UTF_16BE.decode(sample).0.into_owned(),
        cs_host::Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode(sample).0.into_owned(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(properties.separator.byte())
        .quote(u8::try_from(properties.quote).unwrap_or(b'"'))
        .escape(properties.escape.and_then(|e| u8::try_from(e).ok()))
        .double_quote(properties.escape.is_none())
        .from_reader(text.as_bytes());
    let first = reader
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(|c| c.trim().to_owned()).collect::<Vec<_>>())
        .unwrap_or_default();
    if properties.has_header {
        first
    } else {
        (1..=first.len()).map(|i| i.to_string()).collect()
    }
}

/// `GET /console/imports/uploads/{upload}`: the properties detected and the mapping.
async fn preview(State(app): State<Shared>, user: User, Path(id): Path<String>) -> Response {
    let Some((name, target, data)) = app.console.imports.with(&user.session, &id, |u| {
        (u.name.clone(), u.target, u.data.clone())
    }) else {
        return gone(&user, &app);
    };
    let fields = match user.run(&app, |_, t| t.companies().fields()).await {
        Ok(fields) => fields,
        Err(page) => return page,
    };
    let properties = CsvProperties::detect(&data[..data.len().min(SAMPLE)]);
    let columns = columns(&data, &properties);
    let mapping = Mapping::automatic(&columns, &fields, target);
    // The fields a column may fill: the schema's, and what the mapping chose besides.
    let mut choices: Vec<String> = vec!["name".to_owned(), "external_id".to_owned()];
    if target == ImportTarget::Companies {
        choices.push("managed_by".to_owned());
    }
    choices.extend(fields.iter().map(|f| f.name.clone()));
    choices.extend(mapping.columns.iter().map(|(_, f)| f.clone()));
    let mut seen = std::collections::HashSet::new();
    choices.retain(|c| seen.insert(c.clone()));
    let mut body = format!(
        "<p><strong>{}</strong>: {} bytes of {}.</p>\n<section>\n<h2>Detected properties</h2>\n\
         <dl class=\"props\"><dt>Separator</dt><dd>{}</dd><dt>Quote</dt><dd><code>{}</code></dd>\
         <dt>Escape</dt><dd>{}</dd><dt>Header row</dt><dd>{}</dd><dt>Encoding</dt><dd>{}</dd></dl>\n\
         </section>\n<section>\n<h2>Mapping</h2>\n\
         <form class=\"block\" method=\"post\" action=\"/console/imports/uploads/{id}\">{}\
         <table>\n<thead><tr><th>Column</th><th>Field</th></tr></thead>\n<tbody>\n",
        esc(&name),
        data.len(),
        target,
        properties.separator,
        esc(&properties.quote.to_string()),
        properties
            .escape
            .map_or("doubled quotes".to_owned(), |e| format!(
                "<code>{}</code>",
                esc(&e.to_string())
            )),
        if properties.has_header { "yes" } else { "no" },
        properties.encoding,
        user.csrf_field(&app),
    );
    for (i, column) in columns.iter().enumerate() {
        let chosen = mapping
            .columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, f)| f.as_str());
        let mut options = format!(
            "<option value=\"\"{}>(leave out)</option>",
            if chosen.is_none() { " selected" } else { "" }
        );
        for choice in &choices {
            options.push_str(&format!(
                "<option value=\"{0}\"{1}>{0}</option>",
                esc(choice),
                if chosen == Some(choice.as_str()) {
                    " selected"
                } else {
                    ""
                }
            ));
        }
        body.push_str(&format!(
            "<tr><td><label for=\"c{i}\">{}</label></td><td><select id=\"c{i}\" name=\"c{i}\">\
             {options}</select></td></tr>\n",
            esc(column)
        ));
    }
    body.push_str(
        "</tbody>\n</table>\n<button type=\"submit\">Start the import</button></form>\n</section>\n",
    );
    user.page(&app, "Check the import", &body)
}

/// `POST /console/imports/uploads/{upload}`: starts the import with the mapping chosen.
async fn start(
    State(app): State<Shared>,
    user: User,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let pairs = match form {
        Ok(Form(pairs)) => pairs,
        Err(rejection) => {
            return user.fail(
                &app,
                ApiError::new(StatusCode::BAD_REQUEST, "bad_form", rejection.body_text()),
            );
        }
    };
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    if let Err(page) = user.check(&app, csrf) {
        return page;
    }
    let state = Arc::new(Mutex::new(Run::Running {
        bytes: 0,
        total: 0,
        rows: 0,
    }));
    let Some(Some((name, target, scope, data))) =
        app.console.imports.with(&user.session, &id, |u| {
            if u.run.is_some() {
                return None;
            }
            u.run = Some(state.clone());
            Some((u.name.clone(), u.target, u.scope, u.data.clone()))
        })
    else {
        // Gone, or started already (a second click): show where it is.
        return see_other(&format!("/console/imports/runs/{id}"));
    };
    let properties = CsvProperties::detect(&data[..data.len().min(SAMPLE)]);
    let columns = columns(&data, &properties);
    let mut mapping = Mapping::new();
    for (key, field) in &pairs {
        let Some(i) = key.strip_prefix('c').and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        if let Some(column) = columns.get(i)
            && !field.is_empty()
        {
            mapping = mapping.map(column.clone(), field.clone());
        }
    }
    // Registered with the API's imports, so that a shutdown cancels it between two rows.
    let cancel = ImportCancel::new();
    let Some(running) = Imports::start(&app, cancel.clone()) else {
        return user.fail(
            &app,
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is stopping and starts no import; upload again later".to_owned(),
            ),
        );
    };
    let options = match target {
        ImportTarget::Partners => ImportOptions::partners(scope),
        _ => ImportOptions::companies(),
    }
    .mapping(mapping)
    .cancel_on(cancel);
    let (who, tenant) = (user.who.clone(), user.tenant.clone());
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || {
        let _running = running;
        let outcome = (|| {
            let dir = tempfile::tempdir().map_err(|e| {
                tracing::error!(error = %e, "cannot make a directory for an upload");
                ApiError::internal()
            })?;
            let path = dir.path().join(&name);
            std::fs::write(&path, &data[..]).map_err(|e| {
                tracing::error!(error = %e, "cannot write an upload");
                ApiError::internal()
            })?;
            let handle = app2.host.tenant_for(&who, &tenant)?;
            let job = handle
                .imports()
                .file_with_progress(&path, &options, &mut |p| {
                    let mut run = state.lock().unwrap_or_else(|e| e.into_inner());
                    *run = Run::Running {
                        bytes: p.bytes,
                        total: p.total_bytes,
                        rows: p.rows,
                    };
                })?;
            Ok::<_, ApiError>(job.id)
        })();
        let mut run = state.lock().unwrap_or_else(|e| e.into_inner());
        *run = match outcome {
            Ok(id) => Run::Done(id),
            Err(error) => Run::Failed(error),
        };
    });
    see_other(&format!("/console/imports/runs/{id}"))
}

/// `GET /console/imports/runs/{upload}`: a started import's progress, refreshed each second
/// until it ends, then its job.
async fn progress(State(app): State<Shared>, user: User, Path(id): Path<String>) -> Response {
    let Some(Some(run)) = app
        .console
        .imports
        .with(&user.session, &id, |u| u.run.clone())
    else {
        return gone(&user, &app);
    };
    let (bytes, total, rows) = {
        let run = run.lock().unwrap_or_else(|e| e.into_inner());
        match &*run {
            Run::Running { bytes, total, rows } => (*bytes, *total, *rows),
            Run::Done(Some(job)) => return see_other(&format!("/console/imports/{job}")),
            Run::Done(None) => return see_other("/console/imports"),
            Run::Failed(error) => {
                let error = ApiError::new(error.status, error.code, error.message.clone());
                return user.fail(&app, error);
            }
        }
    };
    let body = format!(
        "<p>Importing: {rows} rows so far.</p>\n\
         <p><progress max=\"{}\" value=\"{bytes}\">{bytes} of {total} bytes</progress> \
         {bytes} of {total} bytes</p>\n<p class=\"meta\">This page refreshes itself each second \
         (<a href=\"/console/imports/runs/{id}\">refresh</a>).</p>",
        total.max(1),
    );
    user.page_with(
        &app,
        StatusCode::OK,
        "Import in progress",
        "<meta http-equiv=\"refresh\" content=\"1\">\n",
        &body,
    )
}

/// `GET /console/imports/{job}`: a job, its counts and its row errors.
async fn job(State(app): State<Shared>, visitor: Visitor, Path(id): Path<i64>) -> Response {
    let (user, job) = match visitor.run(&app, move |_, t| t.imports().job(id)).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mapping: Vec<String> = job
        .mapping
        .columns
        .iter()
        .map(|(c, f)| format!("{} → {}", esc(c), esc(f)))
        .collect();
    let mut body = format!(
        "<p><strong>{}</strong> · {} · <span class=\"state\">{}</span> · started {}</p>\n\
         <p class=\"counts\">{} rows: {} created, {} updated, {} skipped, {} failed</p>\n",
        esc(&job.source),
        job.target,
        job.status,
        when(job.started_at),
        job.rows,
        job.created,
        job.updated,
        job.skipped,
        job.failed
    );
    if let Some(error) = &job.error {
        body.push_str(&format!(
            "<section class=\"error\" role=\"alert\"><p>{}</p></section>\n",
            esc(error)
        ));
    }
    body.push_str(&format!(
        "<p class=\"meta\">Separator {}, quote <code>{}</code>, encoding {}; mapping: {}</p>\n",
        job.properties.separator,
        esc(&job.properties.quote.to_string()),
        job.properties.encoding,
        mapping.join(", ")
    ));
    if job.errors.is_empty() {
        body.push_str("<p>No row errors.</p>\n");
    } else {
        body.push_str(&format!(
            "<section>\n<h2>Row errors</h2>\n<p><a href=\"/console/imports/{id}/errors.csv\">\
             Download the error CSV</a>{}</p>\n<table class=\"errors\">\n<thead><tr><th>Row</th>\
             <th>Outcome</th><th>Column</th><th>Field</th><th>Plugin</th><th>Reason</th></tr>\
             </thead>\n<tbody>\n",
            if (job.errors.len() as u64) < job.failed + job.skipped {
                format!(" (the first {} are shown)", job.errors.len())
            } else {
                String::new()
            }
        ));
        for e in &job.errors {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                e.row,
                esc(&label(&e.outcome)),
                esc(e.column.as_deref().unwrap_or("")),
                esc(e.field.as_deref().unwrap_or("")),
                esc(e.plugin.as_deref().unwrap_or("")),
                esc(&e.reason)
            ));
        }
        body.push_str("</tbody>\n</table>\n</section>\n");
    }
    let head = if job.status == JobStatus::Running {
        "<meta http-equiv=\"refresh\" content=\"2\">\n"
    } else {
        ""
    };
    user.page_with(
        &app,
        StatusCode::OK,
        &format!("Import job {id}"),
        head,
        &body,
    )
}

/// `GET /console/imports/{job}/errors.csv`: every row error of a job, as CSV.
async fn errors_csv(State(app): State<Shared>, visitor: Visitor, Path(id): Path<i64>) -> Response {
    let csv = visitor
        .run(&app, move |_, t| {
            let mut out = Vec::new();
            t.imports().write_error_csv(id, &mut out)?;
            Ok(out)
        })
        .await;
    match csv {
        Ok((_, csv)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"import-{id}-errors.csv\""),
                ),
            ],
            csv,
        )
            .into_response(),
        Err(page) => page,
    }
}
