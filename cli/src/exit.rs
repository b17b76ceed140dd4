//! Exit codes (documented in `--help` and the README) and the error that
//! carries one.

use vinesync::ErrorKind;

/// Other errors.
pub const FAILURE: u8 = 1;
/// Bad command line or bad value (clap also exits with 2).
pub const USAGE: u8 = 2;
/// etcd could not be reached (sysexits' EX_UNAVAILABLE).
pub const UNAVAILABLE: u8 = 69;
/// `--try`: the lock is held; `--wait`: it was not acquired in time
/// (sysexits' EX_TEMPFAIL, "try again later").
pub const HELD: u8 = 75;
/// The lock or the primary role was lost while CMD ran; CMD was stopped.
pub const LOST: u8 = 76;
/// CMD could not be executed (as shells do).
pub const CANNOT_EXECUTE: u8 = 126;
/// CMD was not found (as shells do).
pub const NOT_FOUND: u8 = 127;
/// Interrupted (SIGINT/SIGTERM) before CMD started, or a second time while
/// releasing on an etcd that does not answer.
pub const INTERRUPTED: u8 = 130;

/// The text `--help` shows.
pub const HELP: &str = "\
Exit codes:
  CMD's status  when CMD ran and exited (128+N when it died of signal N)
  0    success (no CMD: released after an interrupt)
  1    other error
  2    bad command line or bad value
  69   etcd unreachable
  75   --try: the lock is held by someone else; --wait: not acquired in time
  76   the lock or the primary role was lost; CMD was stopped
  126  CMD could not be executed
  127  CMD not found
  130  interrupted before CMD started, or again while releasing on a stalled etcd";

/// An error to print on one line, and the code to exit with.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<vinesync::Error> for Failure {
    fn from(error: vinesync::Error) -> Self {
        let code = match error.kind() {
            ErrorKind::InvalidArgument => USAGE,
            ErrorKind::Unavailable => UNAVAILABLE,
            ErrorKind::WouldBlock | ErrorKind::LockTimeout => HELD,
            ErrorKind::Lost => LOST,
            _ => FAILURE,
        };
        Failure::new(code, error.message())
    }
}
