//! CSV import end to end: real SQLite files, real built plugins, the real `cshost` binary.

use crate::support;

use std::path::Path;
use std::process::Command;

use cs_host::model::{AccessScope, FieldValue};
use cs_host::{
    CompanyKey, ErrorKind, Host, ImportOptions, ImportTarget, JobStatus, Mapping, NewCompany,
    RowErrorKind, TenantLevel,
};
use cs_host::{EnableOptions, FailurePolicy};

fn host_at(path: &Path) -> Host {
    let config = support::host_config();
    let host = Host::open(path, config).unwrap();
    if host.tenant("acme").is_err() {
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        host.tenant("acme")
            .unwrap()
            .access()
            .add_admin("admin@acme.example", "Ada")
            .unwrap();
    }
    host
}

fn partners() -> ImportOptions {
    ImportOptions::partners(Some(AccessScope::Both))
}

#[test]
fn csv_edge_cases_are_read_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();

    // Quoted fields holding separators and line breaks; semicolons detected; a BOM.
    let data = "\u{feff}Name;Industry;Email\n\"Lumen; Lark\";\"Retail\nand more\";a@b.example\nPlain;Software;c@d.example\n";
    let job = acme
        .imports()
        .bytes("quoted.csv", data.as_bytes(), &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (2, 0), "{job:?}");
    let lumen = acme
        .companies()
        .get(CompanyKey::Name("Lumen; Lark"))
        .unwrap()
        .unwrap();
    assert_eq!(
        lumen.fields["industry"],
        FieldValue::from("Retail\nand more")
    );

    // UTF-16 LE with a BOM.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in "Name,Country\nZoë Ltd,GB\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let job = acme
        .imports()
        .bytes("utf16.csv", &utf16, &partners())
        .unwrap();
    assert_eq!(job.created, 1);
    assert!(
        acme.companies()
            .get(CompanyKey::Name("Zoë Ltd"))
            .unwrap()
            .is_some()
    );

    // Ragged rows, an empty Name, a bad number: those rows fail by row and column.
    let data = "Name,Country,ARR\nGood,DE,10\nShort,DE\n,FR,5\nBadArr,US,lots\n";
    let job = acme
        .imports()
        .bytes("ragged.csv", data.as_bytes(), &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (1, 3), "{job:?}");
    let rows: Vec<(u64, Option<&str>)> = job
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_deref()))
        .collect();
    assert_eq!(rows, [(2, None), (3, Some("Name")), (4, Some("ARR"))]);
    assert!(
        job.errors[0].reason.contains("2 fields"),
        "{:?}",
        job.errors[0]
    );

    // Invalid UTF-8 in a file read as UTF-8 fails that row, naming the column.
    let data = b"Name,Country\nGood Two,DE\nBad\xff\xfe,FR\n";
    let job = acme
        .imports()
        .bytes(
            "latin.csv",
            data,
            &partners().encoding(cs_host::Encoding::Utf8),
        )
        .unwrap();
    assert_eq!((job.created, job.failed), (1, 1));
    assert_eq!(job.errors[0].column.as_deref(), Some("Name"));

    // Refused before reading rows: no Name column, duplicate headers, unknown fields, missing
    // mapped columns, over the size limit.
    let refused = |data: &str, options: ImportOptions| {
        acme.imports()
            .bytes("bad.csv", data.as_bytes(), &options)
            .unwrap_err()
            .to_string()
    };
    assert!(refused("Industry\nRetail\n", partners()).contains("Name is not mapped"));
    assert!(refused("Name,Name\nA,B\n", partners()).contains("duplicate header `Name`"));
    let unknown = partners().mapping(Mapping::new().map("Name", "name").map("X", "colour"));
    assert!(refused("Name,X\nA,B\n", unknown).contains("unknown target field `colour`"));
    let missing = partners().mapping(Mapping::new().map("Company", "name"));
    assert!(refused("Name\nA\n", missing).contains("mapped column `Company` is not in the file"));
    acme.imports().set_size_limit(10).unwrap();
    let err = acme
        .imports()
        .bytes("big.csv", b"Name\nA long name\n", &partners())
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::FileTooLarge { limit: 10, .. }),
        "{err}"
    );
    acme.imports().set_size_limit(2 * 1024 * 1024).unwrap();
    // No job was left behind by the refusals.
    assert!(
        acme.imports()
            .jobs()
            .unwrap()
            .iter()
            .all(|j| j.status == JobStatus::Completed)
    );
}

