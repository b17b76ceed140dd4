//! `vinesync watch [--ns NS] [--id ID] [--json]`: election events as they
//! happen, until interrupted or until stdout's reader leaves.

use serde_json::json;
use vinesync::WatchOptions;

use crate::args::{Connection, WatchArgs};
use crate::connect;
use crate::exit::{self, Failure};
use crate::interrupts::Interrupts;
use crate::output::shown;
use crate::reader_gone::reader_gone;

pub async fn run(connection: &Connection, args: &WatchArgs) -> Result<u8, Failure> {
    let mut interrupts = Interrupts::catch()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot catch signals: {e}")))?;
    let client = connect::client_unless_interrupted(connection, &mut interrupts).await?;
    let mut options = WatchOptions::new().namespace(args.ns.as_str());
    if let Some(id) = &args.id {
        options = options.id(id.as_str());
    }
    let mut watcher = client.watch_elect(options).await?;
    let reader_gone = reader_gone();
    tokio::pin!(reader_gone);
    loop {
        let event = tokio::select! {
            event = watcher.next() => match event {
                Some(event) => event?,
                None => break, // the watch was closed
            },
            _ = interrupts.next() => break,
            // `vinesync watch | head -n1`: done without waiting for the
            // next event.
            () = &mut reader_gone => break,
        };
        let m = &event.member;
        let written = if args.json {
            let line = json!({
                "event": event.kind.as_str(),
                "id": m.id,
                "leader": m.leader,
                "namespace": m.namespace,
                "role": m.role.as_str(),
                "revision": event.revision,
            });
            out!("{line}")
        } else {
            out!(
                "{:<8} {:<8} {}\t{}\t(revision {})",
                event.kind.as_str(),
                m.role.as_str(),
                shown(&m.id),
                shown(&m.leader),
                event.revision
            )
        };
        if !written {
            break; // stdout closed (`vinesync watch | head`): done
        }
    }
    watcher.close();
    client.close().await;
    Ok(0)
}
