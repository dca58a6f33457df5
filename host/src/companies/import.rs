//! The companies side of an import: look-ups of the records rows match, and new records
//! queued and inserted many to a statement.
//!
//! The statements are prepared once per import, not fetched from the connection's cache per
//! row. A new record is queued rather than inserted at once; a later row whose key (external
//! id, or name case-folded) may be one of the queued rows' waits for the queue to
//! be written before it is looked up, so it finds and updates that record exactly as if every
//! row had been written in turn.
//!
//! Most rows of a first import match nothing. A filter of the keys the tenant's records have
//! (read at the start, for tenants of up to 200,000 companies, and kept up to date with the
//! import's own writes) spares those rows the look-up; a key the filter may hold is looked up
//! as before. If another connection changes the database between two batches, the filter is
//! dropped and every row is looked up.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::{Connection, Statement};

use super::{BulkInsert, EXTERNAL_ID, parse_scope};
use crate::context::Op;
use crate::error::{Error, Result};
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};
use crate::names::{fold_case, fold_case_into};
use crate::store::TenantId;

/// New records per INSERT statement: enough to spread a statement's fixed cost thin, few
/// enough that the statement stays small (14 values a row).
const ROWS_PER_INSERT: usize = 64;

/// Bits of the filter of the tenant's keys (4 MB, whatever the file's size): for a million rows
/// (two keys each) about one row in 200 is looked up for nothing.
const FILTER_BITS: usize = 1 << 25;

/// A tenant with more companies than this gets no filter: reading all their keys would cost
/// more than it saves on look-ups.
const FILTER_MAX_COMPANIES: i64 = 200_000;

/// An existing record a row matches: its id, whether it is a customer or a partner, and its
/// access scope.
pub(crate) type Existing = (i64, ManagedAs, Option<AccessScope>);

/// The writing side of one import, on one connection.
pub(crate) struct Writer<'c> {
    by_external_id: Statement<'c>,
    by_name: Statement<'c>,
    bulk: BulkInsert<'c>,
    /// Hashes of the queued records' keys. A hit may be a collision, which only costs an early
    /// write of the queue. The keys are hashes already: the set does not hash them again.
    queued_keys: HashSet<u64, BuildHasherDefault<AsIs>>,
    /// Which keys the tenant's records may have (a Bloom filter): a row whose key is not in it
    /// matches no record, and is not looked up. `None` when there is none, or once another
    /// connection has changed the database during the import.
    filter: Option<Vec<u64>>,
    tenant: TenantId,
    conn: &'c Connection,
    /// `PRAGMA data_version` when the filter was last known to be complete: other connections'
    /// commits change it, this one's do not.
    data_version: i64,
    begun: bool,
    /// The name of the row at hand, folded (a buffer kept from row to row): a row's look-up,
    /// its check against the queue and its insert fold its name once.
    folded: String,
    /// The trimmed name `folded` was folded from.
    folded_from: String,
}

impl<'c> Writer<'c> {
    /// Prepares the statements for the operation's import, whose records it stamps with its
    /// time.
    pub(crate) fn new(op: &Op<'c>) -> Result<Writer<'c>> {
        let Op { conn, tenant, .. } = *op;
        // A partner user's rows match only the records its partner manages: another partner's
        // customer is not found (its row adds a company, or fails on a unique key), never
        // updated.
        let scope = super::scope_condition(op, "");
        let prepare = |sql: &str, bind_tenant: bool| {
            conn.prepare(sql)
                .and_then(|mut statement| {
                    if bind_tenant {
                        statement.raw_bind_parameter(1, tenant.as_str())?;
                    }
                    Ok(statement)
                })
                .map_err(Error::from)
        };
        Ok(Writer {
            by_external_id: prepare(
                &format!(
                    "SELECT id, managed_as, access_scope FROM companies
                     WHERE tenant_id = ?1 AND external_id = ?2{scope}"
                ),
                true,
            )?,
            by_name: prepare(
                &format!(
                    "SELECT id, managed_as, access_scope FROM companies
                     WHERE tenant_id = ?1 AND name_folded = ?2{scope} ORDER BY id LIMIT 1"
                ),
                true,
            )?,
            bulk: BulkInsert::new(op, ROWS_PER_INSERT)?,
            queued_keys: HashSet::default(),
            filter: None,
            tenant: tenant.clone(),
            conn,
            data_version: 0,
            begun: false,
            folded: String::new(),
            folded_from: String::new(),
        })
    }

    /// Starts a transaction's worth of rows. Called inside the transaction, which holds the
    /// database's write lock.
    pub(crate) fn begin(&mut self) -> Result<()> {
        let data_version: i64 = self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?;
        if !self.begun {
            self.begun = true;
            self.data_version = data_version;
            self.filter = self.read_keys()?;
        } else if data_version != self.data_version {
            // Someone else wrote between two batches: the filter may miss their records.
            self.filter = None;
        }
        Ok(())
    }

    /// The filter of the tenant's keys, read in the first batch's transaction; `None` for a
    /// tenant with many companies.
    fn read_keys(&mut self) -> Result<Option<Vec<u64>>> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM companies WHERE tenant_id = ?1")
            .and_then(|mut q| q.query_row([self.tenant.as_str()], |r| r.get(0)))?;
        if count > FILTER_MAX_COMPANIES {
            return Ok(None);
        }
        let mut filter = vec![0u64; FILTER_BITS / 64];
        let mut query = self
            .conn
            .prepare("SELECT external_id, name FROM companies WHERE tenant_id = ?1")?;
        let mut rows = query.query([self.tenant.as_str()])?;
        while let Some(row) = rows.next()? {
            let external_id = row.get_ref(0).and_then(|v| Ok(v.as_str_or_null()?))?;
            let name = row.get_ref(1).and_then(|v| Ok(v.as_str()?))?;
            if let Some(external_id) = external_id {
                add(&mut filter, key_hash(Some(external_id), ""));
            }
            add(&mut filter, key_hash(None, name.trim()));
        }
        Ok(Some(filter))
    }

