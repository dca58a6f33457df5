//! What an import is asked to do: its target, the column-to-field mapping, the options, and
//! the progress it reports.

use super::*;

/// What an import creates or updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportTarget {
    /// Company records (customers), optionally managed by a partner (a `managed_by` column).
    Companies,
    /// Partners: company records managed as partners, with an access scope.
    Partners,
    /// Relationships of companies: each row names its company (`company`, by name or external
    /// id) and its type (`type`, by name or id), and may name its managing partner
    /// (`managed_by`).
    Relationships,
}

named_enum!(ImportTarget, "import target", {
    Companies => "companies",
    Partners => "partners",
    Relationships => "relationships",
});

impl ImportTarget {
    /// The object each row of such an import is for, as field mappers learn it (the
    /// [`IMPORT_OBJECT_KEY`](crate::IMPORT_OBJECT_KEY) configuration value): `company`,
    /// `partner` or `relationship`.
    pub fn object(self) -> &'static str {
        match self {
            ImportTarget::Companies => "company",
            ImportTarget::Partners => "partner",
            ImportTarget::Relationships => "relationship",
        }
    }
}

/// Which source column fills which target field. Without a header row, columns are named by
/// their position: `1`, `2`, ...
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Mapping {
    /// `(source column, target field)` pairs, in the order given.
    pub columns: Vec<(String, String)>,
}

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Mapping {
        Mapping::default()
    }

    /// Maps `column` to `field`.
    pub fn map(mut self, column: impl Into<String>, field: impl Into<String>) -> Mapping {
        self.columns.push((column.into(), field.into()));
        self
    }

    /// The mapping a header implies: each column whose name, in lower case with spaces as
    /// `_`, is a field's name (or a usual alias: `Company Name` for `name`, `ID` for
    /// `external_id`, ...). Other columns are left out.
    ///
    /// For relationships, `Company`, `Account` or `Company ID` map to `company`, `Type` or
    /// `Relationship Type` to `type`, `Relationship Name` to `name`, `ID` or `Relationship ID`
    /// to `external_id`, and `Managed By` or `Partner` to `managed_by`.
    pub fn automatic(columns: &[String], fields: &[FieldDef], target: ImportTarget) -> Mapping {
        let mut mapping = Mapping::new();
        let mut taken = Vec::new();
        let relationships = target == ImportTarget::Relationships;
        for column in columns {
            let key = normalise(column);
            let field = match key.as_str() {
                "relationship_name" | "relationship" if relationships => NAME,
                "company"
                | "company_name"
                | "account"
                | "account_name"
                | "customer"
                | "company_id"
                | "company_external_id"
                | "account_id"
                    if relationships =>
                {
                    relationship_import::COMPANY
                }
                "type" | "relationship_type" | "type_name" if relationships => {
                    relationship_import::TYPE
                }
                "id" | "external_id" | "externalid" | "relationship_id" if relationships => {
                    EXTERNAL_ID
                }
                "managed_by" | "managed_by_partner" | "partner" if relationships => MANAGED_BY,
                "company_name" | "company" | "account_name" | "partner_name" => NAME,
                "id" | "external_id" | "externalid" | "company_id" | "account_id"
                | "partner_id" => EXTERNAL_ID,
                "annual_recurring_revenue" => "arr",
                "managed_by_partner" if target != ImportTarget::Partners => MANAGED_BY,
                MANAGED_BY if target != ImportTarget::Partners => MANAGED_BY,
                other => match fields.iter().find(|f| f.name == other) {
                    Some(def) => def.name.as_str(),
                    None => continue,
                },
            };
            if !taken.contains(&field) {
                taken.push(field);
                mapping = mapping.map(column.clone(), field);
            }
        }
        mapping
    }
}

