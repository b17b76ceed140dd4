//! Names on the command line (lock ids, election names, namespaces and
//! candidate ids), checked before vinesync connects: a bad one is a usage
//! error at once (exit 2), not an error after a dial timeout.

/// Accepts a name the library accepts; the error says what is wrong.
pub fn parse(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("must not be empty".to_string());
    }
    if text.len() > vinesync::MAX_ID_LEN {
        return Err(format!(
            "is {} bytes long; the limit is {} bytes",
            text.len(),
            vinesync::MAX_ID_LEN
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        // A newline would break the line-based output (`lock` prints
        // `VINESYNC_LOCK_KEY=…` lines that scripts read).
        return Err(format!("must not contain a control character ({c:?})"));
    }
    Ok(text.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_overlong_and_control_character_names_are_refused() {
        assert_eq!(parse("jobs/nightly").unwrap(), "jobs/nightly");
        assert!(parse("").unwrap_err().contains("empty"));
        let long = "x".repeat(vinesync::MAX_ID_LEN + 1);
        assert!(parse(&long).unwrap_err().contains("limit"));
        assert!(parse(&long[1..]).is_ok());
        assert!(parse("a\nVINESYNC_FENCING_TOKEN=1")
            .unwrap_err()
            .contains("control character"));
        assert!(parse("tab\t").unwrap_err().contains("control character"));
    }
}
