//! Signal names on the command line: `TERM`, `SIGTERM` or `15`.

const SIGNALS: &[(&str, libc::c_int)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
];

/// Parses a signal; the error names the text and the accepted names.
pub fn parse(text: &str) -> Result<libc::c_int, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, number)) = SIGNALS.iter().find(|(n, _)| *n == name) {
        return Ok(*number);
    }
    match name.parse::<libc::c_int>() {
        Ok(number) if (1..=64).contains(&number) => Ok(number),
        _ => Err(format!(
            "{text:?} is not a signal (HUP, INT, QUIT, KILL, USR1, USR2, ALRM, TERM or a number 1-64)"
        )),
    }
}

/// `SIGTERM` for 15, `signal 35` for numbers without a name here.
pub fn name(number: libc::c_int) -> String {
    match SIGNALS.iter().find(|(_, n)| *n == number) {
        Some((name, _)) => format!("SIG{name}"),
        None => format!("signal {number}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse("sigint").unwrap(), libc::SIGINT);
        assert_eq!(parse("9").unwrap(), libc::SIGKILL);
        assert!(parse("NOPE").unwrap_err().contains("NOPE"));
        assert!(parse("0").is_err());
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
    }
}
