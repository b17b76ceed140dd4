//! The etcd section: vinesync against what a user could do instead with the
//! same etcd, measured in this run: a raw put, the 2-write floor of a lock
//! (txn put-if-absent + delete), and a vine-style lock (a new lease per lock:
//! grant, put, keepalive, revoke).

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client as Etcd, Compare, CompareOp, PutOptions, Txn, TxnOp};
use vinesync::{Client, LeaderOptions, LockOptions, Options};

use crate::handoff::{handoff, LockRpc};
use crate::stats::{Row, Samples};
use crate::Plan;

const SECTION: &str = "etcd";

pub fn internal(e: impl std::fmt::Display) -> vinesync::Error {
    vinesync::Error::new(vinesync::ErrorKind::Internal, e.to_string())
}

async fn timed<F, Fut>(n: usize, mut op: F) -> vinesync::Result<Samples>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = vinesync::Result<()>>,
{
    let mut samples = Samples::default();
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        op(i).await?;
        samples.record(t.elapsed());
    }
    samples.set_throughput(started.elapsed(), n as u64);
    Ok(samples)
}

/// The server's version (for the results file).
pub async fn server_version(nodes: &[String]) -> String {
    let status = async {
        let etcd = Etcd::connect(nodes, None).await.ok()?;
        let status = etcd.maintenance_client().status().await.ok()?;
        Some(status.version().to_string())
    };
    status.await.unwrap_or_else(|| "unknown".into())
}

/// One round of the floor in its own process (`floor-round`), as the JSON
/// line the other languages' bench programs print.
pub async fn floor_round(nodes: &[String], ops: usize) -> vinesync::Result<String> {
    let etcd = Etcd::connect(nodes, None).await.map_err(internal)?;
    for _ in 0..5 {
        two_writes(&etcd, "/bench/floor/k".to_string()).await?;
    }
    let samples = timed(ops, |_| two_writes(&etcd, "/bench/floor/k".to_string())).await?;
    let line = serde_json::json!({
        "section": SECTION,
        "language": "rust",
        "kind": "floor",
        "samples_ns": [],
        "total_ns": samples.mean_ns() * ops as f64,
        "ops": ops,
    });
    Ok(line.to_string())
}

/// The 2-write floor: what any correct lock+unlock must at least cost.
async fn two_writes(etcd: &Etcd, key: String) -> vinesync::Result<()> {
    let mut kv = etcd.kv_client();
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key.clone(), "x", None)]);
    kv.txn(txn).await.map_err(internal)?;
    kv.delete(key, None).await.map_err(internal)?;
    Ok(())
}

