//! Import jobs and their row errors in the database.

use std::fmt;
use std::str::FromStr;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{CsvProperties, ImportTarget, Mapping};
use crate::companies;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::AccessScope;

/// Where an import job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Rows are being read; the counts are those of the rows committed so far.
    Running,
    /// Every row was read; the counts are final.
    Completed,
    /// A fatal error stopped it (in [`ImportJob::error`]); the rows committed before stay.
    Failed,
    /// The process stopped while it ran (found by a later import). The rows committed before
    /// stay; run the file again to finish (rows already in are updated, not duplicated).
    Interrupted,
    /// It was cancelled (Ctrl-C, SIGTERM, [`ImportCancel`](crate::ImportCancel) or
    /// [`Imports::cancel`](crate::Imports::cancel)). Every row written before the
    /// cancel is committed and counted; run the file again to finish.
    Cancelled,
}

impl JobStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Interrupted => "interrupted",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<JobStatus> {
        Ok(match s {
            "running" => JobStatus::Running,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "interrupted" => JobStatus::Interrupted,
            "cancelled" => JobStatus::Cancelled,
            other => {
                return Err(Error::new(ErrorKind::Invalid(format!(
                    "unknown job status `{other}`"
                ))));
            }
        })
    }
}

/// Whether a row did not go in, or was left out on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RowErrorKind {
    /// The row was refused: bad data, a rule, or a plugin's rejection or failure.
    Failed,
    /// A field-mapper plugin chose to leave the row out.
    Skipped,
}

impl RowErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            RowErrorKind::Failed => "failed",
            RowErrorKind::Skipped => "skipped",
        }
    }
}

/// A row of an import that did not go in, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RowError {
    /// The data row's number: 1 for the first row after the header.
    pub row: u64,
    /// Failed or skipped.
    pub outcome: RowErrorKind,
    /// The source column at fault, if one is.
    pub column: Option<String>,
    /// The target field at fault, if one is.
    pub field: Option<String>,
    /// The plugin that decided, if one did.
    pub plugin: Option<String>,
    /// Why.
    pub reason: String,
}

/// An import: what was read, how, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ImportJob {
    /// The job's id; `None` for a dry run, which writes nothing.
    pub id: Option<i64>,
    /// Companies or partners.
    pub target: ImportTarget,
    /// The file's name.
    pub source: String,
    /// The CSV properties used (detected, then overridden).
    pub properties: CsvProperties,
    /// The column-to-field mapping used.
    pub mapping: Mapping,
    /// The partners' access scope (partner imports only).
    pub scope: Option<AccessScope>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Where the job is.
    pub status: JobStatus,
    /// Data rows read and settled.
    pub rows: u64,
    /// Records created.
    pub created: u64,
    /// Existing records updated (matched by `external_id`, or else by name).
    pub updated: u64,
    /// Rows a plugin left out.
    pub skipped: u64,
    /// Rows refused.
    pub failed: u64,
    /// The fatal error, for a failed job.
    pub error: Option<String>,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// The first row errors (at most 100; all of a stored job's are in
    /// [`Imports::errors`](crate::Imports::errors)).
    pub errors: Vec<RowError>,
}

/// Marks the tenant's jobs still running as interrupted: a process that dies mid-import leaves
/// its job running, and only one import per tenant runs at a time.
pub(crate) fn interrupt_stale(op: &Op<'_>) -> Result<()> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    conn.execute(
        "UPDATE import_jobs SET status = 'interrupted', finished_at = ?2
         WHERE tenant_id = ?1 AND status = 'running'",
        params![tenant.as_str(), now],
    )?;
    Ok(())
}

