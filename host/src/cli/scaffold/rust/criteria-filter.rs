//! `{{name}}`: a criteria filter. Admins use it in criteria-based selection as
//! `plugin:{{name}} min=100000`, next to the built-in operators.

use cs_plugin_sdk::{Arguments, Company, CriteriaFilter, FieldValue, Plugin, PluginError, PluginInfo};

struct {{type}};

impl Plugin for {{type}} {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "{{name}}",
            env!("CARGO_PKG_VERSION"),
            "Matches companies whose ARR is at least the `min` argument",
        )
        .reads(["arr"])
    }
}

impl CriteriaFilter for {{type}} {
    fn matches(company: &Company, arguments: &Arguments) -> Result<bool, PluginError> {
        // `min=100000` on the command line arrives as a number, `"min": "100000"` in JSON as
        // text: `as_f64` reads both. A bad argument is the plugin's own error, with a code.
        let min = arguments
            .get("min")
            .and_then(FieldValue::as_f64)
            .ok_or_else(|| PluginError::new("bad-argument", "`min` must be a number, such as min=100000"))?;
        // `arr` is a number field; a company without a value does not match.
        let arr = company.field("arr").and_then(FieldValue::as_f64);
        Ok(arr.is_some_and(|arr| arr >= min))
    }
}

cs_plugin_sdk::export!({{type}}: CriteriaFilter);
