//! The *CSV row mapped* chain at work: rows pass through the tenant's field mappers in priority
//! order, each plugin's changes applied to the row's values by position before the next plugin
//! sees them. A plugin of contract 0.2.0 takes a batch of rows per call; one of 0.1.0, a row.

use serde_json::json;

use super::{RowMappers, RowVerdict, Slot, rows_json};
use crate::model::{FieldValue, Fields};
use crate::plugins::{BatchRow, CallStats, FailurePolicy, PluginError, PluginErrorKind, RowAction};

impl RowMappers {
    /// Whether a plugin of the chain maps rows in batches (contract 0.2.0): the caller then
    /// does better to pass rows in batches ([`map_rows`](Self::map_rows)).
    pub(crate) fn batches(&self) -> bool {
        self.slots
            .iter()
            .any(|slot| !slot.benched && slot.instance.plugin().manifest().contract != "0.1.0")
    }

    /// Whether a plugin of the chain reads the rows' source values: without one, the caller
    /// need not gather them.
    pub(crate) fn reads_source(&self) -> bool {
        self.reads_source
    }

    /// Runs the chain on one mapped row; each plugin's `keep` changes are applied to `fields` in
    /// place before the next plugin sees them.
    pub(crate) fn map_row(
        &mut self,
        number: u64,
        source: &[String],
        fields: &mut Fields,
    ) -> RowVerdict {
        let mut row = std::mem::take(&mut self.spare);
        self.take_row(&mut row, number, source, fields);
        let verdict = self
            .map_rows(std::slice::from_mut(&mut row))
            .pop()
            .expect("one row in, one verdict out");
        self.put_row(&mut row, fields);
        self.spare = row;
        verdict
    }

    /// Moves a row's values out of its fields, in the chain's order of fields, into `row`.
    pub(crate) fn take_row(
        &self,
        row: &mut BatchRow,
        number: u64,
        source: &[String],
        fields: &mut Fields,
    ) {
        row.number = number;
        row.source.clear();
        if self.reads_source {
            row.source.extend_from_slice(source);
        }
        row.values.clear();
        row.values.extend(
            self.fields
                .iter()
                .map(|name| fields.get_mut(name).map(std::mem::take).unwrap_or_default()),
        );
        row.added.clear();
    }

    /// Moves a row's values back into its fields, with the fields the plugins added.
    pub(crate) fn put_row(&self, row: &mut BatchRow, fields: &mut Fields) {
        for (name, value) in self.fields.iter().zip(row.values.drain(..)) {
            match fields.get_mut(name) {
                Some(slot) => *slot = value,
                None if value.is_null() => {}
                None => {
                    fields.insert(name.clone(), value);
                }
            }
        }
        fields.extend(row.added.drain(..));
    }

    /// Runs the chain on a batch of rows (values in the chain's order of fields, see
    /// [`take_row`](Self::take_row)): one verdict per row, in order. A row a plugin skips,
    /// rejects or fails (fail-closed) goes no further down the chain.
    pub(crate) fn map_rows(&mut self, rows: &mut [BatchRow]) -> Vec<RowVerdict> {
        let mut verdicts: Vec<Option<RowVerdict>> = vec![None; rows.len()];
        for at in 0..self.slots.len() {
            if self.slots[at].benched {
                continue;
            }
            if self.slots[at].instance.plugin().manifest().contract == "0.1.0" {
                for (row, verdict) in rows.iter_mut().zip(verdicts.iter_mut()) {
                    if verdict.is_none() {
                        *verdict = self.map_one(at, row);
                    }
                }
            } else {
                self.map_batch(at, rows, &mut verdicts);
            }
        }
        verdicts
            .into_iter()
            .map(|verdict| verdict.unwrap_or(RowVerdict::Keep))
            .collect()
    }