#[test]
fn reimport_is_idempotent_dry_run_writes_nothing_and_errors_download_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let file = support::root().join("examples/data/partners.csv");

    let dry = acme
        .imports()
        .file(&file, &partners().dry_run(true))
        .unwrap();
    assert_eq!((dry.id, dry.created), (None, 6));
    assert!(
        acme.partners().list().unwrap().is_empty(),
        "a dry run writes nothing"
    );
    assert!(acme.imports().jobs().unwrap().is_empty());

    let first = acme.imports().file(&file, &partners()).unwrap();
    assert_eq!((first.created, first.updated), (6, 0));
    let again = acme.imports().file(&file, &partners()).unwrap();
    assert_eq!((again.created, again.updated), (0, 6));
    assert_eq!(acme.partners().list().unwrap().len(), 6);

    // Customers managed by the partners; an unknown partner fails the row by column.
    let companies = support::root().join("examples/data/companies.csv");
    let job = acme
        .imports()
        .file(&companies, &ImportOptions::companies())
        .unwrap();
    assert_eq!((job.created, job.failed), (8, 0), "{:?}", job.errors);
    let aurora = acme
        .companies()
        .get(CompanyKey::Name("Aurora Logistics"))
        .unwrap()
        .unwrap();
    let bennett = acme
        .companies()
        .get(CompanyKey::Name("bennett & co."))
        .unwrap()
        .unwrap();
    assert_eq!(aurora.managed_by, Some(bennett.id.clone()));

    // Giving Aurora to another partner breaks the one-partner rule: the row fails naming the
    // partner that manages it now.
    let data = "External ID,Name,Managed By\nC-1001,Aurora Logistics,Tui Cloud Advisors\nC-1009,New Co,Nobody Inc\n";
    let job = acme
        .imports()
        .bytes("move.csv", data.as_bytes(), &ImportOptions::companies())
        .unwrap();
    assert_eq!(job.failed, 2);
    assert!(
        job.errors[0].reason.contains("bennett & co."),
        "{:?}",
        job.errors[0]
    );
    assert!(job.errors[1].reason.contains("no partner `Nobody Inc`"));
    let mut csv = Vec::new();
    acme.imports()
        .write_error_csv(job.id.unwrap(), &mut csv)
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("row,outcome,column,field,plugin,reason\n1,failed,Managed By,managed_by,,"),
        "{csv}"
    );

    // The sample CSV maps itself and imports.
    let sample = acme.imports().sample_csv(ImportTarget::Partners).unwrap();
    let job = acme
        .imports()
        .bytes("sample.csv", sample.as_bytes(), &partners())
        .unwrap();
    assert_eq!(job.created + job.updated, 2, "{job:?}");
}

#[test]
fn field_mappers_skip_or_reject_rows_and_a_fail_closed_trap_fails_rows_by_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    for name in ["normalize-partner", "panic"] {
        host.install_plugin(&support::plugin_bytes(name), "admin@acme.example")
            .unwrap();
    }
    acme.plugins()
        .enable("normalize-partner", EnableOptions::default())
        .unwrap();
    let file = support::root().join("examples/data/partners.csv");
    let job = acme.imports().file(&file, &partners()).unwrap();
    // Brightpath's email is not an address: normalize-partner rejects the row on `email`.
    assert_eq!((job.created, job.failed), (5, 1), "{:?}", job.errors);
    let rejected = &job.errors[0];
    assert_eq!(rejected.row, 3);
    assert_eq!(rejected.plugin.as_deref(), Some("normalize-partner"));
    assert_eq!(rejected.field.as_deref(), Some("email"));
    assert_eq!(rejected.column.as_deref(), Some("Email"));
    let bennett = acme
        .companies()
        .get(CompanyKey::Name("Bennett & Co."))
        .unwrap()
        .unwrap();
    assert_eq!(
        bennett.fields["email"],
        FieldValue::from("partners@bennett.co")
    );

    acme.plugins()
        .enable(
            "panic",
            EnableOptions::default().failure_policy(FailurePolicy::FailClosed),
        )
        .unwrap();
    let data = "Name\nOne\nTwo\nThree\n";
    let job = acme
        .imports()
        .bytes("trap.csv", data.as_bytes(), &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (0, 3), "{job:?}");
    assert!(
        job.errors
            .iter()
            .all(|e| e.plugin.as_deref() == Some("panic"))
    );
    assert!(job.errors.iter().all(|e| e.outcome == RowErrorKind::Failed));
    assert!(
        acme.companies()
            .get(CompanyKey::Name("One"))
            .unwrap()
            .is_none()
    );
}

/// 700 untidy partner rows for `normalize-partner`; every 97th has a bad email.
fn untidy_partners() -> String {
    let mut data = String::from("Name,Email,Website,Country,Industry\n");
    for i in 1..=700 {
        let email = if i % 97 == 0 {
            "not an address".to_owned()
        } else {
            format!(" Sales{i}@Example.COM")
        };
        let country = ["de", "US", "zz", "", "jp"][i % 5];
        data.push_str(&format!(
            "  acme {i} CORP ,{email},https://WWW.Acme{i}.example/x,{country},Aerospace \n"
        ));
    }
    data
}

/// Imports [`untidy_partners`] through each build of a field mapper, each in a fresh host, and
/// checks that every build gives the same row errors and the same companies.
fn import_alike(plugin: &str, builds: [(&str, Vec<u8>); 2]) {
    let data = untidy_partners();
    let mut outcomes = Vec::new();
    for (contract, bytes) in builds {
        let dir = tempfile::tempdir().unwrap();
        let host = host_at(&dir.path().join("cs.db"));
        let installed = host.install_plugin(&bytes, "admin@acme.example").unwrap();
        assert_eq!(installed.plugin.manifest.contract, contract);
        let acme = host.tenant("acme").unwrap();
        acme.plugins()
            .enable(plugin, EnableOptions::default())
            .unwrap();
        let job = acme
            .imports()
            .bytes("mixed.csv", data.as_bytes(), &partners())
            .unwrap();
        assert_eq!((job.created, job.failed), (693, 7), "{contract}: {job:?}");
        let companies: Vec<_> = acme
            .companies()
            .page(0, 1000)
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.fields))
            .collect();
        outcomes.push((job.errors, companies));
    }
    assert_eq!(outcomes[0], outcomes[1]);
    let (errors, companies) = &outcomes[0];
    assert_eq!(errors[0].row, 97);
    assert_eq!(errors[0].field.as_deref(), Some("email"));
    let (name, fields) = &companies[0];
    assert_eq!(name, "Acme 1 CORP");
    assert_eq!(fields["email"], FieldValue::from("sales1@example.com"));
}

