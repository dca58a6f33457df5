//! A dry run's decisions, made in memory: what each row of an import would do to the tenant's
//! records if the file were imported now, without writing anything. Relationship rows are
//! decided by the relationships module's own rules, against its [`Imagined`] relationships
//! (see [`relationship_import::Imagined`]).
//!
//! The database is read on one snapshot; the records the earlier rows of the file would have
//! created or changed are kept here, so a later row about one of them finds it as a real run
//! would (a name created on row 3 makes row 9 with that name an update). The rules a real run
//! meets in the database are applied here too: the look-up by external id, else by name
//! ignoring case, the oldest first; an update keeps what the row leaves out; a record managed
//! by one partner is not moved to another; a record is not its own partner.

use std::collections::{BTreeSet, HashMap};

use super::write::{Opened, Settled};
use super::*;
use crate::companies::import::{Found, Snapshot, fold_name};

/// The records a dry run has imagined so far, over the database's snapshot.
pub(super) struct Imagined<'c> {
    snapshot: Snapshot<'c>,
    /// Every record the run created or changed, by id, as it would be now. A record of the
    /// database found here is no longer looked up in the database.
    records: HashMap<i64, Found>,
    /// The external ids of `records`.
    by_external_id: HashMap<String, i64>,
    /// The folded names of `records`, each with its records' ids.
    by_name: HashMap<String, BTreeSet<i64>>,
    /// The id the next imagined record gets: the records a dry run would create have ids of
    /// their own, past any the database gives (they are never written), so that looking them up
    /// by name finds the existing records first, as a real run would.
    next_id: i64,
    /// The relationships the run has imagined, in a relationship import.
    relationships: relationship_import::Imagined,
}

/// The first id of the records a dry run imagines: above any id SQLite gives before it runs out
/// of them (2^63 - 1).
const FIRST_IMAGINED_ID: i64 = 1 << 62;

impl<'c> Imagined<'c> {
    /// Starts on the operation's connection, whose read transaction is open: the first read
    /// here takes the snapshot every later one sees.
    pub(super) fn new(op: &Op<'c>) -> Result<Imagined<'c>> {
        let snapshot = Snapshot::new(op)?;
        Ok(Imagined {
            snapshot,
            records: HashMap::new(),
            by_external_id: HashMap::new(),
            by_name: HashMap::new(),
            next_id: FIRST_IMAGINED_ID,
            relationships: relationship_import::Imagined::default(),
        })
    }

    /// The record a row with these keys would match, as a real run looks it up: by external id
    /// when the row has one, else by name (ignoring case, the oldest first).
    fn lookup(&mut self, external_id: Option<&str>, name: &str) -> Result<Option<Found>> {
        if let Some(external_id) = external_id {
            if let Some(id) = self.by_external_id.get(external_id) {
                return Ok(self.records.get(id).cloned());
            }
            // A record this run changed has its external id here, or none any more.
            return Ok(self
                .snapshot
                .by_external_id(external_id)?
                .filter(|found| !self.records.contains_key(&found.id)));
        }
        let mine = self
            .by_name
            .get(&fold_name(name))
            .and_then(|ids| ids.first())
            .copied();
        let theirs = self
            .snapshot
            .by_name(name.trim())?
            .into_iter()
            .find(|found| !self.records.contains_key(&found.id));
        Ok(match (mine, theirs) {
            (Some(mine), Some(theirs)) if theirs.id < mine => Some(theirs),
            (Some(mine), _) => self.records.get(&mine).cloned(),
            (None, theirs) => theirs,
        })
    }

    /// Keeps `record` as it would be now, in place of what was known of it.
    fn keep(&mut self, record: Found) {
        if let Some(before) = self.records.remove(&record.id) {
            if let Some(external_id) = &before.external_id {
                self.by_external_id.remove(external_id);
            }
            let folded = fold_name(&before.name);
            if let Some(ids) = self.by_name.get_mut(&folded) {
                ids.remove(&before.id);
                if ids.is_empty() {
                    self.by_name.remove(&folded);
                }
            }
        }
        if let Some(external_id) = &record.external_id {
            self.by_external_id.insert(external_id.clone(), record.id);
        }
        self.by_name
            .entry(fold_name(&record.name))
            .or_default()
            .insert(record.id);
        self.records.insert(record.id, record);
    }

    /// The name of company `id` as it would be now.
    fn name_of(&self, op: &Op<'_>, id: i64) -> Result<String> {
        if let Some(record) = self.records.get(&id) {
            return Ok(record.name.clone());
        }
        Ok(companies::find(op, companies::CompanyKey::Id(id))?
            .map(|company| company.name)
            .unwrap_or_default())
    }
}

impl Run<'_> {
    /// Decides one row as a real run would, changing only `imagined`, and adds its outcome to
    /// `outcomes`. An `Err` is fatal to the run.
    pub(super) fn imagine(
        &mut self,
        op: &Op<'_>,
        imagined: &mut Imagined<'_>,
        prepared: Prepared,
    ) -> Result<()> {
        let number = prepared.number();
        let settled = self.imagine_row(op, imagined, prepared)?;
        if let Some(recycle) = &self.recycle {
            self.spare.push(std::mem::take(&mut self.fields));
            if self.spare.len() >= ROWS_PER_MESSAGE {
                let _ = recycle.send(std::mem::take(&mut self.spare));
            }
        }
        self.outcomes.push((number, settled));
        Ok(())
    }

