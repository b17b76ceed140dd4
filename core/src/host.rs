//! What a library embedding vinesync in a host process (the C library, the
//! Python module) sets up in the threads of its own runtime.

/// Blocks SIGPIPE in the calling thread. A write to a connection etcd has
/// closed (a refused TLS handshake, a restart) must come back as EPIPE,
/// not kill the host: C programs keep SIGPIPE's default action, and Go
/// crashes on a SIGPIPE raised in a non-Go thread. Vectored socket writes
/// cannot ask for MSG_NOSIGNAL, so the thread blocks the signal instead; the
/// process's own disposition is left alone. Call it from a runtime's
/// `on_thread_start`.
pub fn block_sigpipe() {
    // SAFETY: sigemptyset/sigaddset initialise a local set;
    // pthread_sigmask changes only the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// The calling process's id, as `std::process::id()` returns it, without a
/// system call each time (glibc no longer caches `getpid`, and the C and
/// Python layers ask on every call whether a handle was made before a
/// `fork()`). Cached once a `pthread_atfork` handler is registered that
/// forgets the cache in the child of every `fork()`.
pub fn process_id() -> u32 {
    use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

    /// 0 = not cached yet.
    static PID: AtomicU32 = AtomicU32::new(0);
    /// 0 = no fork handler yet, 1 = being registered, 2 = registered.
    static HANDLER: AtomicU8 = AtomicU8::new(0);

    extern "C" fn forget_in_child() {
        PID.store(0, Ordering::SeqCst);
    }

    let cached = PID.load(Ordering::SeqCst);
    if cached != 0 {
        return cached;
    }
    if HANDLER
        .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        // SAFETY: registers a handler that only stores to an atomic (it is
        // async-signal-safe, as a fork handler must be).
        let registered = unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
        HANDLER.store(if registered == 0 { 2 } else { 0 }, Ordering::SeqCst);
    }
    let pid = std::process::id();
    // Only cache behind the handler: without it a child would keep the
    // parent's pid.
    if HANDLER.load(Ordering::SeqCst) == 2 {
        PID.store(pid, Ordering::SeqCst);
    }
    pid
}
