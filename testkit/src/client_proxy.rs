//! A loopback TCP proxy in front of an etcd client port, to break the
//! network between one client and etcd without touching either process:
//! the client is given the proxy's address instead of etcd's.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with the bytes it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Pass = 0,
    /// Closes every connection, and each new one as soon as it opens.
    Drop = 1,
    /// Keeps the connections open but forwards nothing (a partition that
    /// TCP does not notice); what was held back follows once it passes.
    Stall = 2,
    /// Forwards requests but reads and discards etcd's answers: requests
    /// take effect, and the client never learns of it.
    SwallowAnswers = 3,
}

/// A proxy to one etcd client port; dropping it closes its connections
/// and stops it.
#[derive(Debug)]
pub struct ClientProxy {
    /// `127.0.0.1:{port}`: what the client connects to.
    pub address: String,
    mode: Arc<AtomicU8>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

fn mode_of(mode: &AtomicU8) -> Mode {
    match mode.load(Ordering::Acquire) {
        1 => Mode::Drop,
        2 => Mode::Stall,
        3 => Mode::SwallowAnswers,
        _ => Mode::Pass,
    }
}

/// Copies `from` → `to` until either side closes, as the mode says;
/// `answers` is the direction from etcd to the client.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: Arc<AtomicU8>, answers: bool) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while mode_of(&mode) == Mode::Stall {
            std::thread::sleep(Duration::from_millis(10));
        }
        match mode_of(&mode) {
            Mode::Drop => break,
            Mode::SwallowAnswers if answers => continue,
            _ => {}
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl ClientProxy {
    /// A proxy to `target` (`host:port`) on a free loopback port.
    pub fn start(target: String) -> std::io::Result<ClientProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, c, stopping) = (mode.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                if mode_of(&m) == Mode::Drop {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (Ok(c1), Ok(s1)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    c.lock().unwrap_or_else(|p| p.into_inner()).extend([c2, s2]);
                }
                // Stopped or dropped while this one was being set up: the
                // drain has passed, so close it here.
                if stopping.load(Ordering::Acquire) || mode_of(&m) == Mode::Drop {
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                    continue;
                }
                let (m1, m2) = (m.clone(), m.clone());
                std::thread::spawn(move || pump(client, s1, m1, false));
                std::thread::spawn(move || pump(server, c1, m2, true));
            }
        });
        Ok(ClientProxy {
            address,
            mode,
            connections,
            stop,
        })
    }

    /// Switches to `mode`; [`Mode::Drop`] closes every open connection
    /// (bytes still on their way are lost, never passed on).
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::Release);
        if mode == Mode::Drop {
            for stream in self
                .connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(..)
            {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for ClientProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.set(Mode::Drop);
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(&self.address);
    }
}
