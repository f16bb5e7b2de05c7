//! Sizes and times the way Docker prints them: `4.26MB`, `2 weeks ago`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes in decimal units with three significant digits (`178MB`, `4.26kB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let mut text = format!("{value:.digits$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{text}{}", UNITS[unit])
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `N units ago`, with Docker's rounding (`About an hour ago`, `3 weeks ago`).
pub fn human_duration_since(then: i64, now: i64) -> String {
    let secs = (now - then).max(0);
    let text = match secs {
        0 => "Less than a second".to_owned(),
        1 => "1 second".to_owned(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".to_owned(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if (s as f64 / 3600.0).round() == 1.0 => "About an hour".to_owned(),
        s if s < 48 * 3600 => format!("{} hours", (s as f64 / 3600.0).round()),
        s if s < 14 * 86_400 => format!("{} days", s / 86_400),
        s if s < 60 * 86_400 => format!("{} weeks", s / (7 * 86_400)),
        s if s < 730 * 86_400 => format!("{} months", s / (30 * 86_400)),
        s => format!("{} years", s / (365 * 86_400)),
    };
    format!("{text} ago")
}

/// Parses an RFC 3339 time (`2024-01-02T03:04:05.123Z`, `...+02:00`) into
/// Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { text.get(r)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && matches!(&tz[..1], "+" | "-") && &tz[3..4] == ":" => {
            let h: i64 = tz[1..3].parse().ok()?;
            let m: i64 = tz[4..6].parse().ok()?;
            let sign = if &tz[..1] == "-" { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_have_three_significant_digits() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(63_744_188), "63.7MB");
        assert_eq!(human_size(178_698_240), "179MB");
        assert_eq!(human_size(2_000_000_000), "2GB");
    }

    #[test]
    fn durations_round_like_docker() {
        assert_eq!(human_duration_since(100, 100), "Less than a second ago");
        assert_eq!(human_duration_since(0, 45), "45 seconds ago");
        assert_eq!(human_duration_since(0, 3700), "About an hour ago");
        assert_eq!(human_duration_since(0, 5 * 86_400), "5 days ago");
        assert_eq!(human_duration_since(0, 21 * 86_400), "3 weeks ago");
        assert_eq!(human_duration_since(0, 800 * 86_400), "2 years ago");
    }

    #[test]
    fn rfc3339_with_fractions_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-01-02T03:04:05.123456789Z"),
            Some(1_704_164_645)
        );
        assert_eq!(
            parse_rfc3339("2024-01-02T05:04:05+02:00"),
            Some(1_704_164_645)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
