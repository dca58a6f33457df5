//! `normalize-partner`: a field mapper that tidies partner rows as they are imported.
//!
//! - trims every text value;
//! - title-cases the company name (`acme corp` becomes `Acme Corp`; short all-capital words such
//!   as `IBM` stay as they are);
//! - lower-cases the email and checks it, rejecting the row with an error on `email` if it is
//!   not an address;
//! - lower-cases the website's domain and checks it, rejecting the row on `website` if it is not
//!   a domain;
//! - sets `region` from the `country` code, by the `regions` configuration key.
//!
//! The logic lives in `normalize.rs`, apart from the plugin plumbing below.

mod normalize;

use std::rc::Rc;

use cs_plugin_sdk::{ConfigKey, FieldMapper, Plugin, PluginInfo, Refusal, Row, host};
use normalize::{DEFAULT_REGIONS, TextRow};

struct NormalizePartner;

impl Plugin for NormalizePartner {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "normalize-partner",
            env!("CARGO_PKG_VERSION"),
            "Trims values, title-cases names, checks emails and websites, maps countries to regions",
        )
        .config(ConfigKey::optional(
            "regions",
            "Country code to region, as CODE=Region pairs separated by commas",
            DEFAULT_REGIONS,
        ))
    }
}

impl TextRow for Row {
    fn field_names(&self) -> Rc<[String]> {
        Row::field_names(self)
    }

    fn text(&self, field: &str) -> Option<&str> {
        Row::text(self, field)
    }

    fn set_text(&mut self, field: &str, text: String) {
        self.set(field, text);
    }
}

thread_local! {
    /// The `regions` table, read from the host once per instance rather than once per row.
    static REGIONS: String = host::config("regions").unwrap_or_else(|| DEFAULT_REGIONS.to_owned());
}

impl FieldMapper for NormalizePartner {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        let unknown = REGIONS.with(|regions| normalize::normalize(row, regions));
        match unknown {
            Ok(None) => Ok(()),
            Ok(Some(code)) => {
                host::debug(&format!(
                    "row {}: no region for country `{code}`",
                    row.number()
                ));
                Ok(())
            }
            Err((field, message)) => Err(Refusal::reject(field, message)),
        }
    }
}

cs_plugin_sdk::export!(NormalizePartner: FieldMapper);