#[test]
fn a_mapper_built_for_either_contract_imports_a_file_alike() {
    // normalize-partner from the same source, built for cs:plugin@0.1.0 (a call per row) and
    // for 0.2.0 (batches of rows): the same file comes out the same, rejections included.
    import_alike(
        "normalize-partner",
        [
            ("0.1.0", support::plugin_bytes("normalize-partner")),
            ("0.2.0", support::plugin_bytes_v0_2("normalize-partner")),
        ],
    );
}

#[test]
fn a_javascript_mapper_built_for_either_contract_imports_a_file_alike() {
    // The JavaScript SDK builds the same source for both contracts (`--contract 0.2.0`): its
    // batches must come out as its rows one at a time do.
    let read = |path: std::path::PathBuf| std::fs::read(path).unwrap();
    import_alike(
        "normalize-partner-js",
        [
            (
                "0.1.0",
                read(support::js_plugin_path("normalize-partner-js")),
            ),
            (
                "0.2.0",
                read(support::js_plugin_path_v0_2("normalize-partner-js")),
            ),
        ],
    );
}

#[test]
fn a_mapper_setting_a_field_the_schema_lacks_is_named_with_the_command_that_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    host.install_plugin(&support::plugin_bytes("tag-source"), "admin@acme.example")
        .unwrap();
    // tag-source writes `notes`, which this tenant has not defined.
    acme.plugins()
        .enable("tag-source", EnableOptions::new().config("tag", "web"))
        .unwrap();
    let job = acme
        .imports()
        .bytes("notes.csv", b"Name\nOne\nTwo\n", &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (0, 2), "{job:?}");
    let error = &job.errors[0];
    assert_eq!(error.plugin.as_deref(), Some("tag-source"));
    assert_eq!(error.field.as_deref(), Some("notes"));
    assert!(
        error
            .reason
            .contains("field mapper `tag-source` set `notes`")
            && error
                .reason
                .contains("cshost company field --tenant TENANT notes text"),
        "{}",
        error.reason
    );

    // Once the field exists, the same rows go in.
    acme.companies()
        .define_field("notes", cs_host::FieldType::Text, false)
        .unwrap();
    let job = acme
        .imports()
        .bytes("notes.csv", b"Name\nOne\nTwo\n", &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (2, 0), "{job:?}");
}

