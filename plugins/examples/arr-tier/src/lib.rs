//! `arr-tier`: a criteria filter that matches companies by the tier their ARR falls in.
//!
//! An admin adds the filter to a criteria with a text argument `tier`, say `gold`, and the
//! filter matches the companies whose `arr` field lies in that tier:
//!
//! - the tiers come from the `tiers` configuration key, as `name=low..high` entries separated by
//!   commas; each range is half-open, `low` included and `high` excluded, and `high` may be left
//!   out for a tier with no upper bound. The default is
//!   `bronze=0..50000,silver=50000..250000,gold=250000..1000000,platinum=1000000..`;
//! - `arr` may be an integer, a number, or text that reads as a number (`"300000"`); a company
//!   without an ARR matches no tier;
//! - tier names are matched without regard to case, so `Gold` finds `gold`;
//! - an unknown tier is a `bad-argument` error and a malformed `tiers` value a `bad-config`
//!   error, each naming the value at fault, so the admin sees what to fix.
//!
//! The plugin reads only `arr`, so the host passes each company with that one field.

use cs_plugin_sdk::{
    Arguments, Company, ConfigKey, CriteriaFilter, FieldValue, Plugin, PluginError, PluginInfo,
    host,
};

/// The tiers used when the admin configures none.
const DEFAULT_TIERS: &str =
    "bronze=0..50000,silver=50000..250000,gold=250000..1000000,platinum=1000000..";

struct ArrTier;

impl Plugin for ArrTier {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "arr-tier",
            env!("CARGO_PKG_VERSION"),
            "Matches companies whose ARR falls in the tier named by the `tier` argument",
        )
        .config(ConfigKey::optional(
            "tiers",
            "ARR tiers as name=low..high entries separated by commas; low is included, high \
             excluded, and high may be left out for an open-ended tier",
            DEFAULT_TIERS,
        ))
        .reads(["arr"])
    }
}

/// One ARR tier: the half-open range `[low, high)`, or `[low, ∞)` without `high`.
#[derive(Debug)]
struct Tier {
    name: String,
    low: f64,
    high: Option<f64>,
}

impl Tier {
    fn contains(&self, arr: f64) -> bool {
        self.low <= arr && self.high.is_none_or(|high| arr < high)
    }
}

thread_local! {
    /// The tiers, read and parsed once per instance rather than once per company: an instance
    /// serves one tenant, whose configuration does not change under it. A malformed value is
    /// kept as its error, reported on every call.
    static TIERS: Result<Vec<Tier>, PluginError> = {
        let spec = host::config("tiers").unwrap_or_else(|| DEFAULT_TIERS.to_owned());
        parse_tiers(&spec).map_err(|problem| {
            let message = format!("the `tiers` configuration `{spec}` is malformed: {problem}");
            PluginError::new("bad-config", message)
        })
    };
}

/// Parses `name=low..high,...`. Empty entries, such as after a trailing comma, are ignored.
fn parse_tiers(spec: &str) -> Result<Vec<Tier>, String> {
    let mut tiers: Vec<Tier> = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, range) = entry
            .split_once('=')
            .ok_or_else(|| format!("`{entry}` is not name=low..high"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{entry}` has no tier name"));
        }
        if tiers.iter().any(|t| t.name.eq_ignore_ascii_case(name)) {
            return Err(format!("the tier `{name}` is defined twice"));
        }
        let (low, high) = range
            .split_once("..")
            .ok_or_else(|| format!("the range of `{name}` is not low..high"))?;
        let bound = |text: &str| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .ok_or_else(|| {
                    format!("`{}` in the range of `{name}` is not a number", text.trim())
                })
        };
        let low = bound(low)?;
        let high = match high.trim() {
            "" => None,
            high => Some(bound(high)?),
        };
        if high.is_some_and(|high| high <= low) {
            return Err(format!("the range of `{name}` is empty"));
        }
        tiers.push(Tier {
            name: name.to_owned(),
            low,
            high,
        });
    }
    if tiers.is_empty() {
        return Err("it defines no tier".into());
    }
    Ok(tiers)
}

/// The tier of that name, or a `bad-argument` error listing the tiers there are.
fn find_tier<'a>(tiers: &'a [Tier], name: &str) -> Result<&'a Tier, PluginError> {
    tiers
        .iter()
        .find(|tier| tier.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let known: Vec<&str> = tiers.iter().map(|t| t.name.as_str()).collect();
            PluginError::new(
                "bad-argument",
                format!("unknown tier `{name}`: the tiers are {}", known.join(", ")),
            )
        })
}

impl CriteriaFilter for ArrTier {
    fn matches(company: &Company, arguments: &Arguments) -> Result<bool, PluginError> {
        let name = arguments.require_text("tier")?;
        TIERS.with(|tiers| {
            let tiers = tiers.as_ref().map_err(Clone::clone)?;
            // Resolve the tier before looking at the company, so a wrong tier name is reported
            // even when no company has an ARR.
            let tier = find_tier(tiers, name)?;
            let arr = company
                .field("arr")
                .and_then(FieldValue::as_f64)
                .filter(|arr| arr.is_finite());
            Ok(arr.is_some_and(|arr| tier.contains(arr)))
        })
    }
}

cs_plugin_sdk::export!(ArrTier: CriteriaFilter);
