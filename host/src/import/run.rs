//! Running an import: the reading thread and the writing thread, the job's start and end, and
//! the *partner created* hooks a committed batch owes.

use super::*;

impl Imports<'_> {
    /// Checks that the acting principal may run an import with `options` (the permissions, and
    /// a partner user's scope), and returns the tenant's size limit in bytes: what a server
    /// asks before it reads an upload, so a refused upload is answered before its body is sent.
    /// Every import makes the same checks when it starts.
    pub fn admit(&self, options: &ImportOptions) -> Result<u64> {
        self.tenant.require(Permission::Import)?;
        if options.target == ImportTarget::Partners {
            self.tenant.require(Permission::ManagePartners)?;
        }
        // A partner user writes only the kind of record its partner's scope reaches: a partner
        // with relationship records could otherwise create and update company records it can
        // never see.
        self.tenant.read(|op| {
            let Some(scope) = op.scope() else {
                return Ok(());
            };
            let (reached, records) = match options.target {
                ImportTarget::Relationships => (scope.relationships, "relationships"),
                ImportTarget::Companies | ImportTarget::Partners => (scope.companies, "companies"),
            };
            if reached {
                return Ok(());
            }
            Err(Error::new(ErrorKind::OutOfScope {
                actor: op.actor.to_owned(),
                records,
            }))
        })?;
        self.size_limit()
    }

    pub(super) fn run<R: Read + Send>(
        &self,
        source: &str,
        reader: R,
        size: u64,
        options: &ImportOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ImportJob> {
        let limit = self.admit(options)?;
        if size > limit {
            return Err(Error::new(ErrorKind::FileTooLarge {
                file: source.to_owned(),
                size,
                limit,
            }));
        }
        let refuse = |message: String| {
            Error::new(ErrorKind::Csv {
                file: source.to_owned(),
                row: None,
                column: None,
                message,
            })
        };
        let io_error = |e: io::Error| {
            Error::new(ErrorKind::Io {
                path: source.into(),
                source: e,
            })
        };

        // Properties: detected from the first bytes, then overridden.
        let mut reader = reader;
        let mut sample = Vec::with_capacity(csvfile::SAMPLE);
        (&mut reader)
            .take(csvfile::SAMPLE as u64)
            .read_to_end(&mut sample)
            .map_err(io_error)?;
        let mut properties = CsvProperties::detect(&sample);
        if let Some(s) = options.separator {
            properties.separator = s;
        }
        if let Some(q) = options.quote {
            properties.quote = q;
        }
        if let Some(e) = options.escape {
            properties.escape = e;
        }
        if let Some(h) = options.has_header {
            properties.has_header = h;
        }
        if let Some(e) = options.encoding {
            properties.encoding = e;
        }
        let ascii = |c: char, what: &str| {
            u8::try_from(c)
                .ok()
                .filter(u8::is_ascii)
                .ok_or_else(|| refuse(format!("the {what} character `{c}` must be ASCII")))
        };
        let quote = ascii(properties.quote, "quote")?;
        let escape = properties.escape.map(|c| ascii(c, "escape")).transpose()?;

        let bytes_read = Arc::new(AtomicU64::new(0));
        let counted = csvfile::Guarded::new(
            io::Cursor::new(sample).chain(reader),
            limit,
            bytes_read.clone(),
        );
        let unclosed = quotes::Unclosed::default();
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(properties.separator.byte())
            .quote(quote)
            .escape(escape)
            .double_quote(escape.is_none())
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(quotes::QuoteGuard::new(
                csvfile::Utf8Reader::new(counted, properties.encoding),
                properties.separator.byte(),
                quote,
                escape,
                unclosed.clone(),
            ));

        // The header (or the column count of the first row), checked before any row is read.
        let mut record = csv::ByteRecord::new();
        let mut first = None;
        let columns: Vec<String> = if csv
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(source, None, e))?
        {
            let never_closed = unclosed.within(
                record.position().map_or(0, |p| p.byte()),
                csv.position().byte(),
            );
            if let (true, Some(field)) = (properties.has_header, never_closed) {
                return Err(refuse(format!(
                    "the header row: a quote opened in column {} is never closed",
                    field + 1
                )));
            }
            if properties.has_header {
                let mut names = Vec::with_capacity(record.len());
                for (i, cell) in record.iter().enumerate() {
                    let text = std::str::from_utf8(cell).map_err(|_| {
                        refuse(format!(
                            "header column {} is not valid {} text; is the encoding right? \
                             (detected {})",
                            i + 1,
                            properties.encoding,
                            properties.encoding
                        ))
                    })?;
                    names.push(text.trim().to_owned());
                }
                names
            } else {
                first = Some((record.clone(), never_closed));
                (1..=record.len()).map(|i| i.to_string()).collect()
            }
        } else {
            Vec::new()
        };
        let mut duplicates: Vec<&str> = Vec::new();
        for (i, name) in columns.iter().enumerate() {
            if columns[..i].contains(name) && !duplicates.contains(&name.as_str()) {
                duplicates.push(name);
            }
        }
        if !duplicates.is_empty() {
            return Err(refuse(format!(
                "duplicate header {}: each column needs its own name",
                quoted_list(&duplicates)
            )));
        }
        // A relationship import maps to the fields of every type, and checks each row against
        // the type it names.
        let types = match options.target {
            ImportTarget::Relationships => Some(self.tenant.read(ImportTypes::load)?),
            _ => None,
        };
        let schema = match &types {
            Some(types) => types.mappable(),
            None => self.tenant.read(Schema::load)?,
        };
        let mapping = match &options.mapping {
            Some(mapping) => mapping.clone(),
            None => Mapping::automatic(&columns, schema.fields(), options.target),
        };
        if columns.is_empty() {
            return Err(refuse(
                "the file is empty: there is no header row and no data".to_owned(),
            ));
        }
        let plan = plan(&mapping, &columns, &schema, options.target).map_err(|message| {
            // Automatic mapping found no Name column in the first row: it is likely data.
            if properties.has_header && options.mapping.is_none() && message.starts_with("Name") {
                refuse(format!(
                    "{message}; no column of the first row ({}) names a field: if the file has \
                     no header row, import it with --no-header (`ImportOptions::has_header(false)`) \
                     and map the columns by number (--map 1=name)",
                    quoted_list(&columns.iter().map(String::as_str).collect::<Vec<_>>())
                ))
            } else {
                refuse(message)
            }
        })?;
        let scope = match options.target {
            ImportTarget::Partners => Some(partners::resolve_scope(
                self.tenant.info().level,
                options.scope,
            )?),
            ImportTarget::Companies | ImportTarget::Relationships => {
                if options.scope.is_some() {
                    return Err(refuse(
                        "an access scope applies to partner imports only".to_owned(),
                    ));
                }
                None
            }
        };

        let now = self.tenant.host.now();
        let mut job = ImportJob {
            id: None,
            target: options.target,
            source: source.to_owned(),
            properties,
            mapping,
            scope,
            dry_run: options.dry_run,
            status: JobStatus::Running,
            rows: 0,
            created: 0,
            updated: 0,
            skipped: 0,
            failed: 0,
            error: None,
            started_at: now,
            finished_at: None,
            errors: Vec::new(),
        };
        // One import per tenant at a time: the claim lasts until this function returns, and
        // ends with the process if it is killed. Holding it, any job still marked running was
        // left by a process that died. A dry run writes nothing and claims nothing.
        let _running = if options.dry_run {
            None
        } else {
            let claim = self.tenant.store().claim(&self.tenant.id, "import")?;
            if claim.is_none() {
                return Err(Error::new(ErrorKind::ImportRunning {
                    tenant: self.tenant.id.as_str().to_owned(),
                }));
            }
            claim
        };
        if !options.dry_run {
            let id = self.tenant.write(|op| {
                job::interrupt_stale(op)?;
                job::insert(op, &job)
            })?;
            job.id = Some(id);
        }

        let field_names: Vec<String> = plan.iter().map(|p| p.field.clone()).collect();
        let mappers = match self.tenant.hooks().row_mappers(
            Some(options.target.object()),
            &columns,
            &field_names,
        ) {
            Ok(mappers) => mappers,
            Err(error) => return Err(self.fail_job(job, error)),
        };
        let lifecycle = !options.dry_run
            && options.target == ImportTarget::Partners
            && !self
                .tenant
                .plugins()
                .active(ExtensionPoint::Lifecycle)?
                .is_empty();
        if job.id.is_some() {
            // The job exists: a caller that runs the import in the background learns its id now,
            // once the enablements the import runs with are read (a change made from here on
            // reaches the next operation, never this one).
            progress(Progress {
                job: job.id,
                rows: 0,
                read: 0,
                bytes: 0,
                total_bytes: size,
            });
        }

        let mut run = Run {
            plan: &plan,
            target: options.target,
            scope,
            lifecycle,
            fields: Fields::new(),
            partners_by_key: HashMap::new(),
            companies_by_key: HashMap::new(),
            data_version: None,
            new_partners: Vec::new(),
            outcomes: Vec::new(),
            written: Vec::new(),
            spare: Vec::new(),
            recycle: None,
        };
        let shared = Shared::default();
        let mut watch = Watch {
            tenant: self.tenant,
            job: job.id,
            cancel: options.cancel.as_ref(),
            shared: &shared,
            bytes: &bytes_read,
            total_bytes: size,
            last: std::time::Instant::now(),
            cancelled: false,
        };
        let mut mapper = Mapper {
            schema: &schema,
            plan: &plan,
            columns: &columns,
            source: Vec::new(),
            stock: Vec::new(),
            types: types.as_ref(),
        };
        // Two threads: this one writes while a second reads, maps (running the field mappers)
        // and checks the rows ahead of it, so on two cores the plugins' work and SQLite's
        // overlap.
        let (outcome, mappers) = std::thread::scope(|scope| {
            let (rows_out, rows_in) = mpsc::sync_channel(MESSAGES_IN_FLIGHT);
            let (committed_out, committed_in) = mpsc::channel::<()>();
            let (spares_out, spares_in) = mpsc::channel();
            run.recycle = Some(spares_out);
            let wait_for_commits = mappers.reads_companies();
            let batch_rows = options.batch_rows;
            let mut mappers = mappers;
            let shared = &shared;
            let reader = scope.spawn(move || {
                read_rows(
                    &mut csv,
                    &unclosed,
                    source,
                    first,
                    &mut mapper,
                    &mut mappers,
                    batch_rows,
                    wait_for_commits.then_some(&committed_in),
                    &spares_in,
                    &rows_out,
                    shared,
                );
                mappers
            });
            let mut incoming = Incoming {
                from: rows_in,
                rows: Vec::new().into_iter(),
            };
            let batches = Batches {
                rows: options.batch_rows,
                committed: &committed_out,
            };
            // A dry run decides the same rows in memory; a real run writes them.
            let settle = if options.dry_run {
                Self::imagine
            } else {
                Self::write_slices
            };
            let outcome = settle(
                self,
                &mut run,
                &mut job,
                &mut incoming,
                &mut watch,
                progress,
                &batches,
            );
            // Whatever happened, the reading thread stops: its channels are closed.
            drop(incoming);
            drop(committed_out);
            run.recycle = None;
            match reader.join() {
                Ok(mappers) => (outcome, mappers),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        drop(mappers);
        if let Some(id) = job.id {
            self.tenant
                .store()
                .clear_stop(&self.tenant.id, "import", id);
        }
        match outcome {
            Ok(()) => Ok(job),
            Err(error) => Err(self.fail_job(job, error)),
        }
    }

    /// Records a fatal error on a stored job (its committed rows stay), and returns the error.
    pub(super) fn fail_job(&self, mut job: ImportJob, error: Error) -> Error {
        if let Some(id) = job.id {
            job.status = JobStatus::Failed;
            job.error = Some(error.to_string());
            job.finished_at = Some(self.tenant.host.now());
            // The job row must say why it stopped; if even that fails, the original error is
            // the one to report.
            let _ = self.tenant.write(|op| job::save(op, id, &job));
        }
        error
    }

    /// Runs the *partner created* hook for a committed batch's new partners. A partner whose
    /// fail-closed hook fails is undone, and its row counted as failed with the plugin's error.
    pub(super) fn run_partner_hooks(
        &self,
        new_partners: &mut Vec<(i64, u64, Undo)>,
        job: &mut ImportJob,
    ) -> Result<()> {
        for (id, row, undo) in new_partners.drain(..) {
            let created = undo == Undo::Delete;
            if let Err(error) = self.tenant.partners().created_hook(id, undo) {
                let plugin = match error.kind() {
                    ErrorKind::Plugin(e) => Some(e.plugin().to_owned()),
                    _ => None,
                };
                if created {
                    job.created -= 1;
                } else {
                    job.updated -= 1;
                }
                job.failed += 1;
                let row_error = RowError {
                    row,
                    outcome: RowErrorKind::Failed,
                    column: None,
                    field: None,
                    plugin,
                    reason: format!("partner created hook: {error}"),
                };
                if let Some(job_id) = job.id {
                    self.tenant.write(|op| {
                        job::insert_error(op, job_id, &row_error)?;
                        job::save(op, job_id, job)
                    })?;
                }
                if job.errors.len() < ERRORS_KEPT {
                    job.errors.push(row_error);
                }
            }
        }
        Ok(())
    }
}
