//! Stage four: write. Each prepared row updates the record it matches or is queued as a new one,
//! through the companies repository; its outcome is settled into the job's counts and row errors,
//! and new partners owe their *partner created* hook from the batch's commit on.

use super::*;

/// What became of one row.
pub(super) enum Settled {
    /// A new record, with its id.
    Created(i64),
    /// An existing record, with its id; `tagged` when a customer became a partner.
    Updated {
        id: i64,
        tagged: bool,
    },
    /// A new record queued for writing; it gets its id when the queue is written.
    Queued,
    Refused(RowError),
}

/// The writing side of one import run, reused across rows to keep allocations down.
pub(super) struct Run<'a> {
    pub(super) plan: &'a [Planned],
    pub(super) target: ImportTarget,
    pub(super) scope: Option<AccessScope>,
    /// The fields of the row being written.
    pub(super) fields: Fields,
    /// Partners looked up by the `managed_by` column: name or external id to id.
    pub(super) partners_by_key: HashMap<String, Option<i64>>,
    /// Companies looked up by a relationship import's `company` column, likewise.
    pub(super) companies_by_key: HashMap<String, Option<i64>>,
    /// SQLite's `data_version` when the last slice began: another connection's commit since
    /// then changes it, and the look-ups cached above may have changed with it.
    pub(super) data_version: Option<i64>,
    /// Whether new partners owe the *partner created* hook (lifecycle plugins are enabled).
    pub(super) lifecycle: bool,
    /// Partners created or tagged in the current batch, whose hooks it owes: (id, row, how to
    /// undo).
    pub(super) new_partners: Vec<(i64, u64, Undo)>,
    /// What became of the rows read since the last settling, in row order: queued rows are
    /// settled when the queue is written.
    pub(super) outcomes: Vec<(u64, Settled)>,
    /// Reused for the results of writing the queue: each new record's id, or why not.
    pub(super) written: Vec<Result<i64>>,
    /// Written rows' field maps, and where to send them back for filling again.
    pub(super) spare: Vec<Fields>,
    pub(super) recycle: Option<mpsc::Sender<Vec<Fields>>>,
}

