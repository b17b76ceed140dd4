//! The guarded resource: a counter behind a loopback TCP line protocol that
//! checks fencing tokens on every access, as a fenced store must: `READ
//! token` answers `VALUE n`, `WRITE token n` sets the counter and answers
//! `OK` — each only if token is at least the highest token seen so far,
//! else `STALE max` (a holder that lost its lock is turned away, even if it
//! read before the new holder). Workers read, then write read+1: if two
//! processes ever held the lock at once, an increment would be lost.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub value: u64,
    pub max_token: u64,
    pub accepted: u64,
    pub stale: u64,
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
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
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
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let answer = answer(&line, counts);
        if writer.write_all(format!("{answer}\n").as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(line: &str, counts: &Mutex<Counts>) -> String {
    let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["READ", token] => match token.parse::<u64>() {
            Ok(token) if token >= c.max_token => {
                c.max_token = token;
                format!("VALUE {}", c.value)
            }
            Ok(_) => {
                c.stale += 1;
                format!("STALE {}", c.max_token)
            }
            Err(_) => "ERROR bad token".to_string(),
        },
        ["WRITE", token, value] => match (token.parse::<u64>(), value.parse::<u64>()) {
            (Ok(token), Ok(value)) if token >= c.max_token => {
                c.max_token = token;
                c.value = value;
                c.accepted += 1;
                "OK".to_string()
            }
            (Ok(_), Ok(_)) => {
                c.stale += 1;
                format!("STALE {}", c.max_token)
            }
            _ => "ERROR bad numbers".to_string(),
        },
        _ => "ERROR unknown request".to_string(),
    }
}
