//! Durations on the command line: `500ms`, `10s`, `2m`, `1h`, or a bare
//! number of seconds (`30`, `1.5`).

use std::time::Duration;

/// Parses a duration; the error names the text and the accepted forms.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad(text)),
    };
    let value: f64 = number.parse().map_err(|_| bad(text))?;
    // Only digits and dots got here: a value too large for a Duration is
    // too large for the clock, which the callers read as no limit (and a
    // TTL check as over the maximum).
    Ok(Duration::try_from_secs_f64(value * scale).unwrap_or(Duration::MAX))
}

/// Parses a lease TTL: a duration the library accepts as one (at least
/// 1 s, at most a year), checked before vinesync connects.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse(text)?;
    if ttl < vinesync::MIN_TTL {
        return Err(format!(
            "{} is shorter than the minimum TTL of {:?}",
            text.trim(),
            vinesync::MIN_TTL
        ));
    }
    if ttl > vinesync::MAX_TTL {
        return Err(format!(
            "{} is longer than the maximum TTL of {}h",
            text.trim(),
            vinesync::MAX_TTL.as_secs() / 3600
        ));
    }
    Ok(ttl)
}

fn bad(text: &str) -> String {
    format!("{text:?} is not a duration (examples: 500ms, 10s, 2m, 1h, 30)")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1.5").unwrap(), Duration::from_millis(1500));
        let huge = "99999999999999999999999";
        assert_eq!(parse(huge).unwrap(), Duration::MAX);
        assert_eq!(parse(&format!("{huge}h")).unwrap(), Duration::MAX);
        assert!(parse_ttl(huge).unwrap_err().contains("maximum TTL"));
        for bad in ["", "s", "10x", "-1s", "1e999", "ten", ".", "1.2.3"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn ttls_within_the_library_s_bounds() {
        assert_eq!(parse_ttl("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_ttl("8760h").unwrap(), vinesync::MAX_TTL);
        assert!(parse_ttl("0").unwrap_err().contains("minimum TTL"));
        assert!(parse_ttl("999ms").unwrap_err().contains("minimum TTL"));
        assert!(parse_ttl("8761h").unwrap_err().contains("maximum TTL"));
        assert!(parse_ttl("x").unwrap_err().contains("not a duration"));
    }
}
