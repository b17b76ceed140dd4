//! The `vinesync` command against a real etcd (started here, stopped at the
//! end): locks serialize their children, a paused holder's child is stopped
//! before the next holder starts, `--try`, signal forwarding, election
//! takeover, interop with `etcdctl lock`/`elect`, and one-line errors.
//!
//! Children write timestamped lines (`date +%s.%N`) to a log file; the
//! checks read the order of events from it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vinesync_testkit::{binaries, EtcdCluster};

type Check = Result<(), String>;

/// A process started by a test: killed and reaped when dropped, so a
/// failing check leaves nothing running.
struct Proc(Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What every test gets: the etcd endpoints and a scratch directory.
struct Env {
    endpoints: String,
    dir: PathBuf,
}

impl Env {
    /// `vinesync ARGS` against this etcd.
    fn vinesync(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vinesync"));
        command
            .arg(format!("--endpoints={}", self.endpoints))
            .args(args);
        command
    }

    /// `vinesync ARGS` with no endpoints given.
    fn bare(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vinesync"))
            .env_remove("VINESYNC_NODES")
            .args(args)
            .output()
            .expect("running vinesync")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.vinesync(args).output().expect("running vinesync")
    }

    fn spawn(&self, args: &[&str]) -> Proc {
        Proc(
            self.vinesync(args)
                .stdout(Stdio::piped())
                .spawn()
                .expect("starting vinesync"),
        )
    }

    fn etcdctl(&self) -> Command {
        let mut command = Command::new(binaries::etcdctl());
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoints));
        command
    }

    /// A fresh log file for one test.
    fn log(&self, name: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&path);
        path
    }
}

/// A shell command that appends `WORDS <time>` to `log`, then runs `rest`.
fn note(log: &Path, words: &str) -> String {
    format!("echo \"{words} $(date +%s.%N)\" >> {}", log.display())
}

/// `(words, time)` of every line of `log`.
fn lines(log: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (words, time) = line.rsplit_once(' ')?;
            Some((words.to_string(), time.parse().ok()?))
        })
        .collect()
}

/// The time of the first line of `log` starting with `words`.
fn find(log: &Path, words: &str) -> Option<(String, f64)> {
    lines(log).into_iter().find(|(w, _)| w.starts_with(words))
}

/// Waits (up to `limit`) for a line starting with `words`.
fn wait_line(log: &Path, words: &str, limit: Duration) -> Result<(String, f64), String> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Some(found) = find(log, words) {
            return Ok(found);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "no line {words:?} in {} within {limit:?}; log: {:?}",
        log.display(),
        lines(log)
    ))
}

/// The first line `process` prints; the rest is drained in the background
/// (etcdctl dies of SIGPIPE, without resigning, on a closed stdout).
fn first_line(process: &mut Proc) -> Result<String, String> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(process.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    Ok(line)
}

/// `vinesync ARGS` against a cluster a test started for itself (not the
/// shared etcd), stdout piped and stderr piped or dropped.
fn spawn_on(cluster: &EtcdCluster, args: &[&str], stderr: Stdio) -> Result<Proc, String> {
    Command::new(env!("CARGO_BIN_EXE_vinesync"))
        .env_remove("VINESYNC_NODES")
        .arg(format!("--endpoints={}", cluster.endpoints().join(",")))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map(Proc)
        .map_err(|e| e.to_string())
}

