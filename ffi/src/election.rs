//! Elections: candidacies (vine's `Leader`), members, and event streams
//! (watch_elect, observe) read with blocking `next` calls.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use tokio::sync::Mutex;
use vinesync::{
    ElectEventKind, ElectWatcher, Leader, LeaderOptions, Member, MemberOptions, Observer, Role,
    StatusStream, WatchOptions,
};

use crate::cancel::{self, vs_cancel};
use crate::error::{vs_error, Failure};
use crate::handles::{free_box, free_handle, guard, handle, optional_text, out_ptr, put, text};
use crate::owner::Owner;
use crate::runtime::{block_on, dispose, finish_in_background, timeout};
use crate::status::vs_status;
use crate::sync::{sync_handle, vs_sync};

/// A candidate in an election. Thread-safe. Freeing it resigns.
pub struct vs_leader {
    owner: Owner,
    /// Shared with a resign that finishes in the background (SPEC H2).
    leader: Arc<Leader>,
    id: CString,
    name: CString,
    namespace: CString,
    status: Mutex<StatusStream>,
}

/// A required leader, usable in this process (`VS_CLOSED` after fork).
fn leader_handle<'a>(l: *const vs_leader) -> Result<&'a vs_leader, Failure> {
    let l = handle("leader", l)?;
    l.owner.check("vs_leader")?;
    Ok(l)
}

/// A leader usable in this process, for the infallible accessors.
fn live_leader<'a>(l: *const vs_leader) -> Option<&'a vs_leader> {
    // SAFETY: the accessors' contract: NULL or live.
    unsafe { l.as_ref() }.filter(|l| l.owner.is_here())
}

/// One election member, always borrowed: owned by the list, event or
/// `vs_owned_member` it came from, and valid until that is freed.
pub struct vs_member {
    leader: CString,
    id: CString,
    namespace: CString,
    primary: bool,
}

/// A member owned by the caller (from `vs_leader_primary`); its
/// `vs_member` comes from `vs_owned_member_get`.
pub struct vs_owned_member {
    member: vs_member,
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
    /// Not an event: what `vs_event_get_kind(NULL)` returns.
    VS_EVENT_INVALID = -1,
}

/// One election event: its kind, member and store revision. Owned by the
/// caller.
pub struct vs_event {
    kind: vs_event_kind,
    member: vs_member,
    revision: i64,
}

enum Stream {
    Watch(ElectWatcher),
    Observe(Observer),
}

/// A stream of election events (from `vs_watch_elect` or
/// `vs_leader_observe`). `next` calls are serialized internally; `close`
/// may come from another thread.
pub struct vs_watcher {
    owner: Owner,
    stream: Mutex<Stream>,
    /// Set by `vs_watcher_close`, so a `next` blocked in another thread
    /// returns `VS_CLOSED` at once instead of holding the stream.
    closing: tokio::sync::watch::Sender<bool>,
}

