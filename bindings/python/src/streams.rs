//! Event streams as Python iterators (blocking, GIL released) and async
//! iterators: `ElectWatcher` (SPEC E8), `Observer` (E6) and `StatusStream`
//! (E3). One generic [`Stream`] does the work for all three.

use std::collections::VecDeque;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyTimeoutError};
use pyo3::prelude::*;
use tokio::sync::{watch, Mutex};

use crate::args::seconds;
use crate::errors::to_py;
use crate::process::Origin;
use crate::runtime::{awaitable_restoring, runtime, wait_keeping};
use crate::sync::Sync;
use crate::values::{ElectEvent, ObserveResult};

/// What a core stream yields: `Ok(None)` when it has ended.
pub trait Source: Send + 'static {
    type Item: Send + 'static;
    fn next(&mut self) -> impl Future<Output = vinesync::Result<Option<Self::Item>>> + Send;
    fn close(&mut self);
}

/// A feed's `None` means it has ended.
fn ended_on_close<T>(next: Option<vinesync::Result<T>>) -> vinesync::Result<Option<T>> {
    next.transpose()
}

impl Source for vinesync::ElectWatcher {
    type Item = vinesync::ElectEvent;
    async fn next(&mut self) -> vinesync::Result<Option<Self::Item>> {
        ended_on_close(vinesync::ElectWatcher::next(self).await)
    }
    fn close(&mut self) {
        vinesync::ElectWatcher::close(self);
    }
}

impl Source for vinesync::Observer {
    type Item = vinesync::ObserveResult;
    async fn next(&mut self) -> vinesync::Result<Option<Self::Item>> {
        ended_on_close(vinesync::Observer::next(self).await)
    }
    fn close(&mut self) {
        vinesync::Observer::close(self);
    }
}

impl Source for vinesync::StatusStream {
    type Item = bool;
    async fn next(&mut self) -> vinesync::Result<Option<bool>> {
        Ok(vinesync::StatusStream::next(self).await)
    }
    fn close(&mut self) {}
}

/// One step of a stream.
enum Step<T> {
    Item(T),
    /// An item put back (by a cancelled asyncio task) while the step
    /// waited, already converted.
    Restored(Py<PyAny>),
    Ended,
    TimedOut,
}

/// Items put back, shared with the steps.
type Restored = Arc<std::sync::Mutex<VecDeque<Py<PyAny>>>>;

fn pop_front(restored: &Restored) -> Option<Py<PyAny>> {
    restored
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front()
}

/// A core stream shared by the blocking and the async iterator, closable
/// from any thread while a `next` waits in another.
pub struct Stream<S: Source> {
    /// Never dropped in a forked child (see `Drop`).
    source: ManuallyDrop<Arc<Mutex<S>>>,
    /// Items an asyncio task was cancelled before taking, handed out first
    /// (SPEC E8: no event is lost to cancellation).
    restored: Restored,
    /// Counts the items put back: a step waiting for the source wakes on
    /// one, so an item put back late (a cancelled task's) is not stuck
    /// behind a step that waits for the next event.
    restores: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    origin: Origin,
    /// Keeps the `Sync` alive (and open) while the stream is in use.
    _owner: Py<Sync>,
}

impl<S: Source> Stream<S> {
    pub fn new(source: S, owner: Py<Sync>) -> Self {
        Stream {
            source: ManuallyDrop::new(Arc::new(Mutex::new(source))),
            restored: Arc::default(),
            restores: watch::channel(0).0,
            closed: watch::channel(false).0,
            origin: Origin::here(),
            _owner: owner,
        }
    }

