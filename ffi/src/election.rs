//! Elections: candidacies (vine's `Leader`), members, and event streams
//! (watch_elect, observe) read with blocking `next` calls.

use std::ffi::{c_char, CString};

use tokio::sync::Mutex;
use vinesync::{
    ElectEventKind, ElectWatcher, Leader, LeaderOptions, Member, MemberOptions, Observer, Role,
    StatusStream, WatchOptions,
};

use crate::cancel::vs_cancel;
use crate::error::{vs_error, Failure};
use crate::handles::{free_box, guard, handle, optional_text, out_ptr, put, text};
use crate::runtime::{block_on, runtime, timeout};
use crate::status::vs_status;
use crate::sync::vs_sync;

/// A candidate in an election. Thread-safe. Freeing it resigns.
pub struct vs_leader {
    leader: Leader,
    id: CString,
    status: Mutex<StatusStream>,
}

/// One election member; its strings are owned by it (or by its list or event).
pub struct vs_member {
    leader: CString,
    id: CString,
    namespace: CString,
    primary: bool,
}

/// The members of a namespace, in campaign order.
pub struct vs_member_list {
    members: Vec<vs_member>,
}

/// What happened in an election event.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum vs_event_kind {
    /// A candidate joined.
    VS_EVENT_JOINED = 0,
    /// A candidate left (resigned, lease lost).
    VS_EVENT_LEFT = 1,
    /// The member became primary.
    VS_EVENT_ELECTED = 2,
}

/// One election event: its kind and member. Owned by the caller.
pub struct vs_event {
    kind: vs_event_kind,
    member: vs_member,
}

enum Stream {
    Watch(ElectWatcher),
    Observe(Observer),
}

/// A stream of election events (from `vs_watch_elect` or
/// `vs_leader_observe`). `next` calls are serialized internally; `close`
/// may come from another thread.
pub struct vs_watcher {
    stream: Mutex<Stream>,
    /// Set by `vs_watcher_close`, so a `next` blocked in another thread
    /// returns `VS_CLOSED` at once instead of holding the stream.
    closing: tokio::sync::watch::Sender<bool>,
}

impl vs_watcher {
    fn new(stream: Stream) -> Self {
        vs_watcher {
            stream: Mutex::new(stream),
            closing: tokio::sync::watch::channel(false).0,
        }
    }
}

fn closed_failure() -> Failure {
    Failure::new(vs_status::VS_CLOSED, "the watcher is closed")
}

fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).unwrap_or_default()
}

fn to_member(member: &Member) -> vs_member {
    vs_member {
        leader: c_string(&member.leader),
        id: c_string(&member.id),
        namespace: c_string(&member.namespace),
        primary: member.role == Role::Primary,
    }
}

/// vine's `Leader`: joins election `name` in namespace `ns` (NULL =
/// "default") as `id` (NULL = a new UUID) with a lease of `ttl_s` seconds
/// (0 = 60). Returns once the candidate key is written (SPEC E1).
///
/// # Safety
/// `sync` live; strings NULL (where allowed) or C strings; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_new(
    sync: *const vs_sync,
    name: *const c_char,
    ns: *const c_char,
    id: *const c_char,
    ttl_s: i64,
    out: *mut *mut vs_leader,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = handle("sync", sync)?;
        let name = text("name", name)?;
        let mut options = LeaderOptions::new();
        if let Some(ns) = optional_text("ns", ns)? {
            options = options.namespace(ns);
        }
        if let Some(id) = optional_text("id", id)? {
            options = options.id(id);
        }
        if ttl_s != 0 {
            let seconds = u64::try_from(ttl_s)
                .map_err(|_| Failure::invalid(format!("ttl {ttl_s} is negative")))?;
            options = options.ttl(std::time::Duration::from_secs(seconds));
        }
        let leader = block_on(None, None, async {
            s.client.leader(name, options).await.map_err(Failure::from)
        })?;
        let id = c_string(leader.id());
        let status = Mutex::new(leader.status());
        put(out, vs_leader { leader, id, status });
        Ok(())
    })
}

/// The candidate's id, owned by the leader.
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_id(l: *const vs_leader) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { l.as_ref() }.map_or(c"".as_ptr(), |l| l.id.as_ptr())
}

/// Whether this candidate is primary right now.
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_is_primary(l: *const vs_leader) -> bool {
    // SAFETY: per the contract.
    unsafe { l.as_ref() }.is_some_and(|l| l.leader.is_primary())
}

/// Blocks until primary (`VS_OK`), the candidacy ends (`VS_LOST`),
/// `timeout_ms` passes (`VS_TIMED_OUT`; 0 = no limit) or `cancel` fires.
///
/// # Safety
/// `l` live; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_wait_elected(
    l: *const vs_leader,
    timeout_ms: u64,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let l = handle("leader", l)?;
        // SAFETY: NULL or live, per the contract.
        let cancel = unsafe { cancel.as_ref() };
        block_on(cancel, timeout(timeout_ms), async {
            l.leader.wait_elected().await.map_err(Failure::from)
        })
    })
}

