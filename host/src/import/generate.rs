//! Generated partner rows, for trials and the import benchmark.

use std::io::{self, Write};

const INDUSTRIES: [&str; 8] = [
    "Consulting",
    "Logistics",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Software",
    "Education",
    "Finance",
];
const COUNTRIES: [&str; 8] = ["DE", "US", "GB", "FR", "NZ", "JP", "BR", "IN"];
const SUFFIXES: [&str; 5] = ["GmbH", "Inc", "Ltd", "SAS", "Partners"];

/// Writes a partners CSV of `rows` generated rows (`External ID,Name,Industry,Country,Website,
/// Email,ARR`), the same for the same `rows`: every name and external id is unique, some names
/// are in lower case and some emails in mixed case, so a normalizing field mapper has work.
pub fn generate_partners_csv(out: &mut impl Write, rows: u64) -> io::Result<()> {
    writeln!(out, "External ID,Name,Industry,Country,Website,Email,ARR")?;
    for i in 1..=rows {
        let industry = INDUSTRIES[(i % 8) as usize];
        let country = COUNTRIES[(i / 8 % 8) as usize];
        let suffix = SUFFIXES[(i % 5) as usize];
        let arr = 10_000 + (i * 7_919) % 490_000;
        if i % 3 == 0 {
            writeln!(
                out,
                "P-{i:07},channel partner {i} {suffix},{industry},{country},\
                 https://WWW.Partner{i}.example/,Hello@Partner{i}.example,{arr}"
            )?;
        } else {
            writeln!(
                out,
                "P-{i:07},Channel Partner {i} {suffix},{industry},{country},\
                 partner{i}.example,hello@partner{i}.example,{arr}"
            )?;
        }
    }
    Ok(())
}