pub async fn run(plan: &Plan, nodes: Vec<String>) -> vinesync::Result<Vec<Row>> {
    let n = plan.etcd_ops;
    let etcd = Etcd::connect(&nodes, None).await.map_err(internal)?;
    let client = Client::etcd(Options::new().nodes(nodes.clone()).prefix("/bench/etcd")).await?;
    let lock = LockOptions::new().ttl(Duration::from_secs(60));
    let mut rows = Vec::new();

    let put = timed(n, |i| {
        let mut kv = etcd.kv_client();
        async move {
            kv.put(format!("/bench/raw/{}", i % 8), "x", None)
                .await
                .map_err(internal)?;
            Ok(())
        }
    })
    .await?
    .row(SECTION, "baseline: raw etcd-client put");
    rows.push(put);

    // The floor and vinesync's lock+unlock alternate in short rounds (see
    // `interleaved`); the floor row shows all the floor's rounds.
    let (floor_samples, rust_samples, rust_ratios) = interleaved(
        plan.etcd_rounds,
        n.div_ceil(plan.etcd_rounds),
        async || timed(1, |_| two_writes(&etcd, "/bench/floor/k".to_string())).await,
        async || {
            timed(1, |_| {
                let client = client.clone();
                async move { client.lock("bench", lock).await?.unlock().await }
            })
            .await
        },
    )
    .await?;
    let floor = floor_samples.row(
        SECTION,
        "baseline: 2-write floor (txn put-if-absent + delete)",
    );
    let (floor_name, floor_ns) = (floor.name.clone(), floor.median_ns);
    rows.push(floor);

    let mut vine = timed(n, |_| {
        let etcd = etcd.clone();
        async move {
            let mut lease = etcd.lease_client();
            let id = lease.grant(60, None).await.map_err(internal)?.id();
            let mut kv = etcd.kv_client();
            kv.put(
                "/bench/vine/lock1",
                "x",
                Some(PutOptions::new().with_lease(id)),
            )
            .await
            .map_err(internal)?;
            let (mut keeper, mut stream) = lease.keep_alive(id).await.map_err(internal)?;
            keeper.keep_alive().await.map_err(internal)?;
            stream.message().await.map_err(internal)?;
            lease.revoke(id).await.map_err(internal)?;
            Ok(())
        }
    })
    .await?
    .row(SECTION, "baseline: vine-style lock (lease per lock)");
    crate::compare(&mut vine, &floor_name, floor_ns, "(reference)", |_| true);
    let vine_ns = vine.median_ns;
    rows.push(vine);

    // etcd's own Lock RPC (server side, etcd 3.4's v3lock), on one lease
    // kept for the whole measurement, as a user of that API would.
    let lease = etcd
        .lease_client()
        .grant(60, None)
        .await
        .map_err(internal)?
        .id();
    let mut server_lock = timed(n, |_| {
        let mut lock = etcd.lock_client();
        async move {
            let key = lock
                .lock(
                    "/bench/server-lock",
                    Some(etcd_client::LockOptions::new().with_lease(lease)),
                )
                .await
                .map_err(internal)?
                .key()
                .to_vec();
            lock.unlock(key).await.map_err(internal)?;
            Ok(())
        }
    })
    .await?
    .row(SECTION, "baseline: etcd server-side Lock RPC");
    crate::compare(
        &mut server_lock,
        &floor_name,
        floor_ns,
        "(reference)",
        |_| true,
    );
    let server_lock_ns = server_lock.median_ns;
    rows.push(server_lock);
    etcd.lease_client().revoke(lease).await.map_err(internal)?;

    let mut rust = rust_samples.row(SECTION, "vinesync etcd lock+unlock (Rust)");
    crate::compare_rounds(
        &mut rust,
        &floor_name,
        &rust_ratios,
        "≥ 0.95× floor speed",
        |s| s >= 0.95,
    );
    rows.push(rust.clone());

    // The same measurement, compared with what a vine user has today.
    let mut vs_vine = rust.clone();
    vs_vine.name = "vinesync etcd lock+unlock (vs vine-style)".into();
    vs_vine.spread = None;
    crate::compare(
        &mut vs_vine,
        "vine-style lock",
        vine_ns,
        "faster than vine-style",
        |s| s > 1.0,
    );
    rows.push(vs_vine);

    let mut vs_server = rust.clone();
    vs_server.name = "vinesync etcd lock+unlock (vs server Lock RPC)".into();
    vs_server.spread = None;
    crate::compare(
        &mut vs_server,
        "etcd server-side Lock RPC",
        server_lock_ns,
        "(reference)",
        |_| true,
    );
    rows.push(vs_server);

    let other = Client::etcd(Options::new().nodes(nodes.clone()).prefix("/bench/etcd")).await?;
    let held = other.lock("busy", lock).await?;
    let try_lock = timed(n, |_| {
        let client = client.clone();
        async move {
            match client.try_lock("busy", lock).await {
                Err(e) if e.kind() == vinesync::ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(e),
                Ok(_) => Err(internal("try_lock of a held lock succeeded")),
            }
        }
    })
    .await?
    .row(SECTION, "vinesync try_lock of a held lock (WouldBlock)");
    rows.push(try_lock);
    held.unlock().await?;

    let mut one_p99 = f64::NAN;
    for waiters in [1usize, 10, 100, 1000] {
        let prefix = format!("/bench/etcd-handoff{waiters}");
        let mut handles = Vec::new();
        for _ in 0..=waiters.min(8) {
            handles.push(
                Client::etcd(Options::new().nodes(nodes.clone()).prefix(prefix.clone())).await?,
            );
        }
        // More waiters than handles: several tasks share a handle.
        let clients: Vec<Client> = (0..=waiters)
            .map(|i| handles[i % handles.len()].clone())
            .collect();
        let samples = handoff(clients, plan.etcd_handoffs.max(2 * waiters)).await?;
        // Closed here, not dropped: a dropped handle's lease revokes would
        // run during the next rows, on the thread that measures them.
        for handle in handles {
            handle.close().await;
        }
        let name = if waiters == 1 {
            "handoff, 1 waiter".to_string()
        } else {
            format!("handoff, {waiters} waiters")
        };
        let mut row = samples.row(SECTION, &name);
        if waiters == 1 {
            one_p99 = row.p99_ns;
            row.baseline = Some("-".into());
            row.target = Some("p99 ≤ 10 ms".into());
            row.met = Some(row.p99_ns <= 10_000_000.0);
        } else {
            crate::compare_p99(&mut row, "handoff, 1 waiter", one_p99, 1.5);
        }
        rows.push(row);
    }
    rows.extend(lock_rpc_handoffs(&nodes, plan).await?);

    let mut handover = Samples::default();
    for i in 0..plan.etcd_elections {
        let la = client
            .leader(
                "svc",
                LeaderOptions::new()
                    .namespace("bench")
                    .id(format!("a{i}"))
                    .ttl(Duration::from_secs(10)),
            )
            .await?;
        let lb = other
            .leader(
                "svc",
                LeaderOptions::new()
                    .namespace("bench")
                    .id(format!("b{i}"))
                    .ttl(Duration::from_secs(10)),
            )
            .await?;
        la.wait_elected().await?;
        let t = Instant::now();
        la.resign().await?;
        lb.wait_elected().await?;
        handover.record(t.elapsed());
        lb.resign().await?;
    }
    let mut row = handover.row(SECTION, "leader resign → new primary");
    row.target = Some("p99 ≤ 10 ms".into());
    row.met = Some(row.p99_ns <= 10_000_000.0);
    row.baseline = Some("-".into());
    rows.push(row);

    // Concurrency: 8 and 64 clients on distinct ids vs as many concurrent
    // 2-write loops, alternating in rounds (throughput ratio per round).
    for (clients_n, minimum) in [(8usize, 0.95), (64, 0.9)] {
        let rounds = plan.etcd_rounds.min(10);
        let per = (n / clients_n / rounds).max(4);
        let (etcd_c, client_c) = (etcd.clone(), client.clone());
        let (floor_rate, ours, ratios) = interleaved(
            rounds,
            1,
            async || {
                let etcd = etcd_c.clone();
                concurrent(clients_n, per, move |c| {
                    let etcd = etcd.clone();
                    async move { two_writes(&etcd, format!("/bench/cfloor/{c}")).await }
                })
                .await
            },
            async || {
                let client = client_c.clone();
                concurrent(clients_n, per, move |c| {
                    let client = client.clone();
                    async move { client.lock(&format!("c{c}"), lock).await?.unlock().await }
                })
                .await
            },
        )
        .await?;
        let mut floor_row = floor_rate.row(
            SECTION,
            &format!("baseline: {clients_n} concurrent 2-write loops"),
        );
        floor_row.median_ns = 1e9 / floor_row.ops_per_sec;
        let mut our_row = ours.row(
            SECTION,
            &format!("vinesync: {clients_n} clients, distinct ids"),
        );
        our_row.median_ns = 1e9 / our_row.ops_per_sec;
        crate::compare_rounds(
            &mut our_row,
            &floor_row.name,
            &ratios,
            &format!("≥ {minimum}× concurrent floor throughput"),
            |s| s >= minimum,
        );
        rows.push(floor_row);
        rows.push(our_row);
    }
    rows.push(crate::failover::measure(plan, &nodes).await?);
    client.close().await;
    other.close().await;
    Ok(rows)
}

