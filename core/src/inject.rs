//! Test-only fault injection at every store call (feature `test-util`):
//! a pause, a failure or a hang before or after the n-th store call a
//! handle makes from now on. With "after", the call has reached the store
//! (a write was made) but the caller never learns it — the "unknown
//! outcome" of SPEC H3. A hang lets a test drop the caller's future at that
//! exact await point. The memory store gets the same await points as etcd.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};

/// How long an injected hang stalls before it fails.
pub const STALL: Duration = Duration::from_secs(1);

/// What happens at the chosen point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// The call fails with `Unavailable` (after: its effect stays).
    Fail,
    /// The call fails with an error of this kind.
    Error(ErrorKind),
    /// The call stalls (the test drops the caller's future at this point);
    /// after [`STALL`] it fails with `Unavailable`, as a request timeout
    /// would end a stalled call in a background task.
    Hang,
    /// The call is delayed.
    Delay(Duration),
}

/// Where, relative to the store call, the point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Before,
    After,
}

/// One handle's injection plan: every store call passes two points
/// (before, after), numbered from 0 since the plan was armed.
/// Which point an armed injection hits.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The n-th point passed since arming.
    Index(usize),
    /// The point before the next call of this store operation.
    Op(&'static str),
}

#[derive(Debug)]
pub(crate) struct Injector {
    plan: Mutex<Option<(Target, Injected)>>,
    passed: AtomicUsize,
    hit: watch::Sender<Option<&'static str>>,
}

impl Default for Injector {
    fn default() -> Self {
        Injector {
            plan: Mutex::new(None),
            passed: AtomicUsize::new(0),
            hit: watch::channel(None).0,
        }
    }
}

impl Injector {
    /// Arms `action` at point `point` (counting from now).
    pub fn arm(&self, point: usize, action: Injected) {
        self.arm_target(Target::Index(point), action);
    }

    /// Arms `action` before the next call of store operation `op`
    /// ("create", "get", "range", "queue_position", "delete_owned", "delete",
    /// "grant", "watch").
    pub fn arm_op(&self, op: &'static str, action: Injected) {
        self.arm_target(Target::Op(op), action);
    }

    fn arm_target(&self, target: Target, action: Injected) {
        *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = Some((target, action));
        self.passed.store(0, Ordering::SeqCst);
        self.hit.send_replace(None);
    }

    /// Disarms; returns how many points were passed since arming.
    pub fn disarm(&self) -> usize {
        *self.plan.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.passed.load(Ordering::SeqCst)
    }

    /// The operation the armed point hit, once it has.
    pub fn hit(&self) -> watch::Receiver<Option<&'static str>> {
        self.hit.subscribe()
    }

    /// Called by the backend before and after every store call.
    pub async fn point(&self, op: &'static str, phase: Phase) -> Result<()> {
        let index = self.passed.fetch_add(1, Ordering::SeqCst);
        let action = {
            let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
            let hits = |target: Target| match target {
                Target::Index(point) => point == index,
                Target::Op(name) => name == op && phase == Phase::Before,
            };
            match *plan {
                Some((target, action)) if hits(target) => {
                    *plan = None;
                    Some(action)
                }
                _ => None,
            }
        };
        let Some(action) = action else {
            return Ok(());
        };
        self.act(op, phase, action).await
    }

    /// A point outside the store calls (vine's primary-key claim), hit
    /// only by `arm_op(op, ..)`: not counted by index, so the sweeps over
    /// every indexed point are unchanged.
    pub async fn op_point(&self, op: &'static str) -> Result<()> {
        let action = {
            let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
            match *plan {
                Some((Target::Op(name), action)) if name == op => {
                    *plan = None;
                    Some(action)
                }
                _ => None,
            }
        };
        let Some(action) = action else {
            return Ok(());
        };
        self.act(op, Phase::Before, action).await
    }

    async fn act(&self, op: &'static str, phase: Phase, action: Injected) -> Result<()> {
        self.hit.send_replace(Some(op));
        match action {
            Injected::Fail => Err(Error::new(
                ErrorKind::Unavailable,
                format!("injected failure {phase:?} {op}"),
            )),
            Injected::Error(kind) => Err(Error::new(
                kind,
                format!("injected {kind:?} error {phase:?} {op}"),
            )),
            Injected::Hang => {
                tokio::time::sleep(STALL).await;
                Err(Error::new(
                    ErrorKind::Unavailable,
                    format!("injected stall {phase:?} {op}"),
                ))
            }
            Injected::Delay(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }
}