    fn imagine_row(
        &mut self,
        op: &Op<'_>,
        imagined: &mut Imagined<'_>,
        prepared: Prepared,
    ) -> Result<Settled> {
        let Opened {
            number,
            name,
            manager,
        } = match self.open(op, &mut imagined.relationships, prepared)? {
            Ok(opened) => opened,
            Err(settled) => return Ok(settled),
        };
        let external_id = self.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        let existing = imagined.lookup(external_id, &name)?;
        // An update sets the external id when the row has one; an empty cell keeps the
        // record's.
        let new_external_id = match external_id {
            Some(external_id) => Some(external_id.to_owned()),
            None => existing.as_ref().and_then(|e| e.external_id.clone()),
        };
        let name = name.trim().to_owned();
        let Some(existing) = existing else {
            // A new record may not take an external id another record has: one this run has
            // not changed (those it has are found by theirs), and that the look-up did not find
            // (out of the actor's sight).
            if let Some(external_id) = external_id
                && let Some(holder) = imagined.snapshot.holder(external_id)?
                && !imagined.records.contains_key(&holder)
            {
                let error = companies::external_id_taken(external_id);
                return super::write::company_refusal(self.plan, number, error);
            }
            let id = imagined.next_id;
            imagined.next_id += 1;
            let (managed_as, scope) = match self.target {
                ImportTarget::Partners => (ManagedAs::Partner, self.scope),
                ImportTarget::Companies | ImportTarget::Relationships => {
                    (ManagedAs::Customer, None)
                }
            };
            imagined.keep(Found {
                id,
                name,
                external_id: new_external_id,
                managed_as,
                scope,
                managed_by: manager,
            });
            return Ok(Settled::Created(id));
        };
        let id = existing.id;
        match self.target {
            ImportTarget::Partners => {
                imagined.keep(Found {
                    id,
                    name,
                    external_id: new_external_id,
                    managed_as: ManagedAs::Partner,
                    scope: self.scope,
                    managed_by: existing.managed_by,
                });
                Ok(Settled::Updated {
                    id,
                    tagged: existing.managed_as == ManagedAs::Customer,
                })
            }
            ImportTarget::Companies | ImportTarget::Relationships => {
                if let (Some(now), Some(asked)) = (existing.managed_by, manager)
                    && now != asked
                {
                    let error = Error::new(ErrorKind::AlreadyManaged {
                        record: existing.name.clone(),
                        partner_id: now,
                        partner: imagined.name_of(op, now)?,
                    });
                    return Ok(Self::refuse(
                        number,
                        self.column_of(MANAGED_BY),
                        Some(MANAGED_BY),
                        error.to_string(),
                    ));
                }
                if manager == Some(id) {
                    return Ok(Self::refuse(
                        number,
                        self.column_of(MANAGED_BY),
                        Some(MANAGED_BY),
                        format!("`{}` cannot be managed by itself", existing.name),
                    ));
                }
                imagined.keep(Found {
                    id,
                    name,
                    external_id: new_external_id,
                    managed_as: existing.managed_as,
                    scope: existing.scope,
                    managed_by: manager.or(existing.managed_by),
                });
                Ok(Settled::Updated { id, tagged: false })
            }
        }
    }
}
