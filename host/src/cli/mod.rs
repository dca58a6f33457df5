//! The `cshost` command line: a thin layer over the library.

/// `println!` for the command line: writes a line to standard output through [`out`], so a
/// closed pipe ends the program quietly and a failed write (a full disk) ends it with an error,
/// instead of a panic. Defined before the command modules, so theirs is this one.
macro_rules! println {
    () => {
        $crate::cli::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::line(format_args!($($arg)*))
    };
}

/// `print!` for the command line, as [`println!`] is.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::out::text(format_args!($($arg)*))
    };
}

mod access;
mod company;
mod criteria;
mod cta;
mod import;
mod outbox;
mod partner;
mod plan;
mod plugin;
mod plugin_admin;
mod plugin_test;
mod relationship;
mod scaffold;
mod serve;
mod share;
mod share_request;
mod signals;
mod tenant;
mod user;

/// Standard output, for the `println!` and `print!` of the command line.
pub(crate) mod out {
    use std::fmt;
    use std::io::{self, Write};

    /// Writes `args` and a line end.
    pub fn line(args: fmt::Arguments<'_>) {
        let mut out = io::stdout().lock();
        if let Err(error) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
            stop(&error);
        }
    }

    /// Writes `args`.
    pub fn text(args: fmt::Arguments<'_>) {
        if let Err(error) = io::stdout().lock().write_fmt(args) {
            stop(&error);
        }
    }

    /// Writes what is buffered.
    pub fn flush() {
        if let Err(error) = io::stdout().lock().flush() {
            stop(&error);
        }
    }

    /// Ends the program after standard output failed: quietly when the reader went away (`cshost
    /// … | head -1`), which is how a pipe ends; with an error otherwise. Whatever the command
    /// committed before stays committed.
    pub fn stop(error: &io::Error) -> ! {
        if error.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!(
            "error: cannot write to standard output: {error}; what the command changed before \
             is committed"
        );
        std::process::exit(1);
    }

    /// The closed pipe or failed write an error comes from, if it does.
    pub fn io_cause(error: &anyhow::Error) -> Option<&io::Error> {
        error.chain().find_map(|cause| {
            cause.downcast_ref::<io::Error>().or_else(|| {
                match cause.downcast_ref::<cs_host::Error>()?.kind() {
                    cs_host::ErrorKind::Io { source, .. } => Some(source),
                    _ => None,
                }
            })
        })
    }
}

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cs_host::{Host, HostConfig, PluginRuntime, RuntimeConfig};

/// cs-host: a multi-tenant plugin runtime for a customer-success platform.
#[derive(Parser)]
#[command(name = "cshost", version, about)]
struct Cli {
    /// Where compiled plugins are cached [default: $XDG_CACHE_HOME/cs-host or ~/.cache/cs-host].
    #[arg(long, global = true, env = "CSHOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// The database file.
    #[arg(long, global = true, env = "CSHOST_DB", default_value = "cshost.db")]
    db: PathBuf,

    /// Act as this user of the tenant (an email), with that user's rights, checked: a partner
    /// user sees only what its partner manages. Without it, the command runs as the platform
    /// operator (whoever can write the database file), and platform-level changes are recorded
    /// as made by `operator`.
    #[arg(long = "as", global = true, value_name = "EMAIL", env = "CSHOST_ACTOR")]
    acting_as: Option<String>,

    #[command(subcommand)]
    command: Command,
}

// Every command enum of the CLI is `defer`red: a command's arguments are built only when it is
// the one being run (or its help is asked for), not for all 120 or so commands at each start,
// which was about a third of the page faults of `cshost --version`.
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Inspect and try out plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Create and list tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Success plans, objectives, tasks and CTAs.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// The CTA cockpit: list CTAs (per company, relationship, owner, status), close, reopen,
    /// assign, and playbooks.
    #[command(subcommand)]
    Cta(cta::CtaCommand),
    /// Share plans, open links, one-time codes, revoke, list shares, sharing settings.
    #[command(subcommand)]
    Share(share::ShareCommand),
    /// List a tenant's outbox and deliver pending messages.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// Add, import, list and search companies; define custom fields.
    #[command(subcommand)]
    Company(company::CompanyCommand),
    /// Onboard partners: CSV import, form, tagging by id or criteria; list; sample CSV.
    #[command(subcommand)]
    Partner(partner::PartnerCommand),
    /// Run criteria-based selection.
    #[command(subcommand)]
    Criteria(criteria::CriteriaCommand),
    /// Add and list users and partner users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Import jobs, their error CSVs, the size limit, and a CSV generator.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// API tokens for remote callers: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// Permission bundles, partners' data permissions, partner seats, and who a user is.
    #[command(subcommand)]
    Access(access::AccessCommand),
    /// Relationship types: the admin's templates, each with its own fields.
    #[command(subcommand)]
    RelationshipType(relationship::RelationshipTypeCommand),
    /// Relationships of companies: add, edit, delete, show, list, search, Managed By.
    #[command(subcommand)]
    Relationship(relationship::RelationshipCommand),
    /// The HTTP service: the JSON API, the pages share links open, health, metrics, and the
    /// outbox worker.
    Serve(serve::ServeArgs),
}