impl Run<'_> {
    pub(super) fn refuse(
        row: u64,
        column: Option<&str>,
        field: Option<&str>,
        reason: String,
    ) -> Settled {
        Settled::Refused(super::read::refused(row, column, field, reason))
    }

    /// Starts a slice on `op`'s transaction: when another connection committed since the last
    /// slice began (a partner or company added, renamed or untagged), the look-ups cached by
    /// key are forgotten, so that a later row finds what it would find written on its own.
    pub(super) fn begin_slice(&mut self, op: &Op<'_>) -> Result<()> {
        let version: i64 = op
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?;
        if self.data_version.is_some_and(|last| last != version) {
            self.partners_by_key.clear();
            self.companies_by_key.clear();
        }
        self.data_version = Some(version);
        Ok(())
    }

    pub(super) fn column_of(&self, field: &str) -> Option<&str> {
        column_of(self.plan, field)
    }

    /// Updates or queues one prepared row, adding its outcome to `outcomes`: a company row
    /// through `writer`, a relationship row through `relationships`. An `Err` is fatal to the
    /// import.
    pub(super) fn row(
        &mut self,
        op: &Op<'_>,
        writer: &mut Writer<'_>,
        relationships: &mut relationship_import::Stored<'_>,
        prepared: Prepared,
    ) -> Result<()> {
        let number = prepared.number();
        let settled = self.decide(op, writer, relationships, prepared)?;
        if let Some(recycle) = &self.recycle {
            self.spare.push(std::mem::take(&mut self.fields));
            if self.spare.len() >= ROWS_PER_MESSAGE {
                // The reading thread may have finished: then the maps are simply dropped.
                let _ = recycle.send(std::mem::take(&mut self.spare));
            }
        }
        let queued = matches!(settled, Settled::Queued);
        self.outcomes.push((number, settled));
        if queued && (writer.is_full() || relationships.is_full()) {
            self.flush(writer, relationships)?;
        }
        Ok(())
    }

    /// Writes the queued records (companies, or relationships) and settles their rows'
    /// outcomes.
    pub(super) fn flush(
        &mut self,
        writer: &mut Writer<'_>,
        relationships: &mut relationship_import::Stored<'_>,
    ) -> Result<()> {
        if writer.is_empty() && relationships.is_empty() {
            return Ok(());
        }
        self.written.clear();
        writer.flush(&mut self.written)?;
        relationships.flush(&mut self.written)?;
        let plan = self.plan;
        let mut written = self.written.drain(..);
        for (number, settled) in &mut self.outcomes {
            let Settled::Queued = *settled else {
                continue;
            };
            let result = written.next().expect("one result per queued record");
            *settled = match result {
                Ok(id) => Settled::Created(id),
                // A relationship refused as its insert alone would have been.
                Err(error) if self.target == ImportTarget::Relationships => {
                    match relationship_import::insert_problem(error) {
                        Ok((field, reason)) => {
                            Self::refuse(*number, column_of(plan, field), Some(field), reason)
                        }
                        Err(error) => refusal(*number, error)?,
                    }
                }
                // A company refused as its insert alone would have been.
                Err(error) => company_refusal(plan, *number, error)?,
            };
        }
        Ok(())
    }

    /// Counts the settled rows into the job, stores their row errors and notes new partners,
    /// in row order.
    pub(super) fn settle(&mut self, op: &Op<'_>, job: &mut ImportJob) -> Result<()> {
        // Taken out while its rows are settled, and put back (empty) to keep its allocation.
        let mut outcomes = std::mem::take(&mut self.outcomes);
        for (number, settled) in outcomes.drain(..) {
            job.rows += 1;
            match settled {
                Settled::Created(id) => {
                    job.created += 1;
                    if self.target == ImportTarget::Partners {
                        self.new_partner(op, id, number, Undo::Delete)?;
                    }
                }
                Settled::Updated { id, tagged } => {
                    job.updated += 1;
                    if tagged {
                        self.new_partner(op, id, number, Undo::Untag)?;
                    }
                }
                Settled::Queued => unreachable!("settled only once the queue is written"),
                Settled::Refused(error) => {
                    match error.outcome {
                        RowErrorKind::Failed => job.failed += 1,
                        RowErrorKind::Skipped => job.skipped += 1,
                    }
                    if let Some(id) = job.id {
                        job::insert_error(op, id, &error)?;
                    }
                    if job.errors.len() < ERRORS_KEPT {
                        job.errors.push(error);
                    }
                }
            }
        }
        self.outcomes = outcomes;
        Ok(())
    }

    /// Takes a prepared row's fields and resolves its partner, as the dry run and the real run
    /// both do before deciding: `Err` holds the row's outcome when that settles it already
    /// (refused by the reader, or naming no partner the actor may name). With no Managed By
    /// cell, a partner user's new records are its partner's. A relationship row is settled
    /// here, against `records` (the database's, or the dry run's imagined ones), so `Ok` holds
    /// a company row.
    pub(super) fn open(
        &mut self,
        op: &Op<'_>,
        records: &mut dyn relationship_import::Records,
        prepared: Prepared,
    ) -> Result<Result<Opened, Settled>> {
        let (number, name, managed_by, relationship) = match prepared {
            Prepared::Refused(error) => return Ok(Err(Settled::Refused(error))),
            Prepared::Row {
                number,
                name,
                fields,
                managed_by,
                relationship,
            } => {
                self.fields = fields;
                (number, name, managed_by, relationship)
            }
        };
        let manager = match managed_by {
            None => op.scope().map(|scope| scope.partner_id),
            Some(key) => match self.partner(op, &key)? {
                Some(id) => Some(id),
                None => {
                    return Ok(Err(Self::refuse(
                        number,
                        self.column_of(MANAGED_BY),
                        Some(MANAGED_BY),
                        format!("there is no partner `{key}` (by name or external id)"),
                    )));
                }
            },
        };
        if let Some((company, type_id, type_name)) = relationship {
            let row = RelationshipRow {
                number,
                name: &name,
                manager,
                company: &company,
                type_id,
                type_name: &type_name,
            };
            return self.relationship(op, records, &row).map(Err);
        }
        Ok(Ok(Opened {
            number,
            name,
            manager,
        }))
    }

    /// Updates the record a prepared row matches or queues a new one. Row problems are
    /// `Settled::Refused`; an `Err` is fatal to the import.
    pub(super) fn decide(
        &mut self,
        op: &Op<'_>,
        writer: &mut Writer<'_>,
        relationships: &mut relationship_import::Stored<'_>,
        prepared: Prepared,
    ) -> Result<Settled> {
        let Opened {
            number,
            name,
            manager,
        } = match self.open(op, relationships, prepared)? {
            Ok(opened) => opened,
            Err(settled) => return Ok(settled),
        };
        let external_id = self.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        if writer.may_be_queued(external_id, &name) {
            // The row may be about a record queued but not written: write the queue first so
            // the look-up finds it.
            self.flush(writer, relationships)?;
        }
        let external_id = self.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
        let existing = writer.lookup(external_id, &name)?;
        if existing.is_some() {
            // The update gives the record this row's name and external id.
            writer.note_keys(external_id, &name);
        }
        let written = match (self.target, existing) {
            // Every row of a relationship import carries its company and type.
            (ImportTarget::Relationships, _) => Err(Error::new(ErrorKind::Invalid(
                "a relationship row without its company and type".to_owned(),
            ))),
            (ImportTarget::Partners | ImportTarget::Companies, None) => {
                let (managed_as, managed_by, scope) = match self.target {
                    ImportTarget::Partners => (ManagedAs::Partner, None, self.scope),
                    _ => (ManagedAs::Customer, manager, None),
                };
                writer.queue(&name, managed_as, managed_by, scope, &self.fields);
                // The name goes back into the row's map, which returns to the reading thread:
                // the next row's name is read into the same buffer, and no row's text is freed
                // on another thread than the one that allocated it.
                if let Some(slot) = self.fields.get_mut(NAME) {
                    *slot = FieldValue::Text(name);
                }
                return Ok(Settled::Queued);
            }
            (ImportTarget::Partners, Some((id, was, _))) => companies::update(
                op,
                id,
                &CompanyWrite {
                    name: &name,
                    managed_as: ManagedAs::Partner,
                    managed_by: None,
                    scope: self.scope,
                    fields: &self.fields,
                },
            )
            .map(|()| Settled::Updated {
                id,
                tagged: was == ManagedAs::Customer,
            }),
            (ImportTarget::Companies, Some((id, was, scope))) => companies::update(
                op,
                id,
                &CompanyWrite {
                    name: &name,
                    managed_as: was,
                    managed_by: manager,
                    scope,
                    fields: &self.fields,
                },
            )
            .map(|()| Settled::Updated { id, tagged: false }),
        };
        match written {
            Ok(settled) => Ok(settled),
            // A rule of the data (one partner per record, a constraint) refuses the row; other
            // database trouble stops the import.
            Err(error) => match error.kind() {
                ErrorKind::AlreadyManaged { .. } => Ok(Self::refuse(
                    number,
                    self.column_of(MANAGED_BY),
                    Some(MANAGED_BY),
                    error.to_string(),
                )),
                _ => refusal(number, error),
            },
        }
    }

    /// Decides a relationship row through the relationships module: finds the company it names,
    /// then creates the relationship or updates the one the row is about, in `records` (the
    /// database, or a dry run's imagination).
    pub(super) fn relationship(
        &mut self,
        op: &Op<'_>,
        records: &mut dyn relationship_import::Records,
        row: &RelationshipRow<'_>,
    ) -> Result<Settled> {
        let &RelationshipRow {
            number,
            name,
            manager,
            company,
            type_id,
            type_name,
        } = row;
        let found = match self.companies_by_key.get(company) {
            Some(found) => *found,
            None => {
                let found = relationship_import::company(op, company)?;
                self.companies_by_key.insert(company.to_owned(), found);
                found
            }
        };
        let Some(company_id) = found else {
            return Ok(Self::refuse(
                number,
                self.column_of(relationship_import::COMPANY),
                Some(relationship_import::COMPANY),
                format!("there is no company `{company}` (by name or external id)"),
            ));
        };
        let row = relationship_import::ImportRow {
            company: company_id,
            type_id,
            type_name,
            name,
            managed_by: manager,
            fields: &self.fields,
        };
        match relationship_import::import_row(op, records, &row) {
            Ok(Ok(relationship_import::Imported::Created(id))) => Ok(Settled::Created(id)),
            Ok(Ok(relationship_import::Imported::Updated(id))) => {
                Ok(Settled::Updated { id, tagged: false })
            }
            Ok(Ok(relationship_import::Imported::Queued)) => Ok(Settled::Queued),
            Ok(Err((field, reason))) => Ok(Self::refuse(
                number,
                self.column_of(field),
                Some(field),
                reason,
            )),
            Err(error) => refusal(number, error),
        }
    }

    /// Notes a partner the batch created or tagged. With lifecycle plugins enabled, its
    /// *partner created* hook is owed from the batch's commit on, whatever happens to this
    /// process.
    pub(super) fn new_partner(&mut self, op: &Op<'_>, id: i64, row: u64, undo: Undo) -> Result<()> {
        if self.lifecycle {
            pending::record(op, Owed::PartnerCreated { company: id, undo })?;
            self.new_partners.push((id, row, undo));
        }
        Ok(())
    }

    /// The partner a `managed_by` cell names, by external id or name; cached per import.
    pub(super) fn partner(&mut self, op: &Op<'_>, key: &str) -> Result<Option<i64>> {
        if let Some(found) = self.partners_by_key.get(key) {
            return Ok(*found);
        }
        // A partner user names its own partner only.
        let found = companies::partner_id_by_key(op, key)?;
        self.partners_by_key.insert(key.to_owned(), found);
        Ok(found)
    }
}

