//! The conformance suite: every SPEC rule as a test case, written once and
//! run on every backend. A runner (`conformance_memory.rs`,
//! `conformance_etcd.rs`, ...) builds a [`Factory`] that makes handles on
//! its backend and hands it to [`trials`].
//!
//! Each case gets its own key prefix, so cases run in parallel on one store
//! or one etcd cluster. After a case, every handle it made is closed and
//! the prefix must be empty: nothing leaks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod cases_cancel;
mod cases_election;
mod cases_errors;
mod cases_lock;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use vinesync::{Client, KeyLayout, LeaderOptions, LockOptions, Options};

/// Builds a handle on the backend under test with the given options.
pub type Factory = Arc<
    dyn Fn(Options) -> Pin<Box<dyn Future<Output = vinesync::Result<Client>> + Send>> + Send + Sync,
>;

type CaseFn = fn(Env) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a case gets: handles on the backend under one fresh prefix.
#[derive(Clone)]
pub struct Env {
    factory: Factory,
    prefix: String,
    layout: KeyLayout,
    clients: Arc<Mutex<Vec<Client>>>,
}

impl Env {
    /// A new handle (another "node") on the case's prefix.
    pub async fn client(&self) -> Client {
        let client = (self.factory)(self.options())
            .await
            .expect("creating a client");
        self.clients.lock().unwrap().push(client.clone());
        client
    }

    /// A handle with extra options (the prefix is the case's).
    pub async fn client_with(&self, options: Options) -> vinesync::Result<Client> {
        let client =
            (self.factory)(options.layout(self.layout).prefix(self.prefix.clone())).await?;
        self.clients.lock().unwrap().push(client.clone());
        Ok(client)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The options of the case's handles: its layout and prefix.
    pub fn options(&self) -> Options {
        Options::new()
            .layout(self.layout)
            .prefix(self.prefix.clone())
    }

    /// The keys of lock `id` (waiters and holder), oldest first.
    pub async fn lock_keys(&self, client: &Client, id: &str) -> Vec<vinesync::KeyValue> {
        let dir = vinesync::keys::lock_dir(&self.options(), id);
        client
            .faults()
            .keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|kv| kv.key.starts_with(&dir))
            .collect()
    }

    async fn close_all(&self) {
        let clients: Vec<Client> = std::mem::take(&mut *self.clients.lock().unwrap());
        for client in clients {
            client.close().await;
        }
    }
}

/// The smallest lease TTL the store under test grants: etcd with its
/// default settings (`VINESYNC_ETCD_DEFAULTS=1`) raises TTLs below 2 s, and
/// vinesync refuses a TTL it would not get (SPEC H7).
pub fn min_ttl() -> u64 {
    if vinesync_testkit::binaries::default_settings() {
        2
    } else {
        1
    }
}

/// Lock options with a TTL in seconds (at least the store's minimum).
pub fn ttl(seconds: u64) -> LockOptions {
    LockOptions::new().ttl(Duration::from_secs(seconds.max(min_ttl())))
}

/// Candidate options: namespace, id and TTL in seconds (at least the
/// store's minimum).
pub fn leader_options(ns: &str, id: &str, ttl: u64) -> LeaderOptions {
    LeaderOptions::new()
        .namespace(ns)
        .id(id)
        .ttl(Duration::from_secs(ttl.max(min_ttl())))
}

/// Returns the store reads of `clients` once they have not moved for
/// 500 ms (their waiters and campaigns are parked on their watches; polled:
/// set-up is slow when loaded); panics after 20 s.
pub async fn reads_settled(clients: &[Client]) -> Vec<u64> {
    let reads = || {
        clients
            .iter()
            .map(|c| c.faults().store_reads())
            .collect::<Vec<u64>>()
    };
    let settle_by = std::time::Instant::now() + Duration::from_secs(20);
    let mut before = reads();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = reads();
        if now == before {
            return now;
        }
        assert!(
            std::time::Instant::now() < settle_by,
            "reads kept moving: {now:?}"
        );
        before = now;
    }
}

/// Polls `check` every 20 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|env| Box::pin($module::$name(env))) as CaseFn)),*]
    };
}

