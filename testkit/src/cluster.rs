//! A set of etcd members forming one cluster, in one temporary directory.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use tempfile::TempDir;

use crate::certs::Certs;
use crate::member::Member;
use crate::peer_proxy::PeerProxies;

/// How long a member may take to become healthy.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How many times [`Builder::start`] launches a cluster on fresh ports.
const START_ATTEMPTS: u32 = 3;

/// TLS on the members' client ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Server certificate only: clients verify etcd with the test CA.
    Server,
    /// Mutual TLS: etcd also requires a client certificate signed by the
    /// test CA (`--client-cert-auth`).
    Mutual,
}

/// Options for [`EtcdCluster`]; see [`EtcdCluster::builder`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    members: usize,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    tls: Option<Tls>,
    default_settings: bool,
    peer_proxies: bool,
}

impl Builder {
    /// Number of members (default 1).
    pub fn members(mut self, n: usize) -> Self {
        self.members = n;
        self
    }

    /// Arguments added to every member's command line (TLS, auth, ...).
    pub fn extra_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable for every member.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// etcd's default settings (heartbeat, election timeout, hence minimum
    /// lease TTL) whatever `VINESYNC_ETCD_DEFAULTS` says.
    pub fn default_settings(mut self) -> Self {
        self.default_settings = true;
        self
    }

    /// Peer traffic through loopback proxies, so a member can be cut off
    /// from the others ([`EtcdCluster::isolate_member`]).
    pub fn peer_proxies(mut self) -> Self {
        self.peer_proxies = true;
        self
    }

    /// TLS on the client ports, with certificates generated for the cluster
    /// (see [`EtcdCluster::certs`]).
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts the members and waits until each is healthy. When a member
    /// exits at start (its port was taken in between: by another suite
    /// starting its etcd at the same time, as `make test` runs some side by
    /// side, or as the local port of an outgoing connection), tries again
    /// on fresh ports, three tries in all, saying so on stderr. A member
    /// that runs but never becomes healthy is reported at once.
    pub fn start(self) -> std::io::Result<EtcdCluster> {
        let mut attempt = 1;
        loop {
            match EtcdCluster::launch(&self) {
                Err(error)
                    if error.kind() != std::io::ErrorKind::TimedOut && attempt < START_ATTEMPTS =>
                {
                    eprintln!("etcd did not start (try {attempt}), trying fresh ports: {error}");
                    attempt += 1;
                }
                started => return started,
            }
        }
    }
}

/// Real etcd processes on loopback; dropped = killed and deleted.
pub struct EtcdCluster {
    // Members first: they must die before the directory goes.
    members: Vec<Member>,
    initial_cluster: String,
    token: String,
    builder: Builder,
    certs: Option<Certs>,
    /// After the members: they stop before their proxies do.
    peer_proxies: Option<PeerProxies>,
    dir: TempDir,
}

