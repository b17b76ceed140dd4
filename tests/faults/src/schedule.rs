//! Randomized schedules (the long form, `--seeds K`, and `--seed N` to
//! reproduce one): from a seed, a lock scenario with random workers, hold
//! time, TTL and one to three faults at random moments, each aimed at a
//! random language. The history checker judges it like any other scenario.

use std::time::Duration;

use crate::clock;
use crate::history::FaultWindow;
use crate::report::Report;
use crate::scenario::{self, Context, LockPlan, Stage};
use crate::worker::Language;
use vinesync_testkit::ProxyMode;

/// splitmix64: small, and the same sequence from the same seed everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    KillHolder,
    PauseHolder,
    PauseWaiter,
    StallProxied,
    DropProxied,
    RestartMember,
    QuorumLoss,
    PauseRaftLeader,
    PartitionRaftLeader,
}

/// Every worker counts as hit by a fault of etcd itself: a holder may
/// rightly lose its lock then (and must be told).
fn hit_everyone(stage: &mut Stage<'_>, start: u128) {
    hit_everyone_until(stage, start, clock::now());
}

fn hit_everyone_until(stage: &mut Stage<'_>, start: u128, end: u128) {
    for worker in 0..stage.workers.len() {
        stage.faults.push(FaultWindow { worker, start, end });
    }
}

fn inject(stage: &mut Stage<'_>, fault: Fault, ttl_s: u64, members: usize) {
    let past_ttl = Duration::from_secs(ttl_s + 2);
    match fault {
        Fault::KillHolder => match stage.holder() {
            Some(i) => stage.kill(i, libc::SIGKILL),
            None => stage.problem("no holder to kill"),
        },
        Fault::PauseHolder => match stage.holder() {
            Some(i) => {
                stage.pause(i, past_ttl);
            }
            None => stage.problem("no holder to pause"),
        },
        Fault::PauseWaiter => match stage.pick(|w| !w.is_holding() && w.count("HOLD") > 0) {
            Some(i) => {
                stage.pause(i, past_ttl);
            }
            None => stage.problem("no waiter to pause"),
        },
        Fault::StallProxied | Fault::DropProxied => {
            let start = clock::now();
            if let Some(proxy) = stage.proxy.as_ref() {
                let (mode, how_long) = if fault == Fault::StallProxied {
                    (ProxyMode::Stall, past_ttl)
                } else {
                    (ProxyMode::Drop, Duration::from_secs(2))
                };
                proxy.set(mode);
                std::thread::sleep(how_long);
                proxy.set(ProxyMode::Pass);
            }
            stage.faults.push(FaultWindow {
                worker: 0,
                start,
                end: clock::now(),
            });
        }
        Fault::RestartMember => {
            let start = clock::now();
            let outcome = if members == 1 {
                stage.cluster.restart_member(0)
            } else {
                stage.cluster.kill_member(0).and_then(|()| {
                    std::thread::sleep(Duration::from_secs(2));
                    stage.cluster.restart_member(0)
                })
            };
            if let Err(e) = outcome {
                stage.problem(format!("restarting etcd: {e}"));
            }
            hit_everyone(stage, start);
        }
        Fault::QuorumLoss => {
            let start = clock::now();
            let outcome = stage
                .cluster
                .stop_member(1)
                .and_then(|()| stage.cluster.stop_member(2))
                .and_then(|()| {
                    std::thread::sleep(Duration::from_secs(3));
                    stage.cluster.restart_member(1)
                })
                .and_then(|()| stage.cluster.restart_member(2));
            if let Err(e) = outcome {
                stage.problem(format!("restarting members: {e}"));
            }
            hit_everyone(stage, start);
        }
        Fault::PauseRaftLeader | Fault::PartitionRaftLeader => {
            let start = clock::now();
            let on_leader = if fault == Fault::PauseRaftLeader {
                scenario::pause_member_3s
            } else {
                scenario::isolate_member_3s
            };
            match scenario::hit_raft_leader(stage.cluster, on_leader) {
                Ok(end) => {
                    if let Some(note) = end.server_revoked {
                        stage.note(note);
                    }
                    hit_everyone_until(stage, start, end.ended_at);
                }
                Err(e) => {
                    stage.problem(e);
                    hit_everyone(stage, start);
                }
            }
        }
    }
}

pub fn run(context: &Context, seed: u64) -> Report {
    let mut random = Random(seed);
    let members = random.pick(&[1, 3]);
    let mut choices = vec![
        Fault::KillHolder,
        Fault::PauseHolder,
        Fault::PauseWaiter,
        Fault::StallProxied,
        Fault::DropProxied,
        Fault::RestartMember,
    ];
    if members == 3 {
        choices.extend([
            Fault::QuorumLoss,
            Fault::PauseRaftLeader,
            Fault::PartitionRaftLeader,
        ]);
    }
    let faults: Vec<(Fault, usize)> = (0..1 + random.below(3))
        .map(|_| (random.pick(&choices), 1 + random.below(6) as usize))
        .collect();
    let mut workers = Language::ALL.to_vec();
    for i in (1..workers.len()).rev() {
        workers.swap(i, random.below(i as u64 + 1) as usize);
    }
    if random.below(2) == 1 {
        workers.push(random.pick(&Language::ALL));
    }
    let ttl_s = random.pick(&[2, 3, 5]);
    let plan = LockPlan {
        name: "randomized schedule",
        members,
        workers,
        rounds: 10 + random.below(15) as u32,
        hold_ms: random.pick(&[2, 20, 100, 300]),
        ttl_s,
        proxied: Some(0),
    };
    let described: Vec<String> = faults
        .iter()
        .map(|(f, acks)| format!("{f:?} after {acks} more acks"))
        .collect();
    eprintln!(
        "vinesync-faults: seed {seed}: {} members, {:?}, hold {} ms, TTL {} s, {} rounds; {}",
        plan.members,
        plan.workers.iter().map(|l| l.name()).collect::<Vec<_>>(),
        plan.hold_ms,
        plan.ttl_s,
        plan.rounds,
        described.join(", ")
    );
    let mut report = scenario::run_lock(
        context,
        &plan,
        Box::new(move |stage: &mut Stage<'_>| {
            for (fault, acks) in faults {
                let now = stage.acks();
                stage.wait_acks(now + acks);
                inject(stage, fault, ttl_s, members);
            }
        }),
    );
    scenario::label_logs(context, plan.name, &format!("seed {seed}"));
    report.scenario = format!("randomized: {}", described.join(", "));
    report.seed = Some(seed);
    report
}
