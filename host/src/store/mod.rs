//! The SQLite store: one database file for many tenants, its schema and migrations, and the
//! connections the repositories of the other modules use.
//!
//! Nothing outside the crate sees SQL. Every tenant-owned table carries `tenant_id`, and the
//! repositories take a [`TenantId`], so a query cannot forget its tenant.

mod requests;
mod secrets;

pub(crate) use secrets::{Sealed, SecretKey, SecretKind};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, ErrorKind, Result};

/// The schema, one append-only step per file. A released step is never edited: changes go in a
/// new file at the end.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_core", include_str!("migrations/0001_core.sql")),
    ("0002_plugins", include_str!("migrations/0002_plugins.sql")),
    ("0003_sharing", include_str!("migrations/0003_sharing.sql")),
    (
        "0004_partners_import",
        include_str!("migrations/0004_partners_import.sql"),
    ),
    (
        "0005_pending_hooks",
        include_str!("migrations/0005_pending_hooks.sql"),
    ),
    (
        "0006_plugin_egress",
        include_str!("migrations/0006_plugin_egress.sql"),
    ),
    (
        "0007_relationships",
        include_str!("migrations/0007_relationships.sql"),
    ),
    (
        "0008_outbox_queue",
        include_str!("migrations/0008_outbox_queue.sql"),
    ),
    (
        "0009_shared_plan_updates",
        include_str!("migrations/0009_shared_plan_updates.sql"),
    ),
    (
        "0010_import_cancelled",
        include_str!("migrations/0010_import_cancelled.sql"),
    ),
    (
        "0011_cta_cockpit",
        include_str!("migrations/0011_cta_cockpit.sql"),
    ),
    ("0012_access", include_str!("migrations/0012_access.sql")),
    (
        "0013_import_relationships",
        include_str!("migrations/0013_import_relationships.sql"),
    ),
    (
        "0014_sealed_secrets",
        include_str!("migrations/0014_sealed_secrets.sql"),
    ),
    (
        "0015_share_notify_resume",
        include_str!("migrations/0015_share_notify_resume.sql"),
    ),
    (
        "0016_folded_names",
        include_str!("migrations/0016_folded_names.sql"),
    ),
    (
        "0017_partner_id_relationship",
        include_str!("migrations/0017_partner_id_relationship.sql"),
    ),
    (
        "0018_folded_relationship_names",
        include_str!("migrations/0018_folded_relationship_names.sql"),
    ),
    (
        "0019_console_sessions",
        include_str!("migrations/0019_console_sessions.sql"),
    ),
    (
        "0020_company_insert_speed",
        include_str!("migrations/0020_company_insert_speed.sql"),
    ),
];

/// How many idle connections the pool keeps. A connection given back over this is closed, and
/// the next operation to find the pool empty opens a new one, which costs far more than the
/// operation itself (the file, the WAL switch, the schema parsed again, every cached statement
/// prepared again). A server runs one operation per request in flight on its blocking threads,
/// with a plugin's look-ups besides, so the pool keeps enough for a few dozen at once.
const IDLE_CONNECTIONS: usize = 32;

/// How many prepared statements each connection keeps for reuse (`prepare_cached`). rusqlite's
/// default, 16, is fewer than the distinct statements of one share of a plan (some 30: the
/// principal, the plan, the recipients, the share, the outbox, the pending markers), so the
/// least recently used were evicted and parsed again on every share: measured, 34 of a share's
/// 72 statements were prepared anew each time. The library has some 160 cached statements; a
/// connection keeps room for all of them.
const STATEMENT_CACHE: usize = 256;

/// The id of a tenant, such as `acme`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct TenantId(String);

impl TenantId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn new(id: impl Into<String>) -> TenantId {
        TenantId(id.into())
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The database: a file (or a private in-memory database) and a small pool of connections.
///
/// A connection is taken per operation and given back after, so a plugin's look-up can read the
/// database while the operation that called the plugin holds its own connection.
pub(crate) struct Store {
    location: Location,
    idle: Mutex<Vec<Connection>>,
    /// The server's secret key, loaded (or created) on first use.
    key: OnceLock<SecretKey>,
}

enum Location {
    File(PathBuf),
    /// A shared-cache in-memory database, alive while one connection to it is open.
    Memory(String),
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub(crate) fn open(path: &Path) -> Result<Store> {
        Store::start(Location::File(path.to_owned()))
    }