/// The next status change: `*primary` = true when elected, false when the
/// primary role ended. `VS_CLOSED` once the candidacy is over with nothing
/// left to report; `VS_TIMED_OUT` after `timeout_ms` (0 = no limit).
///
/// # Safety
/// `l` live; `primary` writable; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_status_next(
    l: *const vs_leader,
    timeout_ms: u64,
    cancel: *const vs_cancel,
    primary: *mut bool,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let l = handle("leader", l)?;
        if primary.is_null() {
            return Err(Failure::invalid("primary is NULL"));
        }
        // SAFETY: NULL or live, per the contract.
        let cancel = unsafe { cancel.as_ref() };
        let next = block_on(cancel, timeout(timeout_ms), async {
            Ok(l.status.lock().await.next().await)
        })?;
        match next {
            Some(value) => {
                // SAFETY: checked non-NULL above.
                unsafe { *primary = value };
                Ok(())
            }
            None => Err(Failure::new(
                vs_status::VS_CLOSED,
                "the candidacy has ended",
            )),
        }
    })
}

/// Resigns (SPEC E4): the next candidate becomes primary at once. Idempotent.
///
/// # Safety
/// `l` live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_resign(
    l: *const vs_leader,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let l = handle("leader", l)?;
        block_on(None, None, async {
            l.leader.resign().await.map_err(Failure::from)
        })
    })
}

/// The namespace's current primary, or `VS_NO_LEADER`. Free `*out` with
/// `vs_member_free`.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_primary(
    l: *const vs_leader,
    out: *mut *mut vs_member,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let l = handle("leader", l)?;
        let member = block_on(None, None, async {
            l.leader.primary().await.map_err(Failure::from)
        })?;
        put(out, to_member(&member));
        Ok(())
    })
}

/// A stream of the namespace's primaries (vine's `Observe`): events of kind
/// `VS_EVENT_ELECTED`, the current primary first.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_observe(
    l: *const vs_leader,
    out: *mut *mut vs_watcher,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let l = handle("leader", l)?;
        let observer = block_on(None, None, async {
            l.leader.observe().await.map_err(Failure::from)
        })?;
        put(out, vs_watcher::new(Stream::Observe(observer)));
        Ok(())
    })
}

/// Frees `*l` (resigning if still a candidate) and sets it to NULL.
///
/// # Safety
/// `l` NULL or points to NULL or to a leader from `vs_leader_new`.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_free(l: *mut *mut vs_leader) {
    let _entered = runtime().ok().map(|rt| rt.enter());
    free_box(l);
}

/// vine's `ListMembers`: live candidates of `ns` (NULL = "default") in
/// campaign order, the first primary. Free `*out` with `vs_member_list_free`.
///
/// # Safety
/// `sync` live; `ns` NULL or a C string; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_list_members(
    sync: *const vs_sync,
    ns: *const c_char,
    out: *mut *mut vs_member_list,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = handle("sync", sync)?;
        let mut options = MemberOptions::new();
        if let Some(ns) = optional_text("ns", ns)? {
            options = options.namespace(ns);
        }
        let members = block_on(None, None, async {
            s.client.list_members(options).await.map_err(Failure::from)
        })?;
        put(
            out,
            vs_member_list {
                members: members.iter().map(to_member).collect(),
            },
        );
        Ok(())
    })
}

/// Number of members; 0 for NULL.
///
/// # Safety
/// `list` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_member_list_len(list: *const vs_member_list) -> usize {
    // SAFETY: per the contract.
    unsafe { list.as_ref() }.map_or(0, |l| l.members.len())
}

/// Member `i` (owned by the list), or NULL when out of range.
///
/// # Safety
/// `list` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_member_list_get(
    list: *const vs_member_list,
    i: usize,
) -> *const vs_member {
    // SAFETY: per the contract.
    unsafe { list.as_ref() }
        .and_then(|l| l.members.get(i))
        .map_or(std::ptr::null(), |m| m as *const vs_member)
}

/// Frees `*list` and sets it to NULL.
///
/// # Safety
/// `list` NULL or points to NULL or to a list from `vs_list_members`.
#[no_mangle]
pub unsafe extern "C" fn vs_member_list_free(list: *mut *mut vs_member_list) {
    free_box(list);
}

/// The member's election name (`leader` in vine's Member).
///
/// # Safety
/// `m` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_member_leader(m: *const vs_member) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { m.as_ref() }.map_or(c"".as_ptr(), |m| m.leader.as_ptr())
}

/// The member's id.
///
/// # Safety
/// `m` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_member_id(m: *const vs_member) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { m.as_ref() }.map_or(c"".as_ptr(), |m| m.id.as_ptr())
}

/// The member's namespace.
///
/// # Safety
/// `m` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_member_namespace(m: *const vs_member) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { m.as_ref() }.map_or(c"".as_ptr(), |m| m.namespace.as_ptr())
}

