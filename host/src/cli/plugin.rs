//! `cshost plugin`: inspect a component, run it on sample input like the host would, test it
//! against cases, and start a new plugin project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use cs_host::model::{Company, FieldValue};
use cs_host::{CallStats, LogLine, StaticDirectory};
use cs_host::{
    Capability, CriteriaInput, ExtensionPoint, IMPORT_OBJECT_KEY, IMPORT_OBJECTS, Limits,
    PartnerInput, Plugin, PluginContext, PluginRuntime, RowsInput, ShareInput, parse_hook_input,
};
use serde_json::json;

#[derive(Subcommand)]
#[command(defer = true)]
pub enum PluginCommand {
    /// Show what a component is: name, version, extension points, imports, capabilities,
    /// configuration keys, size and hash. Give a .wasm file, or the name of an installed plugin
    /// (NAME or NAME@VERSION).
    Inspect {
        /// The component (.wasm), or an installed plugin's NAME[@VERSION].
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a plugin on sample input, as the host would, and print its output, its cost and its
    /// log as JSON.
    Run {
        /// The component (.wasm).
        file: PathBuf,
        /// The hook: csv-row-mapped, criteria, plan-shared or partner-created.
        #[arg(long)]
        hook: ExtensionPoint,
        /// The input, as JSON (see the README for each hook's shape).
        #[arg(long)]
        input: PathBuf,
        /// A configuration value, as KEY=VALUE. Repeat for several.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Grant a capability the plugin requests (read-companies). Repeat for several.
        #[arg(long = "grant", value_name = "CAPABILITY")]
        grants: Vec<Capability>,
        /// Companies (a JSON list) that look-ups can find.
        #[arg(long)]
        companies: Option<PathBuf>,
        /// The call's fuel budget.
        #[arg(long)]
        fuel: Option<u64>,
        /// The call's deadline, in milliseconds.
        #[arg(long)]
        deadline_ms: Option<u64>,
        /// The instance's memory cap, in MiB.
        #[arg(long)]
        memory_mb: Option<usize>,
        /// The cap on what one call may return, in KiB.
        #[arg(long)]
        output_kb: Option<usize>,
    },
    /// Run a plugin against test cases (input, configuration, grants, expected output or error
    /// code) and print a pass or fail line per case; exits non-zero when a case fails.
    Test {
        /// The component (.wasm).
        file: PathBuf,
        /// The cases, as JSON: `{"hook": "csv-row-mapped", "cases": [{"name": "..", "input":
        /// {..}, "config": {..}, "grants": [..], "expect": {"output": ..} or {"error": "CODE"}}]}`.
        cases: PathBuf,
    },
    /// Start a plugin project: the plugin, its manifest, a sample input, test cases and a
    /// README with the commands to build, run, test and install it.
    New {
        /// The plugin's name: lower case letters, digits and `-`.
        name: String,
        /// What it is: field-mapper, criteria-filter, notifier or lifecycle.
        #[arg(long)]
        kind: ExtensionPoint,
        /// The language: rust or js (JavaScript; TypeScript builds the same way).
        #[arg(long, value_enum, default_value = "rust")]
        lang: super::scaffold::Lang,
        /// The directory to create [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The SDK to build against: a cs-host checkout's plugins/sdk (Rust) or plugins/js
        /// (JavaScript) [default: the checkout this cshost was built from].
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    #[command(flatten)]
    Registry(super::plugin_admin::RegistryCommand),
}

pub fn run(
    command: PluginCommand,
    runtime: &dyn Fn() -> anyhow::Result<PluginRuntime>,
    host: &dyn Fn() -> anyhow::Result<cs_host::Host>,
) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Registry(command) => super::plugin_admin::run_registry(command, &host()?),
        PluginCommand::New {
            name,
            kind,
            lang,
            dir,
            sdk,
        } => {
            let request = super::scaffold::NewPlugin {
                name,
                kind,
                lang,
                dir,
                sdk,
            };
            let dir = super::scaffold::create(&request)?;
            println!("created {} ({kind}, {lang:?})", dir.display());
            println!("next: cd {} and see README.md", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test { file, cases } => {
            let plugin = runtime()?.load_file(&file)?;
            let code = super::plugin_test::run(&plugin, &cases)?;
            exiting_with(plugin);
            Ok(code)
        }
        PluginCommand::Inspect { file, json } if !file.exists() => {
            let installed =
                super::plugin_admin::inspect_installed(&host()?, &file.to_string_lossy())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&installed)?);
            } else {
                let plugin = runtime()?.load(&host()?.plugin_component(
                    &installed.manifest.name,
                    Some(&installed.manifest.version),
                )?)?;
                print_manifest(&plugin, false)?;
                println!(
                    "installed:        {} by {}{}",
                    installed.installed_at,
                    installed.installed_by,
                    if installed.latest { " (latest)" } else { "" }
                );
                let tenants = if installed.tenants.is_empty() {
                    "-".to_owned()
                } else {
                    installed.tenants.join(", ")
                };
                println!("tenants:          {tenants}");
            }
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Inspect { file, json } => {
            let plugin = runtime()?.load_file(&file)?;
            print_manifest(&plugin, json)?;
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Run {
            file,
            hook,
            input,
            config,
            grants,
            companies,
            fuel,
            deadline_ms,
            memory_mb,
            output_kb,
        } => {
            let input = read_json::<serde_json::Value>(&input)?;
            let mut limits = Limits::default();
            if let Some(fuel) = fuel {
                limits = limits.fuel(fuel);
            }
            if let Some(ms) = deadline_ms {
                limits = limits.deadline(Duration::from_millis(ms));
            }
            if let Some(mb) = memory_mb {
                limits = limits.memory(mb << 20);
            }
            if let Some(kb) = output_kb {
                limits = limits.output(kb << 10);
            }
            let mut values = BTreeMap::new();
            for pair in &config {
                let (key, value) = pair
                    .split_once('=')
                    .with_context(|| format!("--config `{pair}`: expected KEY=VALUE"))?;
                values.insert(key.to_owned(), value.to_owned());
            }
            let companies = companies.map(|path| read_json(&path)).transpose()?;
            let plugin = runtime()?.load_file(&file)?;
            let context = context(&plugin, limits, values, grants, companies)?;
            if !plugin.manifest().implements(hook) {
                bail!(
                    "{}: plugin `{}` does not implement the {} hook (it implements: {})",
                    file.display(),
                    plugin.name(),
                    hook.hook(),
                    hooks_of(&plugin)
                );
            }
            let code = print_run(&plugin, hook, call_hook(&plugin, &context, hook, input)?)?;
            exiting_with(plugin);
            Ok(code)
        }
    }
}

/// Leaves `plugin` (its compiled code, the runtime it holds) to the process's exit, which
/// follows: unmapping the code and taking the runtime down one piece at a time cost a short
/// command more than the exit does.
fn exiting_with(plugin: Plugin) {
    std::mem::forget(plugin);
}

/// The context a local run gives a plugin, with its configuration checked as `tenant enable`
/// checks it: an undeclared key or a missing required one is refused.
pub(super) fn context(
    plugin: &Plugin,
    limits: Limits,
    config: BTreeMap<String, String>,
    grants: Vec<Capability>,
    companies: Option<Vec<Company>>,
) -> anyhow::Result<PluginContext> {
    plugin.manifest().check_config(&config)?;
    let mut context = PluginContext::new("local").limits(limits);
    for (key, value) in &config {
        context = context.config(key, value);
    }
    for grant in grants {
        context = context.grant(grant);
    }
    if let Some(list) = companies {
        context = context.companies(Arc::new(StaticDirectory::new(list)));
    }
    Ok(context)
}

fn hooks_of(plugin: &Plugin) -> String {
    let hooks: Vec<&str> = plugin
        .manifest()
        .extension_points
        .iter()
        .map(|p| p.hook())
        .collect();
    hooks.join(", ")
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON input", path.display()))
}

fn print_manifest(plugin: &Plugin, json: bool) -> anyhow::Result<()> {
    let m = plugin.manifest();
    if json {
        println!("{}", serde_json::to_string_pretty(m)?);
        return Ok(());
    }
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    println!("name:             {}", m.name);
    println!("version:          {}", m.version);
    println!("description:      {}", m.description);
    println!("contract:         cs:plugin@{}", m.contract);
    println!(
        "extension points: {}",
        list(
            m.extension_points
                .iter()
                .map(|p| format!("{} ({})", p, p.hook()))
                .collect()
        )
    );
    println!(
        "capabilities:     {}",
        list(m.capabilities.iter().map(|c| c.to_string()).collect())
    );
    println!(
        "reads:            {}{}",
        list(m.reads.clone()),
        if m.reads_source {
            " + source columns"
        } else {
            ""
        }
    );
    println!("config:");
    if m.config.is_empty() {
        println!("  -");
    }
    for key in &m.config {
        let default = match (&key.default_value, key.required) {
            (Some(value), _) => format!("default {value:?}"),
            (None, true) => "required".to_owned(),
            (None, false) => "optional".to_owned(),
        };
        println!("  {:<16}{} ({default})", key.name, key.description);
    }
    println!("imports:");
    for import in &m.imports {
        println!("  {import}");
    }
    println!("size:             {} bytes", m.size);
    println!("sha256:           {}", m.hash);
    Ok(())
}

/// What one run of a hook gave: its output or the plugin's error, what it cost, and its log.
pub(super) struct HookRun {
    pub output: Result<serde_json::Value, cs_host::PluginError>,
    pub stats: CallStats,
    pub log: Vec<LogLine>,
}

/// Runs a hook on an input in the JSON shape `plugin run --input` takes. A malformed input is an
/// error; what the plugin does, failures included, is in the `HookRun`.
pub(super) fn call_hook(
    plugin: &Plugin,
    context: &PluginContext,
    hook: ExtensionPoint,
    input: serde_json::Value,
) -> anyhow::Result<HookRun> {
    // A field mapper learns which object the rows are for, as an import tells it.
    let told;
    let context = match input.get("object").and_then(serde_json::Value::as_str) {
        Some(object) if hook == ExtensionPoint::FieldMapper => {
            if !IMPORT_OBJECTS.contains(&object) {
                anyhow::bail!(
                    "the input's object `{}` is none of {}",
                    cs_host::inert(object),
                    IMPORT_OBJECTS.join(", ")
                );
            }
            if plugin.manifest().config_key(IMPORT_OBJECT_KEY).is_some() {
                context
            } else {
                told = context.clone().config(IMPORT_OBJECT_KEY, object);
                &told
            }
        }
        _ => context,
    };
    let mut instance = plugin.instantiate(context);
    let mut stats = Vec::new();
    let mut log = Vec::new();
    let mut record = |instance: &cs_host::PluginInstance| {
        stats.push(instance.last_call());
        log.extend(instance.log());
    };
    let output = match hook {
        ExtensionPoint::FieldMapper => {
            let input: RowsInput = parse_hook_input(hook, input)?;
            let fields = input.field_names();
            let begun = instance.begin_rows_for(input.object.as_deref(), &input.columns, &fields);
            record(&instance);
            begun
                .map(|()| Vec::new())
                .and_then(|_: Vec<serde_json::Value>| {
                    let mut outcomes = Vec::new();
                    for (i, row) in input.rows.iter().enumerate() {
                        let values: Vec<FieldValue> = fields
                            .iter()
                            .map(|f| row.fields.get(f).cloned().unwrap_or_default())
                            .collect();
                        let number = row.number.unwrap_or(i as u64 + 1);
                        let outcome = instance.map_row(number, &row.source, &values);
                        record(&instance);
                        outcomes.push(json!({"row": number, "outcome": outcome?}));
                    }
                    Ok(outcomes)
                })
                .map(serde_json::Value::from)
        }
        ExtensionPoint::CriteriaFilter => {
            let input: CriteriaInput = parse_hook_input(hook, input)?;
            let answers = instance.matches(&input.arguments, &input.companies);
            record(&instance);
            answers.map(|answers| {
                input
                    .companies
                    .iter()
                    .zip(answers)
                    .map(|(c, matched)| json!({"id": c.id, "name": c.name, "matches": matched}))
                    .collect::<Vec<_>>()
                    .into()
            })
        }
        ExtensionPoint::Notifier => {
            let input: ShareInput = parse_hook_input(hook, input)?;
            let sent = instance.on_plan_shared(&input.event, &input.planned);
            record(&instance);
            sent.map(|n| json!(n))
        }
        ExtensionPoint::Lifecycle => {
            let input: PartnerInput = parse_hook_input(hook, input)?;
            let actions = instance.on_partner_created(&input.partner);
            record(&instance);
            actions.map(|a| json!(a))
        }
    };
    Ok(HookRun {
        output,
        stats: total_stats(&stats),
        log,
    })
}

/// Prints a run as `plugin run` does: JSON with the output or the error, the cost and the log.
fn print_run(plugin: &Plugin, hook: ExtensionPoint, run: HookRun) -> anyhow::Result<ExitCode> {
    let HookRun {
        output,
        stats: total,
        log,
    } = run;
    let report = |result: serde_json::Value| {
        let mut report = json!({
            "plugin": plugin.name(),
            "version": plugin.manifest().version,
            "hook": hook.hook(),
            "fuel_used": total.fuel_used,
            "peak_memory_bytes": total.peak_memory,
            "wall_time_us": total.wall_time.as_micros() as u64,
            "log": log.iter().map(|l: &LogLine| json!({"level": l.level, "message": l.message})).collect::<Vec<_>>(),
        });
        if let (Some(report), Some(result)) = (report.as_object_mut(), result.as_object()) {
            report.extend(result.clone());
        }
        report
    };
    match output {
        Ok(output) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report(json!({"output": output})))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let result = json!({ "error": error_json(&error) });
            println!("{}", serde_json::to_string_pretty(&report(result))?);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A plugin error as `plugin run` prints it: the host's code, the message, and the plugin's own
/// code when the plugin reported the error.
pub(super) fn error_json(error: &cs_host::PluginError) -> serde_json::Value {
    let mut details = json!({"code": error.code(), "message": error.to_string()});
    if let cs_host::PluginErrorKind::Reported { code, .. } = error.kind() {
        details["plugin_code"] = json!(code);
    }
    details
}

fn total_stats(stats: &[CallStats]) -> CallStats {
    CallStats {
        fuel_used: stats.iter().map(|s| s.fuel_used).sum(),
        peak_memory: stats.iter().map(|s| s.peak_memory).max().unwrap_or(0),
        wall_time: stats.iter().map(|s| s.wall_time).sum(),
        denied: stats.iter().find_map(|s| s.denied),
    }
}
