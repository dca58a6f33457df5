//! CSV import of companies and partners, as jobs with counts and row errors.
//!
//! A file is streamed: its CSV properties are detected from the first 64 KB (and can be
//! overridden), its header is checked against the field mapping before any row is read, and
//! each row is read, mapped, passed through the *CSV row mapped* hook, checked against the field
//! schema and written. Rows are committed in batches, each batch with the job's counts and its
//! row errors, so a crash never leaves half a row and the counts always describe the committed
//! data. Records are matched by `external_id` (or else by name, ignoring case), so running a
//! file again updates what is there instead of duplicating it.

mod csvfile;
mod generate;
mod job;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::companies::import::Writer;
use serde::{Deserialize, Serialize};

pub use csvfile::{CsvProperties, Encoding, Separator};
pub use generate::generate_partners_csv;
pub use job::{ImportJob, JobStatus, RowError, RowErrorKind};

use crate::companies::{self, CompanyWrite, EXTERNAL_ID, FieldDef, NAME, Schema};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::pending::{self, Owed};
use crate::hooks::{RowMappers, RowVerdict};
use crate::host::Tenant;
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};
use crate::names::named_enum;
use crate::partners::{self, Undo};
use crate::plugins::ExtensionPoint;

/// The target field of a companies import that names the managing partner (by name or
/// `external_id`).
const MANAGED_BY: &str = "managed_by";

/// How many row errors an [`ImportJob`] carries with it.
const ERRORS_KEPT: usize = 100;

/// What an import creates or updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportTarget {
    /// Company records (customers), optionally managed by a partner (a `managed_by` column).
    Companies,
    /// Partners: company records managed as partners, with an access scope.
    Partners,
}

named_enum!(ImportTarget, "import target", {
    Companies => "companies",
    Partners => "partners",
});

/// Which source column fills which target field. Without a header row, columns are named by
/// their position: `1`, `2`, ...
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// `(source column, target field)` pairs, in the order given.
    pub columns: Vec<(String, String)>,
}

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Mapping {
        Mapping::default()
    }

    /// Maps `column` to `field`.
    pub fn map(mut self, column: impl Into<String>, field: impl Into<String>) -> Mapping {
        self.columns.push((column.into(), field.into()));
        self
    }

    /// The mapping a header implies: each column whose name, in lower case with spaces as
    /// `_`, is a field's name (or a usual alias: `Company Name` for `name`, `ID` for
    /// `external_id`, ...). Other columns are left out.
    pub fn automatic(columns: &[String], fields: &[FieldDef], target: ImportTarget) -> Mapping {
        let mut mapping = Mapping::new();
        let mut taken = Vec::new();
        for column in columns {
            let key = normalise(column);
            let field = match key.as_str() {
                "company_name" | "company" | "account_name" | "partner_name" => NAME,
                "id" | "external_id" | "externalid" | "company_id" | "account_id"
                | "partner_id" => EXTERNAL_ID,
                "annual_recurring_revenue" => "arr",
                "managed_by_partner" if target == ImportTarget::Companies => MANAGED_BY,
                MANAGED_BY if target == ImportTarget::Companies => MANAGED_BY,
                other => match fields.iter().find(|f| f.name == other) {
                    Some(def) => def.name.as_str(),
                    None => continue,
                },
            };
            if !taken.contains(&field) {
                taken.push(field);
                mapping = mapping.map(column.clone(), field);
            }
        }
        mapping
    }
}

fn normalise(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    for c in column.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// How to run an import. By default: companies, properties detected, mapping from the header,
/// batches of 5,000 rows, not a dry run.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    target: ImportTarget,
    scope: Option<AccessScope>,
    mapping: Option<Mapping>,
    separator: Option<Separator>,
    quote: Option<char>,
    escape: Option<Option<char>>,
    has_header: Option<bool>,
    encoding: Option<Encoding>,
    dry_run: bool,
    batch_rows: usize,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            target: ImportTarget::Companies,
            scope: None,
            mapping: None,
            separator: None,
            quote: None,
            escape: None,
            has_header: None,
            encoding: None,
            dry_run: false,
            batch_rows: 5_000,
        }
    }
}

impl ImportOptions {
    /// Options for importing companies.
    pub fn companies() -> ImportOptions {
        ImportOptions::default()
    }

    /// Options for importing partners with this access scope (`None` unless the tenant works
    /// at both levels, where it must be chosen).
    pub fn partners(scope: Option<AccessScope>) -> ImportOptions {
        ImportOptions {
            target: ImportTarget::Partners,
            scope,
            ..ImportOptions::default()
        }
    }

    /// The column-to-field mapping. By default, [`Mapping::automatic`] on the header.
    pub fn mapping(mut self, mapping: Mapping) -> ImportOptions {
        self.mapping = Some(mapping);
        self
    }

    /// The separator. By default, detected.
    pub fn separator(mut self, separator: Separator) -> ImportOptions {
        self.separator = Some(separator);
        self
    }

    /// The quote character. By default, detected (`"` unless the file uses `'`).
    pub fn quote(mut self, quote: char) -> ImportOptions {
        self.quote = Some(quote);
        self
    }

    /// The escape character before quotes inside quoted fields, or `None` for doubled quotes.
    /// By default, detected.
    pub fn escape(mut self, escape: Option<char>) -> ImportOptions {
        self.escape = Some(escape);
        self
    }

    /// Whether the first row is a header. By default, true.
    pub fn has_header(mut self, has_header: bool) -> ImportOptions {
        self.has_header = Some(has_header);
        self
    }

    /// The encoding. By default, detected.
    pub fn encoding(mut self, encoding: Encoding) -> ImportOptions {
        self.encoding = Some(encoding);
        self
    }

    /// Reports what would happen and writes nothing. By default, false.
    pub fn dry_run(mut self, dry_run: bool) -> ImportOptions {
        self.dry_run = dry_run;
        self
    }

    /// Rows per transaction. By default, 5,000.
    pub fn batch_rows(mut self, rows: usize) -> ImportOptions {
        self.batch_rows = rows.max(1);
        self
    }
}

/// How far an import has got, reported after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Data rows settled so far.
    pub rows: u64,
    /// Bytes of the file read so far.
    pub bytes: u64,
    /// The file's size.
    pub total_bytes: u64,
}

