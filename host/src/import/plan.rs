//! Stage two: plan the mapping. The mapping is checked against the file's header and the
//! tenant's field schema before any row is read.

use super::*;

/// One mapped column: where it is in the row and which field it fills.
pub(super) struct Planned {
    pub(super) index: usize,
    pub(super) column: String,
    pub(super) field: String,
    /// `None` for `managed_by`, which names a partner rather than holding a value. (A
    /// relationship's `company` and `type` are text the row carries, which field mappers see.)
    pub(super) def: Option<FieldDef>,
}

/// Checks the mapping against the header and the schema, before any row is read.
pub(super) fn plan(
    mapping: &Mapping,
    columns: &[String],
    schema: &Schema,
    target: ImportTarget,
) -> std::result::Result<Vec<Planned>, String> {
    let mut unknown = Vec::new();
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    let mut plan: Vec<Planned> = Vec::new();
    for (column, field) in &mapping.columns {
        let def = schema.get(field).cloned();
        let managed_by = field == MANAGED_BY && target != ImportTarget::Partners;
        if def.is_none() && !managed_by {
            unknown.push(field.as_str());
            continue;
        }
        if plan.iter().any(|p| &p.field == field) {
            twice.push(field.as_str());
            continue;
        }
        let Some(index) = columns.iter().position(|c| c == column) else {
            missing.push(column.as_str());
            continue;
        };
        plan.push(Planned {
            index,
            column: column.clone(),
            field: field.clone(),
            def,
        });
    }
    if !unknown.is_empty() {
        let known: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
        let (object, extra) = match target {
            ImportTarget::Relationships => (
                "relationship fields (of every type)",
                format!(", `{MANAGED_BY}`"),
            ),
            ImportTarget::Companies => ("company fields", format!(", `{MANAGED_BY}`")),
            ImportTarget::Partners => ("company fields", String::new()),
        };
        return Err(format!(
            "unknown target field {}; the {object} are {}{extra}",
            quoted_list(&unknown),
            quoted_list(&known)
        ));
    }
    if !twice.is_empty() {
        return Err(format!(
            "field {} is mapped from more than one column",
            quoted_list(&twice)
        ));
    }
    if !missing.is_empty() {
        let have: Vec<&str> = columns.iter().map(String::as_str).collect();
        return Err(format!(
            "mapped column {} is not in the file; its columns are {}",
            quoted_list(&missing),
            quoted_list(&have)
        ));
    }
    if !plan.iter().any(|p| p.field == NAME) {
        return Err(
            "Name is not mapped: map a column to the `name` field (the Name mapping is \
             mandatory)"
                .to_owned(),
        );
    }
    if target == ImportTarget::Relationships {
        let mandatory = [
            (
                relationship_import::COMPANY,
                "Company",
                "the company's name or external id",
            ),
            (
                relationship_import::TYPE,
                "Type",
                "the relationship type's name or id",
            ),
        ];
        for (field, label, holds) in mandatory {
            if !plan.iter().any(|p| p.field == field) {
                return Err(format!(
                    "{label} is not mapped: map a column to the `{field}` field ({holds}; the \
                     {label} mapping is mandatory)"
                ));
            }
        }
    }
    Ok(plan)
}

pub(super) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The source column of a mapped field.
pub(super) fn column_of<'p>(plan: &'p [Planned], field: &str) -> Option<&'p str> {
    plan.iter()
        .find(|p| p.field == field)
        .map(|p| p.column.as_str())
}