    /// Folds `name` (trimmed) into `folded`, unless that is the name folded there already.
    fn fold(&mut self, name: &str) {
        let name = name.trim();
        if self.folded_from != name {
            self.folded_from.clear();
            self.folded_from.push_str(name);
            fold_case_into(name, &mut self.folded);
        }
    }

    /// The hash of a row's look-up key: its external id, else its name folded.
    fn key_of(&mut self, external_id: Option<&str>, name: &str) -> u64 {
        match external_id {
            Some(external_id) => key_hash(Some(external_id), ""),
            None => {
                self.fold(name);
                folded_hash(&self.folded)
            }
        }
    }

    /// Notes that a record now has these keys (a row updated it).
    pub(crate) fn note_keys(&mut self, external_id: Option<&str>, name: &str) {
        if let (Some(filter), Some(external_id)) = (&mut self.filter, external_id) {
            add(filter, key_hash(Some(external_id), ""));
        }
        if self.filter.is_some() {
            self.fold(name);
            let hash = folded_hash(&self.folded);
            if let Some(filter) = &mut self.filter {
                add(filter, hash);
            }
        }
    }

    /// The existing record a row matches: by external id when the row has one, else by name
    /// (ignoring case, the oldest first). Only meaningful when
    /// [`may_be_queued`](Self::may_be_queued) said no, or the queue was written since.
    pub(crate) fn lookup(
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
                Some(scope) => parse_scope(scope),
                None => None,
            };
            Ok((r.get::<_, i64>(0)?, managed_as, scope))
        };
        if self.filter.is_some() {
            let hash = self.key_of(external_id, name);
            if let Some(filter) = &self.filter
                && !contains(filter, hash)
            {
                return Ok(None);
            }
        }
        let (statement, key) = match external_id {
            Some(external_id) => (&mut self.by_external_id, external_id),
            None => {
                self.fold(name);
                (&mut self.by_name, self.folded.as_str())
            }
        };
        let found = statement.raw_bind_parameter(2, key).and_then(|()| {
            // Dropping the rows resets the statement, so it holds no read open.
            let mut rows = statement.raw_query();
            match rows.next()? {
                Some(row) => read(row).map(Some),
                None => Ok(None),
            }
        });
        found.map_err(Error::from)
    }

    /// Whether a row with this key may match a queued record (then write the queue first).
    pub(crate) fn may_be_queued(&mut self, external_id: Option<&str>, name: &str) -> bool {
        if self.queued_keys.is_empty() {
            return false;
        }
        let hash = self.key_of(external_id, name);
        self.queued_keys.contains(&hash)
    }

    /// Queues a new record; [`Writer::flush`] gives its id. Its values are copied: the caller
    /// keeps `name` and `fields` for the next row.
    pub(crate) fn queue(
        &mut self,
        name: &str,
        managed_as: ManagedAs,
        managed_by: Option<i64>,
        scope: Option<AccessScope>,
        fields: &Fields,
    ) {
        let external_id = fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        if let Some(external_id) = external_id {
            let hash = key_hash(Some(external_id), "");
            self.queued_keys.insert(hash);
            if let Some(filter) = &mut self.filter {
                add(filter, hash);
            }
        }
        // A later row without an external id matches this record by name, whatever its own.
        // The folded name is the record's `name_folded` too.
        self.fold(name);
        let hash = folded_hash(&self.folded);
        self.queued_keys.insert(hash);
        if let Some(filter) = &mut self.filter {
            add(filter, hash);
        }
        self.bulk
            .push(name, &self.folded, managed_as, managed_by, scope, fields);
    }

    /// Whether a statement's worth of records is queued.
    pub(crate) fn is_full(&self) -> bool {
        self.bulk.is_full()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.bulk.len() == 0
    }

    /// Writes the queued records; see [`BulkInsert::flush`].
    pub(crate) fn flush(&mut self, written: &mut Vec<Result<i64>>) -> Result<()> {
        self.queued_keys.clear();
        self.bulk.flush(written)
    }
}

/// A record as a dry run of an import finds it: what deciding a row about it needs.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) managed_as: ManagedAs,
    pub(crate) scope: Option<AccessScope>,
    pub(crate) managed_by: Option<i64>,
}