impl Tenant<'_> {
    /// Imports a CSV file. See [`ImportOptions`] for the choices, and the module docs for what
    /// happens to each row. Refusals found before any row is read (over the size limit, Name
    /// not mapped, unknown fields, duplicate headers, mapped columns missing) are errors
    /// naming the file and what is wrong; row problems are the job's row errors.
    pub fn import_file(&self, path: &Path, options: &ImportOptions) -> Result<ImportJob> {
        self.import_file_with_progress(path, options, &mut |_| {})
    }

    /// Like [`import_file`](Self::import_file), calling `progress` after each batch.
    pub fn import_file_with_progress(
        &self,
        path: &Path,
        options: &ImportOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ImportJob> {
        let io_error = |source| {
            Error::new(ErrorKind::Io {
                path: path.to_owned(),
                source,
            })
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        let size = file.metadata().map_err(io_error)?.len();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.run_import(
            &name,
            io::BufReader::with_capacity(256 * 1024, file),
            size,
            options,
            progress,
        )
    }

    /// Imports CSV data held in memory, named `source` in messages and in the job.
    pub fn import_bytes(
        &self,
        source: &str,
        data: &[u8],
        options: &ImportOptions,
    ) -> Result<ImportJob> {
        self.run_import(source, data, data.len() as u64, options, &mut |_| {})
    }

    /// The largest CSV file the tenant accepts, in bytes. By default, 2 MB (2,097,152 bytes).
    pub fn import_size_limit(&self) -> Result<u64> {
        self.read(job::size_limit)
    }

    /// Sets the largest CSV file the tenant accepts, in bytes (an admin's decision).
    pub fn set_import_size_limit(&self, bytes: u64) -> Result<()> {
        if bytes == 0 || bytes > i64::MAX as u64 {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "import size limit {bytes}: give a positive number of bytes"
            ))));
        }
        let before = self.import_size_limit()?;
        self.write(|op| {
            job::set_size_limit(op, bytes)?;
            op.audit(
                "import.size_limit",
                &format!("tenant:{}", self.id),
                Some(serde_json::json!(before)),
                Some(serde_json::json!(bytes)),
            )
        })
    }

    /// One import job, with its first row errors.
    pub fn import_job(&self, id: i64) -> Result<ImportJob> {
        self.read(|op| {
            let mut job = job::load(op, id)?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound {
                    object: "import job",
                    id: id.to_string(),
                })
            })?;
            job.errors = job::errors(op, id, Some(ERRORS_KEPT))?;
            Ok(job)
        })
    }

    /// The tenant's import jobs, oldest first (without their row errors).
    pub fn import_jobs(&self) -> Result<Vec<ImportJob>> {
        self.read(job::list)
    }

    /// Every row error of a job, by row.
    pub fn import_errors(&self, id: i64) -> Result<Vec<RowError>> {
        self.import_job(id)?;
        self.read(|op| job::errors(op, id, None))
    }

    /// Writes a job's row errors as CSV: `row,outcome,column,field,plugin,reason`.
    pub fn write_error_csv(&self, id: i64, out: impl io::Write) -> Result<()> {
        let errors = self.import_errors(id)?;
        write_errors(&errors, out).map_err(|e| {
            // The writer's own error as it is (a closed pipe stays a closed pipe).
            let source = match e.into_kind() {
                csv::ErrorKind::Io(source) => source,
                other => io::Error::other(format!("{other:?}")),
            };
            Error::new(ErrorKind::Io {
                path: format!("error CSV of import job {id}").into(),
                source,
            })
        })
    }

    /// A sample CSV for the tenant's fields: a header that maps itself, and two example rows.
    pub fn sample_csv(&self, target: ImportTarget) -> Result<String> {
        let fields = self.company_fields()?;
        let mut header: Vec<String> = Vec::new();
        let mut rows: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for def in &fields {
            header.push(label(&def.name));
            for (i, row) in rows.iter_mut().enumerate() {
                row.push(example(def, target, i));
            }
        }
        if target == ImportTarget::Companies {
            header.push("Managed By".to_owned());
            rows[0].push("Bennett & Co.".to_owned());
            rows[1].push(String::new());
        }
        let mut out = csv::Writer::from_writer(Vec::new());
        let mut write = |cells: &[String]| {
            out.write_record(
                cells
                    .iter()
                    .map(|cell| csvfile::safe_cell(cell).into_owned()),
            )
        };
        let written = write(&header)
            .and_then(|_| write(&rows[0]))
            .and_then(|_| write(&rows[1]));
        let bytes = written
            .map_err(io::Error::other)
            .and_then(|_| {
                out.into_inner()
                    .map_err(|e| io::Error::other(e.to_string()))
            })
            .map_err(|source| {
                Error::new(ErrorKind::Io {
                    path: "sample CSV".into(),
                    source,
                })
            })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn run_import<R: Read + Send>(
        &self,
        source: &str,
        reader: R,
        size: u64,
        options: &ImportOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ImportJob> {
        let limit = self.import_size_limit()?;
        if size > limit {
            return Err(Error::new(ErrorKind::FileTooLarge {
                file: source.to_owned(),
                size,
                limit,
            }));
        }
        let refuse = |message: String| {
            Error::new(ErrorKind::Csv {
                file: source.to_owned(),
                row: None,
                column: None,
                message,
            })
        };
        let io_error = |e: io::Error| {
            Error::new(ErrorKind::Io {
                path: source.into(),
                source: e,
            })
        };

        // Properties: detected from the first bytes, then overridden.
        let mut reader = reader;
        let mut sample = Vec::with_capacity(csvfile::SAMPLE);
        (&mut reader)
            .take(csvfile::SAMPLE as u64)
            .read_to_end(&mut sample)
            .map_err(io_error)?;
        let mut properties = CsvProperties::detect(&sample);
        if let Some(s) = options.separator {
            properties.separator = s;
        }
        if let Some(q) = options.quote {
            properties.quote = q;
        }
        if let Some(e) = options.escape {
            properties.escape = e;
        }
        if let Some(h) = options.has_header {
            properties.has_header = h;
        }
        if let Some(e) = options.encoding {
            properties.encoding = e;
        }
        let ascii = |c: char, what: &str| {
            u8::try_from(c)
                .ok()
                .filter(u8::is_ascii)
                .ok_or_else(|| refuse(format!("the {what} character `{c}` must be ASCII")))
        };
        let quote = ascii(properties.quote, "quote")?;
        let escape = properties.escape.map(|c| ascii(c, "escape")).transpose()?;

        let bytes_read = Arc::new(AtomicU64::new(0));
        let counted = csvfile::Guarded::new(
            io::Cursor::new(sample).chain(reader),
            limit,
            bytes_read.clone(),
        );
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(properties.separator.byte())
            .quote(quote)
            .escape(escape)
            .double_quote(escape.is_none())
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(csvfile::Utf8Reader::new(counted, properties.encoding));

        // The header (or the column count of the first row), checked before any row is read.
        let mut record = csv::ByteRecord::new();
        let mut first = None;
        let columns: Vec<String> = if csv
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(source, None, e))?
        {
            if properties.has_header {
                let mut names = Vec::with_capacity(record.len());
                for (i, cell) in record.iter().enumerate() {
                    let text = std::str::from_utf8(cell).map_err(|_| {
                        refuse(format!(
                            "header column {} is not valid {} text; is the encoding right? \
                             (detected {})",
                            i + 1,
                            properties.encoding,
                            properties.encoding
                        ))
                    })?;
                    names.push(text.trim().to_owned());
                }
                names
            } else {
                first = Some(record.clone());
                (1..=record.len()).map(|i| i.to_string()).collect()
            }
        } else {
            Vec::new()
        };
        let mut duplicates: Vec<&str> = Vec::new();
        for (i, name) in columns.iter().enumerate() {
            if columns[..i].contains(name) && !duplicates.contains(&name.as_str()) {
                duplicates.push(name);
            }
        }
        if !duplicates.is_empty() {
            return Err(refuse(format!(
                "duplicate header {}: each column needs its own name",
                quoted_list(&duplicates)
            )));
        }
        let schema = self.read(Schema::load)?;
        let mapping = match &options.mapping {
            Some(mapping) => mapping.clone(),
            None => Mapping::automatic(&columns, schema.fields(), options.target),
        };
        if columns.is_empty() {
            return Err(refuse(
                "the file is empty: there is no header row and no data".to_owned(),
            ));
        }
        let plan = plan(&mapping, &columns, &schema, options.target).map_err(|message| {
            // Automatic mapping found no Name column in the first row: it is likely data.
            if properties.has_header && options.mapping.is_none() && message.starts_with("Name") {
                refuse(format!(
                    "{message}; no column of the first row ({}) names a field: if the file has \
                     no header row, import it with --no-header (`ImportOptions::has_header(false)`) \
                     and map the columns by number (--map 1=name)",
                    quoted_list(&columns.iter().map(String::as_str).collect::<Vec<_>>())
                ))
            } else {
                refuse(message)
            }
        })?;
        let scope = match options.target {
            ImportTarget::Partners => {
                Some(partners::resolve_scope(self.info().level, options.scope)?)
            }
            ImportTarget::Companies => {
                if options.scope.is_some() {
                    return Err(refuse(
                        "an access scope applies to partner imports only".to_owned(),
                    ));
                }
                None
            }
        };

        let now = self.host.now();
        let mut job = ImportJob {
            id: None,
            target: options.target,
            source: source.to_owned(),
            properties,
            mapping,
            scope,
            dry_run: options.dry_run,
            status: JobStatus::Running,
            rows: 0,
            created: 0,
            updated: 0,
            skipped: 0,
            failed: 0,
            error: None,
            started_at: now,
            finished_at: None,
            errors: Vec::new(),
        };
        if !options.dry_run {
            let id = self.write(|op| {
                job::interrupt_stale(op)?;
                job::insert(op, &job)
            })?;
            job.id = Some(id);
        }

        let field_names: Vec<String> = plan.iter().map(|p| p.field.clone()).collect();
        let mappers = match self.row_mappers(&columns, &field_names) {
            Ok(mappers) => mappers,
            Err(error) => return Err(self.fail_job(job, error)),
        };
        let lifecycle = !options.dry_run
            && options.target == ImportTarget::Partners
            && !self.active_plugins(ExtensionPoint::Lifecycle)?.is_empty();

        let mut run = Run {
            plan: &plan,
            target: options.target,
            scope,
            lifecycle,
            fields: Fields::new(),
            partners_by_key: HashMap::new(),
            new_partners: Vec::new(),
            outcomes: Vec::new(),
            written: Vec::new(),
            spare: Vec::new(),
            recycle: None,
        };
        let total_bytes = size;
        let mut mapper = Mapper {
            schema: &schema,
            plan: &plan,
            columns: &columns,
            source: Vec::new(),
            stock: Vec::new(),
        };
        // Two threads: this one writes while a second reads, maps (running the field mappers)
        // and checks the rows ahead of it, so on two cores the plugins' work and SQLite's
        // overlap.
        let (outcome, mappers) = std::thread::scope(|scope| {
            let (rows_out, rows_in) = mpsc::sync_channel(MESSAGES_IN_FLIGHT);
            let (committed_out, committed_in) = mpsc::channel::<()>();
            let (spares_out, spares_in) = mpsc::channel();
            run.recycle = Some(spares_out);
            let wait_for_commits = mappers.reads_companies();
            let batch_rows = options.batch_rows;
            let mut mappers = mappers;
            let reader = scope.spawn(move || {
                read_rows(
                    &mut csv,
                    source,
                    first,
                    &mut mapper,
                    &mut mappers,
                    batch_rows,
                    wait_for_commits.then_some(&committed_in),
                    &spares_in,
                    &rows_out,
                );
                mappers
            });
            let mut incoming = Incoming {
                from: rows_in,
                rows: Vec::new().into_iter(),
            };
            let outcome = self.read(|base| {
                let mut writer = Writer::new(base)?;
                let mut dry_tx = if options.dry_run {
                    Some(Transaction::new_unchecked(
                        base.conn,
                        TransactionBehavior::Deferred,
                    )?)
                } else {
                    None
                };
                let mut more = true;
                while more {
                    let tx = if dry_tx.is_some() {
                        None
                    } else {
                        Some(Transaction::new_unchecked(
                            base.conn,
                            TransactionBehavior::Immediate,
                        )?)
                    };
                    let conn: &Connection = match (&tx, &mut dry_tx) {
                        (Some(tx), _) => tx,
                        (None, Some(tx)) => tx,
                        (None, None) => unreachable!("one of the two is set"),
                    };
                    let op = base.on(conn);
                    writer.begin()?;
                    let mut in_batch = 0;
                    while in_batch < options.batch_rows {
                        let Some(prepared) = incoming.next()? else {
                            more = false;
                            break;
                        };
                        in_batch += 1;
                        run.row(&op, &mut writer, prepared)?;
                        if writer.is_empty() {
                            run.settle(&op, &mut job)?;
                        }
                    }
                    // Every row of the batch is written before its transaction commits.
                    run.flush(&mut writer)?;
                    run.settle(&op, &mut job)?;
                    if !more {
                        job.status = JobStatus::Completed;
                        job.finished_at = Some(self.host.now());
                    }
                    if let (Some(tx), Some(id)) = (tx, job.id) {
                        job::save(&base.on(&tx), id, &job)?;
                        tx.commit()?;
                    }
                    if lifecycle {
                        self.run_partner_hooks(&mut run.new_partners, &mut job)?;
                    }
                    run.new_partners.clear();
                    // The reading thread may map the next batch's rows now. It may have
                    // stopped already (after the last row): nothing waits then.
                    let _ = committed_out.send(());
                    progress(Progress {
                        rows: job.rows,
                        bytes: bytes_read.load(Ordering::Relaxed).min(total_bytes),
                        total_bytes,
                    });
                }
                // A dry run's transaction is dropped here: rolled back, nothing written.
                drop(dry_tx);
                Ok(())
            });
            // Whatever happened, the reading thread stops: its channels are closed.
            drop(incoming);
            drop(committed_out);
            run.recycle = None;
            match reader.join() {
                Ok(mappers) => (outcome, mappers),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        drop(mappers);
        match outcome {
            Ok(()) => Ok(job),
            Err(error) => Err(self.fail_job(job, error)),
        }
    }

    /// Records a fatal error on a stored job (its committed rows stay), and returns the error.
    fn fail_job(&self, mut job: ImportJob, error: Error) -> Error {
        if let Some(id) = job.id {
            job.status = JobStatus::Failed;
            job.error = Some(error.to_string());
            job.finished_at = Some(self.host.now());
            // The job row must say why it stopped; if even that fails, the original error is
            // the one to report.
            let _ = self.write(|op| job::save(op, id, &job));
        }
        error
    }

    /// Runs the *partner created* hook for a committed batch's new partners. A partner whose
    /// fail-closed hook fails is undone, and its row counted as failed with the plugin's error.
    fn run_partner_hooks(
        &self,
        new_partners: &mut Vec<(i64, u64, Undo)>,
        job: &mut ImportJob,
    ) -> Result<()> {
        for (id, row, undo) in new_partners.drain(..) {
            let created = undo == Undo::Delete;
            if let Err(error) = self.partner_created_hook(id, undo) {
                let plugin = match error.kind() {
                    ErrorKind::Plugin(e) => Some(e.plugin().to_owned()),
                    _ => None,
                };
                if created {
                    job.created -= 1;
                } else {
                    job.updated -= 1;
                }
                job.failed += 1;
                let row_error = RowError {
                    row,
                    outcome: RowErrorKind::Failed,
                    column: None,
                    field: None,
                    plugin,
                    reason: format!("partner created hook: {error}"),
                };
                if let Some(job_id) = job.id {
                    self.write(|op| {
                        job::insert_error(op, job_id, &row_error)?;
                        job::save(op, job_id, job)
                    })?;
                }
                if job.errors.len() < ERRORS_KEPT {
                    job.errors.push(row_error);
                }
            }
        }
        Ok(())
    }
}

/// The error a CSV reader stopped with, naming the file; `row` is the data row it was reading
/// (`None` for the header), for the limits that stop it inside a record.
fn csv_error(source: &str, row: Option<u64>, error: csv::Error) -> Error {
    let overrun = match error.kind() {
        csv::ErrorKind::Io(io) => csvfile::Overrun::of(io),
        _ => None,
    };
    let (row, message) = match overrun {
        Some(csvfile::Overrun::File { limit, read }) => {
            return Error::new(ErrorKind::FileTooLarge {
                file: source.to_owned(),
                size: read,
                limit,
            });
        }
        Some(csvfile::Overrun::Line) => (
            row,
            format!(
                "a line longer than {} bytes (a file without line ends?): the import stops here",
                csvfile::MAX_LINE_BYTES
            ),
        ),
        None => (error.position().map(|p| p.record()), error.to_string()),
    };
    Error::new(ErrorKind::Csv {
        file: source.to_owned(),
        row,
        column: None,
        message,
    })
}

/// One mapped column: where it is in the row and which field it fills.
struct Planned {
    index: usize,
    column: String,
    field: String,
    /// `None` for `managed_by`, which names a partner rather than holding a value.
    def: Option<FieldDef>,
}

/// Checks the mapping against the header and the schema, before any row is read.
fn plan(
    mapping: &Mapping,
    columns: &[String],
    schema: &Schema,
    target: ImportTarget,
) -> std::result::Result<Vec<Planned>, String> {
    let mut unknown = Vec::new();
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    let mut plan: Vec<Planned> = Vec::new();
    for (column, field) in &mapping.columns {
        let def = schema.get(field).cloned();
        let managed_by = field == MANAGED_BY && target == ImportTarget::Companies;
        if def.is_none() && !managed_by {
            unknown.push(field.as_str());
            continue;
        }
        if plan.iter().any(|p| &p.field == field) {
            twice.push(field.as_str());
            continue;
        }
        let Some(index) = columns.iter().position(|c| c == column) else {
            missing.push(column.as_str());
            continue;
        };
        plan.push(Planned {
            index,
            column: column.clone(),
            field: field.clone(),
            def,
        });
    }
    if !unknown.is_empty() {
        let known: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
        return Err(format!(
            "unknown target field {}; the company fields are {}",
            quoted_list(&unknown),
            quoted_list(&known)
        ));
    }
    if !twice.is_empty() {
        return Err(format!(
            "field {} is mapped from more than one column",
            quoted_list(&twice)
        ));
    }
    if !missing.is_empty() {
        let have: Vec<&str> = columns.iter().map(String::as_str).collect();
        return Err(format!(
            "mapped column {} is not in the file; its columns are {}",
            quoted_list(&missing),
            quoted_list(&have)
        ));
    }
    if !plan.iter().any(|p| p.field == NAME) {
        return Err(
            "Name is not mapped: map a column to the `name` field (the Name mapping is \
             mandatory)"
                .to_owned(),
        );
    }
    Ok(plan)
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What became of one row.
enum Settled {
    /// A new record, with its id.
    Created(i64),
    /// An existing record, with its id; `tagged` when a customer became a partner.
    Updated {
        id: i64,
        tagged: bool,
    },
    /// A new record queued for writing, with the id it will have.
    Queued(i64),
    Refused(RowError),
}

/// The writing side of one import run, reused across rows to keep allocations down.
struct Run<'a> {
    plan: &'a [Planned],
    target: ImportTarget,
    scope: Option<AccessScope>,
    /// The fields of the row being written.
    fields: Fields,
    /// Partners looked up by the `managed_by` column: name or external id to id.
    partners_by_key: HashMap<String, Option<i64>>,
    /// Whether new partners owe the *partner created* hook (lifecycle plugins are enabled).
    lifecycle: bool,
    /// Partners created or tagged in the current batch, whose hooks it owes: (id, row, how to
    /// undo).
    new_partners: Vec<(i64, u64, Undo)>,
    /// What became of the rows read since the last settling, in row order: queued rows are
    /// settled when the queue is written.
    outcomes: Vec<(u64, Settled)>,
    /// Reused for the results of writing the queue.
    written: Vec<Result<()>>,
    /// Written rows' field maps, and where to send them back for filling again.
    spare: Vec<Fields>,
    recycle: Option<mpsc::Sender<Vec<Fields>>>,
}

impl Run<'_> {
    fn refuse(row: u64, column: Option<&str>, field: Option<&str>, reason: String) -> Settled {
        Settled::Refused(RowError {
            row,
            outcome: RowErrorKind::Failed,
            column: column.map(str::to_owned),
            field: field.map(str::to_owned),
            plugin: None,
            reason,
        })
    }

    fn column_of(&self, field: &str) -> Option<&str> {
        column_of(self.plan, field)
    }

    /// Updates or queues one prepared row, adding its outcome to `outcomes`.
    /// An `Err` is fatal to the import.
    fn row(&mut self, op: &Op<'_>, writer: &mut Writer<'_>, prepared: Prepared) -> Result<()> {
        let number = prepared.number();
        let settled = self.decide(op, writer, prepared)?;
        if let Some(recycle) = &self.recycle {
            self.spare.push(std::mem::take(&mut self.fields));
            if self.spare.len() >= ROWS_PER_MESSAGE {
                // The reading thread may have finished: then the maps are simply dropped.
                let _ = recycle.send(std::mem::take(&mut self.spare));
            }
        }
        let queued = matches!(settled, Settled::Queued(_));
        self.outcomes.push((number, settled));
        if queued && writer.is_full() {
            self.flush(writer)?;
        }
        Ok(())
    }

    /// Writes the queued records and settles their rows' outcomes.
    fn flush(&mut self, writer: &mut Writer<'_>) -> Result<()> {
        if writer.is_empty() {
            return Ok(());
        }
        self.written.clear();
        writer.flush(&mut self.written)?;
        let mut written = self.written.drain(..);
        for (number, settled) in &mut self.outcomes {
            let Settled::Queued(id) = *settled else {
                continue;
            };
            let result = written.next().expect("one result per queued record");
            *settled = match result {
                Ok(()) => Settled::Created(id),
                Err(error) => refusal(*number, error)?,
            };
        }
        Ok(())
    }

    /// Counts the settled rows into the job, stores their row errors and notes new partners,
    /// in row order.
    fn settle(&mut self, op: &Op<'_>, job: &mut ImportJob) -> Result<()> {
        // Taken out while its rows are settled, and put back (empty) to keep its allocation.
        let mut outcomes = std::mem::take(&mut self.outcomes);
        for (number, settled) in outcomes.drain(..) {
            job.rows += 1;
            match settled {
                Settled::Created(id) => {
                    job.created += 1;
                    if self.target == ImportTarget::Partners {
                        self.new_partner(op, id, number, Undo::Delete)?;
                    }
                }
                Settled::Updated { id, tagged } => {
                    job.updated += 1;
                    if tagged {
                        self.new_partner(op, id, number, Undo::Untag)?;
                    }
                }
                Settled::Queued(_) => unreachable!("settled only once the queue is written"),
                Settled::Refused(error) => {
                    match error.outcome {
                        RowErrorKind::Failed => job.failed += 1,
                        RowErrorKind::Skipped => job.skipped += 1,
                    }
                    if let Some(id) = job.id {
                        job::insert_error(op, id, &error)?;
                    }
                    if job.errors.len() < ERRORS_KEPT {
                        job.errors.push(error);
                    }
                }
            }
        }
        self.outcomes = outcomes;
        Ok(())
    }

    /// Updates the record a prepared row matches or queues a new one. Row problems are
    /// `Settled::Refused`; an `Err` is fatal to the import.
    fn decide(
        &mut self,
        op: &Op<'_>,
        writer: &mut Writer<'_>,
        prepared: Prepared,
    ) -> Result<Settled> {
        let (number, name, managed_by) = match prepared {
            Prepared::Refused(error) => return Ok(Settled::Refused(error)),
            Prepared::Row {
                number,
                name,
                fields,
                managed_by,
            } => {
                self.fields = fields;
                (number, name, managed_by)
            }
        };
        let manager = match managed_by {
            None => None,
            Some(key) => match self.partner(op, &key)? {
                Some(id) => Some(id),
                None => {
                    return Ok(Self::refuse(
                        number,
                        self.column_of(MANAGED_BY),
                        Some(MANAGED_BY),
                        format!("there is no partner `{key}` (by name or external id)"),
                    ));
                }
            },
        };
        let external_id = self.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        if writer.may_be_queued(external_id, &name) {
            // The row may be about a record queued but not written: write the queue first so
            // the look-up finds it.
            self.flush(writer)?;
        }
        let external_id = self.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        let existing = writer.lookup(external_id, &name)?;
        if existing.is_some() {
            // The update gives the record this row's name and external id.
            writer.note_keys(external_id, &name);
        }
        let written = match (self.target, existing) {
            (ImportTarget::Partners, None) => {
                return Ok(Settled::Queued(writer.queue(
                    name,
                    ManagedAs::Partner,
                    None,
                    self.scope,
                    &mut self.fields,
                )));
            }
            (ImportTarget::Companies, None) => {
                return Ok(Settled::Queued(writer.queue(
                    name,
                    ManagedAs::Customer,
                    manager,
                    None,
                    &mut self.fields,
                )));
            }
            (ImportTarget::Partners, Some((id, was, _))) => companies::update(
                op,
                id,
                &CompanyWrite {
                    name: &name,
                    managed_as: ManagedAs::Partner,
                    managed_by: None,
                    scope: self.scope,
                    fields: &self.fields,
                },
            )
            .map(|()| Settled::Updated {
                id,
                tagged: was == ManagedAs::Customer,
            }),
            (ImportTarget::Companies, Some((id, was, scope))) => companies::update(
                op,
                id,
                &CompanyWrite {
                    name: &name,
                    managed_as: was,
                    managed_by: manager,
                    scope,
                    fields: &self.fields,
                },
            )
            .map(|()| Settled::Updated { id, tagged: false }),
        };
        match written {
            Ok(settled) => Ok(settled),
            // A rule of the data (one partner per record, a constraint) refuses the row; other
            // database trouble stops the import.
            Err(error) => match error.kind() {
                ErrorKind::AlreadyManaged { .. } => Ok(Self::refuse(
                    number,
                    self.column_of(MANAGED_BY),
                    Some(MANAGED_BY),
                    error.to_string(),
                )),
                _ => refusal(number, error),
            },
        }
    }

    /// Notes a partner the batch created or tagged. With lifecycle plugins enabled, its
    /// *partner created* hook is owed from the batch's commit on, whatever happens to this
    /// process.
    fn new_partner(&mut self, op: &Op<'_>, id: i64, row: u64, undo: Undo) -> Result<()> {
        if self.lifecycle {
            pending::record(op, Owed::PartnerCreated { company: id, undo })?;
            self.new_partners.push((id, row, undo));
        }
        Ok(())
    }

    /// The partner a `managed_by` cell names, by external id or name; cached per import.
    fn partner(&mut self, op: &Op<'_>, key: &str) -> Result<Option<i64>> {
        if let Some(found) = self.partners_by_key.get(key) {
            return Ok(*found);
        }
        let found = companies::partner_by_key(op, key)?;
        self.partners_by_key.insert(key.to_owned(), found);
        Ok(found)
    }
}

/// A row read, mapped and checked, on its way to be written.
enum Prepared {
    /// Refused or skipped before any look-up.
    Refused(RowError),
    /// Ready to match against the tenant's records and write.
    Row {
        number: u64,
        name: String,
        fields: Fields,
        /// The text of the `managed_by` cell, if any.
        managed_by: Option<String>,
    },
}

impl Prepared {
    fn number(&self) -> u64 {
        match self {
            Prepared::Refused(error) => error.row,
            Prepared::Row { number, .. } => *number,
        }
    }
}

/// What the reading thread sends the writing one.
enum Message {
    /// The next rows, in order.
    Rows(Vec<Prepared>),
    /// The file cannot be read on: fatal to the import.
    Failed(Error),
    /// Every row was sent.
    Done,
}

/// Rows per message between the two threads: few enough to keep both busy, enough that the
/// hand-over costs little per row.
const ROWS_PER_MESSAGE: usize = 256;

/// Messages in flight: with [`ROWS_PER_MESSAGE`], bounds the rows read ahead of the writer
/// (and so the memory an import takes) whatever the file's size.
const MESSAGES_IN_FLIGHT: usize = 8;

/// The reading thread of an import: reads, maps and checks rows and sends them on, in order.
/// With a field mapper that may look companies up, it maps no row of a batch before the
/// previous batch is committed (a signal on `committed`), so the mapper sees what it would see
/// if the rows were handled one at a time. Returns when every row is sent, the file fails, or the
/// writing side has gone.
#[allow(clippy::too_many_arguments)]
fn read_rows<R: Read>(
    csv: &mut csv::Reader<R>,
    source: &str,
    mut first: Option<csv::ByteRecord>,
    mapper: &mut Mapper<'_>,
    mappers: &mut RowMappers,
    batch_rows: usize,
    committed: Option<&mpsc::Receiver<()>>,
    spares: &mpsc::Receiver<Vec<Fields>>,
    out: &mpsc::SyncSender<Message>,
) {
    let mut record = csv::ByteRecord::new();
    let mut number = 0u64;
    let mut rows = Vec::with_capacity(ROWS_PER_MESSAGE);
    loop {
        let read = match first.take() {
            Some(first) => {
                record = first;
                Ok(true)
            }
            None => csv.read_byte_record(&mut record),
        };
        match read {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                if !rows.is_empty() {
                    let _ = out.send(Message::Rows(rows));
                }
                let _ = out.send(Message::Failed(csv_error(source, Some(number + 1), error)));
                return;
            }
        }
        number += 1;
        if let Some(committed) = committed
            && number > 1
            && (number - 1).is_multiple_of(batch_rows as u64)
        {
            let batch = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_MESSAGE));
            if (!batch.is_empty() && out.send(Message::Rows(batch)).is_err())
                || committed.recv().is_err()
            {
                return;
            }
        }
        if mapper.stock.is_empty()
            && let Ok(spare) = spares.try_recv()
        {
            mapper.stock = spare;
        }
        rows.push(mapper.prepare(mappers, number, &record));
        if rows.len() == ROWS_PER_MESSAGE {
            let full = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_MESSAGE));
            if out.send(Message::Rows(full)).is_err() {
                return;
            }
        }
    }
    if !rows.is_empty() && out.send(Message::Rows(rows)).is_err() {
        return;
    }
    let _ = out.send(Message::Done);
}