    /// A fresh, private in-memory database, for tests and trials.
    pub(crate) fn open_in_memory() -> Result<Store> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "file:cs-host-{}-{}?mode=memory&cache=shared",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Store::start(Location::Memory(name))
    }

    fn start(location: Location) -> Result<Store> {
        let store = Store {
            location,
            idle: Mutex::new(Vec::new()),
            key: OnceLock::new(),
        };
        let mut conn = store.connect()?;
        migrate(&mut conn, &store)?;
        store.put_back(conn);
        Ok(store)
    }

    /// Claims `activity` (such as `import`) for `tenant` across every process on the database:
    /// `None` while another holds it. The claim lasts while the returned value lives, and the
    /// operating system releases a file's lock when its process ends, however it ends, so a
    /// killed process never leaves a claim behind.
    pub(crate) fn claim(&self, tenant: &TenantId, activity: &str) -> Result<Option<Claim>> {
        let name = format!("{tenant}.{activity}");
        match &self.location {
            Location::File(path) => {
                let dir = locks_dir(path);
                let io_error = |source| {
                    Error::new(ErrorKind::Io {
                        path: dir.clone(),
                        source,
                    })
                };
                std::fs::create_dir_all(&dir).map_err(io_error)?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(dir.join(format!("{name}.lock")))
                    .map_err(io_error)?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Claim::File(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(source)) => Err(io_error(source)),
                }
            }
            Location::Memory(uri) => {
                let key = format!("{uri}/{name}");
                let mut held = MEMORY_CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
                Ok(held.insert(key.clone()).then(|| Claim::Memory(key)))
            }
        }
    }

    /// The server's secret key (see the `secrets` module): from `<database>.key`, created on
    /// first use; for an in-memory database, a random key of its own.
    pub(crate) fn key(&self) -> Result<&SecretKey> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let key = match &self.location {
            Location::File(path) => SecretKey::load_or_create(&secrets::key_path(path))?,
            Location::Memory(_) => SecretKey::random()?,
        };
        // Another thread may have set it first: both read the same file, so either will do.
        Ok(self.key.get_or_init(|| key))
    }

    /// Where the database lives, for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.location {
            Location::File(path) => path.display().to_string(),
            Location::Memory(_) => ":memory:".to_owned(),
        }
    }

    fn connect(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = match &self.location {
            // A file's name is taken literally: `file:x.db?mode=memory` is a file of that name,
            // never a URI that could make the database vanish or open something else. SQLite
            // (as built here) reads any name starting with `file:` as a URI, so a relative name
            // is opened as `./name`.
            Location::File(path) if path.is_relative() => {
                Connection::open_with_flags(Path::new(".").join(path), flags)
            }
            Location::File(path) => Connection::open_with_flags(path, flags),
            Location::Memory(uri) => {
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
            }
        }
        .map_err(|e| self.error(e))?;
        // Per connection, never in a migration: these do not persist in the file.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;",
        )
        .map_err(|e| self.error(e))?;
        // SQLite lets some plans depend on a bound value (whether a key is 0 or 1, a LIKE
        // pattern, a partial index's condition) and marks such a statement to be parsed and
        // planned again once its bindings are cleared, which the statement cache does on every
        // return: every look-up of an import row was planned anew. Plans are fixed when prepared.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(|e| self.error(e))?;
        register_functions(&conn).map_err(|e| self.error(e))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.busy_handler(Some(wait_for_turn))
            .map_err(|e| self.error(e))?;
        if matches!(self.location, Location::File(_)) {
            use_wal(&conn).map_err(|e| self.error(e))?;
        }
        Ok(conn)
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }

    /// Runs `work` on a connection of the pool.
    pub(crate) fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = work(&conn);
        self.put_back(conn);
        result.map_err(|e| e.in_database(|| self.describe()))
    }

    /// Runs `work` in an immediate transaction (it takes the write lock up front, so it never
    /// fails half-way for want of it), committing when `work` succeeds and rolling back when it
    /// fails.
    pub(crate) fn write<T>(&self, work: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match conn {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = (|| -> Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        self.put_back(conn);
        result.map_err(|e| e.in_database(|| self.describe()))
    }

    /// A database error of the store's own work (connecting, migrating), naming the database.
    fn error(&self, source: rusqlite::Error) -> Error {
        Error::new(ErrorKind::Database {
            database: self.describe(),
            source,
        })
    }
}

/// Runs `body` with `conn`'s temporary files in memory (`PRAGMA temp_store = MEMORY`), then puts
/// the connection's own setting back, so a pooled connection leaves as it came. Statement
/// journals are such files: a bulk writer whose statements each change more than 64 KiB of pages
/// writes them to memory instead of to a file. The setting applies from the next transaction on.
pub(crate) fn with_temp_store_in_memory<T>(
    conn: &Connection,
    body: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let own: i64 = conn.pragma_query_value(None, "temp_store", |r| r.get(0))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let result = body();
    let restored = conn.pragma_update(None, "temp_store", own);
    result.and_then(|value| restored.map(|()| value).map_err(Error::from))
}

/// `error` from writing a record with unique key `key`: SQLite's refusal by the unique index on
/// `column` (`table.column`, as SQLite names it) becomes `taken(key)`, the owning module's error
/// naming the field; any other error, or a row without a key, stays as it is.
pub(crate) fn key_taken_or(
    error: rusqlite::Error,
    column: &str,
    key: Option<&str>,
    taken: impl FnOnce(&str) -> Error,
) -> Error {
    let unique = matches!(&error, rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains(column));
    match (unique, key) {
        (true, Some(key)) => taken(key),
        _ => Error::from(error),
    }
}

/// What a multi-row `INSERT … RETURNING id` of `rows` rows did: `Ok(true)` when every row went
/// in (their ids appended to `written` in the rows' order), `Ok(false)` when a row broke a rule
/// and SQLite rolled the statement back (the caller writes the rows one by one to find which),
/// an error for any other trouble.
pub(crate) fn settle_many(
    result: rusqlite::Result<()>,
    rows: usize,
    ids: &mut Vec<i64>,
    written: &mut Vec<Result<i64>>,
) -> Result<bool> {
    match result {
        Ok(()) if ids.len() == rows => {
            // The rows went in in the order of the statement's values, each with the next id,
            // while RETURNING may give the ids in any order: sorted, they are the rows' ids in
            // order.
            ids.sort_unstable();
            written.extend(ids.drain(..).map(Ok));
            Ok(true)
        }
        Ok(()) => Err(Error::from(rusqlite::Error::StatementChangedRows(
            ids.len(),
        ))),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// The SQL functions of the schema, on every connection: `cs_fold(text)`, a name folded for
/// comparing ignoring case in every script ([`crate::names::fold_case`]); the migration that
/// added the folded names fills them with it, and writes keep them up to date with it.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "cs_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(ctx
                .get_raw(0)
                .as_str_or_null()
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?
                .map(crate::names::fold_case))
        },
    )
}