/// Everything `process` wrote to its piped stderr (after it ended).
fn stderr_of(process: &mut Proc) -> String {
    let mut text = String::new();
    if let Some(mut err) = process.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Waits (up to `limit`) for `child` to exit; its exit code.
fn wait_exit(child: &mut Child, limit: Duration) -> Result<i32, String> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return status
                .code()
                .ok_or_else(|| format!("vinesync died of a signal: {status:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("vinesync did not exit within {limit:?}"))
}

fn signal(child: &Child, signal: libc::c_int) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory effects; the child is ours and unreaped.
    unsafe { libc::kill(pid, signal) };
}

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Check {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---------------------------------------------------------------- the tests

/// Two `vinesync lock` runs on one name: their children never overlap, the
/// second sees the larger fencing token, and vinesync exits with CMD's status.
fn two_runs_serialize(env: &Env) -> Check {
    let log = env.log("serialize");
    let body = |who: &str| {
        format!(
            "{}; sleep 1; {}; exit 3",
            note(
                &log,
                &format!("start {who} $VINESYNC_FENCING_TOKEN $ETCD_LOCK_REV")
            ),
            note(&log, &format!("end {who}"))
        )
    };
    let mut a = env.spawn(&["lock", "serial", "--", "sh", "-c", &body("a")]);
    let mut b = env.spawn(&["lock", "serial", "--", "sh", "-c", &body("b")]);
    let code_a = wait_exit(&mut a, Duration::from_secs(20))?;
    let code_b = wait_exit(&mut b, Duration::from_secs(20))?;
    ensure(code_a == 3 && code_b == 3, || {
        format!("exit codes {code_a}, {code_b}; want CMD's 3")
    })?;
    let events = lines(&log);
    let kinds: Vec<&str> = events
        .iter()
        .map(|(w, _)| w.split(' ').next().unwrap_or(""))
        .collect();
    ensure(kinds == ["start", "end", "start", "end"], || {
        format!("children overlapped: {events:?}")
    })?;
    ensure(events[1].1 <= events[2].1, || {
        format!("times overlap: {events:?}")
    })?;
    let token = |i: usize| -> u64 { events[i].0.split(' ').nth(2).unwrap().parse().unwrap() };
    let rev = |i: usize| -> u64 { events[i].0.split(' ').nth(3).unwrap().parse().unwrap() };
    ensure(token(2) > token(0), || {
        format!("tokens not increasing: {events:?}")
    })?;
    ensure(rev(0) == token(0), || {
        format!("ETCD_LOCK_REV differs: {events:?}")
    })?;
    Ok(())
}

/// A holder paused (SIGSTOP) past its TTL: the watchdog stops its child
/// before the next holder's child starts; the next token is larger; after
/// SIGCONT the paused vinesync exits with 76. Prints the timeline.
fn paused_holder_is_fenced(env: &Env) -> Check {
    let log = env.log("paused");
    let first = format!(
        "trap '{}; exit 0' TERM; {}; while :; do sleep 0.05; done",
        note(&log, "first-signalled"),
        note(&log, "first-start $VINESYNC_FENCING_TOKEN")
    );
    let mut a = env.spawn(&[
        "lock",
        "paused",
        "--ttl=3s",
        "--grace=2s",
        "--",
        "sh",
        "-c",
        &first,
    ]);
    wait_line(&log, "first-start", Duration::from_secs(10))?;
    let second = note(&log, "second-start $VINESYNC_FENCING_TOKEN");
    let mut b = env.spawn(&["lock", "paused", "--", "sh", "-c", &second]);
    std::thread::sleep(Duration::from_millis(300));
    let stopped = now();
    signal(&a, libc::SIGSTOP);
    let (_, started) = wait_line(&log, "second-start", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(500));
    let resumed = now();
    signal(&a, libc::SIGCONT);
    let code_a = wait_exit(&mut a, Duration::from_secs(10))?;
    let code_b = wait_exit(&mut b, Duration::from_secs(10))?;
    let (_, signalled) =
        find(&log, "first-signalled").ok_or("the first child was never signalled")?;
    println!(
        "    timeline (s after SIGSTOP, TTL 3 s): child signalled {:.3}, next holder's child starts {:.3}, SIGCONT {:.3}",
        signalled - stopped,
        started - stopped,
        resumed - stopped
    );
    ensure(signalled <= started, || {
        format!(
            "the next holder started before the paused holder's child was signalled: {:?}",
            lines(&log)
        )
    })?;
    let token = |words: &str| -> u64 {
        find(&log, words)
            .unwrap()
            .0
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    ensure(token("second-start") > token("first-start"), || {
        format!("the next token is not larger: {:?}", lines(&log))
    })?;
    ensure(code_a == 76, || {
        format!("paused vinesync exited {code_a}, want 76")
    })?;
    ensure(code_b == 0, || format!("second vinesync exited {code_b}"))?;
    Ok(())
}

/// Waits for CMD's `start KEY` line in `log`, then revokes the lease of
/// KEY (`{dir}{lease:x}_{seq:x}`) with etcdctl, as an operator could.
fn revoke_lease_of_started_cmd(env: &Env, log: &Path) -> Check {
    let (words, _) = wait_line(log, "start", Duration::from_secs(10))?;
    let key = words.split(' ').nth(1).unwrap_or("");
    let lease = key
        .rsplit('/')
        .next()
        .and_then(|k| k.split('_').next())
        .unwrap_or("");
    let revoked = env
        .etcdctl()
        .args(["lease", "revoke", lease])
        .output()
        .map_err(|e| e.to_string())?;
    ensure(revoked.status.success(), || {
        format!("etcdctl lease revoke {lease}: {}", stderr(&revoked))
    })
}

/// The lease revoked under a running CMD (an operator's `etcdctl lease
/// revoke`): vinesync sees its key go, stops CMD with --signal at once (not
/// TTL/3 later, when the watchdog would) and exits 76.
fn revoked_lease_stops_cmd(env: &Env) -> Check {
    let log = env.log("revoked");
    let body = format!(
        "trap '{}; exit 0' USR1; {}; while :; do sleep 0.05; done",
        note(&log, "signalled"),
        note(&log, "start $VINESYNC_LOCK_KEY")
    );
    let mut run = env.spawn(&[
        "lock",
        "revoked",
        "--ttl=30s",
        "--signal=USR1",
        "--",
        "sh",
        "-c",
        &body,
    ]);
    revoke_lease_of_started_cmd(env, &log)?;
    // The clock starts when etcdctl has returned: the revocation happened
    // by then, and etcdctl's own start-up (seconds on a loaded machine) is
    // not vinesync's reaction time. The watchdog would act only TTL/3 =
    // 10 s later, so the bound still tells the two apart.
    let revoked_at = now();
    let code = wait_exit(&mut run, Duration::from_secs(10))?;
    ensure(code == 76, || {
        format!("vinesync exited {code} after its lease was revoked, want 76")
    })?;
    let (_, signalled) = find(&log, "signalled").ok_or("CMD did not get --signal USR1")?;
    ensure(signalled - revoked_at < 3.0, || {
        format!(
            "CMD signalled {:.3} s after the revocation",
            signalled - revoked_at
        )
    })?;
    Ok(())
}

/// A loss vinesync sees (its lease revoked) stops CMD with one --signal:
/// vinesync keeps confirming to the watchdog while CMD uses its grace
/// period, so the watchdog does not send the signal a second time (a
/// program that takes a second SIGTERM as "quit now" would skip its
/// cleanup).
fn a_known_loss_signals_cmd_once(env: &Env) -> Check {
    let log = env.log("once");
    // CMD keeps running for 3 s after the signal: three times the
    // watchdog's timeout (TTL/3 = 1 s).
    let body = format!(
        "trap '{}; stopping=1' USR1; {}; n=0; \
         while [ $n -lt 60 ]; do sleep 0.05; [ -n \"$stopping\" ] && n=$((n+1)); done; exit 0",
        note(&log, "signalled"),
        note(&log, "start $VINESYNC_LOCK_KEY")
    );
    let mut run = env.spawn(&[
        "lock",
        "once",
        "--ttl=3s",
        "--signal=USR1",
        "--grace=10s",
        "--",
        "sh",
        "-c",
        &body,
    ]);
    revoke_lease_of_started_cmd(env, &log)?;
    let code = wait_exit(&mut run, Duration::from_secs(15))?;
    ensure(code == 76, || {
        format!("vinesync exited {code} after its lease was revoked, want 76")
    })?;
    let signals = lines(&log)
        .iter()
        .filter(|(words, _)| words == "signalled")
        .count();
    ensure(signals == 1, || {
        format!(
            "CMD got --signal {signals} times, want once: {:?}",
            lines(&log)
        )
    })
}

/// `--try` on a held lock exits 75 without running CMD; `--wait` too once
/// it elapses; the holder (no CMD) prints its key and releases on SIGINT.
fn try_when_held(env: &Env) -> Check {
    let mut holder = env.spawn(&["lock", "busy"]);
    // Reads one line and closes the pipe: vinesync must not die writing
    // the second (it did, with a panic on EPIPE, before `output::line`).
    let mut out = String::new();
    {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(holder.stdout.take().unwrap());
        reader.read_line(&mut out).map_err(|e| e.to_string())?;
    }
    ensure(
        out.starts_with("VINESYNC_LOCK_KEY=/vine/sync/locks/busy/"),
        || format!("holder printed {out:?}"),
    )?;
    let marker = env.dir.join("try-ran");
    let touch = format!("touch {}", marker.display());
    let tried = env.run(&["lock", "--try", "busy", "--", "sh", "-c", &touch]);
    ensure(tried.status.code() == Some(75), || {
        format!("--try exited {:?}", tried.status)
    })?;
    ensure(stderr(&tried).lines().count() == 1, || {
        format!("not one line: {:?}", stderr(&tried))
    })?;
    ensure(!marker.exists(), || {
        "CMD ran although the lock was held".into()
    })?;
    let waited = env.run(&["lock", "--wait=500ms", "busy", "--", "true"]);
    ensure(waited.status.code() == Some(75), || {
        format!("--wait exited {:?}", waited.status)
    })?;
    // A waiter interrupted while it waits: exit 130, its key removed.
    let mut waiter = env.spawn(&["lock", "busy", "--", "true"]);
    std::thread::sleep(Duration::from_millis(500));
    let waiting = env.run(&["locks", "--json", "busy"]);
    ensure(
        stdout(&waiting).contains(&format!("\"pid\":{}", waiter.id())),
        || format!("the waiter is not listed: {}", stdout(&waiting)),
    )?;
    signal(&waiter, libc::SIGINT);
    let code = wait_exit(&mut waiter, Duration::from_secs(10))?;
    ensure(code == 130, || {
        format!("interrupted waiter exited {code}, want 130")
    })?;
    let after = env.run(&["locks", "--json", "busy"]);
    ensure(stdout(&after).contains("\"waiters\":[]"), || {
        format!("the interrupted waiter's key is left: {}", stdout(&after))
    })?;
    signal(&holder, libc::SIGINT);
    let code = wait_exit(&mut holder, Duration::from_secs(10))?;
    ensure(code == 0, || format!("holder exited {code} after SIGINT"))?;
    let again = env.run(&["lock", "--try", "busy", "--", "sh", "-c", &touch]);
    ensure(again.status.code() == Some(0) && marker.exists(), || {
        format!(
            "lock not released after SIGINT: {:?} {}",
            again.status,
            stderr(&again)
        )
    })?;
    Ok(())
}

/// SIGINT and SIGTERM to vinesync reach CMD once; vinesync exits with CMD's
/// status and the lock is released.
fn signals_are_forwarded(env: &Env) -> Check {
    for (sig, name) in [(libc::SIGINT, "INT"), (libc::SIGTERM, "TERM")] {
        let log = env.log(&format!("forward-{name}"));
        let body = format!(
            "trap '{}; exit 5' {name}; {}; while :; do sleep 0.05; done",
            note(&log, "got"),
            note(&log, "ready")
        );
        let mut run = env.spawn(&["lock", "fwd", "--", "sh", "-c", &body]);
        wait_line(&log, "ready", Duration::from_secs(10))?;
        signal(&run, sig);
        let code = wait_exit(&mut run, Duration::from_secs(10))?;
        ensure(code == 5, || {
            format!("SIG{name}: vinesync exited {code}, want CMD's 5")
        })?;
        let got = lines(&log).iter().filter(|(w, _)| w == "got").count();
        ensure(got == 1, || format!("SIG{name} reached CMD {got} times"))?;
        let free = env.run(&["locks", "fwd"]);
        ensure(stdout(&free).trim() == "fwd\tfree", || {
            format!("lock not released after SIG{name}: {}", stdout(&free))
        })?;
    }
    Ok(())
}

/// kill -9 of a primary `vinesync elect`: its child is stopped by the
/// watchdog and a second `elect` takes over within TTL + 1 s.
fn elect_takeover_after_kill(env: &Env) -> Check {
    let log = env.log("takeover");
    let body = |who: &str| {
        format!(
            "trap '{}; exit 0' TERM; {}; while :; do sleep 0.05; done",
            note(&log, &format!("{who}-signalled")),
            note(&log, &format!("{who}-start $VINESYNC_FENCING_TOKEN"))
        )
    };
    let mut a = env.spawn(&[
        "elect",
        "svc",
        "--ns=takeover",
        "--id=a",
        "--ttl=2s",
        "--",
        "sh",
        "-c",
        &body("a"),
    ]);
    wait_line(&log, "a-start", Duration::from_secs(10))?;
    let mut b = env.spawn(&[
        "elect",
        "svc",
        "--ns=takeover",
        "--id=b",
        "--ttl=2s",
        "--",
        "sh",
        "-c",
        &body("b"),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    ensure(find(&log, "b-start").is_none(), || {
        "b ran while a was primary".into()
    })?;
    let killed = now();
    signal(&a, libc::SIGKILL);
    let _ = a.wait();
    let (_, b_started) = wait_line(&log, "b-start", Duration::from_secs(5))?;
    let (_, a_signalled) = find(&log, "a-signalled").ok_or("a's child was never stopped")?;
    println!(
        "    kill -9 of the primary (TTL 2 s): its child stopped {:.3} s later, the next primary's child starts {:.3} s later",
        a_signalled - killed,
        b_started - killed
    );
    ensure(b_started - killed <= 3.0, || {
        format!(
            "takeover took {:.3} s, more than TTL + 1 s",
            b_started - killed
        )
    })?;
    ensure(a_signalled <= b_started, || {
        format!("a's child outlived its term: {:?}", lines(&log))
    })?;
    signal(&b, libc::SIGTERM);
    let code = wait_exit(&mut b, Duration::from_secs(10))?;
    ensure(code == 0, || {
        format!("b exited {code} after SIGTERM (its child exits 0)")
    })?;
    Ok(())
}

/// Demotion (an operator deletes the primary's key): CMD is stopped; with
/// --once vinesync exits 76, and the next candidate runs.
fn elect_stops_child_on_demotion(env: &Env) -> Check {
    let log = env.log("demote");
    let body = |who: &str| {
        format!(
            "trap '{}; exit 0' TERM; {}; while :; do sleep 0.05; done",
            note(&log, &format!("{who}-signalled")),
            note(&log, &format!("{who}-start"))
        )
    };
    let mut a = env.spawn(&[
        "elect",
        "svc",
        "--ns=demote",
        "--id=a",
        "--once",
        "--",
        "sh",
        "-c",
        &body("a"),
    ]);
    wait_line(&log, "a-start", Duration::from_secs(10))?;
    let mut b = env.spawn(&[
        "elect",
        "svc",
        "--ns=demote",
        "--id=b",
        "--",
        "sh",
        "-c",
        &body("b"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    demote_primary(env, "demote")?;
    let code_a = wait_exit(&mut a, Duration::from_secs(10))?;
    ensure(code_a == 76, || {
        format!("demoted --once vinesync exited {code_a}, want 76")
    })?;
    find(&log, "a-signalled").ok_or("the demoted primary's child was not stopped")?;
    wait_line(&log, "b-start", Duration::from_secs(5))?;
    // Without --once, a demoted candidate campaigns again (alone: it wins).
    demote_primary(env, "demote")?;
    let end = Instant::now() + Duration::from_secs(5);
    while lines(&log).iter().filter(|(w, _)| w == "b-start").count() < 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    // (An operator's delete reaches a and b at once: a's stop and b's start
    // have no order between them, unlike an expiry, which the watchdog beats.)
    let events: Vec<String> = lines(&log).into_iter().map(|(w, _)| w).collect();
    let of = |who: &str| -> Vec<&str> {
        events
            .iter()
            .map(String::as_str)
            .filter(|w| w.starts_with(who))
            .collect()
    };
    ensure(
        of("a-") == ["a-start", "a-signalled"] && of("b-") == ["b-start", "b-signalled", "b-start"],
        || format!("want b stopped and run again after its demotion: {events:?}"),
    )?;
    signal(&b, libc::SIGTERM);
    let code = wait_exit(&mut b, Duration::from_secs(10))?;
    ensure(code == 0, || format!("b exited {code} after SIGTERM"))?;
    Ok(())
}

/// Deletes the primary's candidate key, as an operator could.
fn demote_primary(env: &Env, namespace: &str) -> Check {
    let first = candidate_keys(env, namespace)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("no candidate in {namespace:?}"))?;
    let deleted = env
        .etcdctl()
        .args(["del", &first])
        .output()
        .map_err(|e| e.to_string())?;
    ensure(stdout(&deleted).trim() == "1", || {
        format!("etcdctl del {first}: {}", stdout(&deleted))
    })
}

/// Candidate keys under election `namespace`, oldest first.
fn candidate_keys(env: &Env, namespace: &str) -> Result<Vec<String>, String> {
    let dir = format!("/vine/sync/leaders/{namespace}/");
    let keys = env
        .etcdctl()
        .args(["get", "--prefix", "--keys-only", "--sort-by=CREATE", &dir])
        .output()
        .map_err(|e| e.to_string())?;
    Ok(stdout(&keys)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A campaign that fails on a healthy etcd (here: an operator deletes the
/// waiting candidate's key) is tried again after a pause of a second, not
/// at once: a failure that repeats (a permission, say) would otherwise
/// write and delete a key as fast as etcd answers.
fn elect_pauses_before_campaigning_again(env: &Env) -> Check {
    let mut primary = env.spawn(&["elect", "svc", "--ns=retry", "--id=a"]);
    let said = first_line(&mut primary)?;
    ensure(said.trim() == "primary a", || format!("a printed {said:?}"))?;
    let mut waiting = Proc(
        env.vinesync(&["elect", "svc", "--ns=retry", "--id=b"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let has_two = |limit: Duration| -> Result<Vec<String>, String> {
        let end = Instant::now() + limit;
        loop {
            let keys = candidate_keys(env, "retry")?;
            if keys.len() == 2 || Instant::now() > end {
                return Ok(keys);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let keys = has_two(Duration::from_secs(10))?;
    ensure(keys.len() == 2, || {
        format!("want a's and b's keys: {keys:?}")
    })?;
    let deleted = env
        .etcdctl()
        .args(["del", &keys[1]])
        .output()
        .map_err(|e| e.to_string())?;
    ensure(stdout(&deleted).trim() == "1", || {
        format!("etcdctl del {}: {}", keys[1], stdout(&deleted))
    })?;
    let after_delete = Instant::now();
    let again = has_two(Duration::from_secs(10))?;
    let paused = after_delete.elapsed();
    ensure(again.len() == 2 && again[1] != keys[1], || {
        format!("b did not campaign again within 10 s: {again:?}")
    })?;
    ensure(paused >= Duration::from_millis(800), || {
        format!("b campaigned again {paused:?} after its key was deleted, want a pause of 1 s")
    })?;
    // A signal while campaigning is an interruption (130); the primary
    // resigns and exits 0.
    for (process, want) in [(&mut waiting, 130), (&mut primary, 0)] {
        signal(process, libc::SIGTERM);
        let code = wait_exit(process, Duration::from_secs(10))?;
        ensure(code == want, || {
            format!("exited {code} after SIGTERM, want {want}")
        })?;
    }
    ensure(candidate_keys(env, "retry")?.is_empty(), || {
        "a candidate key was left behind".to_string()
    })
}

/// Without CMD, `elect` prints "primary ID", holds the role (members shows
/// it) and resigns on SIGTERM.
fn elect_without_cmd_holds_the_role(env: &Env) -> Check {
    let mut holder = env.spawn(&["elect", "svc", "--ns=holding", "--id=h"]);
    let said = first_line(&mut holder)?;
    ensure(said.trim() == "primary h", || format!("printed {said:?}"))?;
    let members = env.run(&["members", "--ns=holding"]);
    ensure(stdout(&members).trim() == "primary  h\tsvc", || {
        format!("members: {:?}", stdout(&members))
    })?;
    signal(&holder, libc::SIGTERM);
    let code = wait_exit(&mut holder, Duration::from_secs(10))?;
    ensure(code == 0, || format!("exited {code} after SIGTERM"))?;
    let members = env.run(&["members", "--ns=holding"]);
    ensure(stdout(&members).trim().is_empty(), || {
        format!("still a member after SIGTERM: {:?}", stdout(&members))
    })
}

/// Without `--once`, `elect` outlives an etcd outage longer than its lease:
/// it is demoted, keeps campaigning while etcd cannot be reached (the old
/// code exited 69 at the first failed lease grant) and is primary again
/// once etcd is back.
fn elect_campaigns_again_through_an_outage(_env: &Env) -> Check {
    use std::io::BufRead;
    let mut cluster = EtcdCluster::start(1).map_err(|e| e.to_string())?;
    let mut holder = spawn_on(
        &cluster,
        &[
            "--request-timeout=1s",
            "elect",
            "svc",
            "--ns=outage",
            "--id=o",
            "--ttl=3s",
        ],
        Stdio::null(),
    )?;
    let (lines, said) = std::sync::mpsc::channel();
    let stdout = holder.stdout.take().ok_or("no stdout")?;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let expect = |want: &str, limit: Duration| {
        let line = said
            .recv_timeout(limit)
            .map_err(|e| format!("waiting for {want:?}: {e}"))?;
        ensure(line == want, || format!("printed {line:?}, want {want:?}"))
    };
    expect("primary o", Duration::from_secs(10))?;
    cluster.kill_member(0).map_err(|e| e.to_string())?;
    expect("demoted o", Duration::from_secs(10))?;
    // Several failed lease grants (1 s request timeout each, then backoff).
    std::thread::sleep(Duration::from_secs(5));
    let early = holder.try_wait().map_err(|e| e.to_string())?;
    ensure(early.is_none(), || {
        format!("elect exited during the outage: {early:?}")
    })?;
    cluster.restart_member(0).map_err(|e| e.to_string())?;
    expect("primary o", Duration::from_secs(30))?;
    signal(&holder, libc::SIGTERM);
    let code = wait_exit(&mut holder, Duration::from_secs(10))?;
    ensure(code == 0, || format!("exited {code} after SIGTERM"))
}

/// `etcdctl lock` and `vinesync lock` exclude each other on one name, and
/// `vinesync locks` shows etcdctl's key as the holder and ours as waiter.
fn lock_interop_with_etcdctl(env: &Env) -> Check {
    let mut etcdctl = env
        .etcdctl()
        .args(["lock", "/vine/sync/locks/shared"])
        .stdout(Stdio::piped())
        .spawn()
        .map(Proc)
        .map_err(|e| e.to_string())?;
    let held_key = first_line(&mut etcdctl)?.trim().to_string();
    let tried = env.run(&["lock", "--try", "shared", "--", "true"]);
    ensure(tried.status.code() == Some(75), || {
        format!("--try while etcdctl holds: {:?}", tried.status)
    })?;
    let log = env.log("interop-lock");
    let mut waiter = env.spawn(&["lock", "shared", "--", "sh", "-c", &note(&log, "ran")]);
    std::thread::sleep(Duration::from_millis(500));
    let listed = env.run(&["locks", "--json", "shared"]);
    let info: serde_json::Value =
        serde_json::from_slice(&listed.stdout).map_err(|e| e.to_string())?;
    let table = env
        .etcdctl()
        .args([
            "get",
            "--prefix",
            "--keys-only",
            "--sort-by=CREATE",
            "/vine/sync/locks/shared/",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let etcd_keys: Vec<String> = stdout(&table)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    ensure(info["holder"]["key"] == held_key.as_str(), || {
        format!("holder {} is not etcdctl's key {held_key}", info["holder"])
    })?;
    ensure(info["holder"]["value"] == "", || {
        format!("etcdctl's value: {}", info["holder"])
    })?;
    let waiter_pid = i64::from(waiter.id());
    ensure(info["waiters"][0]["pid"] == waiter_pid, || {
        format!("waiter {} is not pid {waiter_pid}", info["waiters"])
    })?;
    let since = info["waiters"][0]["since_ms"].as_u64().unwrap_or(0);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ensure(
        since > 0 && since <= now_ms && now_ms - since < 60_000,
        || format!("waiter's since_ms {since} is not within the last minute of {now_ms}"),
    )?;
    let text = env.run(&["locks", "shared"]);
    ensure(stdout(&text).contains(" since 20"), || {
        format!("locks shows no since: {}", stdout(&text))
    })?;
    let ours: Vec<&str> = std::iter::once(&info["holder"])
        .chain(info["waiters"].as_array().into_iter().flatten())
        .filter_map(|e| e["key"].as_str())
        .collect();
    ensure(ours == etcd_keys, || {
        format!("locks {ours:?} but etcdctl {etcd_keys:?}")
    })?;
    ensure(find(&log, "ran").is_none(), || {
        "vinesync ran while etcdctl held the lock".into()
    })?;
    signal(&etcdctl, libc::SIGINT);
    let _ = etcdctl.wait();
    let code = wait_exit(&mut waiter, Duration::from_secs(10))?;
    ensure(code == 0 && find(&log, "ran").is_some(), || {
        format!("after etcdctl let go: exit {code}, log {:?}", lines(&log))
    })?;
    Ok(())
}

/// `etcdctl elect` and `vinesync elect` see one primary; `members` lists
/// what etcdctl lists, in the same order.
fn elect_interop_with_etcdctl(env: &Env) -> Check {
    let mut etcdctl = env
        .etcdctl()
        .args(["elect", "/vine/sync/leaders/interop", "from-etcdctl"])
        .stdout(Stdio::piped())
        .spawn()
        .map(Proc)
        .map_err(|e| e.to_string())?;
    first_line(&mut etcdctl)?; // once elected, it prints its key
    let log = env.log("interop-elect");
    let mut ours = env.spawn(&[
        "elect",
        "svc",
        "--ns=interop",
        "--id=ours",
        "--",
        "sh",
        "-c",
        &note(&log, "ran"),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    ensure(find(&log, "ran").is_none(), || {
        "vinesync ran while etcdctl was primary".into()
    })?;
    let members = env.run(&["members", "--ns=interop", "--json"]);
    let members: Vec<serde_json::Value> = stdout(&members)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let listed = env
        .etcdctl()
        .args([
            "get",
            "--prefix",
            "--sort-by=CREATE",
            "/vine/sync/leaders/interop/",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let etcd_lines: Vec<String> = stdout(&listed).lines().map(String::from).collect();
    ensure(members.len() == 2 && etcd_lines.len() == 4, || {
        format!("members {members:?}, etcdctl {etcd_lines:?}")
    })?;
    ensure(
        members[0]["role"] == "primary" && members[0]["leader"] == "from-etcdctl",
        || format!("etcdctl's candidate is not listed as primary: {members:?}"),
    )?;
    ensure(
        etcd_lines[1] == "from-etcdctl" && etcd_lines[3].contains("\"id\":\"ours\""),
        || format!("etcdctl's order differs: {etcd_lines:?}"),
    )?;
    ensure(
        members[1]["id"] == "ours" && members[1]["role"] == "follow",
        || format!("{members:?}"),
    )?;
    let mut observed = env
        .etcdctl()
        .args(["elect", "-l", "/vine/sync/leaders/interop"])
        .stdout(Stdio::piped())
        .spawn()
        .map(Proc)
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(500));
    signal(&observed, libc::SIGINT);
    let mut observed_text = String::new();
    observed
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut observed_text)
        .map_err(|e| e.to_string())?;
    ensure(observed_text.lines().nth(1) == Some("from-etcdctl"), || {
        format!("etcdctl elect -l: {observed_text:?}")
    })?;
    signal(&etcdctl, libc::SIGINT);
    let _ = etcdctl.wait();
    let code = wait_exit(&mut ours, Duration::from_secs(10))?;
    ensure(code == 0 && find(&log, "ran").is_some(), || {
        format!("after etcdctl resigned: exit {code}, log {:?}", lines(&log))
    })?;
    Ok(())
}

/// `watch --json` prints one object per election event as it happens.
fn watch_prints_events(env: &Env) -> Check {
    let mut watcher = env.spawn(&["watch", "--ns=watched", "--json"]);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let out = watcher.stdout.take().ok_or("no stdout")?;
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500)); // the watch is set up
    let ran = env.run(&[
        "elect",
        "svc",
        "--ns=watched",
        "--id=w1",
        "--",
        "sleep",
        "0.3",
    ]);
    ensure(ran.status.success(), || {
        format!("elect: {:?} {}", ran.status, stderr(&ran))
    })?;
    let mut events = Vec::new();
    while events.len() < 3 {
        let line = rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| format!("only {events:?} within 5 s"))?;
        let event: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{line:?}: {e}"))?;
        events.push((
            event["event"].as_str().unwrap_or("").to_string(),
            event["id"].clone(),
        ));
    }
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    ensure(kinds == ["joined", "elected", "left"], || {
        format!("events {events:?}")
    })?;
    ensure(events.iter().all(|(_, id)| id == "w1"), || {
        format!("ids {events:?}")
    })?;
    signal(&watcher, libc::SIGINT);
    let code = wait_exit(&mut watcher, Duration::from_secs(5))?;
    ensure(code == 0, || format!("watch exited {code} after SIGINT"))?;
    Ok(())
}

/// `vinesync watch | head -n1`: watch ends when its reader leaves, without
/// waiting for the next event (none comes here).
fn watch_ends_when_its_reader_leaves(env: &Env) -> Check {
    let mut watcher = env.spawn(&["watch", "--ns=nobody-here"]);
    std::thread::sleep(Duration::from_millis(500)); // connected and watching
    drop(watcher.stdout.take());
    let code = wait_exit(&mut watcher, Duration::from_secs(10))?;
    ensure(code == 0, || {
        format!("watch exited {code} once its reader left")
    })
}

/// Bad flags and unreachable endpoints: one line on stderr naming the
/// problem, a non-zero exit code.
fn errors_are_one_line(env: &Env) -> Check {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["lock", "x", "--ttl=ten", "--", "true"], 2, "ten"),
        (&["lock", "x", "--bogus"], 2, "--bogus"),
        (&[], 2, "a command is needed"),
        (
            &["lock", "x", "--ttl", "-1s"],
            2,
            "\"-1s\" is not a duration",
        ),
        (&["lock"], 2, "<NAME>"),
        // Bad values are usage errors before any connection: the endpoint
        // refuses, and they still exit 2 (not 69).
        (
            &[
                "--endpoints=127.0.0.1:1",
                "lock",
                "x",
                "--ttl=0.5s",
                "--",
                "true",
            ],
            2,
            "0.5s is shorter than the minimum TTL of 1s",
        ),
        (
            &["--endpoints=127.0.0.1:1", "elect", "svc", "--ttl=9000h"],
            2,
            "maximum TTL",
        ),
        (
            &["--endpoints=127.0.0.1:1", "lock", "", "--", "true"],
            2,
            "must not be empty",
        ),
        (&["--endpoints=127.0.0.1:1", "members", "--ns="], 2, "--ns"),
        (
            &["--endpoints=127.0.0.1:1", "watch", "--id="],
            2,
            "must not be empty",
        ),
        (&["elect", "svc", "--signal=NOPE", "--", "true"], 2, "NOPE"),
        (&["--endpoints=nohost", "locks"], 2, "nohost"),
        (&["--prefix=relative", "locks"], 2, "relative"),
        (
            &["--endpoints=127.0.0.1:1", "--dial-timeout=1s", "locks"],
            69,
            "127.0.0.1:1",
        ),
        // The operating system's reason, not only "tcp connect error".
        (
            &["--endpoints=127.0.0.1:1", "--dial-timeout=1s", "members"],
            69,
            "Connection refused",
        ),
        (
            &[
                "--endpoints=127.0.0.1:1",
                "--dial-timeout=1s",
                "lock",
                "x",
                "--",
                "true",
            ],
            69,
            "127.0.0.1:1",
        ),
    ];
    // A bad value the core rejects, with a reachable etcd: named as the
    // flag, not as the library's option.
    let output = env.run(&["lock", "x", "--ttl=0s", "--", "true"]);
    ensure(
        output.status.code() == Some(2) && stderr(&output).lines().count() == 1,
        || format!("--ttl=0s: {:?} {:?}", output.status, stderr(&output)),
    )?;
    ensure(
        stderr(&output).contains("--ttl") && stderr(&output).contains("minimum TTL of 1s"),
        || stderr(&output),
    )?;
    let output = env.run(&["lock", "x", "--", "/nonexistent/program"]);
    ensure(
        output.status.code() == Some(127) && stderr(&output).lines().count() == 1,
        || format!("missing CMD: {:?} {:?}", output.status, stderr(&output)),
    )?;
    ensure(stderr(&output).contains("/nonexistent/program"), || {
        stderr(&output)
    })?;
    for (args, code, names) in cases {
        let output = env.bare(args);
        let text = stderr(&output);
        ensure(output.status.code() == Some(*code), || {
            format!(
                "{args:?}: exit {:?}, want {code}; stderr {text:?}",
                output.status.code()
            )
        })?;
        ensure(text.lines().count() == 1 && text.contains(names), || {
            format!("{args:?}: want one line naming {names:?}, got {text:?}")
        })?;
    }
    Ok(())
}

/// A Ctrl-C while etcd accepts the connection but never answers ends
/// vinesync at once (130), not after the whole dial timeout.
fn interrupt_while_connecting(_env: &Env) -> Check {
    // Accepted by the kernel's backlog, never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = silent.local_addr().map_err(|e| e.to_string())?;
    for args in [
        &["lock", "x", "--", "true"][..],
        &["elect", "svc", "--", "true"][..],
        &["watch"][..],
    ] {
        let mut process = Proc(
            Command::new(env!("CARGO_BIN_EXE_vinesync"))
                .env_remove("VINESYNC_NODES")
                .arg(format!("--endpoints={address}"))
                .arg("--dial-timeout=30s")
                .args(args)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?,
        );
        std::thread::sleep(Duration::from_millis(700));
        let sent = Instant::now();
        signal(&process, libc::SIGINT);
        let code = wait_exit(&mut process, Duration::from_secs(10))?;
        let text = stderr_of(&mut process);
        ensure(
            code == 130 && text.contains("SIGINT while connecting"),
            || {
                format!(
                    "{args:?}: exit {code} after {:?}, stderr {text:?}",
                    sent.elapsed()
                )
            },
        )?;
    }
    Ok(())
}

/// A second Ctrl-C while the release waits on an etcd that does not answer
/// ends vinesync at once (130, saying the lock ends with its lease) instead
/// of after the request timeouts of the unlock and the close.
fn second_interrupt_stops_waiting_for_a_stalled_etcd(_env: &Env) -> Check {
    let mut cluster = EtcdCluster::start(1).map_err(|e| e.to_string())?;
    let mut holder = spawn_on(
        &cluster,
        &["--request-timeout=30s", "lock", "stalled"],
        Stdio::piped(),
    )?;
    let line = first_line(&mut holder)?;
    ensure(line.starts_with("VINESYNC_LOCK_KEY="), || line.clone())?;
    cluster.pause_member(0).map_err(|e| e.to_string())?;
    signal(&holder, libc::SIGINT);
    // Over a second later: a second request, not the first one's companion.
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    signal(&holder, libc::SIGINT);
    let code = wait_exit(&mut holder, Duration::from_secs(5));
    let _ = cluster.resume_member(0);
    let text = stderr_of(&mut holder);
    ensure(
        code == Ok(130) && text.contains("not waiting for etcd"),
        || {
            format!(
                "exit {code:?} {:?} after the second SIGINT; stderr {text:?}",
                sent.elapsed()
            )
        },
    )
}

/// A first Ctrl-C while the release of a CMD that ended by itself waits on
/// a stalled etcd is not silent: vinesync says it is still releasing and
/// how to stop waiting; the next one, over a second later, ends it (130).
fn first_interrupt_during_a_stalled_release_says_how_to_stop(_env: &Env) -> Check {
    let mut cluster = EtcdCluster::start(1).map_err(|e| e.to_string())?;
    let mut holder = spawn_on(
        &cluster,
        &[
            "--request-timeout=30s",
            "lock",
            "stalled-cmd",
            "--",
            "sh",
            "-c",
            "echo started; sleep 1",
        ],
        Stdio::piped(),
    )?;
    let line = first_line(&mut holder)?;
    ensure(line.trim() == "started", || line.clone())?;
    cluster.pause_member(0).map_err(|e| e.to_string())?;
    // CMD ends within a second; its release then waits on the stalled etcd.
    std::thread::sleep(Duration::from_millis(2000));
    signal(&holder, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(1500));
    let early = holder.try_wait().map_err(|e| e.to_string())?;
    signal(&holder, libc::SIGINT);
    let code = wait_exit(&mut holder, Duration::from_secs(5));
    let _ = cluster.resume_member(0);
    let text = stderr_of(&mut holder);
    ensure(
        early.is_none()
            && text.contains("still releasing")
            && text.contains("send it again")
            && code == Ok(130),
        || format!("before the second SIGINT {early:?}; exit {code:?}; stderr {text:?}"),
    )
}

/// A lock lost because etcd stalled: CMD is stopped and vinesync exits 76
/// soon after, instead of first waiting out the request timeouts of a
/// release and a close that etcd will not answer.
fn a_loss_to_a_stalled_etcd_exits_promptly(_env: &Env) -> Check {
    let mut cluster = EtcdCluster::start(1).map_err(|e| e.to_string())?;
    let mut holder = spawn_on(
        &cluster,
        &[
            "--request-timeout=10s",
            "lock",
            "stalled-loss",
            "--ttl=3s",
            "--grace=1s",
            "--",
            "sh",
            "-c",
            "echo started; exec sleep 100",
        ],
        Stdio::piped(),
    )?;
    let line = first_line(&mut holder)?;
    ensure(line.trim() == "started", || line.clone())?;
    cluster.pause_member(0).map_err(|e| e.to_string())?;
    let paused = Instant::now();
    // Lost within the TTL; then CMD's stop and a bounded close.
    let code = wait_exit(&mut holder, Duration::from_secs(15));
    let took = paused.elapsed();
    let _ = cluster.resume_member(0);
    let text = stderr_of(&mut holder);
    ensure(code == Ok(76) && took < Duration::from_secs(8), || {
        format!("exit {code:?} {took:?} after etcd stalled (TTL 3 s); stderr {text:?}")
    })
}

/// SIGTERM and SIGHUP together (systemd with SendSIGHUP, a hangup) are one
/// request to stop: the lock is released (exit 0), not abandoned as if the
/// second were an impatient second Ctrl-C.
fn signals_of_one_event_still_release(env: &Env) -> Check {
    let mut holder = env.spawn(&["lock", "together"]);
    let line = first_line(&mut holder)?;
    ensure(line.starts_with("VINESYNC_LOCK_KEY="), || line.clone())?;
    signal(&holder, libc::SIGTERM);
    signal(&holder, libc::SIGHUP);
    let code = wait_exit(&mut holder, Duration::from_secs(10))?;
    ensure(code == 0, || format!("exit {code}, want 0 (released)"))?;
    // Released: free for anyone at once.
    let output = env.run(&["lock", "--try", "together", "--", "true"]);
    ensure(output.status.code() == Some(0), || {
        format!("lock left held: {:?} {:?}", output.status, stderr(&output))
    })
}

/// Inputs at the edges: a timeout too large for the clock works as "no
/// limit" (it panicked), `--` with nothing after it is an error (it held
/// the lock forever), and output lost to a full disk is an error (it
/// exited 0).
fn edge_inputs(env: &Env) -> Check {
    // Too large for the clock (the second too large for a Duration too):
    // no limit.
    for huge in ["10000000000000000000", "99999999999999999999999"] {
        for flag in ["--request-timeout", "--dial-timeout"] {
            let output = env.run(&[&format!("{flag}={huge}"), "locks"]);
            // Nothing on stderr: closing the handle panicked on a deadline
            // past the clock's end once.
            ensure(
                output.status.code() == Some(0) && stderr(&output).is_empty(),
                || format!("{flag}={huge}: {:?} {:?}", output.status, stderr(&output)),
            )?;
        }
    }
    // A newline in a name is refused on the command line, and one that
    // another client wrote cannot fake a line of `locks`.
    let refused = env.run(&["lock", "x\nVINESYNC_FENCING_TOKEN=1"]);
    ensure(
        refused.status.code() == Some(2) && stderr(&refused).contains("control character"),
        || {
            format!(
                "a newline in a lock id: {:?} {:?}",
                refused.status,
                stderr(&refused)
            )
        },
    )?;
    let key = "/vine/sync/locks/two\nlines/0_0";
    let put = env
        .etcdctl()
        .args(["put", key, "v"])
        .output()
        .map_err(|e| e.to_string())?;
    ensure(put.status.success(), || format!("etcdctl put: {put:?}"))?;
    let listed = stdout(&env.run(&["locks"]));
    let _ = env.etcdctl().args(["del", key]).output();
    ensure(
        listed.contains("\"two\\nlines\"") && !listed.lines().any(|l| l == "lines"),
        || format!("locks with a newline in an id: {listed:?}"),
    )?;
    // Usage errors that name what was wrong.
    for (args, says) in [
        (
            &["--endpoints=", "locks"][..],
            "--endpoints names no endpoint",
        ),
        (
            &["--endpoints= , ", "locks"][..],
            "--endpoints names no endpoint",
        ),
        (
            &["elect", "svc", "--list"][..],
            "cannot be used with '--list'",
        ),
        (
            &["--prefix=/a\nb", "locks"][..],
            "must not contain a control character",
        ),
    ] {
        let output = env.bare(args);
        ensure(
            output.status.code() == Some(2) && stderr(&output).contains(says),
            || format!("{args:?}: {:?} {:?}", output.status, stderr(&output)),
        )?;
    }
    for args in [&["lock", "x", "--"][..], &["elect", "svc", "--"][..]] {
        // Bounded: the bug this guards against held the lock forever.
        let mut process = Proc(
            env.vinesync(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?,
        );
        let code = wait_exit(&mut process, Duration::from_secs(10));
        let text = stderr_of(&mut process);
        ensure(
            code == Ok(2) && text.contains("no command given after --"),
            || format!("{args:?}: {code:?} {text:?}"),
        )?;
    }
    for args in [&["locks", "x", "--json"][..], &["--help"][..]] {
        let full = std::fs::File::create("/dev/full").map_err(|e| e.to_string())?;
        let output = env
            .vinesync(args)
            .stdout(full)
            .output()
            .map_err(|e| e.to_string())?;
        let text = stderr(&output);
        ensure(
            output.status.code() == Some(1) && text.contains("writing to stdout"),
            || format!("{args:?} > /dev/full: {:?} {text:?}", output.status),
        )?;
    }
    Ok(())
}

type Test = fn(&Env) -> Check;

const TESTS: &[(&str, Test)] = &[
    ("two_runs_serialize", two_runs_serialize),
    ("paused_holder_is_fenced", paused_holder_is_fenced),
    ("revoked_lease_stops_cmd", revoked_lease_stops_cmd),
    (
        "a_known_loss_signals_cmd_once",
        a_known_loss_signals_cmd_once,
    ),
    ("try_when_held", try_when_held),
    ("signals_are_forwarded", signals_are_forwarded),
    ("elect_takeover_after_kill", elect_takeover_after_kill),
    (
        "elect_stops_child_on_demotion",
        elect_stops_child_on_demotion,
    ),
    (
        "elect_without_cmd_holds_the_role",
        elect_without_cmd_holds_the_role,
    ),
    (
        "elect_pauses_before_campaigning_again",
        elect_pauses_before_campaigning_again,
    ),
    (
        "elect_campaigns_again_through_an_outage",
        elect_campaigns_again_through_an_outage,
    ),
    ("lock_interop_with_etcdctl", lock_interop_with_etcdctl),
    ("elect_interop_with_etcdctl", elect_interop_with_etcdctl),
    ("watch_prints_events", watch_prints_events),
    (
        "watch_ends_when_its_reader_leaves",
        watch_ends_when_its_reader_leaves,
    ),
    ("errors_are_one_line", errors_are_one_line),
    ("interrupt_while_connecting", interrupt_while_connecting),
    ("edge_inputs", edge_inputs),
    (
        "second_interrupt_stops_waiting_for_a_stalled_etcd",
        second_interrupt_stops_waiting_for_a_stalled_etcd,
    ),
    (
        "signals_of_one_event_still_release",
        signals_of_one_event_still_release,
    ),
    (
        "first_interrupt_during_a_stalled_release_says_how_to_stop",
        first_interrupt_during_a_stalled_release_says_how_to_stop,
    ),
    (
        "a_loss_to_a_stalled_etcd_exits_promptly",
        a_loss_to_a_stalled_etcd_exits_promptly,
    ),
];

fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let cluster = EtcdCluster::start(1).expect("starting etcd");
    let dir = tempfile::tempdir().expect("scratch directory");
    let env = Env {
        endpoints: cluster.endpoints().join(","),
        dir: dir.path().to_path_buf(),
    };
    let mut failed = 0;
    let mut ran = 0;
    for (name, test) in TESTS {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        ran += 1;
        let started = Instant::now();
        match test(&env) {
            Ok(()) => println!(
                "test {name} ... ok ({:.1}s)",
                started.elapsed().as_secs_f64()
            ),
            Err(message) => {
                failed += 1;
                println!("test {name} ... FAILED: {message}");
            }
        }
    }
    println!("cli_etcd: {} passed, {failed} failed", ran - failed);
    drop(cluster);
    if failed > 0 || ran == 0 {
        std::process::exit(1);
    }
}
