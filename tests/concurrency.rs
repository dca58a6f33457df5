//! Several `cshost` processes on one database file, as operators run them: deliverers side by
//! side, and a backlog of one tenant next to another tenant's mail.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cs_host::model::{Audience, FieldValue};
use cs_host::{
    Host, HostConfig, Licence, NewCompany, NewPlan, NewRelationship, OutboxStatus, ShareReceipt,
    ShareRequest, TenantLevel,
};

/// A `cshost` command on the database file, not yet started.
fn cshost(db: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cshost"));
    command
        .env("CSHOST_DB", db)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .env_remove("RUST_LOG")
        .args(args);
    command
}

/// Standard output of a finished `cshost`, failing the test when it failed.
fn stdout(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `cshost outbox deliver` into the mailbox and returns its summary line.
fn deliver(db: &Path, mailbox: &Path, max: usize) -> String {
    let max = max.to_string();
    let mailbox = mailbox.to_str().unwrap();
    let output = cshost(
        db,
        &["outbox", "deliver", "--mailbox", mailbox, "--max", &max],
    )
    .output()
    .unwrap();
    stdout(&output, "outbox deliver")
}

/// The number before `what` in a delivery summary (`3 sent, 0 already delivered, ...`).
fn count(summary: &str, what: &str) -> usize {
    summary
        .split(", ")
        .find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{what}` in {summary:?}"))
}

/// Creates a tenant with `users` viewers and a plan, limited to `per_hour` notifications, and
/// shares the plan with every user: one message each.
fn tenant_with_share(host: &Host, id: &str, users: usize, per_hour: u32) -> ShareReceipt {
    host.create_tenant(id, id, TenantLevel::Both).unwrap();
    let tenant = host.tenant(id).unwrap();
    let mut settings = tenant.shares().settings().unwrap();
    settings.notifications_per_hour = per_hour;
    tenant.shares().set_settings(&settings).unwrap();
    let emails: Vec<String> = (0..users).map(|i| format!("u{i}@{id}.example")).collect();
    for email in &emails {
        tenant.users().add(email, email, Licence::Viewer).unwrap();
    }
    let company = tenant.companies().add(NewCompany::new("Customer")).unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Plan".into(),
            ..NewPlan::default()
        })
        .unwrap();
    tenant
        .shares()
        .share(&ShareRequest::new(
            plan,
            Audience::Users,
            emails.iter().map(String::as_str),
        ))
        .unwrap()
}

fn files_in(dir: PathBuf) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[test]
fn one_tenants_backlog_never_holds_back_another_tenants_share_or_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mailbox = dir.path().join("mailbox");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    tenant_with_share(&host, "big", 300, 10);

    // The backlog's first hour goes out; the rest waits, and does not use up the run.
    let summary = deliver(&db, &mailbox, 50);
    assert_eq!(count(&summary, "sent"), 10, "{summary}");
    assert_eq!(
        count(&summary, "deferred by the rate limit"),
        290,
        "{summary}"
    );

    // Another tenant shares a plan and its recipient asks for a code.
    let receipt = tenant_with_share(&host, "small", 1, 10);
    let small = host.tenant("small").unwrap();
    small.links().request_otp(&receipt.links[0].link).unwrap();

    // The code goes first, though the share is older; the big tenant's backlog is skipped.
    let summary = deliver(&db, &mailbox, 1);
    assert_eq!(count(&summary, "sent"), 1, "{summary}");
    let sent = small.outbox().list(Some(OutboxStatus::Sent)).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "otp");

    let summary = deliver(&db, &mailbox, 5);
    assert_eq!(count(&summary, "sent"), 1, "{summary}");
    assert_eq!(
        count(&summary, "deferred by the rate limit"),
        290,
        "{summary}"
    );
    assert!(
        small
            .outbox()
            .list(Some(OutboxStatus::Pending))
            .unwrap()
            .is_empty()
    );
    assert_eq!(files_in(mailbox.join("small")), 2);
    assert_eq!(files_in(mailbox.join("big")), 10);
}

#[test]
fn tenants_take_turns_so_a_run_shorter_than_the_queue_reaches_each_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mailbox = dir.path().join("mailbox");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    // The first tenant's 40 messages are all older than the others'.
    tenant_with_share(&host, "first", 40, 500);
    tenant_with_share(&host, "second", 5, 500);
    tenant_with_share(&host, "third", 5, 500);
    let summary = deliver(&db, &mailbox, 9);
    assert_eq!(count(&summary, "sent"), 9, "{summary}");
    for tenant in ["first", "second", "third"] {
        assert_eq!(files_in(mailbox.join(tenant)), 3, "{tenant}");
    }
    // The next run goes on where each tenant was, and finishes the short queues.
    let summary = deliver(&db, &mailbox, 1000);
    assert_eq!(count(&summary, "sent"), 41, "{summary}");
    assert_eq!(files_in(mailbox.join("first")), 40);
}

#[test]
fn concurrent_deliverers_never_send_more_than_the_hourly_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mailbox = dir.path().join("mailbox");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    tenant_with_share(&host, "acme", 40, 5);
    tenant_with_share(&host, "globex", 12, 7);
    drop(host);

    let mailbox_arg = mailbox.to_str().unwrap();
    let deliverers: Vec<_> = (0..4)
        .map(|_| {
            cshost(
                &db,
                &[
                    "outbox",
                    "deliver",
                    "--mailbox",
                    mailbox_arg,
                    "--max",
                    "100",
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut sent = 0;
    for deliverer in deliverers {
        let output = deliverer.wait_with_output().unwrap();
        sent += count(&stdout(&output, "outbox deliver"), "sent");
    }
    assert_eq!(sent, 5 + 7);
    assert_eq!(files_in(mailbox.join("acme")), 5);
    assert_eq!(files_in(mailbox.join("globex")), 7);
    let host = Host::open(&db, HostConfig::default()).unwrap();
    let acme = host.tenant("acme").unwrap();
    assert_eq!(
        acme.outbox().list(Some(OutboxStatus::Sent)).unwrap().len(),
        5
    );
    assert_eq!(
        acme.outbox()
            .list(Some(OutboxStatus::Pending))
            .unwrap()
            .len(),
        35
    );
}

/// The import size limit of the tenants whose imports run next to other processes: their files
/// are over the default 2 MB.
const LARGE_FILES: u64 = 16 * 1024 * 1024;

/// A CSV of `rows` companies, `prefix` naming them apart.
fn companies_csv(path: &Path, prefix: &str, rows: usize) {
    let mut csv = String::from("External ID,Name,Industry\n");
    for i in 0..rows {
        csv.push_str(&format!("{prefix}-{i},{prefix} company {i},Retail\n"));
    }
    std::fs::write(path, csv).unwrap();
}

/// Runs the `cshost` commands one after another, each to its end, and returns what each
/// printed and whether it succeeded.
fn run_all(db: &Path, commands: Vec<Vec<String>>) -> Vec<(String, bool, String)> {
    commands
        .into_iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let output = cshost(db, &args).output().unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            (args.join(" "), output.status.success(), printed)
        })
        .collect()
}

/// Shares `plan` of `tenant` with each of `emails` in a share of its own; returns the links.
fn links(host: &Host, tenant: &str, plan: i64, emails: &[String]) -> Vec<String> {
    let tenant = host.tenant(tenant).unwrap();
    emails
        .iter()
        .map(|email| {
            let receipt = tenant
                .shares()
                .share(&ShareRequest::new(plan, Audience::Users, [email.as_str()]))
                .unwrap();
            receipt.links[0].link.clone()
        })
        .collect()
}

#[test]
fn imports_shares_link_opens_codes_and_company_adds_in_parallel_processes_all_succeed() {
    // Two imports (one per tenant: a tenant runs one at a time), each of a whole number of
    // batches and longer than SQLite's usual busy timeout of a few seconds, next to processes
    // that share plans, open links, ask for codes and add companies, a fixed number of each.
    const ROWS: usize = 150_000;
    const EACH: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    let mut plans = Vec::new();
    let mut users = Vec::new();
    for (id, otp) in [("acme", false), ("globex", true)] {
        host.create_tenant(id, id, TenantLevel::Both).unwrap();
        let tenant = host.tenant(id).unwrap();
        tenant.imports().set_size_limit(LARGE_FILES).unwrap();
        let mut settings = tenant.shares().settings().unwrap();
        settings.otp_required = otp;
        tenant.shares().set_settings(&settings).unwrap();
        let emails: Vec<String> = (0..EACH).map(|i| format!("u{i}@{id}.example")).collect();
        for email in &emails {
            tenant.users().add(email, email, Licence::Viewer).unwrap();
        }
        let company = tenant.companies().add(NewCompany::new("Customer")).unwrap();
        let plan = tenant
            .plans()
            .create(&NewPlan {
                company_id: company,
                name: "Plan".into(),
                ..NewPlan::default()
            })
            .unwrap();
        plans.push(plan);
        users.push(emails);
    }
    let open = links(&host, "acme", plans[0], &users[0]);
    let coded = links(&host, "globex", plans[1], &users[1]);
    drop(host);

    let import = |tenant: &str| {
        let file = dir.path().join(format!("{tenant}.csv"));
        companies_csv(&file, tenant, ROWS);
        let file = file.to_str().unwrap().to_owned();
        let args = [
            "company",
            "import",
            "--tenant",
            tenant,
            &file,
            "--batch-rows",
        ];
        let mut args: Vec<String> = args.map(String::from).into();
        args.push("2000".into());
        vec![args]
    };
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let plan = plans[0].to_string();
    let workers: Vec<Vec<Vec<String>>> = vec![
        import("acme"),
        import("globex"),
        (0..EACH)
            .map(|i| {
                let user = &users[0][i];
                strings(&[
                    "share", "create", "--tenant", "acme", "--plan", &plan, "--users", user,
                ])
            })
            .collect(),
        open.iter()
            .map(|link| strings(&["share", "open", "--tenant", "acme", link]))
            .collect(),
        coded
            .iter()
            .map(|link| strings(&["share", "otp", "--tenant", "globex", link]))
            .collect(),
        (0..EACH)
            .map(|i| {
                strings(&[
                    "company",
                    "add",
                    "--tenant",
                    "globex",
                    &format!("Added {i}"),
                ])
            })
            .collect(),
    ];
    let results: Vec<(String, bool, String)> = std::thread::scope(|scope| {
        let running: Vec<_> = workers
            .into_iter()
            .map(|commands| scope.spawn(|| run_all(&db, commands)))
            .collect();
        running
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    assert_eq!(results.len(), 2 + 4 * EACH);
    let failed: Vec<_> = results.iter().filter(|(_, ok, _)| !ok).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let locked: Vec<_> = results
        .iter()
        .filter(|(_, _, printed)| printed.contains("database is locked"))
        .collect();
    assert!(locked.is_empty(), "{locked:#?}");

    // Each import committed every row and says so.
    let host = Host::open(&db, HostConfig::default()).unwrap();
    for tenant in ["acme", "globex"] {
        let jobs = host.tenant(tenant).unwrap().imports().jobs().unwrap();
        assert_eq!(jobs.len(), 1, "{tenant}");
        assert_eq!(jobs[0].status, cs_host::JobStatus::Completed, "{tenant}");
        assert_eq!((jobs[0].rows, jobs[0].created), (ROWS as u64, ROWS as u64));
    }
    let globex = host.tenant("globex").unwrap();
    assert_eq!(
        globex.companies().page(0, 1_000_000).unwrap().len(),
        1 + ROWS + EACH
    );
}

#[test]
fn a_dry_run_reports_what_the_real_run_then_does_with_repeats_inside_the_file() {
    use cs_host::model::AccessScope;
    use cs_host::{ImportJob, ImportOptions};
    let dir = tempfile::tempdir().unwrap();
    let host = Host::open(dir.path().join("cs.db"), HostConfig::default()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let acme = host.tenant("acme").unwrap();
    let partners = "External ID,Name\nP-1,Bennett\nP-2,Carver\n";
    let options = ImportOptions::partners(Some(AccessScope::Both));
    acme.imports()
        .bytes("partners.csv", partners.as_bytes(), &options)
        .unwrap();
    let existing = "External ID,Name,Managed By\nE-1,Existing,Bennett\n";
    let companies = ImportOptions::companies();
    acme.imports()
        .bytes("existing.csv", existing.as_bytes(), &companies)
        .unwrap();

    // Names and external ids repeated inside the file (in another case, after a rename), a
    // record of the database renamed and then named again (its external id kept by a row
    // without one), and refusals: an empty name, an unknown partner, and records managed by one
    // partner asked to move to another.
    let csv = "External ID,Name,Industry,Managed By\n\
               ,Alpha,Retail,\n\
               ,ALPHA,Software,\n\
               C-1,Beta,Retail,Bennett\n\
               C-1,Beta Two,Finance,Bennett\n\
               C-1,Beta Three,Finance,Carver\n\
               E-1,Existing Renamed,,\n\
               ,existing renamed,Retail,\n\
               ,Existing,Retail,\n\
               ,,Retail,\n\
               C-2,Gamma,Retail,Nobody\n\
               E-1,Existing Again,,Carver\n\
               ,beta two,Retail,Carver\n";
    let counts = |job: &ImportJob| {
        let rows: Vec<u64> = job.errors.iter().map(|e| e.row).collect();
        (
            job.rows,
            job.created,
            job.updated,
            job.skipped,
            job.failed,
            rows,
        )
    };
    let before = acme.companies().page(0, 100).unwrap();
    let dry = acme
        .imports()
        .bytes("c.csv", csv.as_bytes(), &companies.clone().dry_run(true))
        .unwrap();
    assert_eq!(
        acme.companies().page(0, 100).unwrap(),
        before,
        "a dry run writes nothing"
    );
    assert_eq!(acme.imports().jobs().unwrap().len(), 2);
    let real = acme
        .imports()
        .bytes("c.csv", csv.as_bytes(), &companies)
        .unwrap();
    // Row 7 has no external id: the update by name keeps E-1 on the record row 6 renamed, so
    // row 11 is about that record, which Bennett manages.
    assert_eq!(counts(&real), (12, 3, 4, 0, 5, vec![5, 9, 10, 11, 12]));
    assert_eq!(counts(&dry), counts(&real));
    let reasons =
        |job: &ImportJob| -> Vec<String> { job.errors.iter().map(|e| e.reason.clone()).collect() };
    assert_eq!(reasons(&dry), reasons(&real));
}

#[test]
fn a_dry_run_neither_waits_for_nor_holds_up_an_import_and_company_adds() {
    // A dry run of one file while another file is imported into the same tenant, and another
    // tenant adds companies: all succeed, and the dry run reports the file's rows as new (the
    // other file's records are others).
    const ROWS: usize = 100_000;
    const EACH: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    for id in ["acme", "globex"] {
        host.create_tenant(id, id, TenantLevel::Both).unwrap();
        let tenant = host.tenant(id).unwrap();
        tenant.imports().set_size_limit(LARGE_FILES).unwrap();
    }
    drop(host);
    let file = |name: &str| {
        let path = dir.path().join(format!("{name}.csv"));
        companies_csv(&path, name, ROWS);
        path.to_str().unwrap().to_owned()
    };
    let (dry, real) = (file("dry"), file("real"));
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let workers: Vec<Vec<Vec<String>>> = vec![
        vec![strings(&[
            "company",
            "import",
            "--tenant",
            "acme",
            &dry,
            "--dry-run",
            "--json",
        ])],
        vec![strings(&[
            "company",
            "import",
            "--tenant",
            "acme",
            &real,
            "--batch-rows",
            "2000",
        ])],
        (0..EACH)
            .map(|i| {
                strings(&[
                    "company",
                    "add",
                    "--tenant",
                    "globex",
                    &format!("Added {i}"),
                ])
            })
            .collect(),
    ];
    let results: Vec<(String, bool, String)> = std::thread::scope(|scope| {
        let running: Vec<_> = workers
            .into_iter()
            .map(|commands| scope.spawn(|| run_all(&db, commands)))
            .collect();
        running
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    let failed: Vec<_> = results.iter().filter(|(_, ok, _)| !ok).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let job: serde_json::Value = {
        // The job on standard output, then the progress lines of standard error.
        let mut values = serde_json::Deserializer::from_str(&results[0].2).into_iter();
        values.next().unwrap().unwrap()
    };
    assert_eq!(job["dry_run"], true, "{job}");
    assert_eq!(job["created"], ROWS, "{job}");
    assert_eq!(job["rows"], ROWS, "{job}");

    let host = Host::open(&db, HostConfig::default()).unwrap();
    let acme = host.tenant("acme").unwrap();
    assert_eq!(acme.companies().page(0, 1_000_000).unwrap().len(), ROWS);
    let jobs = acme.imports().jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, cs_host::JobStatus::Completed);
    let globex = host.tenant("globex").unwrap();
    assert_eq!(globex.companies().page(0, 100).unwrap().len(), EACH);
}

#[test]
fn a_relationship_dry_run_locks_nothing_while_another_process_writes_and_reports_the_real_counts() {
    use cs_host::model::AccessScope;
    use cs_host::{FieldType, ImportJob, ImportOptions};
    const GENERATED: usize = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    for id in ["acme", "globex"] {
        host.create_tenant(id, id, TenantLevel::Both).unwrap();
    }
    let acme = host.tenant("acme").unwrap();
    acme.imports().set_size_limit(LARGE_FILES).unwrap();
    let partners = "External ID,Name\nP-1,Bennett\nP-2,Carver\n";
    acme.imports()
        .bytes(
            "partners.csv",
            partners.as_bytes(),
            &ImportOptions::partners(Some(AccessScope::Both)),
        )
        .unwrap();
    let companies = "External ID,Name\nC-1,Globex\nC-2,Initech\n";
    acme.imports()
        .bytes(
            "companies.csv",
            companies.as_bytes(),
            &ImportOptions::companies(),
        )
        .unwrap();
    acme.relationship_types().add("SaaS").unwrap();
    acme.relationship_types()
        .define_field("SaaS", "seats", FieldType::Number, false)
        .unwrap();
    let options = ImportOptions::relationships();
    let existing = "ID,Name,Company,Type,Managed By\n\
                    R-1,Existing,Globex,SaaS,Bennett\n\
                    ,Plain,Initech,SaaS,\n";
    acme.imports()
        .bytes("existing.csv", existing.as_bytes(), &options)
        .unwrap();

    // Names, external ids and natural keys repeated inside the file (in another case, after a
    // rename), an external id given to a relationship found by its natural key, and refusals:
    // the one-partner rule, an external id of another company's relationship, an unknown
    // company and partner, a value of the wrong type. Then many new relationships.
    let mut csv = String::from(
        "ID,Name,Company,Type,Seats,Managed By\n\
         ,Alpha,Globex,SaaS,1,\n\
         ,ALPHA,Globex,SaaS,2,\n\
         R-2,Beta,Globex,SaaS,3,Bennett\n\
         R-2,Beta Two,Globex,SaaS,4,Bennett\n\
         R-2,Beta Three,Globex,SaaS,5,Carver\n\
         R-1,Existing Renamed,Globex,SaaS,6,\n\
         ,existing renamed,Globex,SaaS,7,\n\
         R-1,Moved,Initech,SaaS,8,\n\
         R-3,plain,Initech,SaaS,9,\n\
         R-3,Other,Initech,SaaS,10,\n\
         R-4,Alpha,Globex,SaaS,11,\n\
         R-5,alpha,Globex,SaaS,12,\n\
         ,Gamma,Umbrella,SaaS,1,\n\
         ,Delta,Globex,SaaS,many,\n\
         R-2,Beta Two,Globex,SaaS,4,Nobody\n\
         ,Ärzte EU,Globex,SaaS,1,\n\
         ,ärzte eu,Globex,SaaS,2,\n",
    );
    for i in 0..GENERATED {
        csv.push_str(&format!("G-{i},Generated {i},Initech,SaaS,{i},Carver\n"));
    }
    let path = dir.path().join("relationships.csv");
    std::fs::write(&path, &csv).unwrap();
    let counts = |job: &ImportJob| {
        let rows: Vec<u64> = job.errors.iter().map(|e| e.row).collect();
        let reasons: Vec<String> = job.errors.iter().map(|e| e.reason.clone()).collect();
        (
            job.rows,
            job.created,
            job.updated,
            job.failed,
            rows,
            reasons,
        )
    };
    let before = acme.relationships().list(None).unwrap();

    // While the dry run runs (after its first batch), another connection takes the write lock
    // without waiting, and another process adds a company.
    let mut checked = false;
    let dry = acme
        .imports()
        .file_with_progress(
            &path,
            &options.clone().dry_run(true).batch_rows(100),
            &mut |_| {
                if checked {
                    return;
                }
                checked = true;
                let other = rusqlite::Connection::open(&db).unwrap();
                other.busy_timeout(std::time::Duration::ZERO).unwrap();
                other
                    .execute_batch("BEGIN IMMEDIATE; COMMIT;")
                    .expect("a dry run holds no lock");
                let added = cshost(&db, &["company", "add", "--tenant", "globex", "Added"])
                    .output()
                    .unwrap();
                stdout(&added, "company add during a dry run");
            },
        )
        .unwrap();
    assert!(checked);
    assert_eq!(dry.id, None);
    assert_eq!(
        acme.relationships().list(None).unwrap(),
        before,
        "a dry run writes nothing"
    );
    let globex = host.tenant("globex").unwrap();
    assert_eq!(globex.companies().page(0, 10).unwrap().len(), 1);

    let real = acme.imports().file(&path, &options).unwrap();
    let (rows, created, updated, failed, at, _) = counts(&real);
    assert_eq!(
        (rows, created, updated, failed, at),
        (
            17 + GENERATED as u64,
            4 + GENERATED as u64,
            8,
            5,
            vec![5, 8, 13, 14, 15]
        ),
        "{:?}",
        real.errors
    );
    assert_eq!(counts(&dry), counts(&real));
}

/// A database file with tenant `acme` (a customer company and a relationship type), and a CSV
/// file of `rows` rows under `header`, each made by `row`: what the import races start from.
fn acme_and_rows(
    header: &str,
    row: impl Fn(usize) -> String,
    rows: usize,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Host,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let host = Host::open(&db, support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let acme = host.tenant("acme").unwrap();
    acme.companies()
        .add(NewCompany::new("Customer of Acme"))
        .unwrap();
    acme.relationship_types().add("Subscription").unwrap();
    let csv = dir.path().join("rows.csv");
    let mut text = format!("{header}\n");
    for i in 1..=rows {
        text.push_str(&row(i));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    (dir, db, host, csv)
}

/// Imports 600 rows (`row(i)` for i in 1..=600) 100 to a transaction into `acme` of a database
/// file, while another connection, right after the first transaction commits, runs `meanwhile`:
/// it writes records that rows 300 and 400 are about. Returns the job, and the host.
fn import_while_another_connection_writes(
    header: &str,
    row: impl Fn(usize) -> String,
    options: cs_host::ImportOptions,
    meanwhile: impl FnOnce(&cs_host::Tenant<'_>),
) -> (cs_host::ImportJob, Host, tempfile::TempDir) {
    let (dir, db, host, csv) = acme_and_rows(header, row, 600);
    let acme = host.tenant("acme").unwrap();
    // Another connection: a host of its own on the same file.
    let other = Host::open(&db, support::host_config()).unwrap();
    let mut meanwhile = Some(meanwhile);
    let mut wrote_at = None;
    let job = acme
        .imports()
        .file_with_progress(&csv, &options.batch_rows(100), &mut |progress| {
            if progress.rows > 0
                && let Some(write) = meanwhile.take()
            {
                wrote_at = Some(progress.rows);
                write(&other.tenant("acme").unwrap());
            }
        })
        .unwrap();
    assert_eq!(
        wrote_at,
        Some(100),
        "the other connection wrote after the first batch"
    );
    (job, host, dir)
}

#[test]
fn a_company_another_connection_adds_mid_import_is_updated_by_the_row_about_it_never_doubled() {
    let (job, host, _dir) = import_while_another_connection_writes(
        "External ID,Name,Industry",
        |i| match i {
            // About the companies the other connection adds: by external id, and by name.
            400 => ",added by name elsewhere,Retail".to_owned(),
            _ => format!("C-{i},Company {i},Retail"),
        },
        cs_host::ImportOptions::companies(),
        |other| {
            other
                .companies()
                .add(NewCompany::new("Elsewhere").field("external_id", "C-300"))
                .unwrap();
            other
                .companies()
                .add(NewCompany::new("Added By Name Elsewhere"))
                .unwrap();
        },
    );
    assert_eq!(
        (job.rows, job.created, job.updated, job.failed),
        (600, 598, 2, 0),
        "{:?}",
        job.errors
    );
    let acme = host.tenant("acme").unwrap();
    let all = acme.companies().page(0, 10_000).unwrap();
    // The first company, the two the other connection added, the 598 the import created.
    assert_eq!(all.len(), 1 + 2 + 598);
    let c300: Vec<_> = all
        .iter()
        .filter(|c| c.fields.get("external_id") == Some(&FieldValue::from("C-300")))
        .collect();
    assert_eq!(c300.len(), 1, "{c300:?}");
    assert_eq!(c300[0].name, "Company 300");
    assert!(all.iter().any(|c| c.name == "added by name elsewhere"));
}

#[test]
fn a_relationship_another_connection_adds_mid_import_is_updated_by_the_row_about_it_never_doubled()
{
    let (job, host, _dir) = import_while_another_connection_writes(
        "External ID,Name,Company,Type",
        |i| match i {
            400 => ",added by name elsewhere,Customer of Acme,Subscription".to_owned(),
            _ => format!("R-{i},Deal {i},Customer of Acme,Subscription"),
        },
        cs_host::ImportOptions::relationships(),
        |other| {
            let company = other
                .companies()
                .get(cs_host::CompanyKey::Name("Customer of Acme"))
                .unwrap()
                .unwrap()
                .id
                .parse()
                .unwrap();
            let kind = other
                .relationship_types()
                .get("Subscription")
                .unwrap()
                .unwrap()
                .id;
            other
                .relationships()
                .add(NewRelationship::new(company, kind, "Elsewhere").field("external_id", "R-300"))
                .unwrap();
            other
                .relationships()
                .add(NewRelationship::new(
                    company,
                    kind,
                    "Added By Name Elsewhere",
                ))
                .unwrap();
        },
    );
    assert_eq!(
        (job.rows, job.created, job.updated, job.failed),
        (600, 598, 2, 0),
        "{:?}",
        job.errors
    );
    let acme = host.tenant("acme").unwrap();
    let all = acme.relationships().list(None).unwrap();
    assert_eq!(all.len(), 2 + 598);
    let r300: Vec<_> = all
        .iter()
        .filter(|r| r.fields.get("external_id") == Some(&FieldValue::from("R-300")))
        .collect();
    assert_eq!(r300.len(), 1, "{r300:?}");
    assert_eq!(r300[0].name, "Deal 300");
    assert!(all.iter().any(|r| r.name == "added by name elsewhere"));
}

/// Imports 2000 rows (`row(i)` for i in 1..=2000) 100 to a transaction into `acme` of a database
/// file (with the company `Customer of Acme` and the relationship type `Subscription`), while
/// another connection calls `add(i)` for 40 of the rows, from the end of the file backwards so
/// that its adds and the import's rows meet. Returns the job, what each add returned, and the
/// host.
fn add_while_an_import_runs(
    header: &str,
    row: impl Fn(usize) -> String,
    options: cs_host::ImportOptions,
    add: impl Fn(&cs_host::Tenant<'_>, usize) -> cs_host::Result<i64> + Send + Sync,
) -> (
    cs_host::ImportJob,
    Vec<cs_host::Result<i64>>,
    Host,
    tempfile::TempDir,
) {
    let (dir, db, host, csv) = acme_and_rows(header, row, 2000);
    let acme = host.tenant("acme").unwrap();
    let other = Host::open(&db, support::host_config()).unwrap();
    let (job, adds) = std::thread::scope(|scope| {
        let adder = scope.spawn(|| {
            let acme = other.tenant("acme").unwrap();
            (0..40)
                .map(|k| {
                    let added = add(&acme, 1951 - 50 * k);
                    std::thread::yield_now();
                    added
                })
                .collect::<Vec<_>>()
        });
        let job = acme.imports().file(&csv, &options.batch_rows(100)).unwrap();
        (job, adder.join().unwrap())
    });
    // An add either came first (the import's row then updated its record) or found the
    // import's record and was refused with a clear error; no row failed.
    let added = adds.iter().filter(|add| add.is_ok()).count() as u64;
    assert_eq!(
        (job.rows, job.created, job.updated, job.failed),
        (2000, 2000 - added, added, 0),
        "{:?}",
        job.errors
    );
    drop(acme);
    (job, adds, host, dir)
}

#[test]
fn companies_another_connection_adds_while_an_import_runs_are_updated_or_refused_never_doubled() {
    let (_, adds, host, _dir) = add_while_an_import_runs(
        "External ID,Name",
        |i| format!("C-{i},Company {i}"),
        cs_host::ImportOptions::companies(),
        |acme, i| {
            acme.companies()
                .add(NewCompany::new(format!("Added {i}")).field("external_id", format!("C-{i}")))
        },
    );
    for refused in adds.iter().filter_map(|add| add.as_ref().err()) {
        assert!(
            refused
                .to_string()
                .contains("another company has the external id `C-"),
            "{refused}"
        );
    }
    let all = host
        .tenant("acme")
        .unwrap()
        .companies()
        .page(0, 10_000)
        .unwrap();
    assert_eq!(all.len(), 1 + 2000);
    assert!(
        all.iter()
            .all(|c| c.name.starts_with("Company ") || c.name == "Customer of Acme")
    );
}