/// The writing side's end of the rows from the reading thread.
struct Incoming {
    from: mpsc::Receiver<Message>,
    rows: std::vec::IntoIter<Prepared>,
}

impl Incoming {
    /// The next row; `None` after the last.
    fn next(&mut self) -> Result<Option<Prepared>> {
        loop {
            if let Some(row) = self.rows.next() {
                return Ok(Some(row));
            }
            match self.from.recv() {
                Ok(Message::Rows(rows)) => self.rows = rows.into_iter(),
                Ok(Message::Failed(error)) => return Err(error),
                Ok(Message::Done) => return Ok(None),
                // The reading thread stopped without saying it was done: it panicked, and
                // the scope it runs in passes the panic on.
                Err(mpsc::RecvError) => {
                    return Err(Error::new(ErrorKind::Invalid(
                        "the import's reading thread stopped".to_owned(),
                    )));
                }
            }
        }
    }
}

/// The reading side of an import: turns CSV records into checked rows.
struct Mapper<'a> {
    schema: &'a Schema,
    plan: &'a [Planned],
    columns: &'a [String],
    source: Vec<String>,
    /// Field maps the writing side is done with, to fill again: their keys stay, so a row
    /// allocates no field names (and the writing thread frees none).
    stock: Vec<Fields>,
}

