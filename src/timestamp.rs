//! UTC timestamps as stored and as shown in SCIM `meta`.
//!
//! Every timestamp is written with the same fixed-width RFC 3339 form
//! (`2026-11-23T07:22:18.123Z`): text order equals time order, so SQLite can compare
//! and index them as plain strings.

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The current time in the stored form.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Formats an instant in the stored form (converted to UTC).
pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// An instant as `20261123T072218Z`, for file names (sorts by time, no separators to escape).
pub fn compact(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(COMPACT_FORMAT)
        .unwrap_or_else(|_| "19700101T000000Z".to_owned())
}

const COMPACT_FORMAT: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// A calendar day as `YYYY-MM-DD`, the prefix of the stored form.
pub fn date(day: time::Date) -> String {
    day.format(DATE_FORMAT)
        .unwrap_or_else(|_| "1970-01-01".to_owned())
}

const DATE_FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Today in UTC.
pub fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

/// Parses the stored form back (for session expiry); `None` for anything else.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text, FORMAT)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_fixed_width_utc() {
        assert_eq!(
            format(datetime!(2026-01-02 03:04:05.6 +02:00)),
            "2026-01-02T01:04:05.600Z"
        );
        assert_eq!(now().len(), "2026-01-02T01:04:05.600Z".len());
        assert_eq!(date(time::macros::date!(2026 - 03 - 04)), "2026-03-04");
        assert_eq!(
            compact(datetime!(2026-01-02 03:04:05.6 +02:00)),
            "20260102T010405Z"
        );
        let t = datetime!(2026-01-02 03:04:05.6 UTC);
        assert_eq!(parse(&format(t)), Some(t));
        assert_eq!(parse("yesterday"), None);
    }
}