#[test]
fn a_process_killed_mid_import_leaves_whole_rows_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let csv = dir.path().join("big.csv");
    let cshost = env!("CARGO_BIN_EXE_cshost");
    let run = |args: &[&str]| {
        let out = Command::new(cshost)
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["tenant", "create", "acme", "--level", "company"]);
    run(&["import", "limit", "--tenant", "acme", "500000000"]);
    let rows = 400_000u64;
    run(&[
        "import",
        "generate",
        csv.to_str().unwrap(),
        "--rows",
        &rows.to_string(),
    ]);

    // Start the import and kill it once some batches are committed.
    let mut child = Command::new(cshost)
        .arg("--db")
        .arg(&db)
        .args([
            "partner",
            "import",
            "--tenant",
            "acme",
            csv.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host = host_at(&db);
    let acme = host.tenant("acme").unwrap();
    loop {
        let done = acme.imports().jobs().unwrap().first().map_or(0, |j| j.rows);
        if done >= 10_000 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the import ended before it could be killed: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let jobs = acme.imports().jobs().unwrap();
    let killed = &jobs[0];
    assert_eq!(killed.status, JobStatus::Running);
    assert!(killed.rows < rows, "killed before the end: {killed:?}");
    // The counts describe exactly the committed rows: whole batches, no half rows.
    let in_db = acme.partners().list().unwrap().len() as u64;
    assert_eq!(in_db, killed.created, "{killed:?}");
    assert_eq!(killed.rows % 5_000, 0);

    run(&[
        "partner",
        "import",
        "--tenant",
        "acme",
        csv.to_str().unwrap(),
    ]);
    let jobs = acme.imports().jobs().unwrap();
    assert_eq!(jobs[0].status, JobStatus::Interrupted);
    let rerun = &jobs[1];
    assert_eq!(rerun.status, JobStatus::Completed);
    assert_eq!(rerun.updated, in_db);
    assert_eq!(rerun.created, rows - in_db);
    assert_eq!(
        acme.partners().list().unwrap().len() as u64,
        rows,
        "no duplicates"
    );
}

/// Runs `cshost --db DB ARGS…` with `stdin` as its standard input.
fn cshost_with_input(db: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // A reader that stops early closes the pipe: the writer's error then does not matter.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

#[test]
fn a_piped_file_over_the_size_limit_is_stopped_at_the_limit() {
    // Piped input has no size to check up front: the bytes are counted as they are read.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    drop(host_at(&db));
    let limit = 20_000;
    let ok = cshost_with_input(&db, &["import", "limit", "--tenant", "acme", "20000"], b"");
    assert!(ok.status.success());
    let mut csv = b"Name\n".to_vec();
    for i in 0..4_000 {
        csv.extend(format!("Piped Partner {i}\n").as_bytes());
    }
    assert!(csv.len() > 3 * limit);
    let args = [
        "partner",
        "import",
        "--tenant",
        "acme",
        "--scope",
        "both",
        "/dev/stdin",
    ];
    let output = cshost_with_input(&db, &args, &csv);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("over the tenant's import limit of 20000 bytes"),
        "{err}"
    );
    // Nothing past the limit went in: at most the rows of the bytes before it.
    let host = host_at(&db);
    let partners = host
        .tenant("acme")
        .unwrap()
        .partners()
        .list()
        .unwrap()
        .len();
    assert!(
        partners * "Piped Partner 0000\n".len() <= limit,
        "{partners}"
    );
}

#[test]
fn a_file_without_line_ends_is_refused_with_bounded_memory() {
    // /dev/zero never ends a line: the reading stops at the longest line allowed, even when
    // the tenant's size limit is far above it.
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    acme.imports().set_size_limit(1 << 30).unwrap();
    let err = acme
        .imports()
        .file(Path::new("/dev/zero"), &partners())
        .unwrap_err();
    assert!(
        err.to_string().contains("a line longer than 1048576 bytes"),
        "{err}"
    );

    // A field over its cap fails its row only.
    let long = "x".repeat(70_000);
    let data = format!("Name,Industry\nShort Ltd,Retail\nLong Ltd,{long}\nAfter Ltd,Retail\n");
    let job = acme
        .imports()
        .bytes("long.csv", data.as_bytes(), &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (2, 1), "{job:?}");
    assert_eq!(job.errors[0].row, 2);
    assert_eq!(job.errors[0].column.as_deref(), Some("Industry"));
    assert!(
        job.errors[0].reason.contains("70000 bytes"),
        "{:?}",
        job.errors
    );
}

#[test]
fn one_invalid_utf8_row_fails_alone_and_the_others_keep_their_accents() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let mut data = "Name,Country\nMüller GmbH,DE\nÉcole Sàrl,FR\n"
        .as_bytes()
        .to_vec();
    data.extend(b"Bad \xFF Row,DE\nZo\xC3\xAB Ltd,GB\n");
    let job = acme
        .imports()
        .bytes("mixed.csv", &data, &partners())
        .unwrap();
    assert_eq!(job.properties.encoding.as_str(), "utf-8");
    assert_eq!((job.created, job.failed), (3, 1), "{job:?}");
    assert_eq!(job.errors[0].row, 3);
    for name in ["Müller GmbH", "École Sàrl", "Zoë Ltd"] {
        assert!(
            acme.companies()
                .get(CompanyKey::Name(name))
                .unwrap()
                .is_some(),
            "{name}"
        );
    }
}

#[test]
fn a_short_or_empty_cell_after_a_long_one_keeps_nothing_of_the_row_before() {
    // The writer reuses its buffers from row to row: a hostile file alternating long and short
    // cells must not leave the tail of one row's text in the next.
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let long = "x".repeat(5000);
    let rows = [
        (
            format!("Long {long}"),
            format!("Longland {long}"),
            "Retail".to_owned(),
        ),
        ("Short".to_owned(), "FR".to_owned(), String::new()),
        ("Sh".to_owned(), String::new(), "Éa".to_owned()),
        ("Ärzte eG".to_owned(), "D".to_owned(), "B".to_owned()),
    ];
    let mut data = String::from("Name,Country,Industry\n");
    for (name, country, industry) in &rows {
        data.push_str(&format!("{name},{country},{industry}\n"));
    }
    let job = acme
        .imports()
        .bytes("alternating.csv", data.as_bytes(), &partners())
        .unwrap();
    assert_eq!((job.created, job.failed), (4, 0), "{job:?}");
    for (name, country, industry) in &rows {
        let company = acme
            .companies()
            .get(CompanyKey::Name(name))
            .unwrap()
            .unwrap_or_else(|| panic!("{name} was not imported"));
        assert_eq!(&company.name, name);
        for (field, cell) in [("country", country), ("industry", industry)] {
            let stored = company.fields.get(field).and_then(FieldValue::as_text);
            let expected = (!cell.is_empty()).then_some(cell.as_str());
            assert_eq!(stored, expected, "{name}: {field}");
        }
    }
}

#[test]
fn formula_cells_in_the_error_csv_are_neutralised() {
    // A hostile header and a hostile value: the error report opens in a spreadsheet.
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let hostile = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let data = format!("Name,\"{}\"\nAcme,-1+2\n", hostile.replace('"', "\"\""));
    let options = partners().mapping(Mapping::new().map("Name", "name").map(hostile, "arr"));
    let job = acme
        .imports()
        .bytes("hostile.csv", data.as_bytes(), &options)
        .unwrap();
    assert_eq!(job.failed, 1, "{job:?}");
    let mut out = Vec::new();
    acme.imports()
        .write_error_csv(job.id.unwrap(), &mut out)
        .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[2], format!("'{hostile}"));
    for cell in row.iter() {
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{row:?}");
    }
}

#[test]
fn empty_and_headerless_files_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let err = acme
        .imports()
        .bytes("empty.csv", b"", &partners())
        .unwrap_err();
    assert!(
        err.to_string().contains("empty.csv: the file is empty"),
        "{err}"
    );

    let headless = b"Acme Corp,DE\nGlobex,US\n";
    let err = acme
        .imports()
        .bytes("headless.csv", headless, &partners())
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("--no-header") && message.contains("`Acme Corp`"),
        "{message}"
    );
    // Doing as told imports both rows.
    let options = partners()
        .has_header(false)
        .mapping(Mapping::new().map("1", "name").map("2", "country"));
    let job = acme
        .imports()
        .bytes("headless.csv", headless, &options)
        .unwrap();
    assert_eq!(job.created, 2);

    // Data quoted with `'` under a header without quotes.
    let job = acme
        .imports()
        .bytes(
            "single.csv",
            b"Name,Country\n'Lumen, Inc','DE'\n",
            &partners(),
        )
        .unwrap();
    assert_eq!(job.created, 1, "{job:?}");
    assert!(
        acme.companies()
            .get(CompanyKey::Name("Lumen, Inc"))
            .unwrap()
            .is_some()
    );
}

