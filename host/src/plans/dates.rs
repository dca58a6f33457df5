//! Converting between Unix seconds and calendar dates (UTC), which plans, CTAs and share links
//! need and which the standard library does not offer.

use crate::model::Date;

const SECONDS_PER_DAY: i64 = 86_400;

/// The UTC calendar date of a moment in Unix seconds.
pub(crate) fn date_of(unix: i64) -> Date {
    // Howard Hinnant's `civil_from_days`, valid for every date the proleptic Gregorian calendar
    // can name in an i32 year.
    let days = unix.div_euclid(SECONDS_PER_DAY);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date::new(year, month, day).expect("civil_from_days yields a real date")
}

/// A moment in Unix seconds as RFC 3339 text in UTC, such as `2026-03-01T12:00:00Z`: how share
/// links' expiry is shown.
pub fn rfc3339(unix: i64) -> String {
    let date = date_of(unix);
    let secs = unix.rem_euclid(SECONDS_PER_DAY);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The date `days` days after the UTC date of `unix`.
pub(crate) fn days_after(unix: i64, days: u32) -> Date {
    date_of(unix + i64::from(days) * SECONDS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_become_utc_dates() {
        assert_eq!(date_of(0).to_string(), "1970-01-01");
        assert_eq!(date_of(-1).to_string(), "1969-12-31");
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(date_of(1_709_251_199).to_string(), "2024-02-29");
        assert_eq!(date_of(1_709_251_200).to_string(), "2024-03-01");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600 + 3_723), "2026-01-01T01:02:03Z");
        assert_eq!(days_after(1_767_225_600, 31).to_string(), "2026-02-01");
    }
}
