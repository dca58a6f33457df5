//! `cshost company`: add, import, list and search companies; define custom fields. Also the
//! helpers the partner, criteria and import commands share.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cs_host::model::{AccessScope, FieldValue, Fields};
use cs_host::{
    Encoding, FieldType, Host, ImportJob, ImportOptions, Mapping, NewCompany, Progress, Separator,
    Tenant, inert,
};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum CompanyCommand {
    /// Add a company (Name mandatory; other fields checked against the schema).
    Add {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The company's name.
        name: String,
        /// A field, as `field=value` (repeatable).
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        /// The id of the partner that manages it.
        #[arg(long)]
        managed_by: Option<i64>,
    },
    /// Import companies from a CSV file.
    Import(ImportArgs),
    /// List companies, or search them by name.
    List {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only companies whose name contains this text.
        #[arg(long)]
        search: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set, change or clear the partner that manages a company (to give it to another
    /// partner, clear it first).
    ManagedBy {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The company's id.
        id: i64,
        /// The partner's id.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        partner: Option<i64>,
        /// Clear Managed By.
        #[arg(long)]
        clear: bool,
    },
    /// Define a custom company field.
    Field {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The field's name (lower-case letters, digits, `_`).
        name: String,
        /// text, number, boolean or date.
        field_type: FieldType,
        /// Every company must have a value.
        #[arg(long)]
        required: bool,
    },
}

/// The options of a CSV import.
#[derive(Args)]
pub struct ImportArgs {
    /// The tenant.
    #[arg(long, env = "CSHOST_TENANT")]
    pub tenant: String,
    /// The CSV file.
    pub file: PathBuf,
    /// Map a source column to a target field, as `Column=field` (repeatable). By default the
    /// header is mapped by name.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// The separator: comma, semicolon, pipe, tab or space [default: detected].
    #[arg(long)]
    pub separator: Option<Separator>,
    /// The quote character [default: detected].
    #[arg(long)]
    pub quote: Option<char>,
    /// The escape character before quotes (`none` for doubled quotes) [default: detected].
    #[arg(long)]
    pub escape: Option<String>,
    /// The file has no header row (columns are then named 1, 2, ...).
    #[arg(long)]
    pub no_header: bool,
    /// utf-8, utf-16le, utf-16be or windows-1252 (also named iso-8859-1) [default: detected].
    #[arg(long)]
    pub encoding: Option<Encoding>,
    /// Report what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows per transaction: a batch commits whole, and the job's counts with it.
    #[arg(long, default_value_t = 5_000)]
    pub batch_rows: usize,
    /// Print the job as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ImportArgs {
    /// The library options for these arguments, on top of `base`.
    pub fn options(&self, base: ImportOptions) -> anyhow::Result<ImportOptions> {
        let mut options = base.dry_run(self.dry_run).batch_rows(self.batch_rows);
        if !self.map.is_empty() {
            let mut mapping = Mapping::new();
            for pair in &self.map {
                let (column, field) = pair
                    .rsplit_once('=')
                    .with_context(|| format!("--map `{pair}`: expected COLUMN=FIELD"))?;
                mapping = mapping.map(column.trim(), field.trim());
            }
            options = options.mapping(mapping);
        }
        if let Some(s) = self.separator {
            options = options.separator(s);
        }
        if let Some(q) = self.quote {
            options = options.quote(q);
        }
        if let Some(e) = &self.escape {
            let escape = match e.as_str() {
                "none" | "" => None,
                other if other.chars().count() == 1 => other.chars().next(),
                other => bail!("--escape `{other}`: give one character, or `none`"),
            };
            options = options.escape(escape);
        }
        if self.no_header {
            options = options.has_header(false);
        }
        if let Some(e) = self.encoding {
            options = options.encoding(e);
        }
        Ok(options)
    }

    /// Runs the import with a progress display and prints the job.
    pub fn run(&self, tenant: &Tenant<'_>, options: ImportOptions) -> anyhow::Result<ExitCode> {
        let job = import_with_progress(tenant, &self.file, &options)?;
        print_job(&job, self.json)?;
        Ok(import_exit_code(&job))
    }
}

/// The exit code of an import that ran: 0 when no row failed, [`ROWS_FAILED`] when some did
/// (skipped rows are not failures), [`CANCELLED`] when it was cancelled. An import that could
/// not run exits 1, as every error does.
pub fn import_exit_code(job: &ImportJob) -> ExitCode {
    if job.status == cs_host::JobStatus::Cancelled {
        ExitCode::from(CANCELLED)
    } else if job.failed > 0 {
        ExitCode::from(ROWS_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The exit code of an import that ran but failed some rows.
pub const ROWS_FAILED: u8 = 3;

/// The exit code of an import that was cancelled (Ctrl-C, SIGTERM, `cshost import cancel`).
pub const CANCELLED: u8 = 4;

/// Imports with a progress bar when stderr is a terminal, plain lines every 10% otherwise and a
/// last line with the final count. Ctrl-C or SIGTERM cancels the import.
fn import_with_progress(
    tenant: &Tenant<'_>,
    file: &std::path::Path,
    options: &ImportOptions,
) -> anyhow::Result<ImportJob> {
    let options = &options
        .clone()
        .cancel_on(super::signals::cancel_on_signals());
    let job = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let job = tenant
            .imports()
            .file_with_progress(file, options, &mut |p: Progress| {
                bar.set_length(p.total_bytes);
                bar.set_position(p.bytes);
                bar.set_message(format!("{} rows read, {} written", p.read, p.rows));
            });
        bar.finish_and_clear();
        job
    } else {
        let mut shown = 0;
        let job = tenant
            .imports()
            .file_with_progress(file, options, &mut |p: Progress| {
                // The file is read ahead of the rows written: 100% of the bytes comes before the
                // last rows are counted, so that line waits for the end.
                let percent = (p.bytes * 100).checked_div(p.total_bytes).unwrap_or(0);
                if percent < 100 && percent >= shown + 10 {
                    shown = percent - percent % 10;
                    eprintln!("{}: {} rows, {percent}%", file.display(), p.rows);
                }
            });
        if let Ok(job) = &job {
            let end = match job.status {
                cs_host::JobStatus::Cancelled => "cancelled",
                _ => "done",
            };
            eprintln!("{}: {} rows, {end}", file.display(), job.rows);
        }
        job
    };
    Ok(job?)
}

/// Prints an import job for people, or as JSON.
pub fn print_job(job: &ImportJob, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(job)?);
        return Ok(());
    }
    let id = job.id.map_or_else(
        || "dry run (nothing written)".to_owned(),
        |id| format!("job {id}"),
    );
    println!(
        "{id}: {} {} from {}: {} rows, {} created, {} updated, {} skipped, {} failed",
        job.status,
        job.target,
        inert(&job.source),
        job.rows,
        job.created,
        job.updated,
        job.skipped,
        job.failed
    );
    let p = &job.properties;
    println!(
        "  csv: separator {}, quote {}, escape {}, header {}, encoding {}",
        p.separator,
        p.quote,
        p.escape.map_or("none".to_owned(), String::from),
        p.has_header,
        p.encoding
    );
    let mapping: Vec<String> = job
        .mapping
        .columns
        .iter()
        .map(|(c, f)| format!("{} -> {}", inert(c), inert(f)))
        .collect();
    println!("  mapping: {}", mapping.join(", "));
    if let Some(error) = &job.error {
        println!("  error: {}", inert(error));
    }
    for e in &job.errors {
        let mut at = format!("row {}", e.row);
        if let Some(c) = &e.column {
            at.push_str(&format!(", column `{}`", inert(c)));
        }
        if let Some(f) = &e.field {
            at.push_str(&format!(", field `{}`", inert(f)));
        }
        if let Some(p) = &e.plugin {
            at.push_str(&format!(", plugin {}", inert(p)));
        }
        let outcome = match e.outcome {
            cs_host::RowErrorKind::Failed => "failed",
            cs_host::RowErrorKind::Skipped => "skipped",
        };
        println!("  {outcome}: {at}: {}", inert(&e.reason));
    }
    if (job.failed + job.skipped) as usize > job.errors.len() {
        println!(
            "  ... {} more; `cshost import errors` writes them all as CSV",
            (job.failed + job.skipped) as usize - job.errors.len()
        );
    }
    Ok(())
}

/// Parses `field=value` pairs: numbers, `true`/`false` and `YYYY-MM-DD` dates are typed, the
/// rest is text (the schema converts text where the field's type asks).
pub fn parse_fields(pairs: &[String]) -> anyhow::Result<Fields> {
    let mut fields = Fields::new();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("`{pair}`: expected FIELD=VALUE"))?;
        fields.insert(name.trim().to_owned(), parse_value(value));
    }
    Ok(fields)
}

