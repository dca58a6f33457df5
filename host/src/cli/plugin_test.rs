//! `cshost plugin test`: runs a plugin against cases and says which pass, with a diff for those
//! that do not: the harness a plugin author runs locally and in CI.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use cs_host::model::Company;
use cs_host::{Capability, ExtensionPoint, Limits, Plugin};
use serde::Deserialize;
use serde_json::Value;

use super::plugin::{HookRun, call_hook, context, error_json, read_json};

/// A file of cases.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    /// The hook every case runs, unless a case says otherwise; by default the plugin's only one.
    #[serde(default)]
    hook: Option<String>,
    cases: Vec<Case>,
}

/// One case: an input, the configuration and grants it runs with, and what it should give.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    hook: Option<String>,
    /// The input, in the shape `plugin run --input` takes.
    input: Value,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    grants: Vec<Capability>,
    /// Companies look-ups can find.
    #[serde(default)]
    companies: Option<Vec<Company>>,
    /// The call's fuel budget, if not the default.
    #[serde(default)]
    fuel: Option<u64>,
    expect: Expect,
}

/// What a case should give: the output `plugin run` prints, or an error code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Expect {
    /// The exact output.
    Output(Value),
    /// An error with this code: the host's (`fuel-exhausted`, `trap`, ...) or the plugin's own
    /// (`bad-argument`).
    Error(String),
}

/// Runs every case of the file and prints one line per case; fails when one fails.
pub fn run(plugin: &Plugin, path: &Path) -> anyhow::Result<ExitCode> {
    let file: Cases = read_json(path)?;
    if file.cases.is_empty() {
        bail!("{}: no cases", path.display());
    }
    let mut failed = 0;
    for (i, case) in file.cases.iter().enumerate() {
        let at = || format!("{}: case {} `{}`", path.display(), i + 1, case.name);
        let hook =
            hook_of(plugin, case.hook.as_deref().or(file.hook.as_deref())).with_context(at)?;
        let limits = match case.fuel {
            Some(fuel) => Limits::default().fuel(fuel),
            None => Limits::default(),
        };
        let context = context(
            plugin,
            limits,
            case.config.clone(),
            case.grants.clone(),
            case.companies.clone(),
        )
        .with_context(at)?;
        let run = call_hook(plugin, &context, hook, case.input.clone()).with_context(at)?;
        let problems = check(&case.expect, &run);
        let cost = cost(&run);
        if problems.is_empty() {
            println!("PASS  {}  ({cost})", case.name);
        } else {
            failed += 1;
            println!("FAIL  {}  ({cost})", case.name);
            for problem in &problems {
                println!("      {problem}");
            }
            for line in &run.log {
                println!("      log {:?}: {}", line.level, line.message);
            }
        }
    }
    let passed = file.cases.len() - failed;
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The hook a case runs: the one named, or the plugin's only one.
fn hook_of(plugin: &Plugin, named: Option<&str>) -> anyhow::Result<ExtensionPoint> {
    let points = &plugin.manifest().extension_points;
    let hook = match named {
        Some(name) => name.parse::<ExtensionPoint>()?,
        None if points.len() == 1 => points[0],
        None => bail!("the plugin implements several hooks: say which with \"hook\""),
    };
    if !plugin.manifest().implements(hook) {
        bail!(
            "plugin `{}` does not implement the {} hook",
            plugin.name(),
            hook.hook()
        );
    }
    Ok(hook)
}

/// What is wrong with a run, against what the case expects; nothing when it passes.
fn check(expect: &Expect, run: &HookRun) -> Vec<String> {
    match (expect, &run.output) {
        (Expect::Output(expected), Ok(actual)) => {
            let mut problems = Vec::new();
            diff("output", expected, actual, &mut problems);
            problems
        }
        (Expect::Output(_), Err(error)) => {
            vec![format!(
                "expected an output, got the error {}",
                error_json(error)
            )]
        }
        (Expect::Error(code), Ok(actual)) => {
            vec![format!(
                "expected the error `{code}`, got the output {actual}"
            )]
        }
        (Expect::Error(code), Err(error)) => {
            let plugin_code = match error.kind() {
                cs_host::PluginErrorKind::Reported { code, .. } => Some(code.as_str()),
                _ => None,
            };
            if error.code() == code || plugin_code == Some(code.as_str()) {
                Vec::new()
            } else {
                vec![format!(
                    "expected the error `{code}`, got {}",
                    error_json(error)
                )]
            }
        }
    }
}

/// The differences between two JSON values, one line per differing place, by path
/// (`output[0].outcome.keep.name: expected "Acme", got "acme"`).
fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let at = format!("{path}.{key}");
                match a.get(key) {
                    Some(found) => diff(&at, value, found, out),
                    None => out.push(format!("{at}: expected {value}, missing")),
                }
            }
            for (key, value) in a {
                if !e.contains_key(key) {
                    out.push(format!("{path}.{key}: unexpected {value}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), e, a, out);
            }
            if e.len() != a.len() {
                out.push(format!(
                    "{path}: expected {} items, got {}",
                    e.len(),
                    a.len()
                ));
            }
        }
        // 42 and 42.0 are the same number to a plugin author.
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// `fuel 81,604, memory 1.1 MiB, 0.23 ms`.
fn cost(run: &HookRun) -> String {
    let fuel = match run.stats.fuel_used {
        Some(fuel) => cs_host::grouped(fuel),
        None => "-".to_owned(),
    };
    format!(
        "fuel {fuel}, memory {:.1} MiB, {:.2} ms",
        run.stats.peak_memory as f64 / (1 << 20) as f64,
        run.stats.wall_time.as_secs_f64() * 1e3
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_place_that_differs() {
        let mut out = Vec::new();
        diff(
            "output",
            &json!([{"row": 2, "outcome": {"keep": {"name": "Acme", "region": "EMEA"}}}]),
            &json!([{"row": 2.0, "outcome": {"keep": {"name": "acme"}}}, {"row": 3}]),
            &mut out,
        );
        assert_eq!(
            out,
            [
                r#"output[0].outcome.keep.name: expected "Acme", got "acme""#,
                r#"output[0].outcome.keep.region: expected "EMEA", missing"#,
                "output: expected 1 items, got 2",
            ]
        );
    }
}
