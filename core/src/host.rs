//! What a library embedding vinesync in a host process (the C library, the
//! Python module) sets up in the threads of its own runtime.

pub use crate::first_poll::{poll_once, thread_can_enter_a_runtime};

/// Blocks SIGPIPE in the calling thread. A write to a connection etcd has
/// closed (a refused TLS handshake, a restart) must come back as EPIPE,
/// not kill the host: C programs keep SIGPIPE's default action, and Go
/// crashes on a SIGPIPE raised in a non-Go thread. Vectored socket writes
/// cannot ask for MSG_NOSIGNAL, so the thread blocks the signal instead; the
/// process's own disposition is left alone. Call it from a runtime's
/// `on_thread_start`.
fn block_sigpipe() {
    // SAFETY: sigemptyset/sigaddset initialise a local set;
    // pthread_sigmask changes only the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The runtime a host library runs vinesync on: one worker thread named
/// `vinesync`, with SIGPIPE blocked ([`block_sigpipe`]).
///
/// One worker, not two. The C library runs a call's first poll (all of a
/// memory call that does not wait) on the calling thread; the worker runs
/// the rest: etcd's network work, timers, waits, watches, campaigns and
/// releases finishing in the background (and the Python module's calls,
/// which it spawns). None of it blocks the worker: the Python module takes
/// the GIL on the blocking pool, TLS files are read there too.
/// A second worker made each etcd request hop between threads more and
/// competed with the caller and a local etcd for the cores: lock+unlock
/// from C against the 2-write floor, in alternating rounds on a 2-core
/// machine, went from a median 0.77-0.80x with two workers to 0.85-0.90x
/// with one.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vinesync")
        .on_thread_start(block_sigpipe)
        .enable_all()
        .build()
}
