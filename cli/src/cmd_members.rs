//! `vinesync members [--ns NS] [--json]` (also `vinesync elect --list`).

use serde_json::json;
use vinesync::MemberOptions;

use crate::args::Connection;
use crate::connect;
use crate::exit::Failure;
use crate::output::shown;

pub async fn run(connection: &Connection, namespace: &str, as_json: bool) -> Result<u8, Failure> {
    let client = connect::client(connection).await?;
    let members = client
        .list_members(MemberOptions::new().namespace(namespace))
        .await?;
    for m in &members {
        if as_json {
            let line = json!({"leader": m.leader, "id": m.id, "namespace": m.namespace, "role": m.role.as_str()});
            out!("{line}");
        } else {
            out!(
                "{:<8} {}\t{}",
                m.role.as_str(),
                shown(&m.id),
                shown(&m.leader)
            );
        }
    }
    client.close().await;
    Ok(0)
}