impl std::fmt::Debug for EtcdCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdCluster")
            .field("endpoints", &self.endpoints())
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl EtcdCluster {
    /// `members` etcd processes forming one cluster.
    pub fn start(members: usize) -> std::io::Result<EtcdCluster> {
        Self::builder().members(members).start()
    }

    /// A builder with one member.
    pub fn builder() -> Builder {
        Builder {
            members: 1,
            ..Builder::default()
        }
    }

    fn launch(builder: &Builder) -> std::io::Result<EtcdCluster> {
        let dir = tempfile::Builder::new()
            .prefix("vinesync-etcd-")
            .tempdir()?;
        let certs = match builder.tls {
            Some(_) => Some(Certs::generate(&dir.path().join("certs"))?),
            None => None,
        };
        let tls = builder.tls.zip(certs.clone());
        let mut members = (0..builder.members.max(1))
            .map(|i| Member::new(format!("m{i}"), dir.path(), tls.clone()))
            .collect::<std::io::Result<Vec<_>>>()?;
        let peer_proxies = if builder.peer_proxies {
            let ports: Vec<u16> = members.iter().map(|m| m.peer_port).collect();
            let proxies = PeerProxies::start(&ports)?;
            for (i, m) in members.iter_mut().enumerate() {
                m.advertised_peer_port = Some(proxies.port(i));
            }
            Some(proxies)
        } else {
            None
        };
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("vinesync-{}-{}", std::process::id(), members[0].client_port);
        for m in &mut members {
            m.default_settings = builder.default_settings;
            m.spawn(
                &initial_cluster,
                &token,
                "new",
                &builder.extra_args,
                &builder.env,
            )?;
        }
        for m in &mut members {
            m.wait_healthy(START_LIMIT)?;
        }
        Ok(EtcdCluster {
            members,
            initial_cluster,
            token,
            builder: builder.clone(),
            certs,
            peer_proxies,
            dir,
        })
    }

    /// Client endpoints as `127.0.0.1:PORT`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// Endpoint of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].client_port)
    }

    /// The test certificates when the cluster was started with TLS.
    pub fn certs(&self) -> Option<&Certs> {
        self.certs.as_ref()
    }

    /// `http(s)://127.0.0.1:PORT` of member `i`.
    pub fn client_url(&self, i: usize) -> String {
        self.members[i].client_url()
    }

    /// The temporary directory holding data dirs and logs.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log file of member `i` (its stdout and stderr).
    pub fn member_log(&self, i: usize) -> &Path {
        &self.members[i].log
    }

    /// Pid of member `i`, if running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].pid()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a cluster has at least one member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn member(&mut self, i: usize) -> std::io::Result<&mut Member> {
        let n = self.members.len();
        self.members
            .get_mut(i)
            .ok_or_else(|| std::io::Error::other(format!("no member {i} (cluster of {n})")))
    }

    /// `kill -9` member `i`.
    pub fn kill_member(&mut self, i: usize) -> std::io::Result<()> {
        self.member(i)?.stop(libc::SIGKILL)
    }

    /// Stops member `i` gracefully (SIGTERM).
    pub fn stop_member(&mut self, i: usize) -> std::io::Result<()> {
        self.member(i)?.stop(libc::SIGTERM)
    }

    /// Starts member `i` again on its ports and data, and waits until healthy.
    pub fn restart_member(&mut self, i: usize) -> std::io::Result<()> {
        let (cluster, token) = (self.initial_cluster.clone(), self.token.clone());
        let (args, env) = (self.builder.extra_args.clone(), self.builder.env.clone());
        let member = self.member(i)?;
        member.stop(libc::SIGKILL)?;
        member.spawn(&cluster, &token, "existing", &args, &env)?;
        member.wait_healthy(START_LIMIT)
    }

    /// SIGSTOP member `i` (a paused process: a partition without a close);
    /// returns once all its threads have stopped.
    pub fn pause_member(&mut self, i: usize) -> std::io::Result<()> {
        self.member(i)?.pause()
    }

    /// SIGCONT member `i`.
    pub fn resume_member(&mut self, i: usize) -> std::io::Result<()> {
        self.member(i)?.signal(libc::SIGCONT)
    }

    /// Cuts member `i` off from the other members (a network partition:
    /// raft traffic between them is closed and refused; clients still
    /// reach every member). Needs [`Builder::peer_proxies`].
    pub fn isolate_member(&mut self, i: usize) -> std::io::Result<()> {
        self.member(i)?;
        let proxies = self.peer_proxies.as_ref().ok_or_else(|| {
            std::io::Error::other("partitions need a cluster started with Builder::peer_proxies")
        })?;
        proxies.isolate(i);
        Ok(())
    }

    /// Ends a partition made by [`EtcdCluster::isolate_member`].
    pub fn heal_partition(&mut self) {
        if let Some(proxies) = &self.peer_proxies {
            proxies.heal();
        }
    }

    /// Stops every member (also done on drop).
    pub fn stop(&mut self) -> std::io::Result<()> {
        for m in &mut self.members {
            let _ = m.signal(libc::SIGCONT);
            m.stop(libc::SIGKILL)?;
        }
        Ok(())
    }

    /// Runs `etcdctl` (API v3) against the running members.
    pub fn etcdctl(&self, args: &[&str]) -> std::io::Result<Output> {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| m.client_url())
            .collect();
        let mut command = Command::new(crate::binaries::etcdctl());
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")));
        if let Some(certs) = &self.certs {
            command
                .arg(format!("--cacert={}", certs.ca.display()))
                .arg(format!("--cert={}", certs.client_cert.display()))
                .arg(format!("--key={}", certs.client_key.display()));
        }
        command.args(args).output()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        // Members are killed by their own Drop (SIGCONT first, so a paused
        // member can die); the TempDir is removed after them.
        for m in &mut self.members {
            let _ = m.signal(libc::SIGCONT);
        }
        self.members.clear();
    }
}
