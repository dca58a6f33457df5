//! Converting between Unix seconds and calendar dates (UTC), which plans, CTAs and share links
//! need, on the calendar arithmetic of `jiff`.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::model::Date;

/// The most days from now a CTA may be due: about a hundred years. A lifecycle plugin's
/// `due_in_days` over this is refused as invalid output.
pub const MAX_DUE_IN_DAYS: u32 = 36_500;

/// The UTC calendar date of a moment in Unix seconds, or `None` if that date is outside the
/// years 1 to 9999.
pub(crate) fn date_of(unix: i64) -> Option<Date> {
    let moment = Timestamp::from_second(unix).ok()?;
    Date::from_civil(TimeZone::UTC.to_datetime(moment).date())
}

/// A moment in Unix seconds as RFC 3339 text in UTC, such as `2026-03-01T12:00:00Z`: how share
/// links' expiry and the audit log's times are shown. A moment outside the years -9999 to 9999
/// (which no clock shows) is written as its Unix seconds.
pub fn rfc3339(unix: i64) -> String {
    match Timestamp::from_second(unix) {
        Ok(moment) => moment.to_string(),
        Err(_) => format!("{unix} (Unix seconds)"),
    }
}

/// The date `days` days after the UTC date of `unix`, or `None` if that date is outside the
/// years 1 to 9999.
pub(crate) fn days_after(unix: i64, days: u32) -> Option<Date> {
    let span = Span::new().try_days(i64::from(days)).ok()?;
    let date = date_of(unix)?.civil().checked_add(span).ok()?;
    Date::from_civil(date)
}

/// The due date of a CTA due `days` days after `now`: refused, naming the count, when it is over
/// [`MAX_DUE_IN_DAYS`] or the date does not exist.
pub(crate) fn due_in(now: i64, days: u32) -> Result<Date, String> {
    if days > MAX_DUE_IN_DAYS {
        return Err(format!(
            "a CTA due in {days} days: the most is {MAX_DUE_IN_DAYS} days (about a hundred years)"
        ));
    }
    days_after(now, days)
        .ok_or_else(|| format!("a CTA due in {days} days falls after the year 9999"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_become_utc_dates() {
        let date = |unix| date_of(unix).unwrap().to_string();
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(date(1_709_251_199), "2024-02-29");
        assert_eq!(date(1_709_251_200), "2024-03-01");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600 + 3_723), "2026-01-01T01:02:03Z");
        assert_eq!(
            days_after(1_767_225_600, 31).unwrap().to_string(),
            "2026-02-01"
        );
    }

    #[test]
    fn day_counts_past_the_year_9999_give_no_date() {
        let now = 1_767_225_600; // 2026-01-01
        assert_eq!(days_after(now, u32::MAX), None);
        // 9999-12-31 is the last day there is.
        let last = days_after(now, 2_912_442).unwrap();
        assert_eq!(last.to_string(), "9999-12-31");
        assert_eq!(days_after(now, 2_912_443), None);
        assert_eq!(date_of(i64::MAX), None);
        assert_eq!(date_of(-62_135_596_801), None, "the day before 0001-01-01");
        assert!(rfc3339(i64::MAX).contains("Unix seconds"));
        let refused = due_in(now, u32::MAX).unwrap_err();
        assert!(refused.contains("4294967295 days"), "{refused}");
        assert_eq!(due_in(now, 14).unwrap().to_string(), "2026-01-15");
    }
}