    fn step(
        &self,
        limit: Option<Duration>,
    ) -> impl Future<Output = vinesync::Result<Step<S::Item>>> + Send + 'static {
        let source = Arc::clone(&self.source);
        let restored = Arc::clone(&self.restored);
        let mut closed = self.closed.subscribe();
        // Subscribed before the caller looked at the put-back items, so a
        // put-back after that look wakes this step.
        let mut restores = self.restores.subscribe();
        async move {
            let next = async {
                let mut source = source.lock().await;
                source.next().await
            };
            let limit = async {
                match limit {
                    Some(limit) => tokio::time::sleep(limit).await,
                    None => std::future::pending().await,
                }
            };
            let (mut next, mut limit) = (std::pin::pin!(next), std::pin::pin!(limit));
            loop {
                tokio::select! {
                    biased;
                    changed = restores.changed() => {
                        if changed.is_err() {
                            return Ok(Step::Ended); // the stream is gone
                        }
                        // Another reader may have taken it first: wait on.
                        if let Some(item) = pop_front(&restored) {
                            return Ok(Step::Restored(item));
                        }
                    }
                    item = &mut next => return Ok(item?.map_or(Step::Ended, Step::Item)),
                    _ = closed.wait_for(|closed| *closed) => return Ok(Step::Ended),
                    () = &mut limit => return Ok(Step::TimedOut),
                }
            }
        }
    }

    /// The next item, blocking; `StopIteration` at the end, `TimeoutError`
    /// when `timeout` seconds pass first.
    pub fn next_blocking<'py, C>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        convert: C,
    ) -> PyResult<Py<PyAny>>
    where
        C: FnOnce(Python<'py>, S::Item) -> PyResult<Py<PyAny>>,
    {
        self.origin.check(py, "stream")?;
        let limit = seconds("timeout", timeout).map_err(|e| to_py(py, &e))?;
        // Made (and subscribed to put-backs) before looking at them.
        let step = self.step(limit);
        if let Some(item) = self.take_restored() {
            return Ok(item);
        }
        // An item that arrived as a signal interrupted the wait.
        let mut arrived = None;
        let item = match wait_keeping(py, step, |step| arrived = Some(step)) {
            Ok(Step::Item(item)) => convert(py, item)?,
            Ok(Step::Restored(item)) => item,
            Ok(Step::Ended) => return Err(PyStopIteration::new_err(())),
            Ok(Step::TimedOut) => {
                return Err(PyTimeoutError::new_err(format!(
                    "no event within {}s",
                    timeout.unwrap_or_default()
                )))
            }
            Err(interrupted) => {
                match arrived {
                    Some(Step::Item(item)) => self.restore(convert(py, item)?),
                    Some(Step::Restored(item)) => self.restore(item),
                    _ => {}
                }
                return Err(interrupted);
            }
        };
        // Interrupted as it arrived: keep it for the next call (SPEC E8),
        // then raise.
        if let Err(interrupted) = py.check_signals() {
            self.restore(item);
            return Err(interrupted);
        }
        Ok(item)
    }

    /// The next item as an awaitable; `StopAsyncIteration` at the end. An
    /// item that reaches a cancelled task goes to `restore` (the stream's
    /// `_restore`), which puts it back for the next call.
    pub fn next_async<'py, C>(
        &self,
        py: Python<'py>,
        restore: Py<PyAny>,
        convert: C,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        C: FnOnce(Python<'_>, S::Item) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        self.origin.check(py, "stream")?;
        // Made (and subscribed to put-backs) before looking at them.
        let step = self.step(None);
        if let Some(item) = self.take_restored() {
            // Without a runtime round trip, which a cancellation could cut
            // short with the item in it; given back if never awaited.
            return py
                .import("vinesync._aio")?
                .call_method1("Ready", (item, restore));
        }
        awaitable_restoring(py, restore, step, move |py, step| match step {
            Step::Item(item) => convert(py, item),
            // Put back while this step waited (a cancelled task's item).
            Step::Restored(item) => Ok(item),
            Step::Ended | Step::TimedOut => Err(PyStopAsyncIteration::new_err(())),
        })
    }

    fn take_restored(&self) -> Option<Py<PyAny>> {
        pop_front(&self.restored)
    }

    /// Puts back an item no task took, in front of the others, and wakes a
    /// step waiting for the source.
    pub fn restore(&self, item: Py<PyAny>) {
        self.restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_front(item);
        self.restores.send_modify(|n| *n += 1);
    }

    /// Ends the stream: a waiting `next` returns, later ones end at once.
    pub fn close(&self) {
        if !self.origin.is_here() {
            return; // a forked child: the parent's stream is not ours (H5)
        }
        self.closed.send_replace(true);
        if let Ok(mut source) = self.source.try_lock() {
            source.close();
        } else if let Ok(runtime) = runtime() {
            // A `next` still holds the source; close it once that returns.
            let source = Arc::clone(&self.source);
            runtime.spawn(async move { source.lock().await.close() });
        }
    }
}

impl<S: Source> Drop for Stream<S> {
    fn drop(&mut self) {
        if self.origin.is_here() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.source) };
        }
        // In a forked child the parent's stream is leaked (H5).
    }
}

fn member_event(py: Python<'_>, event: vinesync::ElectEvent) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, ElectEvent::from(event))?.into_any())
}

fn observed(py: Python<'_>, result: vinesync::ObserveResult) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, ObserveResult::from(result))?.into_any())
}

fn status(py: Python<'_>, primary: bool) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, primary)
        .to_owned()
        .into_any()
        .unbind())
}

/// Defines a Python iterator class over a [`Stream`].
macro_rules! stream_class {
    ($(#[$doc:meta])* $name:ident, $source:ty, $convert:path) => {
        $(#[$doc])*
        #[pyclass(frozen, weakref, module = "vinesync")]
        pub struct $name {
            stream: Stream<$source>,
        }

        impl $name {
            pub fn new(source: $source, owner: Py<Sync>) -> Self {
                $name { stream: Stream::new(source, owner) }
            }
        }

        #[pymethods]
        impl $name {
            /// The next item, waiting at most `timeout` seconds (`None`: no
            /// limit). Raises `StopIteration` once the stream has ended and
            /// `TimeoutError` when the timeout passes first.
            #[pyo3(signature = (timeout = None))]
            fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
                self.stream.next_blocking(py, timeout, $convert)
            }

            fn __iter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                self.stream.next_blocking(py, None, $convert)
            }

            fn __aiter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            fn __anext__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
                let restore = slf.getattr("_restore")?.unbind();
                slf.get().stream.next_async(slf.py(), restore, $convert)
            }

            /// Puts back an item an asyncio task was cancelled before taking.
            fn _restore(&self, item: Py<PyAny>) {
                self.stream.restore(item);
            }

            /// Ends the stream; a `next` waiting in another thread returns.
            fn close(&self) {
                self.stream.close();
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (*_exc))]
            fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) {
                self.stream.close();
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.stream.close();
            }
        }
    };
}

stream_class!(
    /// `Sync.watch_elect()`: every join, leave and primary change of a
    /// namespace (SPEC E8) as `ElectEvent`s.
    ElectWatcher,
    vinesync::ElectWatcher,
    member_event
);

stream_class!(
    /// `Leader.observe()`: an `ObserveResult` each time the namespace's
    /// primary changes, starting with the current one (SPEC E6).
    Observer,
    vinesync::Observer,
    observed
);

stream_class!(
    /// `Leader.status()`: `True` when the candidate becomes primary, `False`
    /// when it stops being primary (SPEC E3); ends with the candidacy.
    StatusStream,
    vinesync::StatusStream,
    status
);
