//! Lines on stdout and stderr that survive a closed reader
//! (`vinesync watch | head`): `println!` and `eprintln!` panic on EPIPE.

/// Writes a line to stdout; `false` once stdout is closed.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        $crate::output::written(writeln!(out, $($arg)*).and_then(|()| out.flush()))
    }};
}

/// Writes a line to stderr; a closed stderr is ignored.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// The first failed write to stdout other than a closed reader (a full
/// disk, an I/O error): the output is incomplete, and vinesync says so and
/// exits with an error when it ends.
static WRITE_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether a write went through (a plain `bool`, so callers may ignore it).
/// A closed reader (`| head`) only ends the output; any other failure is
/// kept for [`write_failure`].
pub fn written(result: std::io::Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(error) => {
            if error.kind() != std::io::ErrorKind::BrokenPipe {
                let _ = WRITE_FAILURE.set(error.to_string());
            }
            false
        }
    }
}

/// The first write to stdout that failed for another reason than a closed
/// reader, if any.
pub fn write_failure() -> Option<&'static str> {
    WRITE_FAILURE.get().map(String::as_str)
}

/// A name (lock id, candidate id, election name, host) for a text line:
/// as it is, unless it holds a control character (a newline would fake a
/// line of its own), then quoted with escapes as Rust writes it. `--json`
/// output needs none of this.
pub fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().any(char::is_control) {
        std::borrow::Cow::Owned(format!("{name:?}"))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_with_control_characters_are_quoted() {
        assert_eq!(super::shown("jobs/nightly"), "jobs/nightly");
        assert_eq!(super::shown("a\nprimary  b"), "\"a\\nprimary  b\"");
        assert_eq!(super::shown("tab\there"), "\"tab\\there\"");
    }
}
