//! CSV import of companies, partners and relationships, as jobs with counts and row errors.
//!
//! A file is streamed: its CSV properties are detected from the first 64 KB (and can be
//! overridden), its header is checked against the field mapping before any row is read, and
//! each row is read, mapped, passed through the *CSV row mapped* hook, checked against the field
//! schema and written. Rows are committed in slices (a batch, or less when writing it holds the
//! database's write lock too long), each with the job's counts and its row errors, so a crash
//! never leaves half a row, the counts always describe the committed data, and other writers get
//! their turn between two slices. A dry run decides every row in memory on a read snapshot and
//! writes nothing. Records are matched by `external_id` (or else by name, ignoring case), so running a
//! file again updates what is there instead of duplicating it.
//!
//! The stages, each in a file of its own: detect the CSV properties (`csvfile.rs`), plan the
//! mapping (`plan.rs`), keep an unclosed quote to its row (`quotes.rs`), read and map rows with the *CSV row mapped* hook on a thread of their
//! own (`read.rs`), write through the companies repository (`write.rs`, and
//! `companies/import.rs` for the look-ups and bulk inserts), and keep the job log and its error
//! CSV (`job.rs`, `report.rs`). This file runs them on two threads; the writing thread's loop,
//! its slices and their commits are in `slices.rs`, and a dry run's decisions in `dry.rs`.

mod cancel;
mod csvfile;
mod dry;
mod generate;
mod job;
mod options;
mod plan;
mod quotes;
mod read;
mod report;
mod slices;
mod write;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use crate::access::Permission;
use crate::companies::import::Writer;
use serde::{Deserialize, Serialize};

pub use cancel::ImportCancel;
use cancel::{Shared, Watch};
pub use csvfile::{CsvProperties, Encoding, Separator};
pub use generate::generate_partners_csv;
pub use job::{ImportJob, JobStatus, RowError, RowErrorKind};
pub use options::{ImportOptions, ImportTarget, Mapping, Progress};
use plan::{Planned, column_of, plan, quoted_list};
use read::{Incoming, MESSAGES_IN_FLIGHT, Mapper, Prepared, ROWS_PER_MESSAGE, read_rows};
pub(crate) use report::write_errors;
use report::{example, label};
use slices::Batches;
use write::Run;

use crate::companies::{self, CompanyWrite, EXTERNAL_ID, FieldDef, FieldType, NAME, Schema};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::pending::{self, Owed};
use crate::hooks::{RowMappers, RowVerdict};
use crate::host::Tenant;
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};
use crate::names::named_enum;
use crate::partners::{self, Undo};
use crate::plugins::ExtensionPoint;
use crate::relationships::import::{self as relationship_import, ImportTypes};

/// The target field of a companies import that names the managing partner (by name or
/// `external_id`).
const MANAGED_BY: &str = "managed_by";