impl vs_watcher {
    fn new(stream: Stream) -> Self {
        vs_watcher {
            owner: Owner::here(),
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

/// etcd leases are granted in whole seconds: `ttl_ms` must be a multiple of
/// 1000 (0 = the default of 60 s).
fn leader_ttl(ttl_ms: u64) -> Result<Option<std::time::Duration>, Failure> {
    if ttl_ms == 0 {
        return Ok(None);
    }
    if !ttl_ms.is_multiple_of(1000) {
        return Err(Failure::invalid(format!(
            "ttl_ms {ttl_ms} is not a whole number of seconds (leases are granted in seconds)"
        )));
    }
    Ok(Some(std::time::Duration::from_millis(ttl_ms)))
}

/// vine's `Leader`: joins election `name` in namespace `ns` (NULL =
/// "default") as `id` (NULL = a new UUID) with a lease of `ttl_ms`
/// milliseconds (0 = 60 s; whole seconds, at least 1000). Returns once the
/// candidate key is written (SPEC E1).
///
/// # Safety
/// `sync` live; strings NULL (where allowed) or C strings; `cancel` NULL or
/// live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_new(
    sync: *const vs_sync,
    name: *const c_char,
    ns: *const c_char,
    id: *const c_char,
    ttl_ms: u64,
    cancel: *const vs_cancel,
    out: *mut *mut vs_leader,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = sync_handle(sync)?;
        let name = text("name", name)?;
        let mut options = LeaderOptions::new();
        if let Some(ns) = optional_text("ns", ns)? {
            options = options.namespace(ns);
        }
        if let Some(id) = optional_text("id", id)? {
            options = options.id(id);
        }
        if let Some(ttl) = leader_ttl(ttl_ms)? {
            options = options.ttl(ttl);
        }
        let leader = block_on(cancel::optional(cancel), None, async {
            s.client.leader(name, options).await.map_err(Failure::from)
        })?;
        let status = Mutex::new(leader.status());
        put(
            out,
            vs_leader {
                owner: Owner::here(),
                id: c_string(leader.id()),
                name: c_string(leader.name()),
                namespace: c_string(leader.namespace()),
                leader: Arc::new(leader),
                status,
            },
        );
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

/// The election's name, owned by the leader; `""` for NULL.
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_name(l: *const vs_leader) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { l.as_ref() }.map_or(c"".as_ptr(), |l| l.name.as_ptr())
}

/// The candidate's namespace, owned by the leader; `""` for NULL.
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_namespace(l: *const vs_leader) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { l.as_ref() }.map_or(c"".as_ptr(), |l| l.namespace.as_ptr())
}

/// The candidacy's fencing token: the create revision of its key, greater
/// than every earlier candidacy's in the namespace; 0 for NULL.
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_fencing_token(l: *const vs_leader) -> u64 {
    // SAFETY: per the contract.
    unsafe { l.as_ref() }.map_or(0, |l| l.leader.fencing_token())
}

/// Whether this candidate is primary right now (false for NULL and in a
/// child of `fork()`).
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_is_primary(l: *const vs_leader) -> bool {
    let mut primary = false;
    crate::handles::quietly(|| primary = live_leader(l).is_some_and(|l| l.leader.is_primary()));
    primary
}

/// Whether the candidacy has ended (resigned or lost); true for NULL and in
/// a child of `fork()`.
///
/// # Safety
/// `l` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_is_ended(l: *const vs_leader) -> bool {
    let mut ended = true;
    crate::handles::quietly(|| ended = live_leader(l).is_none_or(|l| l.leader.is_ended()));
    ended
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
        let l = leader_handle(l)?;
        block_on(cancel::optional(cancel), timeout(timeout_ms), async {
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
        let l = leader_handle(l)?;
        if primary.is_null() {
            return Err(Failure::invalid("primary is NULL"));
        }
        let next = block_on(cancel::optional(cancel), timeout(timeout_ms), async {
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

/// Resigns (SPEC E4): the next candidate becomes primary at once.
/// Idempotent. A fired `cancel` returns `VS_CANCELLED` at once while the
/// resignation completes in the background (SPEC H2).
///
/// # Safety
/// `l` live; `cancel` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_resign(
    l: *const vs_leader,
    cancel: *const vs_cancel,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        let leader = leader_handle(l)?.leader.clone();
        finish_in_background(cancel::optional(cancel), async move {
            leader.resign().await.map_err(Failure::from)
        })
    })
}

/// The namespace's current primary, or `VS_NO_LEADER`. `*out` is owned by
/// the caller: read it with `vs_owned_member_get`, free it with
/// `vs_owned_member_free`.
///
/// # Safety
/// `l` live; `cancel` NULL or live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_primary(
    l: *const vs_leader,
    cancel: *const vs_cancel,
    out: *mut *mut vs_owned_member,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let l = leader_handle(l)?;
        let member = block_on(cancel::optional(cancel), None, async {
            l.leader.primary().await.map_err(Failure::from)
        })?;
        put(
            out,
            vs_owned_member {
                member: to_member(&member),
            },
        );
        Ok(())
    })
}

/// A stream of the namespace's primaries (vine's `Observe`): events of kind
/// `VS_EVENT_ELECTED`, the current primary first.
///
/// # Safety
/// `l` live; `cancel` NULL or live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_observe(
    l: *const vs_leader,
    cancel: *const vs_cancel,
    out: *mut *mut vs_watcher,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let l = leader_handle(l)?;
        let observer = block_on(cancel::optional(cancel), None, async {
            l.leader.observe().await.map_err(Failure::from)
        })?;
        put(out, vs_watcher::new(Stream::Observe(observer)));
        Ok(())
    })
}

