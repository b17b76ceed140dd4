//! `vinesync locks [ID] [--json]`: holders and waiters, read only.

use vinesync::{LockEntry, LockInfo};

use crate::args::{Connection, LocksArgs};
use crate::connect;
use crate::exit::{self, Failure};

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
            out!("{}\tfree", lock.id);
        }
        Some(holder) => {
            out!("{}", lock.id);
            out!("  holder  {}", describe(holder));
            for waiter in &lock.waiters {
                out!("  waiter  {}", describe(waiter));
            }
        }
    }
}

fn describe(entry: &LockEntry) -> String {
    let who = match (&entry.host, entry.pid, &entry.handle) {
        (Some(host), Some(pid), Some(handle)) => format!("host {host} pid {pid} handle {handle}"),
        _ => format!("value {:?}", entry.value.as_deref().unwrap_or("")),
    };
    format!(
        "token {} lease {:x} {who} key {}",
        entry.fencing_token, entry.lease, entry.key
    )
}
