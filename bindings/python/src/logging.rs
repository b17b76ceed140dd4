//! The core's `tracing` events as Python `logging` records: an event of
//! target `vinesync::lock` goes to the logger `vinesync.lock` (under the
//! `vinesync` logger) at the matching level, with its fields after the
//! message (`lock lost key=/vine/sync/locks/...`). Events of other crates
//! (etcd-client, tonic, h2) are not forwarded.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use vinesync::per_process::PerProcess;

/// Python's numeric logging levels (TRACE has none: 5, below DEBUG).
fn python_level(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

fn is_ours(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    target == "vinesync" || target.starts_with("vinesync::")
}

/// The event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

/// One event on its way to Python.
struct LogRecord {
    logger: String,
    level: i32,
    text: String,
}

/// Whether events are forwarded: from module import until interpreter
/// exit begins (`stop`), after which Python must not be called.
static FORWARD: AtomicBool = AtomicBool::new(false);

/// The forwarding thread's queue, one per process: a child of `fork()`
/// starts its own thread and queue (the parent's thread is not in the
/// child, and no lock of the parent's is taken there: SPEC H5).
static QUEUE: PerProcess<Sender<LogRecord>> = PerProcess::new();

/// Queues `record` for the forwarding thread. Events are never handed to
/// Python on the thread that emits them: that thread may hold a lock that
/// the thread holding the GIL is waiting for.
fn send(record: LogRecord) {
    let queue = QUEUE.get_or_try_init(|| {
        let (sender, receiver) = channel();
        std::thread::Builder::new()
            .name("vinesync-log".into())
            .spawn(move || forward(receiver))
            .map(|_| sender)
    });
    // No thread (the process is out of them): the record is dropped.
    if let Ok(sender) = queue {
        let _ = sender.send(record);
    }
}

fn forward(receiver: Receiver<LogRecord>) {
    for record in receiver {
        if !FORWARD.load(Ordering::Acquire) {
            continue;
        }
        // Interpreter exit has begun: this thread must not take the GIL.
        let Some(_attaching) = crate::runtime::may_attach() else {
            return;
        };
        Python::try_attach(|py| {
            let sent = py
                .import("logging")
                .and_then(|logging| logging.call_method1("getLogger", (record.logger,)))
                .and_then(|logger| {
                    if logger
                        .call_method1("isEnabledFor", (record.level,))?
                        .is_truthy()?
                    {
                        logger.call_method1("log", (record.level, "%s", record.text))?;
                    }
                    Ok(())
                });
            if let Err(error) = sent {
                error.write_unraisable(py, None);
            }
        });
    }
}

/// Forwards events; spans are not tracked (the core uses none).
struct ToPythonLogging;

impl Subscriber for ToPythonLogging {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        is_ours(metadata) && FORWARD.load(Ordering::Relaxed)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let mut message = Message::default();
        event.record(&mut message);
        send(LogRecord {
            logger: metadata.target().replace("::", "."),
            level: python_level(metadata.level()),
            text: format!("{}{}", message.text, message.fields),
        });
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Sends the core's events to Python's `logging` from now on. Does
/// nothing when the process already has a global `tracing` subscriber.
pub fn install() {
    if tracing::subscriber::set_global_default(ToPythonLogging).is_ok() {
        FORWARD.store(true, Ordering::Release);
    }
}

/// Stops forwarding: the interpreter is exiting.
pub fn stop() {
    FORWARD.store(false, Ordering::Release);
}
