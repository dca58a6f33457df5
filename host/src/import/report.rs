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

impl Imports<'_> {
    /// A sample CSV for the tenant's fields: a header that maps itself, and two example rows.
    ///
    /// For relationships: a column per field of any type, and one row of the first type and
    /// one of the last (the columns of another type's fields left empty); refused while the
    /// tenant has no relationship type.
    pub fn sample_csv(&self, target: ImportTarget) -> Result<String> {
        let mut header: Vec<String> = Vec::new();
        let mut rows: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        if target == ImportTarget::Relationships {
            let types = self.tenant.read(ImportTypes::load)?;
            let kinds: Vec<(&str, &Schema)> = types.all().collect();
            let (Some(first), Some(last)) = (kinds.first(), kinds.last()) else {
                return Err(Error::new(ErrorKind::Invalid(
                    "the tenant has no relationship types yet: an admin adds them with \
                     `cshost relationship-type add`"
                        .to_owned(),
                )));
            };
            for def in types.mappable().fields() {
                header.push(label(&def.name));
                for (i, (row, (kind, schema))) in rows.iter_mut().zip([first, last]).enumerate() {
                    let pick = |a: &str, b: &str| if i == 0 { a } else { b }.to_owned();
                    row.push(match def.name.as_str() {
                        NAME => pick("Aurora EU", "Kiwi data centre"),
                        relationship_import::COMPANY => pick("Aurora Logistics", "C-0002"),
                        relationship_import::TYPE => (*kind).to_owned(),
                        EXTERNAL_ID => pick("R-0001", "R-0002"),
                        "status" => pick("active", "renewing"),
                        "renewal_date" => pick("2027-01-31", "2026-12-01"),
                        name => match schema.get(name) {
                            // Another type's field stays empty on this type's row.
                            None => String::new(),
                            Some(own) if own.required && own.field_type == FieldType::Text => {
                                "text".to_owned()
                            }
                            Some(own) => example(own, target, i),
                        },
                    });
                }
            }
            header.push("Managed By".to_owned());
            rows[0].push("Bennett & Co.".to_owned());
            rows[1].push(String::new());
        } else {
            for def in &self.tenant.companies().fields()? {
                header.push(label(&def.name));
                for (i, row) in rows.iter_mut().enumerate() {
                    row.push(example(def, target, i));
                }
            }
        }
        if target == ImportTarget::Companies {
            header.push("Managed By".to_owned());
            rows[0].push("Bennett & Co.".to_owned());
            rows[1].push(String::new());
        }
        let mut out = csv::Writer::from_writer(Vec::new());
        let mut write = |cells: &[String]| {
            out.write_record(
                cells
                    .iter()
                    .map(|cell| csvfile::safe_cell(cell).into_owned()),
            )
        };
        let written = write(&header)
            .and_then(|_| write(&rows[0]))
            .and_then(|_| write(&rows[1]));
        let bytes = written
            .map_err(io::Error::other)
            .and_then(|_| {
                out.into_inner()
                    .map_err(|e| io::Error::other(e.to_string()))
            })
            .map_err(|source| {
                Error::new(ErrorKind::Io {
                    path: "sample CSV".into(),
                    source,
                })
            })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