/// Runs the command line and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    // `cshost --version` alone is answered before the command line's parser is built: it is what
    // scripts and health checks run to see that the program starts.
    let mut args = std::env::args_os().skip(1);
    if let (Some(arg), None) = (args.next(), args.next())
        && (arg == "--version" || arg == "-V")
    {
        println!("cshost {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    // The server logs its requests by default; other commands only what RUST_LOG asks for.
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) => tracing_subscriber::EnvFilter::new(directives),
        Err(_) if matches!(cli.command, Command::Serve(_)) => {
            tracing_subscriber::EnvFilter::new("info")
        }
        Err(_) => tracing_subscriber::EnvFilter::from_default_env(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (db, cache_dir) = (
        cli.db.clone(),
        cli.cache_dir.clone().or_else(default_cache_dir),
    );
    match run(cli) {
        Ok(code) => {
            out::flush();
            code
        }
        Err(error) => {
            // Output written to standard output through a writer of its own (an error CSV).
            if let Some(cause) = out::io_cause(&error)
                && cause.kind() == std::io::ErrorKind::BrokenPipe
            {
                out::stop(cause);
            }
            eprintln!("error: {error:#}");
            if let Some(hint) = hint(&error, &|| {
                host(&db, cache_dir.clone(), HostConfig::default())
            }) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Who the command acts as (`--as`), set once when the command line is parsed.
static ACTING_AS: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// The handle on tenant `id` for this command: as the `--as` user (checked: an unknown user is
/// refused), or as the platform operator.
pub(crate) fn tenant<'h>(host: &'h Host, id: &str) -> anyhow::Result<cs_host::Tenant<'h>> {
    let tenant = host.tenant(id)?;
    Ok(match ACTING_AS.get().and_then(Option::as_deref) {
        Some(email) => tenant.as_user(email)?,
        None => tenant,
    })
}

/// The name platform-level changes (installing plugins, operator tokens) are recorded under:
/// the `--as` value, or `operator`.
pub(crate) fn operator_name() -> String {
    ACTING_AS
        .get()
        .and_then(Clone::clone)
        .unwrap_or_else(|| cs_host::access::OPERATOR.to_owned())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let _ = ACTING_AS.set(cli.acting_as.clone());
    let cache_dir = cli.cache_dir.or_else(default_cache_dir);
    let open = || host(&cli.db, cache_dir.clone(), HostConfig::default());
    match cli.command {
        Command::Plugin(command) => plugin::run(command, &|| runtime(cache_dir.clone()), &open),
        Command::Tenant(command) => tenant::run(command, &open),
        Command::Plan(command) => plan::run(command, &open),
        Command::Cta(command) => cta::run(command, &open),
        Command::Share(command) => share::run(command, &open),
        Command::Outbox(command) => outbox::run(command, &open),
        Command::Company(command) => company::run(command, &open),
        Command::Partner(command) => partner::run(command, &open),
        Command::Criteria(command) => criteria::run(command, &open),
        Command::User(command) => user::run(command, &open),
        Command::Import(command) => import::run(command, &open),
        Command::Token(command) => access::run_token(command, &open),
        Command::Access(command) => access::run(command, &open),
        Command::RelationshipType(command) => relationship::run_types(command, &open),
        Command::Relationship(command) => relationship::run(command, &open),
        Command::Serve(args) => {
            serve::run(args, &|config| host(&cli.db, cache_dir.clone(), config))
        }
    }
}

/// What to do about an error, when there is more to say: for a plugin that is not installed, the
/// installed names near it, and that plugins go by their metadata's name, not their file's.
fn hint(error: &anyhow::Error, open: &dyn Fn() -> anyhow::Result<Host>) -> Option<String> {
    let Some(cs_host::ErrorKind::UnknownPlugin { name, .. }) = error
        .downcast_ref::<cs_host::Error>()
        .map(cs_host::Error::kind)
    else {
        return None;
    };
    let installed: Vec<String> = open()
        .and_then(|host| Ok(host.installed_plugins()?))
        .map(|plugins| plugins.into_iter().map(|p| p.manifest.name).collect())
        .unwrap_or_default();
    // A file name (`country_regions.wasm`) is a common mistake: compare its stem, `-` for `_`.
    let stem = std::path::Path::new(name)
        .file_stem()
        .map_or(name.clone(), |s| s.to_string_lossy().replace('_', "-"));
    let near = cs_host::nearest(&stem, installed.iter().map(String::as_str))
        .map(|near| format!("did you mean `{near}`? "))
        .unwrap_or_default();
    Some(format!(
        "{near}a plugin goes by the name in its metadata, not its file's name: `cshost plugin \
         inspect FILE.wasm` shows it, `cshost plugin list` lists the installed ones"
    ))
}

/// Opens the database named by `--db` with `config`, and the plugin runtime's compile cache in
/// `cache_dir`.
fn host(
    db: &std::path::Path,
    cache_dir: Option<PathBuf>,
    config: HostConfig,
) -> anyhow::Result<Host> {
    let mut runtime = RuntimeConfig::default();
    if let Some(dir) = cache_dir {
        runtime = runtime.cache_dir(dir);
    }
    Ok(Host::open(db, config.runtime(runtime))?)
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("cs-host"))
}

/// The runtime of the `plugin` commands, which run one plugin a few calls at a time and exit:
/// without an instance pool, whose set-up would cost such a command more than it saves, and
/// taking a cached plugin's description from the compile cache instead of from an instance made
/// only to ask for it.
fn runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<PluginRuntime> {
    let mut config = RuntimeConfig::default()
        .instance_pool(false)
        .cached_descriptions(true);
    if let Some(dir) = cache_dir {
        config = config.cache_dir(dir);
    }
    Ok(PluginRuntime::new(config)?)
}