/// A company row with its fields taken and its partner resolved (see [`Run::open`]).
pub(super) struct Opened {
    pub(super) number: u64,
    pub(super) name: String,
    /// The partner that manages the record: the Managed By cell's, else a partner user's own.
    pub(super) manager: Option<i64>,
}

/// A relationship row, checked and mapped: what [`Run::relationship`] decides.
pub(super) struct RelationshipRow<'a> {
    pub(super) number: u64,
    pub(super) name: &'a str,
    /// The partner the row names as Managed By (or the acting partner user's partner).
    pub(super) manager: Option<i64>,
    /// The `company` cell's text.
    pub(super) company: &'a str,
    pub(super) type_id: i64,
    pub(super) type_name: &'a str,
}

/// The outcome of row `number`, whose new company `error` refused: a field's problem (an
/// external id another company has, maybe one a partner user cannot see) names the field and
/// its column; otherwise as [`refusal`].
pub(super) fn company_refusal(plan: &[Planned], number: u64, error: Error) -> Result<Settled> {
    match error.kind() {
        ErrorKind::InvalidField { field, message } => Ok(Run::refuse(
            number,
            column_of(plan, field),
            Some(field),
            message.clone(),
        )),
        _ => refusal(number, error),
    }
}

/// A row refused by a rule of the data (a constraint), with the database's message; other
/// database trouble stops the import.
pub(super) fn refusal(number: u64, error: Error) -> Result<Settled> {
    match error.kind() {
        ErrorKind::Database {
            source: rusqlite::Error::SqliteFailure(e, _),
            ..
        } if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            Ok(Run::refuse(number, None, None, error.to_string()))
        }
        _ => Err(error),
    }
}
