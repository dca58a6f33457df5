//! Embedding cs-host the way an application would: open a database, create a tenant, install
//! and enable a plugin, import a CSV of partners, and print the job's result.
//!
//! ```text
//! make plugins
//! cargo run -p cs-host --example embed -- [DATABASE] [CSV] [PLUGIN.wasm]
//! ```
//! By default it uses a fresh temporary database, `examples/data/partners.csv` and the built
//! `normalize-partner` plugin.

use std::io::Write;
use std::path::{Path, PathBuf};

use cs_host::EnableOptions;
use cs_host::model::AccessScope;
use cs_host::{Host, HostConfig, ImportOptions, TenantLevel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let scratch = tempfile::tempdir()?;
    let database = args.next().unwrap_or_else(|| scratch.path().join("cs.db"));
    let csv = args
        .next()
        .unwrap_or_else(|| root.join("examples/data/partners.csv"));
    let plugin = args
        .next()
        .unwrap_or_else(|| root.join("target/wasm32-wasip2/release/normalize_partner.wasm"));
    run(&database, &csv, &plugin, &mut std::io::stdout().lock())
}

/// Imports `csv` into the database at `database` with the plugin `plugin`, telling `out` what
/// became of it.
pub fn run(
    database: &Path,
    csv: &Path,
    plugin: &Path,
    out: &mut dyn Write,
) -> Result<(), Box<dyn std::error::Error>> {
    // One host per database; it is Sync, so an application shares it.
    let host = Host::open(database, HostConfig::default())?;
    if host.tenant("acme").is_err() {
        host.create_tenant("acme", "Acme Corp", TenantLevel::Both)?;
        // The platform operator adds the tenant's admin; every later operation acts as a user.
        host.tenant("acme")?
            .access()
            .add_admin("admin@acme.example", "Ada")?;
    }
    let acme = host.tenant("acme")?.as_user("admin@acme.example")?;

    // Install the plugin once for the platform, then enable it for this tenant.
    let installed = host.install_plugin(&std::fs::read(plugin)?, "admin@acme.example")?;
    writeln!(
        out,
        "installed {} {}",
        installed.plugin.manifest.name, installed.plugin.manifest.version
    )?;
    acme.plugins()
        .enable("normalize-partner", EnableOptions::default())?;

    // Import partners; the tenant works at both levels, so the access scope is chosen.
    let job = acme
        .imports()
        .file(csv, &ImportOptions::partners(Some(AccessScope::Both)))?;
    writeln!(
        out,
        "job {}: {} rows, {} created, {} updated, {} skipped, {} failed",
        job.id.unwrap_or_default(),
        job.rows,
        job.created,
        job.updated,
        job.skipped,
        job.failed
    )?;
    for error in &job.errors {
        writeln!(
            out,
            "  row {} ({}): {}",
            error.row,
            error.field.as_deref().unwrap_or("-"),
            error.reason
        )?;
    }
    for partner in acme.partners().list()? {
        writeln!(
            out,
            "partner {}: {}",
            partner.company.id, partner.company.name
        )?;
    }
    Ok(())
}
