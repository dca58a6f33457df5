//! The `cshost` command line: a thin layer over the library.

mod plugin;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cs_host::{PluginRuntime, RuntimeConfig};

/// cs-host: a multi-tenant plugin runtime for a customer-success platform.
#[derive(Parser)]
#[command(name = "cshost", version, about)]
struct Cli {
    /// Where compiled plugins are cached [default: $XDG_CACHE_HOME/cs-host or ~/.cache/cs-host].
    #[arg(long, global = true, env = "CSHOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and try out plugin components.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

/// Runs the command line and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cache_dir = cli.cache_dir.or_else(default_cache_dir);
    match cli.command {
        Command::Plugin(command) => plugin::run(command, &|| runtime(cache_dir.clone())),
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("cs-host"))
}

fn runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<PluginRuntime> {
    let mut config = RuntimeConfig::default();
    if let Some(dir) = cache_dir {
        config = config.cache_dir(dir);
    }
    Ok(PluginRuntime::new(config)?)
}