impl Mapper<'_> {
    /// Reads, maps (through the *CSV row mapped* chain) and checks one row.
    fn prepare(
        &mut self,
        mappers: &mut RowMappers,
        number: u64,
        record: &csv::ByteRecord,
    ) -> Prepared {
        let mut fields = self.stock.pop().unwrap_or_default();
        let plan = self.plan;
        let planned = |field: &str| plan.iter().any(|p| p.def.is_some() && p.field == field);
        if fields.len() != plan.iter().filter(|p| p.def.is_some()).count() {
            // A plugin added fields to the row this map held: only the mapped ones stay, and
            // every one of those gets this row's value below.
            fields.retain(|field, _| planned(field));
        }
        if record.len() != self.columns.len() {
            return Prepared::Refused(refused(
                number,
                None,
                None,
                format!(
                    "the row has {} fields; the header has {}",
                    record.len(),
                    self.columns.len()
                ),
            ));
        }
        if let Some(index) = record
            .iter()
            .position(|cell| cell.len() > csvfile::MAX_FIELD_BYTES)
        {
            return Prepared::Refused(refused(
                number,
                Some(&self.columns[index]),
                None,
                format!(
                    "the field is {} bytes long; at most {} bytes are read",
                    record[index].len(),
                    csvfile::MAX_FIELD_BYTES
                ),
            ));
        }
        let mut managed_by: Option<String> = None;
        for planned in self.plan {
            let cell = &record[planned.index];
            let Ok(text) = std::str::from_utf8(cell) else {
                return Prepared::Refused(refused(
                    number,
                    Some(&planned.column),
                    Some(&planned.field),
                    "not valid UTF-8 text: is the file's encoding right? (try windows-1252)"
                        .to_owned(),
                ));
            };
            match &planned.def {
                Some(def) => match companies::parse_text(def, text) {
                    Ok(value) => match fields.get_mut(&planned.field) {
                        Some(slot) => *slot = value,
                        None => {
                            fields.insert(planned.field.clone(), value);
                        }
                    },
                    Err(reason) => {
                        return Prepared::Refused(refused(
                            number,
                            Some(&planned.column),
                            Some(&planned.field),
                            reason,
                        ));
                    }
                },
                None => {
                    let text = text.trim();
                    if !text.is_empty() {
                        managed_by = Some(text.to_owned());
                    }
                }
            }
        }
        if !mappers.is_empty() {
            self.source.clear();
            self.source.extend(
                record
                    .iter()
                    .map(|cell| String::from_utf8_lossy(cell).into_owned()),
            );
            match mappers.map_row(number, &self.source, &mut fields) {
                RowVerdict::Keep => {}
                RowVerdict::Skip { plugin, reason } => {
                    return Prepared::Refused(RowError {
                        row: number,
                        outcome: RowErrorKind::Skipped,
                        column: None,
                        field: None,
                        plugin: Some(plugin),
                        reason,
                    });
                }
                RowVerdict::Reject {
                    plugin,
                    field,
                    message,
                } => {
                    return Prepared::Refused(RowError {
                        row: number,
                        outcome: RowErrorKind::Failed,
                        column: column_of(self.plan, &field).map(str::to_owned),
                        field: Some(field),
                        plugin: Some(plugin),
                        reason: message,
                    });
                }
                RowVerdict::Failed(error) => {
                    return Prepared::Refused(RowError {
                        row: number,
                        outcome: RowErrorKind::Failed,
                        column: None,
                        field: None,
                        plugin: Some(error.plugin().to_owned()),
                        reason: error.to_string(),
                    });
                }
            }
        }
        // The name is taken out, its key left holding null (which no check or write minds), so
        // the map keeps its keys for the next row.
        let name = match fields.get_mut(NAME).map(std::mem::take) {
            Some(FieldValue::Text(name)) => name,
            Some(FieldValue::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if let Err((field, message)) = self.schema.check_all(&name, &mut fields) {
            let column = column_of(self.plan, &field).map(str::to_owned);
            return Prepared::Refused(refused(number, column.as_deref(), Some(&field), message));
        }
        Prepared::Row {
            number,
            name,
            fields,
            managed_by,
        }
    }
}

/// A failed row's error, without a plugin.
fn refused(row: u64, column: Option<&str>, field: Option<&str>, reason: String) -> RowError {
    RowError {
        row,
        outcome: RowErrorKind::Failed,
        column: column.map(str::to_owned),
        field: field.map(str::to_owned),
        plugin: None,
        reason,
    }
}

/// The source column of a mapped field.
fn column_of<'p>(plan: &'p [Planned], field: &str) -> Option<&'p str> {
    plan.iter()
        .find(|p| p.field == field)
        .map(|p| p.column.as_str())
}

