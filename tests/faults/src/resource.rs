//! The guarded resource: a counter behind a loopback TCP line protocol that
//! checks fencing tokens on every access, as a fenced store must: `READ
//! token` answers `VALUE n`, `WRITE token n` sets the counter and answers
//! `OK` — each only if token is at least the highest token seen so far,
//! else `STALE max` (a holder that lost its lock is turned away, even if it
//! read before the new holder). Workers read, then write read+1: if two
//! processes ever held the lock at once, an increment would be lost.
//!
//! Every access is logged with its time on the suite's clock (for the
//! history checker), and next to the fenced counter runs an *unfenced
//! shadow*: each WRITE sets it to the shadow value that connection read + 1,
//! whatever the token. `writes - shadow` is what would have been lost
//! without fencing (Jepsen's measure).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::clock;

#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub value: u64,
    pub max_token: u64,
    pub accepted: u64,
    pub stale: u64,
    /// The unfenced counter, and the WRITEs that set it.
    pub shadow: u64,
    pub writes: u64,
    pub accesses: Vec<Access>,
}

/// One READ or WRITE as the resource saw it.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub token: u64,
    /// When it arrived (crate::clock).
    pub at: u128,
    pub write: bool,
    pub accepted: bool,
}

impl Counts {
    /// Increments an unfenced store would have lost.
    pub fn shadow_lost(&self) -> u64 {
        self.writes.saturating_sub(self.shadow)
    }
}

/// A running resource; its thread ends with the process.
pub struct Resource {
    pub address: String,
    counts: Arc<Mutex<Counts>>,
}

impl Resource {
    pub fn start() -> std::io::Result<Resource> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let counts = Arc::new(Mutex::new(Counts::default()));
        let shared = counts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counts = shared.clone();
                std::thread::spawn(move || serve(stream, &counts));
            }
        });
        Ok(Resource { address, counts })
    }

    pub fn counts(&self) -> Counts {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts a new scenario: counter, tokens and tallies back to zero.
    pub fn reset(&self) {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()) = Counts::default();
    }
}

fn serve(stream: TcpStream, counts: &Mutex<Counts>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    // The shadow value this connection last read.
    let mut shadow_read = 0;
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let answer = answer(&line, counts, &mut shadow_read);
        if writer.write_all(format!("{answer}\n").as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(line: &str, counts: &Mutex<Counts>, shadow_read: &mut u64) -> String {
    let at = clock::now();
    let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
    let words: Vec<&str> = line.split_whitespace().collect();
    let (token, write, answer) = match words.as_slice() {
        ["READ", token] => match token.parse::<u64>() {
            Ok(token) => {
                *shadow_read = c.shadow;
                if token >= c.max_token {
                    c.max_token = token;
                    (token, false, format!("VALUE {}", c.value))
                } else {
                    (token, false, format!("STALE {}", c.max_token))
                }
            }
            Err(_) => return "ERROR bad token".to_string(),
        },
        ["WRITE", token, value] => match (token.parse::<u64>(), value.parse::<u64>()) {
            (Ok(token), Ok(value)) => {
                c.writes += 1;
                c.shadow = *shadow_read + 1;
                if token >= c.max_token {
                    c.max_token = token;
                    c.value = value;
                    c.accepted += 1;
                    (token, true, "OK".to_string())
                } else {
                    (token, true, format!("STALE {}", c.max_token))
                }
            }
            _ => return "ERROR bad numbers".to_string(),
        },
        _ => return "ERROR unknown request".to_string(),
    };
    let accepted = !answer.starts_with("STALE");
    if !accepted {
        c.stale += 1;
    }
    c.accesses.push(Access {
        token,
        at,
        write,
        accepted,
    });
    answer
}
