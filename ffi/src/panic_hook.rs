//! Panics caught at the C boundary become the call's error message instead
//! of text on the process's stderr: a panic hook, installed once, stays
//! quiet while the panicking thread is inside an export and records the
//! message for it; other panics go to the previous hook.

use std::cell::{Cell, RefCell};
use std::panic::PanicHookInfo;
use std::sync::Once;

thread_local! {
    /// Set while this thread runs an export's body. Const-initialised
    /// without a destructor, so it is readable even during `exit()`.
    static IN_EXPORT: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_EXPORT.with(Cell::get) {
                let _ = LAST_PANIC.try_with(|last| *last.borrow_mut() = Some(describe(info)));
            } else {
                previous(info);
            }
        }));
    });
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_string());
    match info.location() {
        Some(at) => format!("{payload} at {}:{}", at.file(), at.line()),
        None => payload,
    }
}

/// Marks the calling thread as inside an export until the returned value
/// is dropped (nested exports keep the outer mark).
pub(crate) fn enter_export() -> ExportMark {
    install();
    ExportMark {
        outer: IN_EXPORT.with(|flag| flag.replace(true)),
    }
}

pub(crate) struct ExportMark {
    outer: bool,
}

impl Drop for ExportMark {
    fn drop(&mut self) {
        IN_EXPORT.with(|flag| flag.set(self.outer));
    }
}

/// The message of the last panic caught on this thread, if any.
pub(crate) fn take_last_panic() -> Option<String> {
    LAST_PANIC
        .try_with(|last| last.borrow_mut().take())
        .ok()
        .flatten()
}