/// The look-ups of a dry run, on its read transaction: they write nothing.
pub(crate) struct Snapshot<'c> {
    by_external_id: Statement<'c>,
    by_name: Statement<'c>,
    /// Any company with an external id, seen or not (see [`Snapshot::holder`]).
    holder: Statement<'c>,
}

const FOUND_COLUMNS: &str = "id, name, external_id, managed_as, access_scope, managed_by";

fn found(row: &rusqlite::Row<'_>) -> rusqlite::Result<Found> {
    Ok(Found {
        id: row.get(0)?,
        name: row.get(1)?,
        external_id: row.get(2)?,
        managed_as: match row.get_ref(3)?.as_str()? {
            "partner" => ManagedAs::Partner,
            _ => ManagedAs::Customer,
        },
        scope: row.get_ref(4)?.as_str_or_null()?.and_then(parse_scope),
        managed_by: row.get(5)?,
    })
}

impl<'c> Snapshot<'c> {
    /// Prepares the look-ups for the operation's tenant.
    pub(crate) fn new(op: &Op<'c>) -> Result<Snapshot<'c>> {
        let Op { conn, tenant, .. } = *op;
        // Confined to what the actor may see, as the writer's look-ups are: a partner user's
        // dry run neither matches nor names another partner's records.
        let scope = super::scope_condition(op, "");
        let prepare = |sql: String| {
            conn.prepare(&sql)
                .and_then(|mut statement| {
                    statement.raw_bind_parameter(1, tenant.as_str())?;
                    Ok(statement)
                })
                .map_err(Error::from)
        };
        let snapshot = Snapshot {
            by_external_id: prepare(format!(
                "SELECT {FOUND_COLUMNS} FROM companies
                 WHERE tenant_id = ?1 AND external_id = ?2{scope}"
            ))?,
            by_name: prepare(format!(
                "SELECT {FOUND_COLUMNS} FROM companies
                 WHERE tenant_id = ?1 AND name_folded = ?2{scope} ORDER BY id"
            ))?,
            holder: prepare(
                "SELECT id FROM companies WHERE tenant_id = ?1 AND external_id = ?2".to_owned(),
            )?,
        };
        Ok(snapshot)
    }

    /// The record with this external id, if any.
    pub(crate) fn by_external_id(&mut self, external_id: &str) -> Result<Option<Found>> {
        self.by_external_id.raw_bind_parameter(2, external_id)?;
        let mut rows = self.by_external_id.raw_query();
        Ok(rows.next()?.map(found).transpose()?)
    }

    /// The company holding this external id, whether the actor may see it or not: a new record
    /// with it is refused (as the real run's insert is, by the unique index), and the refusal
    /// says no more than that the id is taken.
    pub(crate) fn holder(&mut self, external_id: &str) -> Result<Option<i64>> {
        self.holder.raw_bind_parameter(2, external_id)?;
        let mut rows = self.holder.raw_query();
        Ok(rows.next()?.map(|row| row.get(0)).transpose()?)
    }

    /// The records with this name (ignoring case as the import's look-up does), oldest first.
    pub(crate) fn by_name(&mut self, name: &str) -> Result<Vec<Found>> {
        self.by_name.raw_bind_parameter(2, fold_case(name.trim()))?;
        let mut rows = self.by_name.raw_query();
        let mut all = Vec::new();
        while let Some(row) = rows.next()? {
            all.push(found(row)?);
        }
        Ok(all)
    }
}

/// A name folded as the import's look-up by name compares it ([`fold_case`], every script),
/// for keeping names in memory.
pub(crate) fn fold_name(name: &str) -> String {
    fold_case(name.trim())
}

/// The hash of a look-up key: an external id as it is, a name case-folded the way names are
/// compared ([`fold_case`]: every script, not ASCII only).
///
/// FNV-1a: quick on short keys, and nothing is lost to a collision but an early write or a
/// look-up, so no defence against chosen collisions is needed.
fn key_hash(external_id: Option<&str>, name: &str) -> u64 {
    match external_id {
        Some(external_id) => fnv1a(0xcbf2_9ce4_8422_2325, external_id.as_bytes()),
        None => folded_hash(&fold_case(name)),
    }
}

/// [`key_hash`] of a name folded already.
fn folded_hash(folded: &str) -> u64 {
    // Another start keeps a name from meeting an external id of the same text.
    fnv1a(0x8422_2325_cbf2_9ce4, folded.as_bytes())
}

fn fnv1a(start: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = start;
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
    }
    hash
}

/// A key's word of the filter and its three bits in that word: one cache line to touch per key
/// (a blocked Bloom filter).
fn mask(hash: u64) -> (usize, u64) {
    let word = (hash as usize) % (FILTER_BITS / 64);
    let bit = |shift: u32| 1u64 << ((hash >> shift) & 63);
    (word, bit(40) | bit(46) | bit(52))
}

fn add(filter: &mut [u64], hash: u64) {
    let (word, mask) = mask(hash);
    filter[word] |= mask;
}

fn contains(filter: &[u64], hash: u64) -> bool {
    let (word, mask) = mask(hash);
    filter[word] & mask == mask
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
