//! One etcd process: its ports, data dir and log, start and stop by pid.

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::certs::Certs;
use crate::cluster::Tls;
use crate::health;

pub(crate) struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// The port peers are told to use when it is not `peer_port` (a proxy's,
    /// see `peer_proxy.rs`).
    pub advertised_peer_port: Option<u16>,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
    /// TLS on the client port: the mode and the certificates.
    pub tls: Option<(Tls, Certs)>,
    /// Start without the harness's faster timing (etcd's defaults).
    pub default_settings: bool,
}

impl Member {
    pub fn new(name: String, dir: &Path, tls: Option<(Tls, Certs)>) -> std::io::Result<Member> {
        Ok(Member {
            tls,
            data_dir: dir.join(format!("{name}.data")),
            log: dir.join(format!("{name}.log")),
            name,
            client_port: health::free_port()?,
            peer_port: health::free_port()?,
            advertised_peer_port: None,
            child: None,
            default_settings: false,
        })
    }

    pub fn client_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The peer URL the member advertises (and `--initial-cluster` names).
    pub fn peer_url(&self) -> String {
        let port = self.advertised_peer_port.unwrap_or(self.peer_port);
        format!("http://127.0.0.1:{port}")
    }

    /// The peer URL the member listens on.
    pub fn listen_peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }

    /// Starts the process (`state` = "new" or "existing").
    pub fn spawn(
        &mut self,
        initial_cluster: &str,
        token: &str,
        state: &str,
        extra_args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<()> {
        let log = File::options().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(crate::binaries::etcd());
        command
            .arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen-client-urls")
            .arg(self.client_url())
            .arg("--advertise-client-urls")
            .arg(self.client_url())
            .arg("--listen-peer-urls")
            .arg(self.listen_peer_url())
            .arg("--initial-advertise-peer-urls")
            .arg(self.peer_url())
            .arg("--initial-cluster")
            .arg(initial_cluster)
            .arg("--initial-cluster-token")
            .arg(token)
            .arg("--initial-cluster-state")
            .arg(state)
            .args(if self.default_settings {
                &[]
            } else {
                crate::binaries::timing_args()
            })
            .args(self.tls_args())
            .args(extra_args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours;
        // it makes the kernel kill etcd if the thread that started it dies,
        // so a crashed test cannot leave etcd running.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self.child = Some(command.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "starting etcd failed ({e}); is etcd installed? run scripts/ensure-etcd.sh, or set VINESYNC_ETCD_DIR"
                ),
            )
        })?);
        Ok(())
    }

    fn tls_args(&self) -> Vec<String> {
        let Some((mode, certs)) = &self.tls else {
            return Vec::new();
        };
        let path = |p: &PathBuf| p.display().to_string();
        let mut args = vec![
            "--cert-file".to_string(),
            path(&certs.server_cert),
            "--key-file".to_string(),
            path(&certs.server_key),
        ];
        if *mode == Tls::Mutual {
            args.extend([
                "--client-cert-auth".to_string(),
                "--trusted-ca-file".to_string(),
                path(&certs.ca),
            ]);
        }
        args
    }

    fn is_healthy(&self) -> bool {
        match &self.tls {
            None => health::is_healthy(self.client_addr()),
            Some((_, certs)) => health::is_healthy_tls(&self.client_url(), certs),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` to our own child, by pid.
    pub fn signal(&self, signal: libc::c_int) -> std::io::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| std::io::Error::other(format!("member {} is not running", self.name)))?;
        let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
        // SAFETY: kill() with our own child's pid and a valid signal number.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// SIGSTOPs the process and returns once every one of its threads has
    /// stopped. kill() only queues the stop: a thread of etcd already
    /// running, or the one chosen to take the signal waiting for a CPU on
    /// a loaded machine, can still serve a request sent right after it —
    /// and a test that pauses etcd to make a call hang would see that call
    /// answered.
    pub fn pause(&self) -> std::io::Result<()> {
        self.signal(libc::SIGSTOP)?;
        let stopped = self.wait_stopped();
        if stopped.is_err() {
            // Not left half-stopped for whatever runs next.
            let _ = self.signal(libc::SIGCONT);
        }
        stopped
    }

    /// Polls (at most 10 s) until every thread of the process has stopped.
    fn wait_stopped(&self) -> std::io::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| std::io::Error::other(format!("member {} is not running", self.name)))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match threads_stopped(pid)? {
                Stopped::All => return Ok(()),
                Stopped::Exited => {
                    return Err(std::io::Error::other(format!(
                        "member {} has exited: nothing to pause",
                        self.name
                    )))
                }
                Stopped::NotYet if Instant::now() > deadline => {
                    return Err(std::io::Error::other(format!(
                        "member {}: SIGSTOP sent, but its threads had not all stopped after 10 s \
                         (resumed)",
                        self.name
                    )));
                }
                Stopped::NotYet => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// Signals the process and reaps it (bounded: SIGKILL after 5 s).
    pub fn stop(&mut self, signal: libc::c_int) -> std::io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
            // SAFETY: as in `signal`.
            unsafe { libc::kill(pid, signal) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait()?.is_none() {
                if Instant::now() > deadline {
                    child.kill()?;
                    child.wait()?;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    pub fn wait_healthy(&mut self, limit: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(std::io::Error::other(format!(
                        "etcd member {} exited ({status}); log:\n{}",
                        self.name,
                        self.log_tail()
                    )));
                }
            }
            if self.is_healthy() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "etcd member {} not healthy within {limit:?}; log:\n{}",
                        self.name,
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.stop(libc::SIGKILL);
    }
}

enum Stopped {
    All,
    NotYet,
    /// Every thread is a zombie or dead: the process exited.
    Exited,
}

/// Whether every thread of `pid` is stopped (state `T`, or `t` under a
/// tracer; a thread that exited, `Z` or `X`, cannot run either), from
/// `/proc/<pid>/task/*/stat`.
fn threads_stopped(pid: u32) -> std::io::Result<Stopped> {
    let mut live = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = match std::fs::read_to_string(task?.path().join("stat")) {
            Ok(stat) => stat,
            // A thread that exited between the listing and the read
            // (ESRCH once it has been reaped).
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ESRCH) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        // "pid (comm) S ...": the name may hold spaces and parentheses,
        // so the state is the first field after the last ')'.
        match stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
        {
            Some("T" | "t") => live += 1,
            Some("Z" | "X") => {}
            _ => return Ok(Stopped::NotYet),
        }
    }
    Ok(if live == 0 {
        Stopped::Exited
    } else {
        Stopped::All
    })
}