/// The directory beside a database file where claims and requests between processes live.
fn locks_dir(database: &Path) -> PathBuf {
    let mut dir = database.as_os_str().to_owned();
    dir.push(".locks");
    PathBuf::from(dir)
}

/// The claims held on in-memory databases (one process only).
static MEMORY_CLAIMS: Mutex<std::collections::BTreeSet<String>> =
    Mutex::new(std::collections::BTreeSet::new());

/// A tenant's claim on an activity; see [`Store::claim`]. Released when dropped.
pub(crate) enum Claim {
    /// A lock on a file beside the database.
    File(#[allow(dead_code, reason = "held for its lock")] std::fs::File),
    /// An entry in [`MEMORY_CLAIMS`].
    Memory(String),
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Claim::Memory(key) = self {
            MEMORY_CLAIMS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
        }
    }
}

/// How long opening a connection waits for the other connections to let it switch a new file to
/// WAL.
const WAL_SWITCH_WAIT: Duration = Duration::from_secs(5);

/// How long a statement waits for its turn at the database (the write lock, in practice) before
/// it fails with "database is locked". Every writer holds the lock for a short while only: the
/// longest, an import, commits in slices of at most [`LONGEST_WRITE`] and pauses between them, so
/// a writer that waits this long is facing something other than this program's writers (a
/// stuck process holding a transaction open, another program).
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(120);

/// The longest this program's writers hold the write lock at a time: an import commits its
/// slice of rows once it has held the lock this long, and every other write is far shorter.
pub(crate) const LONGEST_WRITE: Duration = Duration::from_millis(500);