#[test]
fn an_import_with_failed_rows_exits_3_after_a_last_progress_line_with_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    drop(host_at(&db));
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "Name,ARR\nA,lots\nB,many\n").unwrap();
    let args = [
        "partner",
        "import",
        "--tenant",
        "acme",
        "--scope",
        "both",
        csv.to_str().unwrap(),
    ];
    let output = cshost_with_input(&db, &args, b"");
    assert_eq!(output.status.code(), Some(3));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.trim_end().ends_with("bad.csv: 2 rows, done"), "{err}");

    std::fs::write(&csv, "Name,ARR\nA,1\nB,2\n").unwrap();
    let output = cshost_with_input(&db, &args, b"");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn a_second_import_of_a_tenant_is_refused_while_one_runs_and_not_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let big = dir.path().join("big.csv");
    let small = dir.path().join("small.csv");
    std::fs::write(&small, "Name\nSmall Partner\n").unwrap();
    let cshost = env!("CARGO_BIN_EXE_cshost");
    let run = |args: &[&str]| {
        let out = Command::new(cshost)
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    drop(host_at(&db));
    run(&["import", "limit", "--tenant", "acme", "500000000"]);
    run(&[
        "import",
        "generate",
        big.to_str().unwrap(),
        "--rows",
        "300000",
    ]);
    let mut child = Command::new(cshost)
        .arg("--db")
        .arg(&db)
        .args(["partner", "import", "--tenant", "acme", "--scope", "both"])
        .arg(&big)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host = host_at(&db);
    let acme = host.tenant("acme").unwrap();
    while acme
        .imports()
        .jobs()
        .unwrap()
        .first()
        .is_none_or(|j| j.rows == 0)
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended too soon"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let error = acme.imports().file(&small, &partners()).unwrap_err();
    assert!(
        error.to_string().contains("has an import running already"),
        "{error}"
    );
    // A conflict with the running import, not bad input: the API answers 409.
    assert!(
        matches!(error.kind(), ErrorKind::ImportRunning { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), "conflict");
    // The running job was not marked interrupted by the refused one.
    assert_eq!(acme.imports().jobs().unwrap()[0].status, JobStatus::Running);

    child.kill().unwrap();
    child.wait().unwrap();
    // The killed process's claim went with it.
    let job = acme.imports().file(&small, &partners()).unwrap();
    assert_eq!(job.created, 1);
}

/// A database at `db` whose tenant `acme` runs `slow-mapper` (20 ms a row) on its imports and
/// has the `notes` field it writes; and a CSV of `rows` partners beside it.
fn slow_import_setup(dir: &Path, rows: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let db = dir.join("cs.db");
    let host = host_at(&db);
    host.install_plugin(
        &support::plugin_bytes("slow-mapper"),
        "ops@platform.example",
    )
    .unwrap();
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    acme.companies()
        .define_field("notes", cs_host::FieldType::Text, false)
        .unwrap();
    acme.plugins()
        .enable("slow-mapper", EnableOptions::new())
        .unwrap();
    let csv = dir.join("slow.csv");
    let mut data = String::from("Name,Notes\n");
    for n in 1..=rows {
        data.push_str(&format!("P{n},\n"));
    }
    std::fs::write(&csv, data).unwrap();
    (db, csv)
}

/// Starts `cshost partner import` of `csv` in batches of 20 rows, and waits until it has
/// committed at least 40 rows.
fn start_slow_import(db: &Path, csv: &Path) -> (std::process::Child, i64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .arg("--db")
        .arg(db)
        .args([
            "partner",
            "import",
            "--tenant",
            "acme",
            "--scope",
            "both",
            "--batch-rows",
            "20",
        ])
        .arg(csv)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let host = host_at(db);
    let acme = host.tenant("acme").unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(60) {
        if let Some(job) = acme.imports().jobs().unwrap().first()
            && job.rows >= 40
        {
            return (child, job.id.unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the import committed fewer than 40 rows in a minute");
}

/// What a cancelled job must look like: `cancelled`, its counts exactly the committed rows, and
/// the plugin's calls in the run log.
fn assert_cancelled(db: &Path, id: i64, total: u64) {
    let host = host_at(db);
    let acme = host.tenant("acme").unwrap();
    let job = acme.imports().job(id).unwrap();
    assert_eq!(job.status, JobStatus::Cancelled, "{job:?}");
    assert!(job.finished_at.is_some());
    assert!(job.rows >= 40 && job.rows < total, "{job:?}");
    assert_eq!(job.created, job.rows, "{job:?}");
    assert_eq!(acme.partners().list().unwrap().len() as u64, job.created);
    let last = acme
        .companies()
        .get(CompanyKey::Name(&format!("P{}", job.rows)))
        .unwrap()
        .expect("the last row counted is written");
    assert_eq!(
        last.fields["notes"],
        FieldValue::from(format!("slow {}", job.rows))
    );
    // The run log was written as the import ended: at least a call per row written.
    let stats = acme.plugins().stats().unwrap();
    assert!(stats[0].calls >= job.rows, "{stats:?}");
    assert_eq!(stats[0].failures, 0);
    // The tenant can import again at once.
    assert!(acme.imports().cancel(id).is_err());
}

#[test]
fn sigterm_cancels_an_import_keeping_its_committed_rows_counts_and_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = slow_import_setup(dir.path(), 2_000);
    let (child, id) = start_slow_import(&db, &csv);
    let sent = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    // It stops between two rows: well before the 40 s the whole file would take.
    assert!(sent.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("job {id}: cancelled")), "{stdout}");
    assert_cancelled(&db, id, 2_000);
}

#[test]
fn import_cancel_from_another_process_ends_the_job_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = slow_import_setup(dir.path(), 2_000);
    let (child, id) = start_slow_import(&db, &csv);
    let cancel = support::cshost([
        "--db",
        db.to_str().unwrap(),
        "import",
        "cancel",
        "--tenant",
        "acme",
        &id.to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&cancel.stdout);
    assert!(
        cancel.status.success(),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    // The command waits for the job to end, and prints it.
    assert!(stdout.contains(&format!("job {id}: cancelled")), "{stdout}");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert_cancelled(&db, id, 2_000);

    // A job that has ended cannot be cancelled, and says how it ended.
    let again = support::cshost([
        "--db",
        db.to_str().unwrap(),
        "import",
        "cancel",
        "--tenant",
        "acme",
        &id.to_string(),
    ]);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("is cancelled: only a running job"), "{err}");
}

#[test]
fn a_slow_import_reports_progress_every_second_and_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let (db, csv) = slow_import_setup(dir.path(), 2_000);
    let host = host_at(&db);
    let acme = host.tenant("acme").unwrap();
    let cancel = cs_host::ImportCancel::new();
    let options = partners().cancel_on(cancel.clone());
    let mut reports = Vec::new();
    let started = std::time::Instant::now();
    // Batches of 5,000 rows: no batch commits before the cancel, so every report comes from
    // between the batches' commits.
    let job = acme
        .imports()
        .file_with_progress(&csv, &options, &mut |p| {
            reports.push((started.elapsed(), p));
            // Cancelled once rows are being written (the first 256 mapped rows take 5 s).
            if p.rows > 0 {
                cancel.cancel();
            }
        })
        .unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    let mut last = std::time::Duration::ZERO;
    for (at, _) in &reports {
        assert!(
            *at - last < std::time::Duration::from_secs(1),
            "{reports:?}"
        );
        last = *at;
    }
    assert!(reports.len() >= 4, "{reports:?}");
    // Rows read and mapped move while none is written yet.
    let read: Vec<u64> = reports.iter().map(|(_, p)| p.read).collect();
    assert!(read.windows(2).all(|w| w[0] <= w[1]) && read[read.len() - 1] > read[0]);
    // Cancelled within the batch: what was written of it is committed and counted.
    assert!(job.rows > 0 && job.rows < 2_000, "{job:?}");
    assert_eq!(acme.partners().list().unwrap().len() as u64, job.created);
    assert_eq!(
        acme.imports().job(job.id.unwrap()).unwrap().status,
        JobStatus::Cancelled
    );
}

#[test]
fn names_that_differ_only_in_non_ascii_case_are_one_company() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    // Added by hand, then imported in another case: the import updates it.
    let ecole = acme.companies().add(NewCompany::new("École")).unwrap();
    let data = "Name,Country\nécole,FR\nÄrzte,DE\närzte,AT\nSTRASSE,DE\nStraße,CH\n";
    let job = acme
        .imports()
        .bytes("case.csv", data.as_bytes(), &ImportOptions::companies())
        .unwrap();
    assert_eq!((job.created, job.updated, job.failed), (2, 3, 0), "{job:?}");
    let found = acme
        .companies()
        .get(CompanyKey::Name("ÉCOLE"))
        .unwrap()
        .unwrap();
    assert_eq!(found.id, ecole.to_string());
    assert_eq!(found.fields["country"], FieldValue::from("FR"));
    let arzte = acme
        .companies()
        .get(CompanyKey::Name("ÄRZTE"))
        .unwrap()
        .unwrap();
    assert_eq!(arzte.fields["country"], FieldValue::from("AT"));
    assert_eq!(acme.companies().search("", 100).unwrap().len(), 3);
    // Imported again, and from another file in yet another case: still one each.
    let job = acme
        .imports()
        .bytes(
            "again.csv",
            "Name\nécole\nÄRZTE\n".as_bytes(),
            &ImportOptions::companies(),
        )
        .unwrap();
    assert_eq!((job.created, job.updated), (0, 2), "{job:?}");
    assert_eq!(acme.companies().search("", 100).unwrap().len(), 3);
    // A partner added by hand under a name that exists in another case is warned about.
    let (_, report) = acme
        .partners()
        .add(NewCompany::new("école"), Some(AccessScope::Both))
        .unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with(&format!("company {ecole} ")) && w.contains("same name")),
        "{report:?}"
    );
}

