//! Writing an import's rows: look-ups of the records rows match, and new records queued and
//! inserted many to a statement.
//!
//! The statements are prepared once per import, not fetched from the connection's cache per
//! row. A new record is queued rather than inserted at once; a later row whose key (external
//! id, or name as SQLite's NOCASE folds it) may be one of the queued rows' waits for the queue to
//! be written before it is looked up, so it finds and updates that record exactly as if every
//! row had been written in turn.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::{Connection, Statement};

use crate::companies::{self, BulkInsert, EXTERNAL_ID};
use crate::error::Result;
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};
use crate::store::{Store, TenantId};

/// New records per INSERT statement: enough to spread a statement's fixed cost thin, few
/// enough that the statement stays small (14 values a row).
const ROWS_PER_INSERT: usize = 64;

/// An existing record a row matches: its id, whether it is a customer or a partner, and its
/// access scope.
pub(super) type Existing = (i64, ManagedAs, Option<AccessScope>);

/// The writing side of one import, on one connection.
pub(super) struct Writer<'c> {
    store: &'c Store,
    by_external_id: Statement<'c>,
    by_name: Statement<'c>,
    max_id: Statement<'c>,
    bulk: BulkInsert<'c>,
    /// The id the next new record gets.
    next_id: i64,
    /// Hashes of the queued records' keys. A hit may be a collision, which only costs an early
    /// write of the queue. The keys are hashes already: the set does not hash them again.
    queued_keys: HashSet<u64, BuildHasherDefault<AsIs>>,
}

impl<'c> Writer<'c> {
    /// Prepares the statements for `tenant`'s import, whose records are stamped `now`.
    pub(super) fn new(
        conn: &'c Connection,
        store: &'c Store,
        tenant: &TenantId,
        now: i64,
    ) -> Result<Writer<'c>> {
        let prepare = |sql: &str, bind_tenant: bool| {
            conn.prepare(sql)
                .and_then(|mut statement| {
                    if bind_tenant {
                        statement.raw_bind_parameter(1, tenant.as_str())?;
                    }
                    Ok(statement)
                })
                .map_err(|e| store.error(e))
        };
        Ok(Writer {
            store,
            by_external_id: prepare(
                "SELECT id, managed_as, access_scope FROM companies
                 WHERE tenant_id = ?1 AND external_id = ?2",
                true,
            )?,
            by_name: prepare(
                "SELECT id, managed_as, access_scope FROM companies
                 WHERE tenant_id = ?1 AND name = ?2 COLLATE NOCASE ORDER BY id LIMIT 1",
                true,
            )?,
            max_id: prepare("SELECT coalesce(max(id), 0) FROM companies", false)?,
            bulk: BulkInsert::new(conn, store, tenant, now, ROWS_PER_INSERT)?,
            next_id: 0,
            queued_keys: HashSet::default(),
        })
    }

    /// Starts a transaction's worth of rows: new records take ids from the highest one in use
    /// on, as SQLite would give them. Called inside the transaction, which holds the database's
    /// write lock (or, in a dry run, reads one snapshot).
    pub(super) fn begin(&mut self) -> Result<()> {
        let max: i64 = self
            .max_id
            .query_row([], |r| r.get(0))
            .map_err(|e| self.store.error(e))?;
        self.next_id = max + 1;
        Ok(())
    }

    /// The existing record a row matches: by external id when the row has one, else by name
    /// (ignoring case, the oldest first). Only meaningful when
    /// [`may_be_queued`](Self::may_be_queued) said no, or the queue was written since.
    pub(super) fn lookup(
        &mut self,
        external_id: Option<&str>,
        name: &str,
    ) -> Result<Option<Existing>> {
        let read = |r: &rusqlite::Row<'_>| {
            let managed_as = match r.get_ref(1)?.as_str()? {
                "partner" => ManagedAs::Partner,
                _ => ManagedAs::Customer,
            };
            let scope = match r.get_ref(2)?.as_str_or_null()? {
                Some(scope) => companies::parse_scope(scope),
                None => None,
            };
            Ok((r.get::<_, i64>(0)?, managed_as, scope))
        };
        let (statement, key) = match external_id {
            Some(external_id) => (&mut self.by_external_id, external_id),
            None => (&mut self.by_name, name.trim()),
        };
        let found = statement.raw_bind_parameter(2, key).and_then(|()| {
            // Dropping the rows resets the statement, so it holds no read open.
            let mut rows = statement.raw_query();
            match rows.next()? {
                Some(row) => read(row).map(Some),
                None => Ok(None),
            }
        });
        found.map_err(|e| self.store.error(e))
    }

    /// Whether a row with this key may match a queued record (then write the queue first).
    pub(super) fn may_be_queued(&self, external_id: Option<&str>, name: &str) -> bool {
        !self.queued_keys.is_empty()
            && self
                .queued_keys
                .contains(&self.key_hash(external_id, name.trim()))
    }

    /// Queues a new record and returns the id it will have. Its values are moved out of
    /// `fields`.
    pub(super) fn queue(
        &mut self,
        name: String,
        managed_as: ManagedAs,
        managed_by: Option<i64>,
        scope: Option<AccessScope>,
        fields: &mut Fields,
    ) -> i64 {
        let external_id = fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        if let Some(external_id) = external_id {
            let hash = self.key_hash(Some(external_id), "");
            self.queued_keys.insert(hash);
        }
        // A later row without an external id matches this record by name, whatever its own.
        let hash = self.key_hash(None, name.trim());
        self.queued_keys.insert(hash);
        let id = self.next_id;
        self.next_id += 1;
        self.bulk
            .push(id, name, managed_as, managed_by, scope, fields);
        id
    }

    /// Whether a statement's worth of records is queued.
    pub(super) fn is_full(&self) -> bool {
        self.bulk.is_full()
    }

    /// Whether nothing is queued.
    pub(super) fn is_empty(&self) -> bool {
        self.bulk.len() == 0
    }

    /// Writes the queued records; see [`BulkInsert::flush`].
    pub(super) fn flush(&mut self, written: &mut Vec<Result<()>>) -> Result<()> {
        self.queued_keys.clear();
        self.bulk.flush(written)
    }

    /// The hash of a look-up key: an external id as it is, a name folded the way SQLite's NOCASE
    /// compares (ASCII letters only).
    ///
    /// FNV-1a: quick on short keys, and nothing is lost to a collision but an early write, so
    /// no defence against chosen collisions is needed.
    fn key_hash(&self, external_id: Option<&str>, name: &str) -> u64 {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let (mut hash, bytes, fold) = match external_id {
            Some(external_id) => (0xcbf2_9ce4_8422_2325u64, external_id.as_bytes(), false),
            // Another start keeps a name from meeting an external id of the same text.
            None => (0x8422_2325_cbf2_9ce4u64, name.as_bytes(), true),
        };
        for &b in bytes {
            let b = if fold { b.to_ascii_lowercase() } else { b };
            hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
        }
        hash
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
