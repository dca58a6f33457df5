//! The writing thread's loop: rows committed in slices that leave other writers their turn, or,
//! in a dry run, decided in memory on one read snapshot without writing or locking anything.
//!
//! A slice is one immediate transaction. It begins only once its first row is in hand (the write
//! lock is never held while the file is still to be read), and commits when the batch is done
//! or once it has held the lock for [`LONGEST_WRITE`], whichever comes first; the next slice
//! waits a moment ([`pause_after`]) so that the writers queued for the lock (a company added, a
//! link opened, another tenant's import) take their turn instead of waiting the import out. The
//! job's counts and its final status commit with the rows they count.

use std::time::{Duration, Instant};

use rusqlite::{Transaction, TransactionBehavior};

use super::dry::Imagined;
use super::*;
use crate::store::{self, LONGEST_WRITE, pause_after};

/// The batches the reading thread sends: `rows` rows each, the next mapped only once the
/// writing side says on `committed` that the last is committed (when the field mappers read
/// companies: see [`read_rows`]).
pub(super) struct Batches<'c> {
    pub(super) rows: usize,
    pub(super) committed: &'c mpsc::Sender<()>,
}

/// An open slice: its transaction and when it took the write lock.
struct Slice<'c> {
    tx: Transaction<'c>,
    began: Instant,
}