/// The pause between two slices of a long writer (an import), in which the writers waiting for
/// the lock (who try again at least every [`RETRY_AT_MOST`]) take their turn: a slice started at
/// once after the last would win the lock again and again, and starve them.
pub(crate) fn pause_after(slice: Duration) -> Duration {
    (slice / 20).clamp(RETRY_AT_MOST + RETRY_AT_MOST / 2, Duration::from_millis(25))
}

/// The longest a waiting statement sleeps between two tries for the lock.
const RETRY_AT_MOST: Duration = Duration::from_millis(2);

/// SQLite's busy handler on every connection: called with the number of tries so far each time
/// the database is busy, it sleeps a little and says to try again, until [`LOCK_WAIT`] has passed
/// since the first try.
///
/// SQLite's own busy timeout sleeps up to 100 ms between tries, while an import gives the lock
/// up for a few milliseconds between two slices: a writer would wait through the whole import,
/// and fail once it took longer than the timeout. Short sleeps, uneven so that waiting processes
/// do not try in step, catch those pauses.
fn wait_for_turn(tries: i32) -> bool {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        /// When the current wait began (a connection runs on one thread at a time).
        static SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let since = match SINCE.get() {
        Some(since) if tries > 0 => since,
        _ => {
            SINCE.set(Some(now));
            now
        }
    };
    if now.duration_since(since) >= LOCK_WAIT {
        return false;
    }
    let most = if tries < 4 {
        RETRY_AT_MOST / 4
    } else {
        RETRY_AT_MOST
    };
    // A random fraction of `most`, from the standard library's per-process random keys.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let micros = most.as_micros() as u64;
    std::thread::sleep(Duration::from_micros(
        micros / 4 + random % (micros * 3 / 4 + 1),
    ));
    true
}

/// Puts the database in WAL mode (a property of the file, kept once set).
///
/// On a new file, still in rollback-journal mode, two connections switching at once both hold a
/// shared lock and both want the exclusive one; SQLite answers one of them "database is locked"
/// at once, without waiting (it would be a deadlock), so the switch is tried again here until
/// the other connection has made it.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let started = Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < WAL_SWITCH_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Brings the schema up to date: applies the migrations the database has not seen yet, in one
/// immediate transaction. The database's `user_version` counts the applied steps.
///
/// The version is read again inside the transaction, which holds the write lock: of several
/// processes opening a new file at the same moment, one migrates while the others wait their
/// turn (the busy timeout), then find nothing left to do. A database stamped with more steps
/// than this code knows was written by a newer cs-host and is refused untouched.
fn migrate(conn: &mut Connection, store: &Store) -> Result<()> {
    let version = |conn: &Connection| -> rusqlite::Result<i64> {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
    };
    let too_new = |version: i64| {
        Error::new(ErrorKind::SchemaTooNew {
            database: store.describe(),
            version,
            supported: MIGRATIONS.len() as i64,
        })
    };
    let known = MIGRATIONS.len() as i64;
    let applied = version(conn).map_err(|e| store.error(e))?;
    if applied == known {
        return Ok(());
    }
    if applied > known {
        return Err(too_new(applied));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| store.error(e))?;
    let applied = version(&tx).map_err(|e| store.error(e))?;
    if applied > known {
        return Err(too_new(applied));
    }
    for (_name, sql) in MIGRATIONS.iter().skip(applied as usize) {
        tx.execute_batch(sql).map_err(|e| store.error(e))?;
    }
    tx.pragma_update(None, "user_version", known)
        .and_then(|()| tx.commit())
        .map_err(|e| store.error(e))
}