/// Baseline and subject alternating in short rounds on the same etcd (the
/// order flips every round), so that the noise of a shared machine hits
/// both alike; each round runs `per` calls of each. Returns both sides'
/// samples and the per-round speed ratios (baseline time / subject time).
async fn interleaved(
    rounds: usize,
    per: usize,
    mut baseline: impl AsyncFnMut() -> vinesync::Result<Samples>,
    mut subject: impl AsyncFnMut() -> vinesync::Result<Samples>,
) -> vinesync::Result<(Samples, Samples, Vec<f64>)> {
    let (mut base_all, mut subject_all) = (Samples::default(), Samples::default());
    // Warm both paths (connections, sessions) outside the measurement.
    baseline().await?;
    subject().await?;
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (mut b, mut s) = (Samples::default(), Samples::default());
        for turn in 0..2 {
            let target = if (round + turn) % 2 == 0 {
                &mut b
            } else {
                &mut s
            };
            for _ in 0..per {
                let samples = if (round + turn) % 2 == 0 {
                    baseline().await?
                } else {
                    subject().await?
                };
                target.extend(&samples);
            }
        }
        ratios.push(b.mean_ns() / s.mean_ns());
        base_all.extend(&b);
        subject_all.extend(&s);
    }
    Ok((base_all, subject_all, ratios))
}

