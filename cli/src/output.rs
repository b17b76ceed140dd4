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

/// Whether a write went through (a plain `bool`, so callers may ignore it).
pub fn written(result: std::io::Result<()>) -> bool {
    result.is_ok()
}