pub(crate) fn insert(op: &Op<'_>, job: &ImportJob) -> Result<i64> {
    let Op { conn, tenant, .. } = *op;
    conn.execute(
        "INSERT INTO import_jobs (tenant_id, target, source, properties, mapping, scope, dry_run,
                                  status, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 'running', ?7)",
        params![
            tenant.as_str(),
            job.target.as_str(),
            job.source,
            serde_json::to_string(&job.properties).unwrap_or_else(|_| "{}".into()),
            serde_json::to_string(&job.mapping).unwrap_or_else(|_| "{}".into()),
            job.scope.map(companies::scope_str),
            job.started_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes the job's counts (and status, and end time) in the caller's transaction.
pub(crate) fn save(op: &Op<'_>, id: i64, job: &ImportJob) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "UPDATE import_jobs SET status = ?3, rows_done = ?4, created = ?5, updated = ?6,
             skipped = ?7, failed = ?8, error = ?9, finished_at = ?10
         WHERE tenant_id = ?1 AND id = ?2",
    )
    .and_then(|mut q| {
        q.execute(params![
            tenant.as_str(),
            id,
            job.status.as_str(),
            job.rows as i64,
            job.created as i64,
            job.updated as i64,
            job.skipped as i64,
            job.failed as i64,
            job.error,
            job.finished_at
        ])
    })?;
    Ok(())
}

pub(crate) fn insert_error(op: &Op<'_>, id: i64, error: &RowError) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO import_row_errors
             (tenant_id, job_id, row_number, outcome, column_name, field, plugin, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut q| {
        q.execute(params![
            tenant.as_str(),
            id,
            error.row as i64,
            error.outcome.as_str(),
            error.column,
            error.field,
            error.plugin,
            error.reason
        ])
    })?;
    Ok(())
}

const JOB_COLUMNS: &str = "id, target, source, properties, mapping, scope, dry_run, status, \
                           rows_done, created, updated, skipped, failed, error, started_at, \
                           finished_at";

fn read_job(row: &rusqlite::Row<'_>) -> rusqlite::Result<ImportJob> {
    let text = |i: usize| row.get::<_, String>(i);
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let count = |i: usize| row.get::<_, i64>(i).map(|n| n as u64);
    Ok(ImportJob {
        id: Some(row.get(0)?),
        target: text(1)?.parse().map_err(|e: Error| bad(1, e.to_string()))?,
        source: text(2)?,
        properties: serde_json::from_str(&text(3)?).map_err(|e| bad(3, e.to_string()))?,
        mapping: serde_json::from_str(&text(4)?).map_err(|e| bad(4, e.to_string()))?,
        scope: row
            .get::<_, Option<String>>(5)?
            .as_deref()
            .and_then(companies::parse_scope),
        dry_run: row.get(6)?,
        status: text(7)?.parse().map_err(|e: Error| bad(7, e.to_string()))?,
        rows: count(8)?,
        created: count(9)?,
        updated: count(10)?,
        skipped: count(11)?,
        failed: count(12)?,
        error: row.get(13)?,
        started_at: row.get(14)?,
        finished_at: row.get(15)?,
        errors: Vec::new(),
    })
}

pub(crate) fn load(op: &Op<'_>, id: i64) -> Result<Option<ImportJob>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM import_jobs WHERE tenant_id = ?1 AND id = ?2"
    ))
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), id], read_job)
            .optional()
    })
    .map_err(Error::from)
}

pub(crate) fn list(op: &Op<'_>) -> Result<Vec<ImportJob>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM import_jobs WHERE tenant_id = ?1 ORDER BY id"
    ))
    .and_then(|mut q| q.query_map([tenant.as_str()], read_job)?.collect())
    .map_err(Error::from)
}

pub(crate) fn errors(op: &Op<'_>, id: i64, limit: Option<usize>) -> Result<Vec<RowError>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "SELECT row_number, outcome, column_name, field, plugin, reason FROM import_row_errors
         WHERE tenant_id = ?1 AND job_id = ?2 ORDER BY row_number LIMIT ?3",
    )
    .and_then(|mut q| {
        q.query_map(
            params![tenant.as_str(), id, limit.map_or(-1, |l| l as i64)],
            |row| {
                let outcome: String = row.get(1)?;
                Ok(RowError {
                    row: row.get::<_, i64>(0)? as u64,
                    outcome: if outcome == "skipped" {
                        RowErrorKind::Skipped
                    } else {
                        RowErrorKind::Failed
                    },
                    column: row.get(2)?,
                    field: row.get(3)?,
                    plugin: row.get(4)?,
                    reason: row.get(5)?,
                })
            },
        )?
        .collect()
    })
    .map_err(Error::from)
}
/// The largest CSV file the tenant accepts, in bytes. By default, 2 MB (2,097,152 bytes).
pub(crate) fn size_limit(op: &Op<'_>) -> Result<u64> {
    let limit: Option<i64> = op
        .conn
        .prepare_cached("SELECT import_size_limit FROM tenant_settings WHERE tenant_id = ?1")?
        .query_row([op.tenant.as_str()], |r| r.get(0))
        .optional()?;
    Ok(limit.map_or(2 * 1024 * 1024, |l| l as u64))
}

/// Sets the largest CSV file the tenant accepts, in bytes (checked positive by the caller).
pub(crate) fn set_size_limit(op: &Op<'_>, bytes: u64) -> Result<()> {
    op.conn.execute(
        "INSERT INTO tenant_settings (tenant_id, import_size_limit) VALUES (?1, ?2)
         ON CONFLICT (tenant_id) DO UPDATE SET import_size_limit = excluded.import_size_limit",
        params![op.tenant.as_str(), bytes as i64],
    )?;
    Ok(())
}