/// A row refused by a rule of the data (a constraint), with the database's message; other
/// database trouble stops the import.
fn refusal(number: u64, error: Error) -> Result<Settled> {
    match error.kind() {
        ErrorKind::Database {
            source: rusqlite::Error::SqliteFailure(e, _),
            ..
        } if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            Ok(Run::refuse(number, None, None, error.to_string()))
        }
        _ => Err(error),
    }
}

/// Writes row errors as CSV.
pub(crate) fn write_errors(errors: &[RowError], out: impl io::Write) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["row", "outcome", "column", "field", "plugin", "reason"])?;
    for e in errors {
        let row = e.row.to_string();
        let outcome = match e.outcome {
            RowErrorKind::Failed => "failed",
            RowErrorKind::Skipped => "skipped",
        };
        writer.write_record(
            [
                row.as_str(),
                outcome,
                e.column.as_deref().unwrap_or(""),
                e.field.as_deref().unwrap_or(""),
                e.plugin.as_deref().unwrap_or(""),
                &e.reason,
            ]
            .map(csvfile::safe_cell)
            .iter()
            .map(|cell| cell.as_bytes()),
        )?;
    }
    writer.flush()?;
    Ok(())
}

/// A field's column label in a sample CSV, which automatic mapping maps back to the field.
fn label(field: &str) -> String {
    match field {
        NAME => "Name".to_owned(),
        EXTERNAL_ID => "External ID".to_owned(),
        "arr" => "ARR".to_owned(),
        other => {
            let mut label = String::new();
            for word in other.split('_') {
                if !label.is_empty() {
                    label.push(' ');
                }
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    label.extend(first.to_uppercase());
                    label.push_str(chars.as_str());
                }
            }
            label
        }
    }
}