#[test]
fn companies_written_before_names_were_folded_are_found_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cs.db");
    let host = host_at(&path);
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    let id = acme.companies().add(NewCompany::new("Ärzte eG")).unwrap();
    drop(acme);
    drop(host);
    // The database as it was before the folded names (step 16), the steps after it undone too:
    // a new step must be undone here as well, which the assertion makes impossible to miss.
    let db = rusqlite::Connection::open(&path).unwrap();
    let step: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(step, 20, "undo the steps after 16 below");
    db.execute_batch(support::UNDO_STEPS_20_TO_16).unwrap();
    db.execute_batch("PRAGMA user_version = 15;").unwrap();
    drop(db);
    let host = host_at(&path);
    let acme = host.tenant("acme").unwrap();
    let found = acme
        .companies()
        .get(CompanyKey::Name("ÄRZTE EG"))
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id.to_string());
}

/// A generated file of `rows` rows for `target`, row 7's Name cell opening a quote it never
/// closes; with `later_quotes`, the rows after it hold quoted cells of their own (whose quotes
/// would otherwise pair up with row 7's).
fn file_with_an_unclosed_quote(target: ImportTarget, rows: usize, later_quotes: bool) -> String {
    let (header, tail) = match target {
        ImportTarget::Relationships => ("Name,Company,Type,Status", "Globex,SaaS"),
        _ => ("Name,Industry,Email", "Retail"),
    };
    let mut csv = format!("{header}\n");
    for i in 1..=rows {
        let name = match i {
            7 => format!("\"Broken {i}"),
            _ if later_quotes && i % 3 == 0 => format!("\"{target} quoted, {i}\""),
            _ => format!("{target} row {i}"),
        };
        csv.push_str(&format!("{name},{tail},x{i}@example.com\n"));
    }
    csv
}