/// A command-line value: a number, a boolean, a date, or text.
pub fn parse_value(value: &str) -> FieldValue {
    let value = value.trim();
    if value.is_empty() {
        FieldValue::Null
    } else if let Ok(n) = value.parse::<i64>() {
        FieldValue::Integer(n)
    } else if let Ok(n) = value.parse::<f64>() {
        FieldValue::Number(n)
    } else if let Ok(b) = value.parse::<bool>() {
        FieldValue::Boolean(b)
    } else if let Ok(d) = value.parse() {
        FieldValue::Date(d)
    } else {
        FieldValue::Text(value.to_owned())
    }
}

/// Parses an access scope: `company`, `relationship` or `both`.
pub fn parse_scope(text: &str) -> anyhow::Result<AccessScope> {
    Ok(match text {
        "company" | "company-records" => AccessScope::CompanyRecords,
        "relationship" | "relationship-records" => AccessScope::RelationshipRecords,
        "both" => AccessScope::Both,
        other => bail!("scope `{other}`: expected company, relationship or both"),
    })
}

/// Prints companies as a table.
pub fn print_companies(companies: &[cs_host::model::Company]) {
    println!(
        "{:<8} {:<10} {:<10} {:<36} FIELDS",
        "ID", "AS", "MANAGED BY", "NAME"
    );
    for c in companies {
        let fields: Vec<String> = c
            .fields
            .iter()
            .map(|(k, v)| format!("{}={}", inert(k), inert(&v.to_string())))
            .collect();
        println!(
            "{:<8} {:<10} {:<10} {:<36} {}",
            c.id,
            format!("{:?}", c.managed_as).to_lowercase(),
            inert(c.managed_by.as_deref().unwrap_or("-")),
            inert(&c.name),
            fields.join(" ")
        );
    }
}

