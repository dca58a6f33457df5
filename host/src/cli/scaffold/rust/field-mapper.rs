//! `{{name}}`: a field mapper. It runs on each row of a CSV import, after the admin's column
//! mapping and before the row is checked against the field schema and written.

use cs_plugin_sdk::{ConfigKey, FieldMapper, Plugin, PluginInfo, Refusal, Row, host};

struct {{type}};

impl Plugin for {{type}} {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "{{name}}",
            env!("CARGO_PKG_VERSION"),
            "Trims company names, skips test rows and sets the region from the country",
        )
        // Only these fields cross into the plugin: fewer fields, cheaper calls.
        .reads(["name", "country", "region"])
        .config(ConfigKey::optional(
            "regions",
            "Country code to region, as CODE=Region pairs separated by commas",
            "DE=EMEA,FR=EMEA,GB=EMEA,US=North America,JP=APAC",
        ))
    }
}

impl FieldMapper for {{type}} {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        let Some(name) = row.text("name").map(str::trim) else {
            // A row error: the import reports it, naming the field, and writes nothing.
            return Err(Refusal::reject("name", "the company has no name"));
        };
        if name.eq_ignore_ascii_case("test") {
            // A skipped row is reported as skipped, not failed.
            return Err(Refusal::skip("a test row"));
        }
        let name = name.to_owned();
        row.set("name", name);
        if let Some(country) = row.text("country").map(str::to_uppercase) {
            let regions = host::config("regions").unwrap_or_default();
            match region_of(&regions, &country) {
                Some(region) => row.set("region", region),
                None => host::debug(&format!("row {}: no region for `{country}`", row.number())),
            }
        }
        Ok(())
    }
}

/// The region of a country code in a `CODE=Region,...` table.
fn region_of(regions: &str, code: &str) -> Option<String> {
    regions.split(',').find_map(|pair| {
        let (key, region) = pair.split_once('=')?;
        (key.trim() == code).then(|| region.trim().to_owned())
    })
}

cs_plugin_sdk::export!({{type}}: FieldMapper);
