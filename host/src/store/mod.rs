//! The SQLite store: one database file for many tenants, its schema and migrations, and the
//! connections the repositories of the other modules use.
//!
//! Nothing outside the crate sees SQL. Every tenant-owned table carries `tenant_id`, and the
//! repositories take a [`TenantId`], so a query cannot forget its tenant.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

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
];

/// How many idle connections the pool keeps.
const IDLE_CONNECTIONS: usize = 4;

/// The id of a tenant, such as `acme`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
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
        };
        let mut conn = store.connect()?;
        migrate(&mut conn).map_err(|e| Error::from(e).in_database(|| store.describe()))?;
        store.put_back(conn);
        Ok(store)
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
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = || -> rusqlite::Result<Connection> {
            let conn = match &self.location {
                Location::File(path) => Connection::open_with_flags(path, flags),
                Location::Memory(uri) => Connection::open_with_flags(uri, flags),
            }?;
            // Per connection, never in a migration: these do not persist in the file.
            conn.execute_batch(
                "PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA synchronous = NORMAL;",
            )?;
            if matches!(self.location, Location::File(_)) {
                conn.pragma_update(None, "journal_mode", "WAL")?;
            }
            Ok(conn)
        };
        open().map_err(|e| Error::from(e).in_database(|| self.describe()))
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
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        self.put_back(conn);
        result
    }
}

/// Applies the migrations the database has not seen yet, each in its own transaction. The
/// database's `user_version` counts the applied steps.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
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
    fn migrations_apply_to_an_empty_database_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cs.db");
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .with(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .map_err(Error::from)
            })
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        drop(store);
        // Reopening applies nothing twice (a second CREATE TABLE would fail).
        Store::open(&path).unwrap();
    }

    #[test]
    fn every_migration_is_valid_sql_with_foreign_keys_that_resolve() {
        let store = Store::open_in_memory().unwrap();
        store
            .with(|c| {
                let broken: Vec<String> = c
                    .prepare("PRAGMA foreign_key_check")
                    .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())?;
                assert!(broken.is_empty(), "{broken:?}");
                Ok(())
            })
            .unwrap();
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
            .map_err(Error::from)
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
            .map_err(Error::from)
        });
        assert!(result.unwrap_err().to_string().contains("CHECK"));
    }
}
