//! Worker processes of every language, started with the same arguments and
//! read line by line (HOLD, ACK, STALE, RELEASE, RELEASED, LOST, GAVE-UP,
//! WATCHING, ELECTED, DEMOTED, WATCHED, UNWATCHING, IDLE, DONE) by a thread
//! each. A candidate campaigns until told to stop (`stop_campaign`); a
//! worker stays alive after IDLE until its stdin is closed (`finish`).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The languages a worker can be written in, and how to start one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    C,
    Python,
    Go,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::Rust, Language::C, Language::Python, Language::Go];

    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::Python => "python",
            Language::Go => "go",
        }
    }

    /// The command that starts this language's worker, if it was built:
    /// the Rust worker sits beside this binary; the others are named by
    /// VINESYNC_FAULTS_{C,PYTHON,GO} (set by `make test-faults`).
    pub fn command(self) -> Option<Vec<String>> {
        match self {
            Language::Rust => {
                let exe = std::env::current_exe().ok()?;
                let worker: PathBuf = exe.with_file_name("vinesync-fault-worker");
                worker.exists().then(|| vec![worker.display().to_string()])
            }
            Language::C => env_command("VINESYNC_FAULTS_C"),
            Language::Python => env_command("VINESYNC_FAULTS_PYTHON"),
            Language::Go => env_command("VINESYNC_FAULTS_GO"),
        }
    }
}

fn env_command(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
    Some(value.split_whitespace().map(String::from).collect())
}

/// One running worker.
pub struct Worker {
    pub name: String,
    pub language: Language,
    child: Child,
    /// Closed by `finish`: the worker then exits.
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    /// Starts `command` (the worker of `language`) with `args` and `env`.
    pub fn start(
        language: Language,
        command: &[String],
        name: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> std::io::Result<Worker> {
        if command.is_empty() {
            return Err(std::io::Error::other(format!(
                "no {} worker was built",
                language.name()
            )));
        }
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Ok(Worker {
            name: name.to_string(),
            language,
            child,
            stdin,
            lines,
        })
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many lines start with `word`.
    pub fn count(&self, word: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.split_whitespace().next() == Some(word))
            .count()
    }

    /// Whether the last HOLD has not been followed by its outcome yet.
    pub fn is_holding(&self) -> bool {
        let lines = self.lines();
        let last_hold = lines.iter().rposition(|l| l.starts_with("HOLD"));
        let last_end = lines
            .iter()
            .rposition(|l| l.starts_with("ACK") || l.starts_with("STALE"));
        match (last_hold, last_end) {
            (Some(h), Some(e)) => h > e,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Ends a candidate's campaign (writes STOP on its stdin).
    pub fn stop_campaign(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(b"STOP\n").and_then(|()| stdin.flush());
        }
    }

    /// Lets the worker exit once it is idle (closes its stdin).
    pub fn finish(&mut self) {
        self.stdin = None;
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    pub fn signal(&self, signal: libc::c_int) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(std::io::Error::other)?;
        // SAFETY: kill() on our own child's pid with a valid signal.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for the process to exit (SIGKILL after `limit`); its status.
    pub fn wait(&mut self, limit: Duration) -> std::io::Result<std::process::ExitStatus> {
        self.finish();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.signal(libc::SIGCONT);
                self.child.kill()?;
                return self.child.wait();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.signal(libc::SIGCONT);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `ready` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    ready()
}