    /// A plugin the import no longer calls (its breaker tripped, or it spent its budget): its
    /// failure policy decides for each row left. `None`: the row goes on without it.
    fn sitting_out(slot: &Slot) -> Option<Option<RowVerdict>> {
        if !(slot.log.tripped() || slot.spent) {
            return None;
        }
        Some(match (slot.policy, &slot.last_error) {
            (FailurePolicy::FailClosed, Some(error)) => Some(RowVerdict::Failed(error.clone())),
            _ => None,
        })
    }

    /// Runs the plugin of slot `at` on one row.
    fn map_one(&mut self, at: usize, row: &mut BatchRow) -> Option<RowVerdict> {
        if let Some(verdict) = Self::sitting_out(&self.slots[at]) {
            return verdict;
        }
        let slot = &mut self.slots[at];
        let result = slot.instance.map_row_in_place(
            row.number,
            &row.source,
            &mut row.values,
            &mut row.added,
        );
        let stats = slot.instance.last_call();
        self.record(at, row, result, &stats)
    }

    /// Runs the plugin of slot `at` on the rows of a batch no plugin before it refused.
    fn map_batch(&mut self, at: usize, rows: &mut [BatchRow], verdicts: &mut [Option<RowVerdict>]) {
        if let Some(verdict) = Self::sitting_out(&self.slots[at]) {
            for slot in verdicts.iter_mut().filter(|v| v.is_none()) {
                *slot = verdict.clone();
            }
            return;
        }
        let open: Vec<usize> = (0..rows.len()).filter(|&i| verdicts[i].is_none()).collect();
        let results = if open.len() == rows.len() {
            self.slots[at].instance.map_rows(rows)
        } else {
            let mut batch: Vec<BatchRow> =
                open.iter().map(|&i| std::mem::take(&mut rows[i])).collect();
            let results = self.slots[at].instance.map_rows(&mut batch);
            for (&i, row) in open.iter().zip(batch) {
                rows[i] = row;
            }
            results
        };
        for (&i, (result, stats)) in open.iter().zip(results) {
            verdicts[i] = self.record(at, &rows[i], result, &stats);
        }
    }

    /// Records what the plugin of slot `at` made of a row in its run log, and what it means for
    /// the row: `None` if it goes on down the chain.
    fn record(
        &mut self,
        at: usize,
        row: &BatchRow,
        result: Result<RowAction, PluginError>,
        stats: &CallStats,
    ) -> Option<RowVerdict> {
        let slot = &mut self.slots[at];
        match result {
            Ok(RowAction::Keep) => {
                slot.log.success(stats);
                None
            }
            Ok(RowAction::Skip(reason)) => {
                slot.log.success(stats);
                Some(RowVerdict::Skip {
                    plugin: slot.name().to_owned(),
                    reason,
                })
            }
            Ok(RowAction::Reject { field, message }) => {
                slot.log.success(stats);
                Some(RowVerdict::Reject {
                    plugin: slot.name().to_owned(),
                    field,
                    message,
                })
            }
            Err(error) => {
                let columns = &self.columns;
                let object = self.object.as_deref();
                let clock = &self
                    .sink
                    .as_ref()
                    .expect("a chain with plugins has a sink")
                    .clock;
                let names = &self.fields;
                slot.log.failure(stats, &error, &**clock, || {
                    let mut fields: Fields = names
                        .iter()
                        .zip(&row.values)
                        .filter(|(_, value)| !matches!(value, FieldValue::Null))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect();
                    fields.extend(row.added.iter().cloned());
                    let row =
                        json!({"number": row.number, "source": &row.source, "fields": fields});
                    rows_json(object, columns, json!([row]))
                });
                // A spent budget is recorded once, not once for each row left.
                slot.spent = matches!(error.kind(), PluginErrorKind::BudgetSpent { .. });
                match slot.policy {
                    FailurePolicy::FailClosed => {
                        slot.last_error = Some(error.clone());
                        Some(RowVerdict::Failed(error))
                    }
                    FailurePolicy::FailOpen => {
                        slot.last_error = Some(error);
                        None
                    }
                }
            }
        }
    }
}
