//! `cshost import`: import jobs (list, show, error CSV, cancel), the tenant's size limit, and a
//! generator of large CSV files for trials and benchmarks.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;
use cs_host::{Host, JobStatus};

use super::company::print_job;

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ImportCommand {
    /// List the tenant's import jobs.
    List {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
    },
    /// Show a job: its counts and first row errors.
    Show {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The job's id.
        job: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a job's row errors as CSV (row, outcome, column, field, plugin, reason).
    Errors {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The job's id.
        job: i64,
        /// The file to write [default: standard output].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Cancel a running job, from any process on the same database: it stops between two rows
    /// and ends `cancelled`, with every row written before committed. Waits for it to end.
    Cancel {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The job's id.
        job: i64,
        /// The longest to wait for the job to end, in seconds.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Show or set the tenant's CSV size limit in bytes (2 MB by default).
    Limit {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The new limit in bytes.
        bytes: Option<u64>,
    },
    /// Write a CSV file of generated partners (or companies), for trials and benchmarks.
    Generate {
        /// The file to write.
        file: PathBuf,
        /// How many rows.
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
    },
}

pub fn run(
    command: ImportCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    match command {
        ImportCommand::List { tenant } => {
            let host = host()?;
            for job in super::tenant(&host, &tenant)?.imports().jobs()? {
                print_job(&job, false)?;
            }
        }
        ImportCommand::Show { tenant, job, json } => {
            let host = host()?;
            print_job(&super::tenant(&host, &tenant)?.imports().job(job)?, json)?;
        }
        ImportCommand::Errors {
            tenant,
            job,
            output,
        } => {
            let host = host()?;
            let tenant = super::tenant(&host, &tenant)?;
            match output {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    tenant
                        .imports()
                        .write_error_csv(job, std::io::BufWriter::new(file))?;
                }
                None => tenant
                    .imports()
                    .write_error_csv(job, std::io::stdout().lock())?,
            }
        }
        ImportCommand::Cancel { tenant, job, wait } => {
            let host = host()?;
            let tenant = super::tenant(&host, &tenant)?;
            if tenant.imports().cancel(job)? == JobStatus::Interrupted {
                println!("job {job}: no process was running it any more; marked interrupted");
                return Ok(ExitCode::SUCCESS);
            }
            let until = Instant::now() + Duration::from_secs(wait);
            loop {
                let current = tenant.imports().job(job)?;
                if current.status != JobStatus::Running {
                    print_job(&current, false)?;
                    break;
                }
                if Instant::now() >= until {
                    bail!(
                        "job {job} is still running after {wait} s; it stops once its current \
                         plugin call ends (`cshost import show {job}`)"
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        ImportCommand::Limit { tenant, bytes } => {
            let host = host()?;
            let tenant = super::tenant(&host, &tenant)?;
            if let Some(bytes) = bytes {
                tenant.imports().set_size_limit(bytes)?;
            }
            println!(
                "import size limit: {} bytes",
                tenant.imports().size_limit()?
            );
        }
        ImportCommand::Generate { file, rows } => {
            let out = std::fs::File::create(&file)
                .with_context(|| format!("cannot create {}", file.display()))?;
            let mut out = std::io::BufWriter::new(out);
            cs_host::generate_partners_csv(&mut out, rows)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!("wrote {rows} rows to {}", file.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
