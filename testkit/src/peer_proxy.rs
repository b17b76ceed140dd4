//! Loopback proxies in front of the members' peer ports, so a test can cut
//! one member off from the others (a network partition) while every
//! process keeps running.
//!
//! Each member listens for peers on a port of its own and advertises the
//! port of its proxy instead, so all raft traffic to it goes through the
//! proxy. A proxy sits in front of one member (the destination); to know
//! where a connection comes from it reads the first HTTP request: etcd's
//! raft requests (streams, pipeline, snapshots) name the sender's
//! advertised peer URLs in an `X-PeerURLs` header (etcd 3.4–3.6,
//! `rafthttp/util.go`). A connection whose first request has no such header
//! (version probes, lease forwarding) counts as coming from outside: it is
//! cut only when its destination is the isolated member.
//!
//! A partition closes every connection that crosses it and refuses new
//! ones until [`PeerProxies::heal`].

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a new connection may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Headers longer than this are not etcd's: forwarded as from outside.
const HEADER_LIMIT: usize = 16 * 1024;

/// One proxy per member.
pub(crate) struct PeerProxies {
    shared: Arc<Shared>,
    /// The proxies' ports, by member: what each member advertises.
    ports: Vec<u16>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

struct Shared {
    /// `http://127.0.0.1:{proxy port}`, by member: what the `X-PeerURLs`
    /// header names.
    urls: Vec<String>,
    /// The member cut off from the others, if any.
    isolated: Mutex<Option<usize>>,
    connections: Mutex<Vec<Connection>>,
    stop: AtomicBool,
}

/// A proxied connection: who talks to whom, and both sockets (to close).
struct Connection {
    from: Option<usize>,
    to: usize,
    sockets: [TcpStream; 2],
    done: Arc<AtomicBool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Whether traffic from `from` to `to` crosses the partition.
    fn crosses(&self, from: Option<usize>, to: usize) -> bool {
        match *lock(&self.isolated) {
            None => false,
            Some(cut) => match from {
                Some(from) => (from == cut) != (to == cut),
                None => to == cut,
            },
        }
    }

    /// The member whose advertised URL the request's `X-PeerURLs` names.
    fn sender(&self, head: &[u8]) -> Option<usize> {
        let text = String::from_utf8_lossy(head);
        let urls = text.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("x-peerurls")
                .then(|| value.trim().to_string())
        })?;
        urls.split(',')
            .find_map(|url| self.urls.iter().position(|u| u == url.trim()))
    }
}

impl PeerProxies {
    /// Binds one proxy per member; `targets[i]` is member i's real peer port.
    pub fn start(targets: &[u16]) -> std::io::Result<PeerProxies> {
        let listeners = targets
            .iter()
            .map(|_| TcpListener::bind(("127.0.0.1", 0)))
            .collect::<std::io::Result<Vec<_>>>()?;
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<std::io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            urls: ports
                .iter()
                .map(|p| format!("http://127.0.0.1:{p}"))
                .collect(),
            isolated: Mutex::new(None),
            connections: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let mut threads = Vec::new();
        for (to, (listener, target)) in listeners.into_iter().zip(targets).enumerate() {
            listener.set_nonblocking(true)?;
            let shared = Arc::clone(&shared);
            let target = SocketAddr::from(([127, 0, 0, 1], *target));
            threads.push(std::thread::spawn(move || {
                accept_loop(&shared, &listener, to, target)
            }));
        }
        Ok(PeerProxies {
            shared,
            ports,
            threads,
        })
    }

    /// The port member `i` advertises to its peers.
    pub fn port(&self, i: usize) -> u16 {
        self.ports[i]
    }

    /// Cuts member `i` off from the others: closes the connections between
    /// them and refuses new ones.
    pub fn isolate(&self, i: usize) {
        *lock(&self.shared.isolated) = Some(i);
        let mut connections = lock(&self.shared.connections);
        connections.retain(|c| !c.done.load(Ordering::Relaxed));
        for c in connections.iter() {
            if self.shared.crosses(c.from, c.to) {
                for socket in &c.sockets {
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
        }
    }

    /// Ends the partition.
    pub fn heal(&self) {
        *lock(&self.shared.isolated) = None;
    }
}

impl Drop for PeerProxies {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for c in lock(&self.shared.connections).iter() {
            for socket in &c.sockets {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, to: usize, target: SocketAddr) {
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                let shared = Arc::clone(shared);
                std::thread::spawn(move || {
                    let _ = forward(&shared, client, to, target);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Reads the first request's headers (to learn the sender), then copies
/// bytes both ways until either side closes or a partition cuts it.
fn forward(
    shared: &Arc<Shared>,
    mut client: TcpStream,
    to: usize,
    target: SocketAddr,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    if shared.crosses(None, to) {
        return Ok(()); // the destination is cut off from everyone
    }
    client.set_read_timeout(Some(HEADER_TIMEOUT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < HEADER_LIMIT {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    client.set_read_timeout(None)?;
    let from = shared.sender(&head);
    if shared.crosses(from, to) {
        return Ok(());
    }
    let mut server = TcpStream::connect(target)?;
    server.write_all(&head)?;
    let done = Arc::new(AtomicBool::new(false));
    {
        let mut connections = lock(&shared.connections);
        connections.retain(|c| !c.done.load(Ordering::Relaxed));
        connections.push(Connection {
            from,
            to,
            sockets: [client.try_clone()?, server.try_clone()?],
            done: Arc::clone(&done),
        });
        // A partition that began while this connection was being set up.
        if shared.crosses(from, to) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
    }
    let (mut client_reader, mut server_writer) = (client.try_clone()?, server.try_clone()?);
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = upstream.join();
    done.store(true, Ordering::Relaxed);
    Ok(())
}