/// How many row errors an [`ImportJob`] carries with it.
const ERRORS_KEPT: usize = 100;

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
            op.require(Permission::ManageSchema)?;
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
    ///
    /// For relationships: a column per field of any type, and one row of the first type and
    /// one of the last (the columns of another type's fields left empty); refused while the
    /// tenant has no relationship type.
    pub fn sample_csv(&self, target: ImportTarget) -> Result<String> {
        let mut header: Vec<String> = Vec::new();
        let mut rows: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        if target == ImportTarget::Relationships {
            let types = self.read(ImportTypes::load)?;
            let kinds: Vec<(&str, &Schema)> = types.all().collect();
            let (Some(first), Some(last)) = (kinds.first(), kinds.last()) else {
                return Err(Error::new(ErrorKind::Invalid(
                    "the tenant has no relationship types yet: an admin adds them with \
                     `cshost relationship-type add`"
                        .to_owned(),
                )));
            };
            for def in types.mappable().fields() {
                header.push(label(&def.name));
                for (i, (row, (kind, schema))) in rows.iter_mut().zip([first, last]).enumerate() {
                    let pick = |a: &str, b: &str| if i == 0 { a } else { b }.to_owned();
                    row.push(match def.name.as_str() {
                        NAME => pick("Aurora EU", "Kiwi data centre"),
                        relationship_import::COMPANY => pick("Aurora Logistics", "C-0002"),
                        relationship_import::TYPE => (*kind).to_owned(),
                        EXTERNAL_ID => pick("R-0001", "R-0002"),
                        "status" => pick("active", "renewing"),
                        "renewal_date" => pick("2027-01-31", "2026-12-01"),
                        name => match schema.get(name) {
                            // Another type's field stays empty on this type's row.
                            None => String::new(),
                            Some(own) if own.required && own.field_type == FieldType::Text => {
                                "text".to_owned()
                            }
                            Some(own) => example(own, target, i),
                        },
                    });
                }
            }
            header.push("Managed By".to_owned());
            rows[0].push("Bennett & Co.".to_owned());
            rows[1].push(String::new());
        } else {
            for def in &self.company_fields()? {
                header.push(label(&def.name));
                for (i, row) in rows.iter_mut().enumerate() {
                    row.push(example(def, target, i));
                }
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
        self.require(Permission::Import)?;
        if options.target == ImportTarget::Partners {
            self.require(Permission::ManagePartners)?;
        }
        // A partner user writes only the kind of record its partner's scope reaches: a partner
        // with relationship records could otherwise create and update company records it can
        // never see.
        self.read(|op| {
            let Some(scope) = op.scope() else {
                return Ok(());
            };
            let (reached, records) = match options.target {
                ImportTarget::Relationships => (scope.relationships, "relationships"),
                ImportTarget::Companies | ImportTarget::Partners => (scope.companies, "companies"),
            };
            if reached {
                return Ok(());
            }
            Err(Error::new(ErrorKind::OutOfScope {
                actor: op.actor.to_owned(),
                records,
            }))
        })?;
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
        let unclosed = quotes::Unclosed::default();
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(properties.separator.byte())
            .quote(quote)
            .escape(escape)
            .double_quote(escape.is_none())
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(quotes::QuoteGuard::new(
                csvfile::Utf8Reader::new(counted, properties.encoding),
                properties.separator.byte(),
                quote,
                escape,
                unclosed.clone(),
            ));

        // The header (or the column count of the first row), checked before any row is read.
        let mut record = csv::ByteRecord::new();
        let mut first = None;
        let columns: Vec<String> = if csv
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(source, None, e))?
        {
            let never_closed = unclosed.within(
                record.position().map_or(0, |p| p.byte()),
                csv.position().byte(),
            );
            if let (true, Some(field)) = (properties.has_header, never_closed) {
                return Err(refuse(format!(
                    "the header row: a quote opened in column {} is never closed",
                    field + 1
                )));
            }
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
                first = Some((record.clone(), never_closed));
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
        // A relationship import maps to the fields of every type, and checks each row against
        // the type it names.
        let types = match options.target {
            ImportTarget::Relationships => Some(self.read(ImportTypes::load)?),
            _ => None,
        };
        let schema = match &types {
            Some(types) => types.mappable(),
            None => self.read(Schema::load)?,
        };
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
            ImportTarget::Companies | ImportTarget::Relationships => {
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
        // One import per tenant at a time: the claim lasts until this function returns, and
        // ends with the process if it is killed. Holding it, any job still marked running was
        // left by a process that died. A dry run writes nothing and claims nothing.
        let _running = if options.dry_run {
            None
        } else {
            let claim = self.store().claim(&self.id, "import")?;
            if claim.is_none() {
                return Err(refuse(format!(
                    "tenant `{}` has an import running already; one import per tenant runs at a \
                     time: wait for it to finish (`cshost import list`)",
                    self.id
                )));
            }
            claim
        };
        if !options.dry_run {
            let id = self.write(|op| {
                job::interrupt_stale(op)?;
                job::insert(op, &job)
            })?;
            job.id = Some(id);
            // The job exists: a caller that runs the import in the background learns its id now.
            progress(Progress {
                job: job.id,
                rows: 0,
                read: 0,
                bytes: 0,
                total_bytes: size,
            });
        }

        let field_names: Vec<String> = plan.iter().map(|p| p.field.clone()).collect();
        let mappers = match self.row_mappers(Some(options.target.object()), &columns, &field_names)
        {
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
            companies_by_key: HashMap::new(),
            new_partners: Vec::new(),
            outcomes: Vec::new(),
            written: Vec::new(),
            spare: Vec::new(),
            recycle: None,
        };
        let shared = Shared::default();
        let mut watch = Watch {
            tenant: self,
            job: job.id,
            cancel: options.cancel.as_ref(),
            shared: &shared,
            bytes: &bytes_read,
            total_bytes: size,
            last: std::time::Instant::now(),
            cancelled: false,
        };
        let mut mapper = Mapper {
            schema: &schema,
            plan: &plan,
            columns: &columns,
            source: Vec::new(),
            stock: Vec::new(),
            types: types.as_ref(),
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
            let shared = &shared;
            let reader = scope.spawn(move || {
                read_rows(
                    &mut csv,
                    &unclosed,
                    source,
                    first,
                    &mut mapper,
                    &mut mappers,
                    batch_rows,
                    wait_for_commits.then_some(&committed_in),
                    &spares_in,
                    &rows_out,
                    shared,
                );
                mappers
            });
            let mut incoming = Incoming {
                from: rows_in,
                rows: Vec::new().into_iter(),
            };
            let batches = Batches {
                rows: options.batch_rows,
                committed: &committed_out,
            };
            let outcome = if options.dry_run {
                self.imagine(
                    &mut run,
                    &mut job,
                    &mut incoming,
                    &mut watch,
                    progress,
                    &batches,
                )
            } else {
                self.write_slices(
                    &mut run,
                    &mut job,
                    &mut incoming,
                    &mut watch,
                    progress,
                    &batches,
                )
            };
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
        if let Some(id) = job.id {
            self.store().clear_stop(&self.id, "import", id);
        }
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

#[cfg(test)]
mod tests {
    use super::options::normalise;
    use super::read::Message;
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
        let mut mappers = acme
            .row_mappers(Some("partner"), &columns, &["name".to_owned()])
            .unwrap();
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader("a\nb\nc\nd\ne\nf\ng\n".as_bytes());
        let mut mapper = Mapper {
            schema: &schema,
            plan: &plan,
            columns: &columns,
            source: Vec::new(),
            stock: Vec::new(),
            types: None,
        };
        let (out, rows) = mpsc::sync_channel(MESSAGES_IN_FLIGHT);
        let (commit, committed) = mpsc::channel();
        let (_spares_out, spares) = mpsc::channel();
        let shared = Shared::default();
        let (csv, mapper, mappers, shared) = (&mut csv, &mut mapper, &mut mappers, &shared);
        let numbers = |message: Message| match message {
            Message::Rows(rows) => rows.iter().map(Prepared::number).collect::<Vec<_>>(),
            Message::Failed(error) => panic!("{error}"),
            Message::Done => Vec::new(),
        };
        std::thread::scope(|scope| {
            scope.spawn(move || {
                read_rows(
                    csv,
                    &quotes::Unclosed::default(),
                    "t.csv",
                    None,
                    mapper,
                    mappers,
                    3,
                    Some(&committed),
                    &spares,
                    &out,
                    shared,
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
