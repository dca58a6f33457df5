//! One owner per table: only the module that owns a table writes SQL naming it; every other
//! module calls the owner's typed methods. This test reads the host crate's source and fails on
//! SQL that names a table outside its owner, and on a table of the schema that has no owner.

use std::fs;
use std::path::{Path, PathBuf};

/// Each table of the schema and the module that owns it: a file, or a directory ending in `/`
/// (several, separated by spaces, for a table one domain's modules share).
const OWNERS: &[(&str, &str)] = &[
    ("tenants", "host.rs"),
    ("companies", "companies/"),
    ("field_schema", "companies/schema.rs"),
    ("relationship_types", "relationships/"),
    ("relationships", "relationships/"),
    ("users", "users.rs"),
    ("persons", "persons.rs"),
    ("audit_log", "audit.rs"),
    ("success_plans", "plans/"),
    ("objectives", "plans/"),
    ("ctas", "plans/"),
    ("tasks", "plans/"),
    ("objective_comments", "plans/"),
    ("playbooks", "plans/"),
    ("shares", "sharing/"),
    ("share_recipients", "sharing/"),
    ("sharing_settings", "sharing/"),
    ("share_events", "sharing/"),
    ("outbox", "outbox/"),
    // The plugins domain: the registry installs plugins, enablement turns them on per tenant;
    // each reads the other's table where a plugin and its enablements go together.
    ("plugin_blobs", "plugins/registry.rs"),
    ("plugins", "plugins/registry.rs plugins/enablement/"),
    (
        "plugin_enablements",
        "plugins/enablement/ plugins/registry.rs",
    ),
    ("plugin_run_stats", "plugins/runlog.rs"),
    ("plugin_failures", "plugins/runlog.rs"),
    ("import_jobs", "import/job.rs"),
    ("import_row_errors", "import/job.rs"),
    ("tenant_settings", "import/job.rs"),
    ("pending_hooks", "hooks/pending.rs"),
    ("permission_bundles", "access/permissions.rs"),
    ("user_bundles", "access/permissions.rs"),
    ("partner_permissions", "access/permissions.rs"),
    ("access_settings", "access/admin.rs"),
    ("api_tokens", "access/tokens.rs"),
    ("console_sessions", "access/tokens.rs"),
];

/// The SQL words after which a table's name appears.
const KEYWORDS: &[&str] = &["FROM", "JOIN", "INTO", "UPDATE", "TABLE", "EXISTS"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The non-test code of a file: up to its `#[cfg(test)] mod tests`, without comment lines
/// (tests may set rows up directly; comments may name tables in prose).
fn code_of(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut all = text.lines().enumerate().peekable();
    while let Some((number, line)) = all.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && all
                .peek()
                .is_some_and(|(_, next)| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if !trimmed.starts_with("//") {
            lines.push((number + 1, line));
        }
    }
    lines
}

/// Whether `line` names `table` after an SQL keyword (`FROM companies`, `JOIN companies c`).
fn names_table(line: &str, table: &str) -> bool {
    let words: Vec<&str> = line
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .any(|pair| KEYWORDS.contains(&pair[0]) && pair[1] == table)
}

fn owned_by(relative: &str, owners: &str) -> bool {
    owners.split(' ').any(|owner| {
        if owner.ends_with('/') {
            relative.starts_with(owner)
        } else {
            relative == owner
        }
    })
}

#[test]
fn sql_names_a_table_only_in_the_module_that_owns_it() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut trespass = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if relative.starts_with("store/") {
            // The schema itself: migrations create every table.
            continue;
        }
        let text = fs::read_to_string(path).unwrap();
        for (number, line) in code_of(&text) {
            for (table, owner) in OWNERS {
                if names_table(line, table) && !owned_by(&relative, owner) {
                    trespass.push(format!(
                        "host/src/{relative}:{number}: `{table}` belongs to {owner}: {}",
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        trespass.is_empty(),
        "SQL outside the table's owner; call the owner's methods instead:\n{}",
        trespass.join("\n")
    );
}

#[test]
fn every_table_of_the_schema_has_an_owner() {
    let migrations = src().join("store/migrations");
    let mut unowned = Vec::new();
    for entry in fs::read_dir(&migrations).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["CREATE", "TABLE", name, ..] = words.as_slice() {
                let name = name.trim_end_matches('(');
                if !OWNERS.iter().any(|(table, _)| *table == name) {
                    unowned.push(name.to_owned());
                }
            }
        }
    }
    assert!(unowned.is_empty(), "tables without an owner: {unowned:?}");
}

/// The most lines of code (neither blank nor comments, tests left out) a source file of the host
/// may hold: past that a file holds more than one thing, and a newcomer cannot read it whole.
const MAX_LINES_OF_CODE: usize = 600;

/// Files still over [`MAX_LINES_OF_CODE`], to be split: the list only shrinks. A file on it that
/// comes under the limit fails the test until it is taken off.
const TOO_LONG: &[&str] = &[];

/// A file's lines of code: those of [`code_of`] that are not blank.
fn lines_of_code(text: &str) -> usize {
    code_of(text)
        .iter()
        .filter(|(_, line)| !line.trim().is_empty())
        .count()
}

#[test]
fn no_source_file_is_over_the_length_limit() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut problems = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let lines = lines_of_code(&fs::read_to_string(path).unwrap());
        let listed = TOO_LONG.contains(&relative.as_str());
        if !listed && lines > MAX_LINES_OF_CODE {
            problems.push(format!(
                "host/src/{relative}: {lines} lines of code, over {MAX_LINES_OF_CODE}: split it"
            ));
        } else if listed && lines <= MAX_LINES_OF_CODE {
            problems.push(format!(
                "host/src/{relative}: {lines} lines of code, within the limit: take it off TOO_LONG"
            ));
        }
    }
    for file in TOO_LONG {
        if !files.iter().any(|path| path.ends_with(file)) {
            problems.push(format!("host/src/{file} is gone: take it off TOO_LONG"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_length_count_leaves_out_comments_blank_lines_and_tests() {
    let text = "//! A module.\n\nfn a() {\n    // why\n    1;\n}\n\n#[cfg(test)]\nmod tests {\n    fn t() {}\n}\n";
    assert_eq!(lines_of_code(text), 3);
}

#[test]
fn the_scan_sees_sql_in_its_usual_shapes() {
    // The check itself must not pass for want of seeing anything.
    assert!(names_table("SELECT id FROM companies WHERE", "companies"));
    assert!(names_table(
        "JOIN success_plans p ON p.id = s.plan_id",
        "success_plans"
    ));
    assert!(names_table(
        "\"UPDATE companies SET custom = ?3",
        "companies"
    ));
    assert!(names_table("INSERT INTO outbox (tenant_id", "outbox"));
    assert!(!names_table(
        "let companies = tenant.companies().page(0, 10)?;",
        "companies"
    ));
    assert!(!names_table(
        "SELECT id FROM companies_archive",
        "companies"
    ));
    let code = code_of("let a = 1;\n// FROM companies\n#[cfg(test)]\nmod tests {\nFROM x\n}");
    assert_eq!(code, vec![(1, "let a = 1;")]);
}