fn all_cases() -> Vec<(&'static str, CaseFn)> {
    cases![
        cases_lock::l1_exclusion_200_tasks_each_once,
        cases_lock::l1_exclusion_across_handles_try_lock,
        cases_lock::l2_lock_blocks_until_unlock,
        cases_lock::l2_waiters_served_in_arrival_order,
        cases_lock::l2_lock_wait_gives_lock_timeout,
        cases_lock::l2_zero_wait_tries_once,
        cases_lock::l2_waiter_watches_only_its_predecessor,
        cases_lock::l3_seed_example_second_lock_on_same_handle_waits,
        cases_lock::l3_unlock_from_another_task_and_waiting_untouched,
        cases_lock::l4_keepalive_holds_lock_beyond_ttl,
        cases_lock::l4_unused_sessions_of_other_ttls_are_bounded,
        cases_lock::l4_crashed_holder_frees_lock_after_ttl,
        cases_lock::l5_fencing_tokens_strictly_increase,
        cases_lock::l6_lost_when_lease_not_kept_alive,
        cases_lock::l6_lost_when_key_deleted_by_someone_else,
        cases_lock::l6_own_release_is_not_a_loss_whenever_asked,
        cases_lock::l6_compaction_is_not_a_loss,
        cases_lock::l7_unlock_not_held_is_not_locked,
        cases_lock::l7_unlock_never_touches_another_handles_lock,
        cases_lock::l7_unlock_after_loss_is_lost_then_not_locked,
        cases_lock::l7_init_prefix_change_keeps_both_acquisitions,
        cases_lock::l7_unlock_by_id_after_init_changed_the_prefix,
        cases_lock::l7_unlock_after_the_lost_signal_is_lost,
        cases_lock::l8_cancelled_waiter_leaves_no_key,
        cases_lock::l8_timed_out_and_aborted_waiters_leave_no_key,
        cases_lock::l9_waiter_whose_lease_expired_is_not_told_it_holds,
        cases_lock::l10_try_lock_returns_at_once_leaving_no_key,
        cases_lock::guard_drop_releases_and_detach_keeps,
        cases_lock::layout_key_name_reused_after_a_clean_release,
        cases_lock::layout_key_name_not_reused_while_a_write_may_be_pending,
        cases_lock::layout_reused_name_queues_behind_others_and_is_not_lost,
        cases_election::e1_leader_returns_at_once_and_is_listed,
        cases_election::e2_one_primary_lowest_revision,
        cases_election::e3_status_true_then_false,
        cases_election::e3_wait_elected_blocks_until_primary,
        cases_election::e4_resign_hands_over_at_once_and_is_idempotent,
        cases_election::e5_failover_after_crash_within_ttl,
        cases_election::e6_observe_and_primary,
        cases_election::e6_primary_of_empty_namespace_is_no_leader,
        cases_election::e7_members_in_campaign_order_one_primary,
        cases_election::e7_namespace_prefix_isolation,
        cases_election::e8_watch_elect_join_leave_elected,
        cases_election::e8_watch_elect_filtered_by_id_and_close,
        cases_election::e2_lost_lease_ends_primary_role,
        cases_election::e3_failed_campaign_removes_its_key,
        cases_election::e6_proclaim_updates_members_and_watchers,
        cases_election::e8_status_watcher_and_observer_are_streams,
        cases_election::e2_leader_lost_fires_on_loss_not_on_resign,
        cases_lock::l6_handle_lease_lost_signal,
        cases_lock::l6_transient_watch_failure_is_not_a_loss,
        cases_lock::l6_lost_signal_before_anyone_else_acquires,
        cases_lock::l6_late_grant_does_not_give_a_lock_lost_at_birth,
        cases_cancel::h3_lock_free_failed_or_cancelled_at_every_point,
        cases_cancel::h3_lock_contended_failed_or_cancelled_at_every_point,
        cases_cancel::h3_try_lock_failed_or_cancelled_at_every_point,
        cases_cancel::h2_unlock_failed_or_cancelled_at_every_point,
        cases_cancel::h3_leader_failed_or_cancelled_at_every_point,
        cases_cancel::h2_resign_failed_or_cancelled_at_every_point,
        cases_cancel::h3_aborted_at_random_moments_leave_no_key,
        cases_errors::errors_invalid_arguments_are_named,
        cases_errors::errors_closed_handle,
        cases_errors::errors_string_and_options,
        cases_errors::errors_lock_timeout_names_an_unanswered_store,
    ]
}

/// SPEC rules that cannot hold under vine's key layout (README, "Migrating
/// from vine"), so their cases do not run on it.
const NOT_UNDER_VINE_LAYOUT: &[&str] = &[
    // vine's path.Join puts namespace `ns/x`'s candidates under `ns`'s.
    "e7_namespace_prefix_isolation",
];

/// One libtest trial per case, for the backend called `backend`.
pub fn trials(backend: &str, factory: Factory) -> Vec<Trial> {
    trials_in_layout(backend, KeyLayout::Vinesync, factory)
}

/// The cases under key layout `layout` (every case that can hold on it).
pub fn trials_in_layout(backend: &str, layout: KeyLayout, factory: Factory) -> Vec<Trial> {
    all_cases()
        .into_iter()
        .filter(|(name, _)| layout != KeyLayout::Vine || !NOT_UNDER_VINE_LAYOUT.contains(name))
        .map(|(name, case)| {
            let factory = factory.clone();
            let prefix = format!(
                "/vinesync-test/{backend}/{name}/{}",
                &uuid::Uuid::new_v4().to_string()[..8]
            );
            Trial::test(format!("{backend}::{name}"), move || {
                run(factory, prefix, layout, case)
            })
        })
        .collect()
}