/// Runs `clients` tasks doing `per` operations each; throughput only.
async fn concurrent<F, Fut>(clients: usize, per: usize, op: F) -> vinesync::Result<Samples>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = vinesync::Result<()>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per {
                op(c).await?;
            }
            Ok::<_, vinesync::Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(internal)??;
    }
    let mut samples = Samples::default();
    samples.set_throughput(started.elapsed(), (clients * per) as u64);
    Ok(samples)
}

/// The same handoff through etcd's own Lock RPC, with 1 and with 1000
/// waiters: etcd's recipe, like ours, reads the whole queue (a range sorted
/// by create revision, which etcd answers by reading every key of the
/// directory) when a waiter's predecessor goes, so how its median grows
/// from 1 to 1000 waiters is the reference for ours. (Its 1-waiter p99 is
/// etcd's 100 ms watch catch-up loop: it watches from a past revision.)
async fn lock_rpc_handoffs(nodes: &[String], plan: &Plan) -> vinesync::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut one_median = f64::NAN;
    for waiters in [1usize, 1000] {
        let mut connections = Vec::new();
        for _ in 0..=waiters.min(8) {
            connections.push(Etcd::connect(nodes, None).await.map_err(internal)?);
        }
        let mut contenders = Vec::new();
        for i in 0..=waiters {
            let etcd = connections[i % connections.len()].clone();
            // Nothing keeps these leases alive: long enough for the
            // slowest run (etcd's 100 ms catch-up on every handoff).
            let lease = etcd
                .lease_client()
                .grant(600, None)
                .await
                .map_err(internal)?
                .id();
            contenders.push(LockRpc {
                etcd,
                name: format!("/bench/lock-rpc-handoff{waiters}"),
                lease,
            });
        }
        let leases: Vec<(Etcd, i64)> = contenders
            .iter()
            .map(|c| (c.etcd.clone(), c.lease))
            .collect();
        let samples = handoff(contenders, plan.etcd_handoffs.max(2 * waiters)).await?;
        for (etcd, lease) in leases {
            etcd.lease_client().revoke(lease).await.map_err(internal)?;
        }
        let mut row = samples.row(
            SECTION,
            &format!(
                "baseline: etcd Lock RPC handoff, {waiters} waiter{}",
                if waiters == 1 { "" } else { "s" }
            ),
        );
        if waiters == 1 {
            one_median = row.median_ns;
        } else {
            crate::compare(
                &mut row,
                "etcd Lock RPC handoff, 1 waiter (median)",
                one_median,
                "(reference: etcd's own recipe)",
                |_| true,
            );
            row.met = None;
        }
        rows.push(row);
    }
    Ok(rows)
}