/// Whether the member's role is `primary` (else `follow`).
///
/// # Safety
/// `m` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_member_is_primary(m: *const vs_member) -> bool {
    // SAFETY: per the contract.
    unsafe { m.as_ref() }.is_some_and(|m| m.primary)
}

/// Frees a member from `vs_leader_primary` and sets `*m` to NULL (not for
/// members of a list or an event).
///
/// # Safety
/// `m` NULL or points to NULL or to a member from `vs_leader_primary`.
#[no_mangle]
pub unsafe extern "C" fn vs_member_free(m: *mut *mut vs_member) {
    free_box(m);
}

/// vine's `WatchElect`: joins, leaves and primary changes of `ns` (NULL =
/// "default") from now on, only about member `id` unless `id` is NULL.
///
/// # Safety
/// `sync` live; strings NULL or C strings; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_watch_elect(
    sync: *const vs_sync,
    ns: *const c_char,
    id: *const c_char,
    out: *mut *mut vs_watcher,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = handle("sync", sync)?;
        let mut options = WatchOptions::new();
        if let Some(ns) = optional_text("ns", ns)? {
            options = options.namespace(ns);
        }
        if let Some(id) = optional_text("id", id)? {
            options = options.id(id);
        }
        let watcher = block_on(None, None, async {
            s.client.watch_elect(options).await.map_err(Failure::from)
        })?;
        put(out, vs_watcher::new(Stream::Watch(watcher)));
        Ok(())
    })
}

/// The next event (free `*out` with `vs_event_free`); `VS_TIMED_OUT` after
/// `timeout_ms` (0 = no limit); `VS_CLOSED` after `vs_watcher_close`.
///
/// # Safety
/// `w` live; `out` writable; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_watcher_next(
    w: *const vs_watcher,
    timeout_ms: u64,
    cancel: *const vs_cancel,
    out: *mut *mut vs_event,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let w = handle("watcher", w)?;
        // SAFETY: NULL or live, per the contract.
        let cancel = unsafe { cancel.as_ref() };
        let event = block_on(cancel, timeout(timeout_ms), async {
            let mut closing = w.closing.subscribe();
            if *closing.borrow() {
                return Err(closed_failure());
            }
            let next = async {
                let mut stream = w.stream.lock().await;
                match &mut *stream {
                    Stream::Watch(watcher) => {
                        let e = watcher.next().await.ok_or_else(closed_failure)??;
                        let kind = match e.kind {
                            ElectEventKind::Joined => vs_event_kind::VS_EVENT_JOINED,
                            ElectEventKind::Left => vs_event_kind::VS_EVENT_LEFT,
                            ElectEventKind::Elected => vs_event_kind::VS_EVENT_ELECTED,
                        };
                        Ok(vs_event {
                            kind,
                            member: to_member(&e.member),
                        })
                    }
                    Stream::Observe(observer) => {
                        let r = observer.next().await.ok_or_else(closed_failure)??;
                        Ok(vs_event {
                            kind: vs_event_kind::VS_EVENT_ELECTED,
                            member: vs_member {
                                leader: c_string(""),
                                id: c_string(&r.id),
                                namespace: c_string(&r.namespace),
                                primary: true,
                            },
                        })
                    }
                }
            };
            tokio::select! {
                event = next => event,
                _ = closing.wait_for(|closed| *closed) => Err(closed_failure()),
            }
        })?;
        put(out, event);
        Ok(())
    })
}

/// Ends the stream: `next` then returns `VS_CLOSED`.
///
/// # Safety
/// `w` live.
#[no_mangle]
pub unsafe extern "C" fn vs_watcher_close(
    w: *const vs_watcher,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let w = handle("watcher", w)?;
        w.closing.send_replace(true);
        block_on(None, None, async {
            match &mut *w.stream.lock().await {
                Stream::Watch(watcher) => watcher.close(),
                Stream::Observe(observer) => observer.close(),
            }
            Ok(())
        })
    })
}

/// Frees `*w` and sets it to NULL.
///
/// # Safety
/// `w` NULL or points to NULL or to a watcher; no call may be using it.
#[no_mangle]
pub unsafe extern "C" fn vs_watcher_free(w: *mut *mut vs_watcher) {
    let _entered = runtime().ok().map(|rt| rt.enter());
    free_box(w);
}

/// The event's kind.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn vs_event_get_kind(e: *const vs_event) -> vs_event_kind {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(vs_event_kind::VS_EVENT_JOINED, |e| e.kind)
}

/// The event's member (owned by the event).
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_event_member(e: *const vs_event) -> *const vs_member {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(std::ptr::null(), |e| &e.member as *const vs_member)
}

/// Frees `*e` and sets it to NULL.
///
/// # Safety
/// `e` NULL or points to NULL or to an event from `vs_watcher_next`.
#[no_mangle]
pub unsafe extern "C" fn vs_event_free(e: *mut *mut vs_event) {
    free_box(e);
}
