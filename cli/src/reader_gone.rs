//! Noticing that stdout's reader went away (`vinesync watch | head -n1`).
//! A command that prints only when something happens would otherwise learn
//! of it at its next line, which may never come, and hold its connection
//! and its pipeline open until then. A thread waits in poll(2) for an error
//! or a hang-up on stdout, asking for no event (so a writable pipe does not
//! wake it); stdout on a file or /dev/null never reports either.

/// Resolves once stdout's reader is gone; never if that cannot be known.
pub async fn reader_gone() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let watching = std::thread::Builder::new()
        .name("stdout-reader".into())
        .spawn(move || {
            if wait_for_hangup() {
                let _ = tx.send(());
            }
        });
    // Without the thread (or when stdout cannot be polled) the output ends
    // as before: at the first line written after the reader left.
    if watching.is_err() || rx.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Blocks until stdout reports an error or a hang-up (`true`), or cannot be
/// polled (`false`).
fn wait_for_hangup() -> bool {
    let mut stdout = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    loop {
        // SAFETY: one pollfd that we own, for the duration of the call.
        let ready = unsafe { libc::poll(&mut stdout, 1, -1) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if stdout.revents & libc::POLLNVAL != 0 {
            return false; // stdout is not open
        }
        if stdout.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            return true;
        }
    }
}
