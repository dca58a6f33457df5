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

use cs_plugin_sdk::{ConfigKey, FieldMapper, FieldValue, Plugin, PluginInfo, Refusal, Row, host};

struct NormalizePartner;

const DEFAULT_REGIONS: &str = "US=North America,CA=North America,MX=LATAM,BR=LATAM,AR=LATAM,\
GB=EMEA,IE=EMEA,DE=EMEA,FR=EMEA,ES=EMEA,IT=EMEA,NL=EMEA,SE=EMEA,JP=APAC,AU=APAC,IN=APAC,\
SG=APAC,CN=APAC";

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

impl FieldMapper for NormalizePartner {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        for field in row.field_names() {
            if let Some(FieldValue::Text(text)) = row.get(&field) {
                let trimmed = text.trim();
                if trimmed.len() != text.len() {
                    let trimmed = trimmed.to_owned();
                    row.set(&field, trimmed);
                }
            }
        }
        if let Some(name) = row.text("name") {
            let titled = title_case(name);
            row.set("name", titled);
        }
        if let Some(email) = row.text("email").filter(|e| !e.is_empty()) {
            let email = email.to_lowercase();
            if !is_email(&email) {
                return Err(Refusal::reject("email", format!("`{email}` is not an email address")));
            }
            row.set("email", email);
        }
        if let Some(website) = row.text("website").filter(|w| !w.is_empty()) {
            match normalize_website(website) {
                Some(website) => row.set("website", website),
                None => {
                    let message = format!("`{website}` is not a website address");
                    return Err(Refusal::reject("website", message));
                }
            }
        }
        if let Some(country) = row.text("country").filter(|c| !c.is_empty()) {
            let code = country.to_uppercase();
            match region_of(&code) {
                Some(region) => row.set("region", region),
                None => host::debug(&format!("row {}: no region for country `{code}`", row.number())),
            }
        }
        Ok(())
    }
}

fn title_case(name: &str) -> String {
    name.split(' ')
        .map(|word| {
            let is_acronym = word.len() <= 4 && word.chars().all(|c| c.is_uppercase() || !c.is_alphabetic());
            if is_acronym {
                return word.to_owned();
            }
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

fn is_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.contains(char::is_whitespace)
                && !domain.contains('@')
                && is_domain(domain)
        }
        None => false,
    }
}

/// Lower-cases the domain of a website address, keeping its scheme and path.
fn normalize_website(website: &str) -> Option<String> {
    let (scheme, rest) = match website.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_lowercase()), rest),
        None => (None, website),
    };
    let (domain, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let domain = domain.to_lowercase();
    if !is_domain(&domain) {
        return None;
    }
    Some(match scheme {
        Some(scheme) => format!("{scheme}://{domain}{path}"),
        None => format!("{domain}{path}"),
    })
}

fn region_of(code: &str) -> Option<String> {
    let regions = host::config("regions").unwrap_or_else(|| DEFAULT_REGIONS.to_owned());
    regions.split(',').find_map(|pair| {
        let (key, region) = pair.split_once('=')?;
        (key.trim().eq_ignore_ascii_case(code)).then(|| region.trim().to_owned())
    })
}

cs_plugin_sdk::export!(NormalizePartner: FieldMapper);