#[test]
fn an_unclosed_quote_fails_its_row_by_name_and_the_rows_after_it_are_imported() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    acme.companies().add(NewCompany::new("Globex")).unwrap();
    acme.relationship_types().add("SaaS").unwrap();
    let targets = [
        (ImportTarget::Companies, ImportOptions::companies()),
        (ImportTarget::Partners, partners()),
        (ImportTarget::Relationships, ImportOptions::relationships()),
    ];
    for (target, options) in targets {
        for later_quotes in [false, true] {
            let csv = file_with_an_unclosed_quote(target, 20, later_quotes);
            let what = format!("{target} (quotes after it: {later_quotes})");
            let dry = acme
                .imports()
                .bytes("q.csv", csv.as_bytes(), &options.clone().dry_run(true))
                .unwrap();
            let job = acme
                .imports()
                .bytes("q.csv", csv.as_bytes(), &options)
                .unwrap();
            for job in [&dry, &job] {
                assert_eq!((job.rows, job.failed), (20, 1), "{what}: {:?}", job.errors);
                let error = &job.errors[0];
                assert_eq!(
                    (error.row, error.column.as_deref()),
                    (7, Some("Name")),
                    "{what}"
                );
                assert!(
                    error
                        .reason
                        .starts_with("a quote opened in column `Name` is never closed"),
                    "{what}: {}",
                    error.reason
                );
            }
            // The first run of each target creates the 19 good rows; the second updates them,
            // but for the 6 quoted names, which are new.
            let (created, updated) = if later_quotes { (6, 13) } else { (19, 0) };
            assert_eq!((job.created, job.updated), (created, updated), "{what}");
            let mut out = Vec::new();
            acme.imports()
                .write_error_csv(job.id.unwrap(), &mut out)
                .unwrap();
            let out = String::from_utf8(out).unwrap();
            let line = out.lines().nth(1).unwrap();
            assert!(
                line.starts_with("7,failed,Name,,,")
                    && line.contains("a quote opened in column `Name` is never closed"),
                "{what}: {out}"
            );
        }
    }
    // Every good row is there, the quoted ones with their quotes read.
    let names: Vec<String> = acme
        .companies()
        .page(0, 1000)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    for expected in [
        "companies row 6",
        "companies row 8",
        "companies row 20",
        "companies quoted, 9",
        "partners quoted, 18",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("Broken")), "{names:?}");
    let relationships: Vec<String> = acme
        .relationships()
        .list(None)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(relationships.len(), 19 + 6, "{relationships:?}");
}

#[test]
fn a_header_whose_quote_never_closes_is_refused_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let error = acme
        .imports()
        .bytes(
            "h.csv",
            b"Name,\"Industry\nAcme,Retail\n",
            &ImportOptions::companies(),
        )
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the header row: a quote opened in column 2 is never closed"),
        "{error}"
    );
}

#[test]
fn an_empty_external_id_cell_keeps_the_external_id_of_the_record_its_name_matches() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_at(&dir.path().join("cs.db"));
    let acme = host.tenant("acme").unwrap();
    let cases = [
        (ImportOptions::companies(), "C-1", "Globex"),
        (partners(), "P-1", "Bennett"),
    ];
    for (options, external_id, name) in cases {
        let first = format!("External ID,Name,Industry\n{external_id},{name},Retail\n");
        acme.imports()
            .bytes("1.csv", first.as_bytes(), &options)
            .unwrap();
        // The same record by name, in another case, its External ID cell empty.
        let again = format!(
            "External ID,Name,Industry\n,{},Software\n",
            name.to_uppercase()
        );
        for dry_run in [true, false] {
            let job = acme
                .imports()
                .bytes("2.csv", again.as_bytes(), &options.clone().dry_run(dry_run))
                .unwrap();
            assert_eq!((job.created, job.updated), (0, 1), "{:?}", job.errors);
        }
        let found = acme
            .companies()
            .get(CompanyKey::Name(name))
            .unwrap()
            .unwrap();
        assert_eq!(found.name, name.to_uppercase());
        assert_eq!(
            found.fields.get("external_id"),
            Some(&FieldValue::from(external_id)),
            "{found:?}"
        );
        assert_eq!(found.fields["industry"], FieldValue::from("Software"));
        // So the external id still finds it.
        let by_id = format!("External ID,Name\n{external_id},{name}\n");
        let job = acme
            .imports()
            .bytes("3.csv", by_id.as_bytes(), &options)
            .unwrap();
        assert_eq!((job.created, job.updated), (0, 1), "{:?}", job.errors);
    }
}