pub(super) fn normalise(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    for c in column.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// How to run an import. By default: companies, properties detected, mapping from the header,
/// batches of 5,000 rows, not a dry run.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub(super) target: ImportTarget,
    pub(super) scope: Option<AccessScope>,
    pub(super) mapping: Option<Mapping>,
    pub(super) separator: Option<Separator>,
    pub(super) quote: Option<char>,
    pub(super) escape: Option<Option<char>>,
    pub(super) has_header: Option<bool>,
    pub(super) encoding: Option<Encoding>,
    pub(super) dry_run: bool,
    pub(super) batch_rows: usize,
    pub(super) cancel: Option<ImportCancel>,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            target: ImportTarget::Companies,
            scope: None,
            mapping: None,
            separator: None,
            quote: None,
            escape: None,
            has_header: None,
            encoding: None,
            dry_run: false,
            batch_rows: 5_000,
            cancel: None,
        }
    }
}

impl ImportOptions {
    /// Options for importing companies.
    pub fn companies() -> ImportOptions {
        ImportOptions::default()
    }

    /// Options for importing partners with this access scope (`None` unless the tenant works
    /// at both levels, where it must be chosen).
    pub fn partners(scope: Option<AccessScope>) -> ImportOptions {
        ImportOptions {
            target: ImportTarget::Partners,
            scope,
            ..ImportOptions::default()
        }
    }

    /// Options for importing relationships (see [`ImportTarget::Relationships`]).
    pub fn relationships() -> ImportOptions {
        ImportOptions {
            target: ImportTarget::Relationships,
            ..ImportOptions::default()
        }
    }

    /// The column-to-field mapping. By default, [`Mapping::automatic`] on the header.
    pub fn mapping(mut self, mapping: Mapping) -> ImportOptions {
        self.mapping = Some(mapping);
        self
    }

    /// The separator. By default, detected.
    pub fn separator(mut self, separator: Separator) -> ImportOptions {
        self.separator = Some(separator);
        self
    }

    /// The quote character. By default, detected (`"` unless the file uses `'`).
    pub fn quote(mut self, quote: char) -> ImportOptions {
        self.quote = Some(quote);
        self
    }

    /// The escape character before quotes inside quoted fields, or `None` for doubled quotes.
    /// By default, detected.
    pub fn escape(mut self, escape: Option<char>) -> ImportOptions {
        self.escape = Some(escape);
        self
    }

    /// Whether the first row is a header. By default, true.
    pub fn has_header(mut self, has_header: bool) -> ImportOptions {
        self.has_header = Some(has_header);
        self
    }

    /// The encoding. By default, detected.
    pub fn encoding(mut self, encoding: Encoding) -> ImportOptions {
        self.encoding = Some(encoding);
        self
    }

    /// Reports what would happen and writes nothing: the rows are decided in memory on a read
    /// snapshot, taking no lock, so writers never wait for a dry run. By default, false.
    pub fn dry_run(mut self, dry_run: bool) -> ImportOptions {
        self.dry_run = dry_run;
        self
    }

    /// Rows per transaction. By default, 5,000.
    pub fn batch_rows(mut self, rows: usize) -> ImportOptions {
        self.batch_rows = rows.max(1);
        self
    }

    /// Stops the import when `cancel` is cancelled: see [`ImportCancel`]. By default, only
    /// [`Imports::cancel`](crate::Imports::cancel) cancels it.
    pub fn cancel_on(mut self, cancel: ImportCancel) -> ImportOptions {
        self.cancel = Some(cancel);
        self
    }
}

/// How far an import has got, reported once when its job is recorded, then after each batch and
/// at least twice a second between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The job's id: known once the job is recorded, before the first row is read (a dry run
    /// records no job).
    pub job: Option<i64>,
    /// Data rows settled so far.
    pub rows: u64,
    /// Data rows read and mapped (by the plugins too) so far: ahead of `rows`, which counts
    /// them as they are written.
    pub read: u64,
    /// Bytes of the file read so far.
    pub bytes: u64,
    /// The file's size.
    pub total_bytes: u64,
}