/// Frees `*l` and sets it to NULL. A candidacy still running is resigned
/// before this returns (bounded by the request timeout), so the next
/// candidate is primary at once. Safe at process exit; in a child of
/// `fork()` a leader of the parent is only forgotten.
///
/// # Safety
/// `l` NULL or points to NULL or to a leader from `vs_leader_new`; no
/// other thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn vs_leader_free(l: *mut *mut vs_leader) {
    free_handle(
        l,
        |l| l.owner,
        |l| {
            if !l.leader.is_ended() {
                let _ = block_on(None, None, async {
                    l.leader.resign().await.map_err(Failure::from)
                });
            }
            dispose(l);
        },
    );
}

/// vine's `ListMembers`: live candidates of `ns` (NULL = "default") in
/// campaign order, the first primary. Free `*out` with `vs_member_list_free`.
///
/// # Safety
/// `sync` live; `ns` NULL or a C string; `cancel` NULL or live; `out`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn vs_list_members(
    sync: *const vs_sync,
    ns: *const c_char,
    cancel: *const vs_cancel,
    out: *mut *mut vs_member_list,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = sync_handle(sync)?;
        let mut options = MemberOptions::new();
        if let Some(ns) = optional_text("ns", ns)? {
            options = options.namespace(ns);
        }
        let members = block_on(cancel::optional(cancel), None, async {
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

/// The member inside an owned member (owned by it); NULL for NULL.
///
/// # Safety
/// `m` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_owned_member_get(m: *const vs_owned_member) -> *const vs_member {
    // SAFETY: per the contract.
    unsafe { m.as_ref() }.map_or(std::ptr::null(), |m| &m.member as *const vs_member)
}

/// Frees `*m` (from `vs_leader_primary`) and sets it to NULL.
///
/// # Safety
/// `m` NULL or points to NULL or to a member from `vs_leader_primary`.
#[no_mangle]
pub unsafe extern "C" fn vs_owned_member_free(m: *mut *mut vs_owned_member) {
    free_box(m);
}

/// vine's `WatchElect`: joins, leaves and primary changes of `ns` (NULL =
/// "default") from now on, only about member `id` unless `id` is NULL.
///
/// # Safety
/// `sync` live; strings NULL or C strings; `cancel` NULL or live; `out`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn vs_watch_elect(
    sync: *const vs_sync,
    ns: *const c_char,
    id: *const c_char,
    cancel: *const vs_cancel,
    out: *mut *mut vs_watcher,
    err: *mut *mut vs_error,
) -> vs_status {
    guard(err, || {
        out_ptr("out", out)?;
        let s = sync_handle(sync)?;
        let mut options = WatchOptions::new();
        if let Some(ns) = optional_text("ns", ns)? {
            options = options.namespace(ns);
        }
        if let Some(id) = optional_text("id", id)? {
            options = options.id(id);
        }
        let watcher = block_on(cancel::optional(cancel), None, async {
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
        w.owner.check("vs_watcher")?;
        let event = block_on(cancel::optional(cancel), timeout(timeout_ms), async {
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
                            // A kind this C ABI version does not know yet.
                            _ => return Err(Failure::new(
                                vs_status::VS_INTERNAL,
                                "an election event of a kind this library version cannot report",
                            )),
                        };
                        Ok(vs_event {
                            kind,
                            member: to_member(&e.member),
                            revision: e.revision,
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
                            revision: 0,
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
        w.owner.check("vs_watcher")?;
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
    free_handle(w, |w| w.owner, dispose);
}

/// The event's kind; `VS_EVENT_INVALID` for NULL.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_event_get_kind(e: *const vs_event) -> vs_event_kind {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(vs_event_kind::VS_EVENT_INVALID, |e| e.kind)
}

/// The store revision of the change (watch_elect events); 0 for observe
/// events and for NULL.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn vs_event_revision(e: *const vs_event) -> i64 {
    // SAFETY: per the contract.
    unsafe { e.as_ref() }.map_or(0, |e| e.revision)
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
