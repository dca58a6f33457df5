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
//! mapping (`plan.rs`), keep an unclosed quote to its row (`quotes.rs`), read and map rows with
//! the *CSV row mapped* hook on a thread of their own (`read.rs`), write through the companies repository (`write.rs`, and
//! `companies/import.rs` for the look-ups and bulk inserts), and keep the job log and its error
//! CSV (`job.rs`, `report.rs`). This file runs them on two threads; the writing thread's loop,
//! its slices and their commits are in `slices.rs`, and a dry run's decisions in `dry.rs`.

mod cancel;
mod csvfile;
mod dry;
#[cfg(feature = "cli")]
mod generate;
mod job;
mod options;
mod plan;
mod quotes;
mod read;
mod report;
mod run;
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
#[cfg(feature = "cli")]
pub use generate::generate_partners_csv;
pub use job::{ImportJob, JobStatus, RowError, RowErrorKind};
pub use options::{ImportOptions, ImportTarget, Mapping, Progress};
use plan::{Planned, column_of, plan, quoted_list};
use read::{Incoming, MESSAGES_IN_FLIGHT, Mapper, Prepared, ROWS_PER_MESSAGE, read_rows};
pub(crate) use report::write_errors;
use slices::Batches;
use write::Run;

use crate::companies::{self, CompanyWrite, EXTERNAL_ID, FieldDef, FieldType, NAME, Schema};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::pending::{self, Owed};
use crate::hooks::{RowMappers, RowVerdict};
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};
use crate::names::named_enum;
use crate::partners::{self, Undo};
use crate::plugins::ExtensionPoint;
use crate::relationships::import::{self as relationship_import, ImportTypes};
use crate::tenant::Tenant;

/// The target field of a companies import that names the managing partner (by name or
/// `external_id`).
const MANAGED_BY: &str = "managed_by";

/// How many row errors an [`ImportJob`] carries with it.
const ERRORS_KEPT: usize = 100;

/// The tenant's CSV imports, from [`Tenant::imports`]: running them (from a file or bytes, with
/// progress), their jobs and row errors, the error and sample CSVs, cancelling, and the size
/// limit.
#[derive(Debug, Clone, Copy)]
pub struct Imports<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Imports<'_> {
    /// Imports a CSV file. See [`ImportOptions`] for the choices, and the module docs for what
    /// happens to each row. Refusals found before any row is read (over the size limit, Name
    /// not mapped, unknown fields, duplicate headers, mapped columns missing) are errors
    /// naming the file and what is wrong; row problems are the job's row errors.
    pub fn file(&self, path: &Path, options: &ImportOptions) -> Result<ImportJob> {
        self.file_with_progress(path, options, &mut |_| {})
    }

    /// Like [`file`](Self::file), calling `progress` after each batch.
    pub fn file_with_progress(
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
        self.run(
            &name,
            io::BufReader::with_capacity(256 * 1024, file),
            size,
            options,
            progress,
        )
    }

    /// Imports CSV data held in memory, named `source` in messages and in the job.
    pub fn bytes(&self, source: &str, data: &[u8], options: &ImportOptions) -> Result<ImportJob> {
        self.run(source, data, data.len() as u64, options, &mut |_| {})
    }

    /// The largest CSV file the tenant accepts, in bytes. By default, 2 MB (2,097,152 bytes).
    pub fn size_limit(&self) -> Result<u64> {
        self.tenant.read(job::size_limit)
    }

    /// Sets the largest CSV file the tenant accepts, in bytes (an admin's decision).
    pub fn set_size_limit(&self, bytes: u64) -> Result<()> {
        if bytes == 0 || bytes > i64::MAX as u64 {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "import size limit {bytes}: give a positive number of bytes"
            ))));
        }
        let before = self.size_limit()?;
        self.tenant.write(|op| {
            op.require(Permission::ManageSchema)?;
            job::set_size_limit(op, bytes)?;
            op.audit(
                "import.size_limit",
                &format!("tenant:{}", self.tenant.id),
                Some(serde_json::json!(before)),
                Some(serde_json::json!(bytes)),
            )
        })
    }

    /// One import job, with its first row errors.
    pub fn job(&self, id: i64) -> Result<ImportJob> {
        self.tenant.read(|op| {
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
    pub fn jobs(&self) -> Result<Vec<ImportJob>> {
        self.tenant.read(job::list)
    }

    /// Every row error of a job, by row.
    pub fn errors(&self, id: i64) -> Result<Vec<RowError>> {
        self.job(id)?;
        self.tenant.read(|op| job::errors(op, id, None))
    }

    /// Writes a job's row errors as CSV: `row,outcome,column,field,plugin,reason`.
    pub fn write_error_csv(&self, id: i64, out: impl io::Write) -> Result<()> {
        let errors = self.errors(id)?;
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
    use super::report::label;
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
            .imports()
            .bytes(
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
        let alpha = acme
            .companies()
            .get(CompanyKey::Name("alpha"))
            .unwrap()
            .unwrap();
        assert_eq!(alpha.name, "ALPHA");
        assert_eq!(alpha.fields["industry"], FieldValue::from("Software"));
        let beta = acme
            .companies()
            .get(CompanyKey::Name("beta two"))
            .unwrap()
            .unwrap();
        assert_eq!(beta.fields["industry"], FieldValue::from("Finance"));
        assert_eq!(acme.companies().page(0, 100).unwrap().len(), 3);
        assert_eq!(acme.companies().page(0, 100).unwrap().len(), 3);
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
            .hooks()
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
            .imports()
            .file_with_progress(
                &path,
                &ImportOptions::partners(None).batch_rows(2),
                &mut |_| {
                    // After the first batch, someone else adds the record row 3 is about.
                    if !added {
                        added = true;
                        acme.companies()
                            .add(NewCompany::new("Late").field("external_id", "P-3"))
                            .unwrap();
                    }
                },
            )
            .unwrap();
        assert_eq!((job.created, job.updated, job.failed), (2, 1, 0), "{job:?}");
        let three = acme
            .companies()
            .get(CompanyKey::Name("three"))
            .unwrap()
            .unwrap();
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
