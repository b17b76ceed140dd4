//! Event streams as Python iterators (blocking, GIL released) and async
//! iterators: `ElectWatcher` (SPEC E8), `Observer` (E6) and `StatusStream`
//! (E3). One generic [`Stream`] does the work for all three.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyTimeoutError};
use pyo3::prelude::*;
use tokio::sync::{watch, Mutex};

use crate::args::seconds;
use crate::errors::to_py;
use crate::process::Origin;
use crate::runtime::{awaitable, runtime, wait};
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
    Ended,
    TimedOut,
}

/// A core stream shared by the blocking and the async iterator, closable
/// from any thread while a `next` waits in another.
pub struct Stream<S: Source> {
    source: Arc<Mutex<S>>,
    closed: watch::Sender<bool>,
    origin: Origin,
    /// Keeps the `Sync` alive (and open) while the stream is in use.
    _owner: Py<Sync>,
}

impl<S: Source> Stream<S> {
    pub fn new(source: S, owner: Py<Sync>) -> Self {
        Stream {
            source: Arc::new(Mutex::new(source)),
            closed: watch::channel(false).0,
            origin: Origin::here(),
            _owner: owner,
        }
    }

    fn step(
        &self,
        limit: Option<Duration>,
    ) -> impl Future<Output = vinesync::Result<Step<S::Item>>> + Send + 'static {
        let source = self.source.clone();
        let mut closed = self.closed.subscribe();
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
            tokio::select! {
                item = next => Ok(item?.map_or(Step::Ended, Step::Item)),
                _ = closed.wait_for(|closed| *closed) => Ok(Step::Ended),
                () = limit => Ok(Step::TimedOut),
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
        match wait(py, self.step(limit))? {
            Step::Item(item) => convert(py, item),
            Step::Ended => Err(PyStopIteration::new_err(())),
            Step::TimedOut => Err(PyTimeoutError::new_err(format!(
                "no event within {}s",
                timeout.unwrap_or_default()
            ))),
        }
    }

    /// The next item as an awaitable; `StopAsyncIteration` at the end.
    pub fn next_async<'py, C>(&self, py: Python<'py>, convert: C) -> PyResult<Bound<'py, PyAny>>
    where
        C: FnOnce(Python<'_>, S::Item) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        self.origin.check(py, "stream")?;
        awaitable(py, self.step(None), move |py, step| match step {
            Step::Item(item) => convert(py, item),
            Step::Ended | Step::TimedOut => Err(PyStopAsyncIteration::new_err(())),
        })
    }

    /// Ends the stream: a waiting `next` returns, later ones end at once.
    pub fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut source) = self.source.try_lock() {
            source.close();
        } else if let Ok(runtime) = runtime() {
            // A `next` still holds the source; close it once that returns.
            let source = self.source.clone();
            runtime.spawn(async move { source.lock().await.close() });
        }
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
        #[pyclass(frozen, module = "vinesync")]
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

            fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.stream.next_async(py, $convert)
            }

            /// Ends the stream; a `next` waiting in another thread returns.
            fn close(&self) {
                self.stream.close();
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (*_exc))]
            fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
                self.stream.close();
                false
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
