//! `vinesync locks [ID] [--json]`: holders and waiters, read only.

use vinesync::{LockEntry, LockInfo};

use crate::args::{Connection, LocksArgs};
use crate::connect;
use crate::exit::{self, Failure};
use crate::output::shown;

pub async fn run(connection: &Connection, args: &LocksArgs) -> Result<u8, Failure> {
    let client = connect::client(connection).await?;
    let locks = match &args.id {
        Some(id) => vec![client.lock_info(id).await?],
        None => client.locks().await?,
    };
    client.close().await;
    for lock in &locks {
        if args.json {
            let line = serde_json::to_string(lock)
                .map_err(|e| Failure::new(exit::FAILURE, format!("encoding JSON: {e}")))?;
            out!("{line}");
        } else {
            print_lock(lock);
        }
    }
    Ok(0)
}

fn print_lock(lock: &LockInfo) {
    match &lock.holder {
        None => {
            out!("{}\tfree", shown(&lock.id));
        }
        Some(holder) => {
            out!("{}", shown(&lock.id));
            out!("  holder  {}", describe(holder));
            for waiter in &lock.waiters {
                out!("  waiter  {}", describe(waiter));
            }
        }
    }
}

fn describe(entry: &LockEntry) -> String {
    let who = match (&entry.host, entry.pid, &entry.handle) {
        (Some(host), Some(pid), Some(handle)) => {
            format!("host {} pid {pid} handle {}", shown(host), shown(handle))
        }
        _ => format!("value {:?}", entry.value.as_deref().unwrap_or("")),
    };
    let since = entry
        .since_ms
        .map(|ms| format!(" since {}", utc(ms)))
        .unwrap_or_default();
    format!(
        "token {} lease {:x} {who}{since} key {}",
        entry.fencing_token,
        entry.lease,
        shown(&entry.key)
    )
}

/// Unix milliseconds as an RFC 3339 UTC time.
fn utc(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_unix_milliseconds() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