impl Imports<'_> {
    /// Writes the rows in slices; see the module docs.
    pub(super) fn write_slices(
        &self,
        run: &mut Run<'_>,
        job: &mut ImportJob,
        incoming: &mut Incoming,
        watch: &mut Watch<'_>,
        progress: &mut dyn FnMut(Progress),
        batches: &Batches<'_>,
    ) -> Result<()> {
        // Each multi-row INSERT keeps a statement journal (the pages it changed, to undo the
        // statement alone when a row of it is refused). SQLite spills that journal to a
        // temporary file past 64 KiB, which one statement's pages exceed: writing it cost about
        // 8% of the writing thread. In memory it stays one statement's pages.
        self.tenant.read(|base| {
            store::with_temp_store_in_memory(base.conn, || {
                let mut writer = Writer::new(base)?;
                let mut relationships = relationship_import::Stored::new(base)?;
                // When the last slice committed, and how long the next one waits from then on.
                let mut last: Option<(Instant, Duration)> = None;
                let mut more = true;
                while more {
                    let mut in_batch = 0;
                    let mut slice: Option<Slice<'_>> = None;
                    loop {
                        // A slice commits at one place: once it has held the lock for
                        // `LONGEST_WRITE` (before another row is read), when the batch is full, and
                        // when the file has ended.
                        let due = in_batch == batches.rows
                            || slice
                                .as_ref()
                                .is_some_and(|open| open.began.elapsed() >= LONGEST_WRITE);
                        let prepared = if due {
                            None
                        } else {
                            let rows = job.rows;
                            let next = incoming.next(&mut || watch.tick(rows, progress))?;
                            if next.is_none() {
                                more = false;
                                end(job, watch, self.tenant.host.now());
                            }
                            next
                        };
                        if let Some(prepared) = prepared {
                            if slice.is_none() {
                                if let Some((committed, pause)) = last {
                                    std::thread::sleep(pause.saturating_sub(committed.elapsed()));
                                }
                                let tx = Transaction::new_unchecked(
                                    base.conn,
                                    TransactionBehavior::Immediate,
                                )?;
                                if run.target != ImportTarget::Relationships {
                                    writer.begin()?;
                                }
                                run.begin_slice(&base.on(&tx))?;
                                slice = Some(Slice {
                                    tx,
                                    began: Instant::now(),
                                });
                            }
                            let open = slice.as_ref().expect("a slice is open");
                            let op = base.on(&open.tx);
                            in_batch += 1;
                            run.row(&op, &mut writer, &mut relationships, prepared)?;
                            if writer.is_empty() && relationships.is_empty() {
                                run.settle(&op, job)?;
                            }
                            continue;
                        }
                        match slice.take() {
                            Some(open) => {
                                last = Some(self.commit_slice(
                                    base,
                                    open,
                                    run,
                                    (&mut writer, &mut relationships),
                                    job,
                                )?);
                            }
                            // The file ended right after a slice committed: the job's end is written
                            // on its own.
                            None if !more => {
                                if let Some(id) = job.id {
                                    self.tenant.write(|op| job::save(op, id, job))?;
                                }
                            }
                            None => {}
                        }
                        if !more || in_batch == batches.rows {
                            break;
                        }
                    }
                    // The reading thread may map the next batch's rows now. It may have stopped
                    // already (after the last row): nothing waits then.
                    let _ = batches.committed.send(());
                    watch.committed(job.rows, progress);
                }
                Ok(())
            })
        })
    }

    /// Writes a slice's last rows and the job's counts, commits, and runs the hooks its new
    /// partners owe. Returns when it committed and how long the next slice waits.
    fn commit_slice(
        &self,
        base: &Op<'_>,
        slice: Slice<'_>,
        run: &mut Run<'_>,
        (writer, relationships): (&mut Writer<'_>, &mut relationship_import::Stored<'_>),
        job: &mut ImportJob,
    ) -> Result<(Instant, Duration)> {
        let op = base.on(&slice.tx);
        // Every row of the slice is written before its transaction commits.
        run.flush(writer, relationships)?;
        run.settle(&op, job)?;
        if let Some(id) = job.id {
            job::save(&op, id, job)?;
        }
        slice.tx.commit()?;
        let pause = pause_after(slice.began.elapsed());
        if run.lifecycle {
            self.run_partner_hooks(&mut run.new_partners, job)?;
        }
        run.new_partners.clear();
        Ok((Instant::now(), pause))
    }

    /// A dry run: every row decided as a real run would decide it, against one read snapshot
    /// of the database and the records the earlier rows would have created or changed, kept in
    /// memory. The connection is made read-only for the while: nothing is written, and no write
    /// lock is taken, so writers never wait for a dry run and a dry run never fails for them.
    pub(super) fn imagine(
        &self,
        run: &mut Run<'_>,
        job: &mut ImportJob,
        incoming: &mut Incoming,
        watch: &mut Watch<'_>,
        progress: &mut dyn FnMut(Progress),
        batches: &Batches<'_>,
    ) -> Result<()> {
        self.tenant.read(|base| {
            base.conn.execute_batch("PRAGMA query_only = ON")?;
            let result = (|| -> Result<()> {
                // A read transaction: every look-up sees the database as it was at the first.
                let tx = Transaction::new_unchecked(base.conn, TransactionBehavior::Deferred)?;
                let op = base.on(&tx);
                let mut imagined = Imagined::new(&op)?;
                in_batches(job, incoming, watch, progress, batches, |job, prepared| {
                    run.imagine(&op, &mut imagined, prepared)?;
                    run.settle(&op, job)
                })?;
                end(job, watch, self.tenant.host.now());
                Ok(())
            })();
            // The connection goes back to the pool writable, whatever happened.
            let writable = base.conn.execute_batch("PRAGMA query_only = OFF");
            result.and(writable.map_err(Error::from))
        })
    }
}

/// Hands the rows to `step` batch by batch; after each batch, lets the reading thread map the
/// next one and reports progress; until the file ends or the import is cancelled.
fn in_batches(
    job: &mut ImportJob,
    incoming: &mut Incoming,
    watch: &mut Watch<'_>,
    progress: &mut dyn FnMut(Progress),
    batches: &Batches<'_>,
    mut step: impl FnMut(&mut ImportJob, Prepared) -> Result<()>,
) -> Result<()> {
    let mut more = true;
    while more {
        for _ in 0..batches.rows {
            let rows = job.rows;
            let Some(prepared) = incoming.next(&mut || watch.tick(rows, progress))? else {
                more = false;
                break;
            };
            step(job, prepared)?;
        }
        let _ = batches.committed.send(());
        watch.committed(job.rows, progress);
    }
    Ok(())
}

/// Marks the job ended at `now`: cancelled when it was asked to stop, completed otherwise.
fn end(job: &mut ImportJob, watch: &Watch<'_>, now: i64) {
    job.status = if watch.cancelled {
        JobStatus::Cancelled
    } else {
        JobStatus::Completed
    };
    job.finished_at = Some(now);
}