/// An example value for a field in a sample CSV.
fn example(def: &FieldDef, target: ImportTarget, row: usize) -> String {
    let partner = target == ImportTarget::Partners;
    let pick = |a: &str, b: &str| if row == 0 { a } else { b }.to_owned();
    match def.name.as_str() {
        NAME if partner => pick("Bennett & Co.", "Northwind Channel Partners"),
        NAME => pick("Aurora Logistics", "Kiwi Health Ltd"),
        EXTERNAL_ID if partner => pick("P-0001", "P-0002"),
        EXTERNAL_ID => pick("C-0001", "C-0002"),
        "industry" => pick("Consulting", "Healthcare"),
        "region" => pick("EMEA", "APAC"),
        "country" => pick("DE", "NZ"),
        "website" => pick("bennett.co", "example.com"),
        "email" => pick("partners@bennett.co", "hello@example.com"),
        "arr" => pick("120000", "45000.50"),
        _ => match def.field_type {
            companies::FieldType::Text => pick("text", ""),
            companies::FieldType::Number => pick("42", "3.5"),
            companies::FieldType::Boolean => pick("true", "false"),
            companies::FieldType::Date => pick("2026-01-31", "2026-12-01"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_about_records_earlier_in_the_file_update_them_and_errors_keep_row_order() {
        use crate::companies::CompanyKey;
        use crate::host::{Host, HostConfig, TenantLevel};
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Company)
            .unwrap();
        let acme = host.tenant("acme").unwrap();
        // New records are written many at a time; rows 3 and 5 are about records of rows 1 and
        // 2, which must be found (by name ignoring case, and by external id) and updated.
        let csv = "External ID,Name,Industry\n\
                   P-1,Alpha,Retail\n\
                   P-2,Beta,Retail\n\
                   ,ALPHA,Software\n\
                   P-9,,Retail\n\
                   P-2,Beta Two,Finance\n\
                   P-3,Gamma,Retail\n\
                   P-4,,Retail\n";
        let job = acme
            .import_bytes(
                "partners.csv",
                csv.as_bytes(),
                &ImportOptions::partners(None),
            )
            .unwrap();
        assert_eq!(
            (job.rows, job.created, job.updated, job.failed),
            (7, 3, 2, 2)
        );
        let rows: Vec<u64> = job.errors.iter().map(|e| e.row).collect();
        assert_eq!(rows, [4, 7]);
        let alpha = acme.company(CompanyKey::Name("alpha")).unwrap().unwrap();
        assert_eq!(alpha.name, "ALPHA");
        assert_eq!(alpha.fields["industry"], FieldValue::from("Software"));
        let beta = acme.company(CompanyKey::Name("beta two")).unwrap().unwrap();
        assert_eq!(beta.fields["industry"], FieldValue::from("Finance"));
        assert_eq!(acme.companies(0, 100).unwrap().len(), 3);
        assert_eq!(acme.companies(0, 100).unwrap().len(), 3);
    }

    #[test]
    fn the_reading_thread_sends_each_batch_whole_and_goes_on_only_after_its_commit() {
        use crate::host::{Host, HostConfig, TenantLevel};
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Company)
            .unwrap();
        let acme = host.tenant("acme").unwrap();
        let schema = acme.read(Schema::load).unwrap();
        let columns = vec!["Name".to_owned()];
        let mapping = Mapping::new().map("Name", "name");
        let plan = plan(&mapping, &columns, &schema, ImportTarget::Partners).unwrap();
        let mut mappers = acme.row_mappers(&columns, &["name".to_owned()]).unwrap();
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader("a\nb\nc\nd\ne\nf\ng\n".as_bytes());
        let mut mapper = Mapper {
            schema: &schema,
            plan: &plan,
            columns: &columns,
            source: Vec::new(),
            stock: Vec::new(),
        };
        let (out, rows) = mpsc::sync_channel(MESSAGES_IN_FLIGHT);
        let (commit, committed) = mpsc::channel();
        let (_spares_out, spares) = mpsc::channel();
        let (csv, mapper, mappers) = (&mut csv, &mut mapper, &mut mappers);
        let numbers = |message: Message| match message {
            Message::Rows(rows) => rows.iter().map(Prepared::number).collect::<Vec<_>>(),
            Message::Failed(error) => panic!("{error}"),
            Message::Done => Vec::new(),
        };
        std::thread::scope(|scope| {
            scope.spawn(move || {
                read_rows(
                    csv,
                    "t.csv",
                    None,
                    mapper,
                    mappers,
                    3,
                    Some(&committed),
                    &spares,
                    &out,
                )
            });
            // Batches of three: each one whole in its own message (a message holds up to 256
            // rows), the next one only once this side says the last is committed.
            assert_eq!(numbers(rows.recv().unwrap()), [1, 2, 3]);
            commit.send(()).unwrap();
            assert_eq!(numbers(rows.recv().unwrap()), [4, 5, 6]);
            commit.send(()).unwrap();
            assert_eq!(numbers(rows.recv().unwrap()), [7]);
            assert!(matches!(rows.recv().unwrap(), Message::Done));
        });
    }

    #[test]
    fn a_record_added_elsewhere_between_batches_is_found_and_updated() {
        use crate::companies::{CompanyKey, NewCompany};
        use crate::host::{Host, HostConfig, TenantLevel};
        let dir = tempfile::tempdir().unwrap();
        let host = Host::open(dir.path().join("t.db"), HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Company)
            .unwrap();
        let acme = host.tenant("acme").unwrap();
        let path = dir.path().join("partners.csv");
        std::fs::write(&path, "External ID,Name\nP-1,One\nP-2,Two\nP-3,Three\n").unwrap();
        let mut added = false;
        let job = acme
            .import_file_with_progress(
                &path,
                &ImportOptions::partners(None).batch_rows(2),
                &mut |_| {
                    // After the first batch, someone else adds the record row 3 is about.
                    if !added {
                        added = true;
                        acme.add_company(NewCompany::new("Late").field("external_id", "P-3"))
                            .unwrap();
                    }
                },
            )
            .unwrap();
        assert_eq!((job.created, job.updated, job.failed), (2, 1, 0), "{job:?}");
        let three = acme.company(CompanyKey::Name("three")).unwrap().unwrap();
        assert_eq!(three.managed_as, ManagedAs::Partner);
    }

    #[test]
    fn automatic_mapping_knows_usual_names_and_sample_headers_map_back() {
        let fields: Vec<FieldDef> = vec![
            FieldDef {
                name: "name".into(),
                field_type: companies::FieldType::Text,
                required: true,
                standard: true,
            },
            FieldDef {
                name: "partner_tier".into(),
                field_type: companies::FieldType::Text,
                required: false,
                standard: false,
            },
        ];
        let columns: Vec<String> = ["Company Name", "Partner Tier", "Managed By", "Notes"]
            .map(String::from)
            .into();
        let mapping = Mapping::automatic(&columns, &fields, ImportTarget::Companies);
        assert_eq!(
            mapping.columns,
            [
                ("Company Name".to_owned(), "name".to_owned()),
                ("Partner Tier".to_owned(), "partner_tier".to_owned()),
                ("Managed By".to_owned(), "managed_by".to_owned()),
            ]
        );
        assert_eq!(normalise(&label("partner_tier")), "partner_tier");
        assert_eq!(normalise(&label("external_id")), "external_id");
    }
}
