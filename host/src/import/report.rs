//! Stage five, what a user reads back: the error CSV of a job's row errors, and the sample CSV
//! of the tenant's fields.

use super::*;

/// Writes row errors as CSV.
pub(crate) fn write_errors(errors: &[RowError], out: impl io::Write) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["row", "outcome", "column", "field", "plugin", "reason"])?;
    for e in errors {
        let row = e.row.to_string();
        let outcome = match e.outcome {
            RowErrorKind::Failed => "failed",
            RowErrorKind::Skipped => "skipped",
        };
        writer.write_record(
            [
                row.as_str(),
                outcome,
                e.column.as_deref().unwrap_or(""),
                e.field.as_deref().unwrap_or(""),
                e.plugin.as_deref().unwrap_or(""),
                &e.reason,
            ]
            .map(csvfile::safe_cell)
            .iter()
            .map(|cell| cell.as_bytes()),
        )?;
    }
    writer.flush()?;
    Ok(())
}

/// A field's column label in a sample CSV, which automatic mapping maps back to the field.
pub(super) fn label(field: &str) -> String {
    match field {
        NAME => "Name".to_owned(),
        EXTERNAL_ID => "External ID".to_owned(),
        "arr" => "ARR".to_owned(),
        other => {
            let mut label = String::new();
            for word in other.split('_') {
                if !label.is_empty() {
                    label.push(' ');
                }
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    label.extend(first.to_uppercase());
                    label.push_str(chars.as_str());
                }
            }
            label
        }
    }
}

/// An example value for a field in a sample CSV.
pub(super) fn example(def: &FieldDef, target: ImportTarget, row: usize) -> String {
    let partner = target == ImportTarget::Partners;
    let pick = |a: &str, b: &str| if row == 0 { a } else { b }.to_owned();
    match def.name.as_str() {
        NAME if partner => pick("Bennett & Co.", "Northwind Channel Partners"),
        NAME => pick("Aurora Logistics", "Kiwi Health Ltd"),
        EXTERNAL_ID if partner => pick("P-0001", "P-0002"),
        EXTERNAL_ID => pick("C-0001", "C-0002"),
        "industry" => pick("Consulting", "Healthcare"),
        "region" => pick("EMEA", "APAC"),
        "country" => pick("DE", "NZ"),
        "website" => pick("bennett.co", "example.com"),
        "email" => pick("partners@bennett.co", "hello@example.com"),
        "arr" => pick("120000", "45000.50"),
        _ => match def.field_type {
            companies::FieldType::Text => pick("text", ""),
            companies::FieldType::Number => pick("42", "3.5"),
            companies::FieldType::Boolean => pick("true", "false"),
            companies::FieldType::Date => pick("2026-01-31", "2026-12-01"),
        },
    }
}