/// A tenant `acme` in memory with its admin, a company and a relationship type, for comparing
/// imports.
fn bare_tenant() -> Host {
    let host = Host::open_in_memory(support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let operator = host.tenant("acme").unwrap();
    operator
        .access()
        .add_admin("admin@acme.example", "Ada")
        .unwrap();
    let admin = operator.as_user("admin@acme.example").unwrap();
    admin
        .companies()
        .add(NewCompany::new("Customer of Acme"))
        .unwrap();
    admin.relationship_types().add("Subscription").unwrap();
    host
}

/// What an import did, row by row: its counts, and its row errors with their row, column, field
/// and reason.
type Outcome = (
    u64,
    u64,
    u64,
    Vec<(u64, Option<String>, Option<String>, String)>,
);

/// Imports `rows` (under `header`) as one file on one tenant, and each row as a file of its own
/// (a statement per row) on another; returns both outcomes, row numbers those of the whole file.
fn whole_and_row_by_row(
    header: &str,
    rows: &[String],
    options: &ImportOptions,
) -> ((Outcome, Host), (Outcome, Host)) {
    let errors = |job: &cs_host::ImportJob, row: Option<u64>| {
        job.errors
            .iter()
            .map(|e| {
                (
                    row.unwrap_or(e.row),
                    e.column.clone(),
                    e.field.clone(),
                    e.reason.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let whole_host = bare_tenant();
    let file = format!("{header}\n{}\n", rows.join("\n"));
    let job = whole_host
        .tenant("acme")
        .unwrap()
        .imports()
        .bytes("whole.csv", file.as_bytes(), options)
        .unwrap();
    let whole = (job.created, job.updated, job.failed, errors(&job, None));
    let one_host = bare_tenant();
    let mut one = (0, 0, 0, Vec::new());
    for (i, row) in rows.iter().enumerate() {
        let job = one_host
            .tenant("acme")
            .unwrap()
            .imports()
            .bytes("one.csv", format!("{header}\n{row}\n").as_bytes(), options)
            .unwrap();
        one.0 += job.created;
        one.1 += job.updated;
        one.2 += job.failed;
        one.3.extend(errors(&job, Some(i as u64 + 1)));
    }
    ((whole, whole_host), (one, one_host))
}

/// Rows that are about the same new record (by external id, or by name in another case or
/// spelling, or padded with spaces), or about two at once, among `filler` rows, all within the
/// first statement of 64.
fn colliding_rows(kind: &str, extra: &str, filler: usize) -> Vec<String> {
    let mut rows: Vec<String> = [
        format!("{kind}-1,Alpha{extra}"),
        format!("{kind}-1,Beta{extra}"),
        format!("{kind}-2,Gamma{extra}"),
        format!("{kind}-3,gamma{extra}"),
        format!(",Delta{extra}"),
        format!(",DELTA{extra}"),
        format!("{kind}-4,Epsilon{extra}"),
        format!("{kind}-5,Zeta{extra}"),
        format!("{kind}-4,zeta{extra}"),
        format!(",Straße{extra}"),
        format!(",STRASSE{extra}"),
        format!("\" {kind}-6 \",Eta{extra}"),
        format!("{kind}-6,Theta{extra}"),
        format!(",\"  Iota \"{extra}"),
        format!(",iota{extra}"),
        format!("{kind}-7,Kappa{extra}"),
        format!(",kappa{extra}"),
    ]
    .into();
    for i in 0..filler {
        rows.insert(
            1 + (i * 3) % rows.len(),
            format!("{kind}-F{i},Filler {i}{extra}"),
        );
    }
    rows
}

#[test]
fn new_companies_colliding_within_one_statement_end_as_they_would_written_one_by_one() {
    let rows = colliding_rows("C", ",Retail", 60);
    let ((whole, whole_host), (one, one_host)) = whole_and_row_by_row(
        "External ID,Name,Industry",
        &rows,
        &ImportOptions::companies(),
    );
    assert_eq!(whole, one, "whole file against row by row");
    let companies = |host: &Host| {
        let acme = host.tenant("acme").unwrap();
        acme.companies()
            .page(0, 1000)
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.name, c.fields.get("external_id").cloned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(companies(&whole_host), companies(&one_host));
    let (created, updated, failed, _) = whole;
    assert_eq!(created + updated + failed, rows.len() as u64, "{whole:?}");
}

#[test]
fn new_relationships_colliding_within_one_statement_end_as_they_would_written_one_by_one() {
    let rows = colliding_rows("R", ",Customer of Acme,Subscription", 60);
    let ((whole, whole_host), (one, one_host)) = whole_and_row_by_row(
        "External ID,Name,Company,Type",
        &rows,
        &ImportOptions::relationships(),
    );
    assert_eq!(whole, one, "whole file against row by row");
    let relationships = |host: &Host| {
        let acme = host.tenant("acme").unwrap();
        acme.relationships()
            .list(None)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.name, r.fields.get("external_id").cloned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(relationships(&whole_host), relationships(&one_host));
    let (created, updated, failed, _) = whole;
    assert_eq!(created + updated + failed, rows.len() as u64, "{whole:?}");
}