#[test]
fn relationships_another_connection_adds_while_an_import_runs_are_updated_or_refused_never_doubled()
{
    let (_, adds, host, _dir) = add_while_an_import_runs(
        "External ID,Name,Company,Type",
        |i| format!("R-{i},Deal {i},Customer of Acme,Subscription"),
        cs_host::ImportOptions::relationships(),
        |acme, i| {
            let company = acme
                .companies()
                .get(cs_host::CompanyKey::Name("Customer of Acme"))?
                .expect("the company")
                .id
                .parse()
                .expect("an id");
            let kind = acme
                .relationship_types()
                .get("Subscription")?
                .expect("the type")
                .id;
            acme.relationships().add(
                NewRelationship::new(company, kind, format!("Added {i}"))
                    .field("external_id", format!("R-{i}")),
            )
        },
    );
    for refused in adds.iter().filter_map(|add| add.as_ref().err()) {
        assert!(
            refused
                .to_string()
                .contains("another relationship has the external id `R-"),
            "{refused}"
        );
    }
    let all = host
        .tenant("acme")
        .unwrap()
        .relationships()
        .list(None)
        .unwrap();
    assert_eq!(all.len(), 2000);
    assert!(all.iter().all(|r| r.name.starts_with("Deal ")));
}

#[test]
fn a_company_or_partner_another_connection_adds_mid_import_is_found_by_the_rows_after() {
    // Row 5 names a company that does not exist yet; row 250, read after another connection
    // added it, finds it, as it would written on its own.
    let (job, host, _dir) = import_while_another_connection_writes(
        "External ID,Name,Company,Type",
        |i| {
            let company = if i == 5 || i == 250 {
                "Late Co"
            } else {
                "Customer of Acme"
            };
            format!("R-{i},Deal {i},{company},Subscription")
        },
        cs_host::ImportOptions::relationships(),
        |other| {
            other.companies().add(NewCompany::new("Late Co")).unwrap();
        },
    );
    let errors: Vec<_> = job
        .errors
        .iter()
        .map(|e| (e.row, e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        [(5, "there is no company `Late Co` (by name or external id)")]
    );
    assert_eq!((job.created, job.failed), (599, 1));
    let late = host
        .tenant("acme")
        .unwrap()
        .companies()
        .get(cs_host::CompanyKey::Name("Late Co"))
        .unwrap()
        .unwrap();
    let on_late = host
        .tenant("acme")
        .unwrap()
        .relationships()
        .list(Some(late.id.parse().unwrap()))
        .unwrap();
    assert_eq!(on_late.len(), 1, "{on_late:?}");
    assert_eq!(on_late[0].name, "Deal 250");

    // The same with a partner named in Managed By.
    let (job, _host, _dir) = import_while_another_connection_writes(
        "External ID,Name,Managed By",
        |i| {
            let partner = if i == 5 || i == 250 {
                "Late Partners"
            } else {
                ""
            };
            format!("C-{i},Company {i},{partner}")
        },
        cs_host::ImportOptions::companies(),
        |other| {
            other
                .partners()
                .add(
                    NewCompany::new("Late Partners"),
                    Some(cs_host::model::AccessScope::Both),
                )
                .unwrap();
        },
    );
    let errors: Vec<_> = job
        .errors
        .iter()
        .map(|e| (e.row, e.reason.as_str()))
        .collect();
    assert_eq!(
        errors,
        [(
            5,
            "there is no partner `Late Partners` (by name or external id)"
        )]
    );
    assert_eq!((job.created, job.failed), (599, 1));
}