/// The keys under the case's prefix that count as leaks. Under the vine
/// layout, vine's `primary/{ns}` keys are not leaks: vine never deletes
/// them (its `ListMembers` panics without one), so neither does vinesync.
/// Exempt is exactly a key under `{prefix}/primary/` with no
/// lease (nothing else of the layout lives there: lock keys have no `/`
/// after the prefix, candidates are under `leaders/`); every other key,
/// and any key there with a lease, is still a leak.
pub fn leftovers(env: &Env, keys: Vec<vinesync::KeyValue>) -> Vec<vinesync::KeyValue> {
    leftovers_in(env.layout, &env.prefix, keys)
}

/// [`leftovers`] for a layout and a prefix.
pub fn leftovers_in(
    layout: KeyLayout,
    prefix: &str,
    keys: Vec<vinesync::KeyValue>,
) -> Vec<vinesync::KeyValue> {
    let primary_dir = format!("{prefix}/primary/");
    keys.into_iter()
        .filter(|kv| {
            layout != KeyLayout::Vine || !kv.key.starts_with(&primary_dir) || kv.lease != 0
        })
        .collect()
}

/// A trial that the leak check exempts nothing but vine's lease-less
/// primary keys under the vine layout, and nothing at all otherwise.
pub fn leak_check_trial() -> Trial {
    Trial::test("leak_check_exempts_only_vines_primary_keys", || {
        let kv = |key: &str, lease: i64| vinesync::KeyValue {
            key: key.to_string(),
            value: b"x".to_vec(),
            create_revision: 1,
            mod_revision: 1,
            lease,
        };
        let p = "/t";
        let keys = vec![
            kv("/t/primary/ns", 0),      // vine's primary key: exempt
            kv("/t/primary/a/b", 0),     // of namespace a/b: exempt
            kv("/t/primary/ns/7f_0", 7), // with a lease: a leak
            kv("/t/leaders/ns/7f_0", 7), // a candidate: a leak
            kv("/t/leaders/primary", 0), // elsewhere: a leak
            kv("/t/-t-lock1/7f_0", 7),   // a lock waiter: a leak
            kv("/t/primaryx", 0),        // not under primary/: a leak
        ];
        let vine: Vec<String> = leftovers_in(KeyLayout::Vine, p, keys.clone())
            .into_iter()
            .map(|kv| kv.key)
            .collect();
        let want = [
            "/t/primary/ns/7f_0",
            "/t/leaders/ns/7f_0",
            "/t/leaders/primary",
            "/t/-t-lock1/7f_0",
            "/t/primaryx",
        ];
        if vine != want {
            return Err(format!("vine layout: leaks {vine:?}, want {want:?}").into());
        }
        let ours = leftovers_in(KeyLayout::Vinesync, p, keys.clone());
        if ours != keys {
            return Err(format!("vinesync layout: leaks {ours:?}, want every key").into());
        }
        Ok(())
    })
}

/// Upper bound for one case; a hang is a failure, not a stuck suite.
const CASE_LIMIT: Duration = Duration::from_secs(90);

fn run(factory: Factory, prefix: String, layout: KeyLayout, case: CaseFn) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("runtime: {e}")))?;
    let env = Env {
        factory,
        prefix,
        layout,
        clients: Arc::new(Mutex::new(Vec::new())),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            tokio::time::timeout(CASE_LIMIT, case(env.clone()))
                .await
                .map_err(|_| format!("case did not finish within {CASE_LIMIT:?}"))
        })
    }));
    let outcome = match outcome {
        Ok(result) => result,
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "case panicked".to_string())),
    };
    // Check nothing is left under the prefix twice: first while every
    // handle is still open and keeping its leases alive (a key leaked
    // behind a live lease would stay forever: SPEC H2, H3), then after
    // closing them.
    let live_leaks = runtime.block_on(async {
        let checker = (env.factory)(env.options())
            .await
            .map_err(|e| format!("leak checker: {e}"))?;
        // 15 s: a leak stays forever, so a long bound costs nothing when
        // the case is clean and keeps a slow background delete from
        // counting as one.
        let clean = eventually(Duration::from_secs(15), || async {
            leftovers(&env, checker.faults().keys().await.unwrap_or_default()).is_empty()
        })
        .await;
        let left = leftovers(&env, checker.faults().keys().await.unwrap_or_default());
        checker.close().await;
        if clean {
            Ok(())
        } else {
            let keys: Vec<_> = left.iter().map(|kv| kv.key.clone()).collect();
            Err(format!(
                "keys left behind under the prefix while their handles are open: {keys:?}"
            ))
        }
    });
    // Close every handle and check nothing is left under the prefix.
    let leaks = runtime.block_on(async {
        env.close_all().await;
        let checker = (env.factory)(env.options())
            .await
            .map_err(|e| format!("leak checker: {e}"))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut left = leftovers(&env, checker.faults().keys().await.unwrap_or_default());
        while !left.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            left = leftovers(&env, checker.faults().keys().await.unwrap_or_default());
        }
        let clean = left.is_empty();
        checker.close().await;
        if clean {
            Ok(())
        } else {
            let keys: Vec<_> = left.iter().map(|kv| kv.key.clone()).collect();
            Err(format!("keys left behind under the prefix: {keys:?}"))
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome?;
    live_leaks?;
    leaks?;
    Ok(())
}