/// Unix seconds for a [`std::time::SystemTime`].
pub(crate) fn unix_seconds(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(elapsed) => elapsed.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_by_their_place_in_the_list() {
        // `user_version` counts applied steps, so a step's number must be its position.
        for (index, (name, _)) in MIGRATIONS.iter().enumerate() {
            let number = format!("{:04}_", index + 1);
            assert!(
                name.starts_with(&number),
                "{name} should start with {number}"
            );
        }
    }

    #[test]
    fn a_bulk_write_that_fails_gives_its_connection_back_with_its_own_temp_store() {
        // A pooled connection serves the next caller as it came, whether the import on it
        // finished or was refused halfway.
        let conn = Connection::open_in_memory().unwrap();
        let temp_store = || -> i64 {
            conn.pragma_query_value(None, "temp_store", |r| r.get(0))
                .unwrap()
        };
        conn.pragma_update(None, "temp_store", "FILE").unwrap();
        let refused: Result<()> = with_temp_store_in_memory(&conn, || {
            assert_eq!(temp_store(), 2, "MEMORY while the body runs");
            Err(Error::new(ErrorKind::Invalid("a row was refused".into())))
        });
        assert!(refused.is_err());
        assert_eq!(temp_store(), 1, "FILE again after a failure");
        let done = with_temp_store_in_memory(&conn, || Ok(7)).unwrap();
        assert_eq!((done, temp_store()), (7, 1));
    }

    #[test]
    fn migrations_apply_to_an_empty_database_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cs.db");
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .with(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .map_err(|e| store.error(e))
            })
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        drop(store);
        // Reopening applies nothing twice (a second CREATE TABLE would fail).
        Store::open(&path).unwrap();
    }

    /// Every foreign key of the schema that does not point at a real key: a missing table, a
    /// missing column, or columns that are neither the primary key nor a unique index (SQLite
    /// accepts such a schema and fails only when a row is written).
    fn foreign_key_problems(conn: &Connection) -> Vec<String> {
        // The first column of each row of `sql` run with `arg`, sorted.
        let names = |sql: &str, arg: &str| -> Vec<String> {
            let mut names: Vec<String> = conn
                .prepare(sql)
                .and_then(|mut s| s.query_map([arg], |r| r.get(0))?.collect())
                .unwrap();
            names.sort();
            names
        };
        let tables = names(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT GLOB ?1",
            "sqlite_*",
        );
        // The primary key and each unique index of a table, as sorted column lists.
        let keys = |table: &str| -> Vec<Vec<String>> {
            let mut keys = vec![names(
                "SELECT name FROM pragma_table_info(?1) WHERE pk > 0",
                table,
            )];
            for index in names(
                "SELECT name FROM pragma_index_list(?1) WHERE \"unique\"",
                table,
            ) {
                keys.push(names("SELECT name FROM pragma_index_info(?1)", &index));
            }
            keys
        };
        let mut problems = Vec::new();
        for table in &tables {
            // Each foreign key: its parent table and the parent columns (none named: the key).
            let mut foreign_keys = std::collections::BTreeMap::<i64, (String, Vec<String>)>::new();
            conn.prepare(
                "SELECT id, \"table\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )
            .and_then(|mut s| {
                let rows = s.query_map([table], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?))
                })?;
                for row in rows {
                    let (id, parent, to) = row?;
                    let entry = foreign_keys.entry(id).or_insert((parent, Vec::new()));
                    entry.1.extend(to);
                }
                Ok(())
            })
            .unwrap();
            for (parent, mut to) in foreign_keys.into_values() {
                if !tables.iter().any(|t| t.eq_ignore_ascii_case(&parent)) {
                    problems.push(format!("{table} references missing table {parent}"));
                    continue;
                }
                let keys = keys(&parent);
                if to.is_empty() {
                    to = keys[0].clone();
                }
                to.sort();
                if to.is_empty() || !keys.contains(&to) {
                    problems.push(format!(
                        "{table} references {parent}({}), which is no key of it",
                        to.join(", ")
                    ));
                }
            }
        }
        problems.sort();
        problems
    }

    #[test]
    fn cached_statements_are_not_planned_again_for_each_new_value() {
        use rusqlite::OptionalExtension;
        // SQLite may let a plan depend on a bound value (here `t.tenant_id = ?1`, carried over
        // the join to a table read by its key, is weighed by whether it is 0 or 1); such a
        // statement is parsed and planned again on its next use whenever its bindings are
        // cleared, which the statement cache does on every return. Imports run look-ups like
        // this one (a relationship by external id, with its type) once per row.
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                let sql = "SELECT r.id, t.name FROM relationships r
                           JOIN relationship_types t ON t.tenant_id = r.tenant_id AND t.id = r.type_id
                           WHERE r.tenant_id = ?1 AND r.external_id = ?2";
                for n in 0..4 {
                    let mut statement = c.prepare_cached(sql)?;
                    let found: Option<i64> = statement
                        .query_row(rusqlite::params!["acme", format!("R-{n}")], |r| r.get(0))
                        .optional()?;
                    assert_eq!(found, None);
                    let planned_again =
                        statement.get_status(rusqlite::StatementStatus::RePrepare);
                    assert_eq!(planned_again, 0, "planned again at use {n}");
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn every_foreign_key_of_the_schema_points_at_a_real_key() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                let problems = foreign_key_problems(c);
                assert!(problems.is_empty(), "{problems:#?}");
                // The tables do hold foreign keys: the check above had something to check.
                let count: i64 = c
                    .query_row(
                        "SELECT count(*) FROM sqlite_schema s, pragma_foreign_key_list(s.name)
                         WHERE s.type = 'table'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(|e| store.error(e))?;
                assert!(count > 10, "{count}");
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn the_foreign_key_check_finds_keys_that_point_nowhere() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY, code TEXT, tag TEXT UNIQUE);
             CREATE TABLE children (
                 id INTEGER PRIMARY KEY,
                 gone INTEGER REFERENCES missing (id),
                 loose TEXT REFERENCES parents (code),
                 good INTEGER REFERENCES parents (id),
                 tagged TEXT REFERENCES parents (tag),
                 implicit INTEGER REFERENCES parents
             );",
        )
        .unwrap();
        assert_eq!(
            foreign_key_problems(&conn),
            [
                "children references missing table missing",
                "children references parents(code), which is no key of it",
            ]
        );
    }

    #[test]
    fn a_claim_is_held_once_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let file = Store::open(&dir.path().join("cs.db")).unwrap();
        let memory = Store::open_in_memory().unwrap();
        let acme = TenantId::new("acme");
        let globex = TenantId::new("globex");
        for store in [&file, &memory] {
            let first = store.claim(&acme, "import").unwrap();
            assert!(first.is_some());
            assert!(store.claim(&acme, "import").unwrap().is_none());
            assert!(store.claim(&globex, "import").unwrap().is_some());
            drop(first);
            assert!(store.claim(&acme, "import").unwrap().is_some());
        }
    }

    #[test]
    fn a_database_newer_than_the_code_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cs.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);

        let error = Store::open(&path).err().expect("a newer schema is refused");
        assert!(
            matches!(error.kind(), ErrorKind::SchemaTooNew { version: 99, .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.contains("cs.db") && message.contains("99"),
            "{message}"
        );
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 99);
    }

    #[test]
    fn threads_opening_a_new_file_at_once_all_succeed() {
        // Each open is a connection of its own, as each process's would be.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cs.db");
        let barrier = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        Store::open(&path).map(drop)
                    })
                })
                .collect();
            for open in opens {
                open.join().unwrap().unwrap();
            }
        });
    }

    #[test]
    fn a_row_cannot_point_at_another_tenants_row() {
        let store = Store::open_in_memory().unwrap();
        let result = store.write(|tx| {
            tx.execute_batch(
                "INSERT INTO tenants VALUES ('a', 'A', 'both', 0), ('b', 'B', 'both', 0);
                 INSERT INTO companies (id, tenant_id, name, managed_as, access_scope,
                                        created_at, updated_at)
                     VALUES (1, 'a', 'Partner of A', 'partner', 'both', 0, 0);
                 INSERT INTO companies (id, tenant_id, name, managed_by, created_at, updated_at)
                     VALUES (2, 'b', 'Customer of B', 1, 0, 0);",
            )
            .map_err(|e| store.error(e))
        });
        let error = result.unwrap_err().to_string();
        assert!(error.contains("FOREIGN KEY"), "{error}");
    }

    #[test]
    fn partner_users_always_hold_a_full_licence() {
        let store = Store::open_in_memory().unwrap();
        let result = store.write(|tx| {
            tx.execute_batch(
                "INSERT INTO tenants VALUES ('a', 'A', 'both', 0);
                 INSERT INTO companies (id, tenant_id, name, managed_as, access_scope,
                                        created_at, updated_at)
                     VALUES (1, 'a', 'Partner', 'partner', 'both', 0, 0);
                 INSERT INTO users (tenant_id, email, name, licence, is_partner, partner_id,
                                    created_at)
                     VALUES ('a', 'p@partner.example', 'P', 'viewer', 1, 1, 0);",
            )
            .map_err(|e| store.error(e))
        });
        assert!(result.unwrap_err().to_string().contains("CHECK"));
    }
}