pub fn run(
    command: CompanyCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        CompanyCommand::Add {
            tenant,
            name,
            fields,
            managed_by,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let mut company = NewCompany::new(name);
            company.fields = parse_fields(&fields)?;
            company.managed_by = managed_by;
            let id = tenant.companies().add(company)?;
            println!("added company {id}");
        }
        CompanyCommand::Import(args) => {
            let tenant = super::tenant(&host, &args.tenant)?;
            let options = args.options(ImportOptions::companies())?;
            return args.run(&tenant, options);
        }
        CompanyCommand::List {
            tenant,
            search,
            limit,
            json,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let companies = match search {
                Some(text) => tenant.companies().search(&text, limit)?,
                None => tenant.companies().page(0, limit)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&companies)?);
            } else {
                print_companies(&companies);
            }
        }
        CompanyCommand::ManagedBy {
            tenant,
            id,
            partner,
            clear,
        } => {
            let partner = if clear { None } else { partner };
            super::tenant(&host, &tenant)?
                .companies()
                .set_managed_by(id, partner)?;
            match partner {
                Some(p) => println!("company {id} is managed by partner {p}"),
                None => println!("company {id} is managed by no partner"),
            }
        }
        CompanyCommand::Field {
            tenant,
            name,
            field_type,
            required,
        } => {
            super::tenant(&host, &tenant)?
                .companies()
                .define_field(&name, field_type, required)?;
            println!("defined company field {name} ({field_type})");
        }
    }
    Ok(ExitCode::SUCCESS)
}
