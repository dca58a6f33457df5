//! The normalisation itself, free of any plugin plumbing, so the same code can be compiled
//! natively (the host's benchmark compares the plugin against it).

use std::rc::Rc;

/// Read and write access to a row's text fields.
pub trait TextRow {
    /// The names of the row's fields, shared rather than copied for each row.
    fn field_names(&self) -> Rc<[String]>;
    /// A field's text, if it holds text.
    fn text(&self, field: &str) -> Option<&str>;
    /// Sets a field to text.
    fn set_text(&mut self, field: &str, text: String);
}

/// Why a row is refused: the field at fault and the message.
pub type Rejection = (&'static str, String);

/// The country-to-region table used when the `regions` key is not configured.
pub const DEFAULT_REGIONS: &str = "US=North America,CA=North America,MX=LATAM,BR=LATAM,\
AR=LATAM,GB=EMEA,IE=EMEA,DE=EMEA,FR=EMEA,ES=EMEA,IT=EMEA,NL=EMEA,SE=EMEA,JP=APAC,AU=APAC,\
IN=APAC,SG=APAC,CN=APAC";

/// Normalises a row: trims every value, title-cases `name`, lower-cases and checks `email` and
/// the domain of `website`, and sets `region` from `country` by the `regions` table.
///
/// Returns the country code when no region is known for it, so the caller can log it.
pub fn normalize(row: &mut impl TextRow, regions: &str) -> Result<Option<String>, Rejection> {
    for field in row.field_names().iter() {
        if let Some(text) = row.text(field) {
            let trimmed = text.trim();
            if trimmed.len() != text.len() {
                let trimmed = trimmed.to_owned();
                row.set_text(field, trimmed);
            }
        }
    }
    if let Some(name) = row.text("name") {
        let titled = title_case(name);
        row.set_text("name", titled);
    }
    if let Some(email) = row.text("email").filter(|e| !e.is_empty()) {
        let email = email.to_lowercase();
        if !is_email(&email) {
            return Err(("email", format!("`{email}` is not an email address")));
        }
        row.set_text("email", email);
    }
    if let Some(website) = row.text("website").filter(|w| !w.is_empty()) {
        match normalize_website(website) {
            Some(website) => row.set_text("website", website),
            None => return Err(("website", format!("`{website}` is not a website address"))),
        }
    }
    if let Some(country) = row.text("country").filter(|c| !c.is_empty()) {
        let code = country.to_uppercase();
        match region_of(regions, &code) {
            Some(region) => row.set_text("region", region.to_owned()),
            None => return Ok(Some(code)),
        }
    }
    Ok(None)
}

/// Title-cases a company name: `acme corp` becomes `Acme Corp` and `BENNETT` becomes
/// `Bennett`, while words someone cased on purpose stay as they are: acronyms of up to four
/// capitals (`IBM`, `LLC`) and mixed-case words (`GmbH`, `McKinsey`).
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let letters = word.chars().filter(|c| c.is_alphabetic());
        let (upper, lower) = letters.fold((0, 0), |(u, l), c| {
            (
                u + usize::from(c.is_uppercase()),
                l + usize::from(c.is_lowercase()),
            )
        });
        let all_lower = upper == 0;
        let shouting = lower == 0 && upper > 4;
        if !(all_lower || shouting) {
            out.push_str(word);
            continue;
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars.flat_map(char::to_lowercase));
        }
    }
    out
}

fn is_domain(domain: &str) -> bool {
    let mut labels = 0;
    let mut last = "";
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Whether the text is an email address: one `@`, a local part, and a domain.
pub fn is_email(email: &str) -> bool {
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

/// Lower-cases the domain of a website address, keeping its scheme and path; `None` if the
/// domain is not one.
pub fn normalize_website(website: &str) -> Option<String> {
    let (scheme, rest) = match website.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_lowercase()), rest),
        None => (None, website),
    };
    let (domain, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let domain = domain.to_lowercase();
    if !is_domain(&domain) {
        return None;
    }
    Some(match scheme {
        Some(scheme) => format!("{scheme}://{domain}{path}"),
        None => format!("{domain}{path}"),
    })
}

/// The region of a country code in a `CODE=Region,...` table.
pub fn region_of<'a>(regions: &'a str, code: &str) -> Option<&'a str> {
    regions.split(',').find_map(|pair| {
        let (key, region) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case(code).then(|| region.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_keeps_deliberate_casing() {
        assert_eq!(title_case("acme corp"), "Acme Corp");
        assert_eq!(title_case("BENNETT & co."), "Bennett & Co.");
        assert_eq!(title_case("IBM Deutschland GmbH"), "IBM Deutschland GmbH");
        assert_eq!(title_case("mcKinsey"), "mcKinsey");
    }

    #[test]
    fn emails_and_websites() {
        assert!(is_email("sales@acme.com"));
        assert!(!is_email("sales at acme.com"));
        assert!(!is_email("sales@acme"));
        assert_eq!(
            normalize_website("HTTPS://WWW.Acme.COM/Partners").as_deref(),
            Some("https://www.acme.com/Partners")
        );
        assert_eq!(normalize_website("not a site"), None);
    }

    #[test]
    fn regions_come_from_the_table() {
        assert_eq!(region_of(DEFAULT_REGIONS, "DE"), Some("EMEA"));
        assert_eq!(region_of("DE=Central Europe", "de"), Some("Central Europe"));
        assert_eq!(region_of(DEFAULT_REGIONS, "ZZ"), None);
    }
}
