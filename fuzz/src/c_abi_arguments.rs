//! The C ABI's argument handling: options, ids, names, TTLs and waits made
//! of arbitrary bytes (invalid UTF-8, empty, huge numbers, NULL) go through
//! every entry point that takes them on the memory backend. Each call must
//! return a status (an error naming the argument), never crash or hang.

use std::ffi::{c_char, CString};
use std::ptr::{null, null_mut};

use vinesync_ffi::*;

/// Reads fields separated by 0 bytes (a C string cannot hold one).
struct Fields<'a>(std::slice::Split<'a, u8, fn(&u8) -> bool>);

impl Fields<'_> {
    fn text(&mut self) -> Option<CString> {
        self.0.next().and_then(|f| CString::new(f).ok())
    }
    fn number(&mut self) -> u64 {
        self.0
            .next()
            .map(|f| {
                f.iter()
                    .fold(0u64, |n, b| n.wrapping_mul(31).wrapping_add(u64::from(*b)))
            })
            .unwrap_or(0)
    }
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(null(), |s| s.as_ptr())
}

fn is_zero(b: &u8) -> bool {
    *b == 0
}

/// One input.
pub fn run(data: &[u8]) {
    let mut f = Fields(data.split(is_zero as fn(&u8) -> bool));
    let (prefix, nodes, ca, user, password) = (f.text(), f.text(), f.text(), f.text(), f.text());
    let (id, name, ns, member) = (f.text(), f.text(), f.text(), f.text());
    let (ttl, wait, leader_ttl, timeout) = (f.number(), f.number(), f.number(), f.number());
    unsafe {
        let mut err = null_mut();
        let mut options = null_mut();
        if vs_options_new(&mut options, &mut err) != vs_status::VS_OK {
            vs_error_free(&mut err);
            return;
        }
        let _ = vs_options_set_prefix(options, ptr(&prefix), &mut err);
        vs_error_free(&mut err);
        let _ = vs_options_set_nodes(options, ptr(&nodes), &mut err);
        vs_error_free(&mut err);
        let _ = vs_options_set_tls(options, ptr(&ca), ptr(&ca), null(), ptr(&name), &mut err);
        vs_error_free(&mut err);
        let _ = vs_options_set_credentials(options, ptr(&user), ptr(&password), &mut err);
        vs_error_free(&mut err);
        let _ = vs_options_set_timeouts(options, timeout, timeout, &mut err);
        vs_error_free(&mut err);
        let mut sync = null_mut();
        let status = vs_sync_new_memory(options, &mut sync, &mut err);
        vs_error_free(&mut err);
        vs_options_free(&mut options);
        if status != vs_status::VS_OK {
            // Bad options: fall back to defaults so the calls below run.
            if vs_sync_new_memory(null(), &mut sync, null_mut()) != vs_status::VS_OK {
                return;
            }
        }
        let mut guard = null_mut();
        if vs_try_lock(sync, ptr(&id), ttl, null(), &mut guard, &mut err) == vs_status::VS_OK {
            let _ = vs_guard_fencing_token(guard);
            let _ = vs_guard_is_lost(guard);
            // Held: a second lock on the same handle waits; bound it.
            let _ = vs_lock(
                sync,
                ptr(&id),
                ttl,
                1 + wait % 5,
                null(),
                null_mut(),
                null_mut(),
            );
        }
        vs_error_free(&mut err);
        let _ = vs_unlock(sync, ptr(&id), null(), &mut err);
        vs_error_free(&mut err);
        vs_guard_free(&mut guard);
        let mut leader = null_mut();
        if vs_leader_new(
            sync,
            ptr(&name),
            ptr(&ns),
            ptr(&member),
            leader_ttl,
            null(),
            &mut leader,
            &mut err,
        ) == vs_status::VS_OK
        {
            let _ = vs_leader_resign(leader, null(), null_mut());
        }
        vs_error_free(&mut err);
        vs_leader_free(&mut leader);
        let mut list = null_mut();
        if vs_list_members(sync, ptr(&ns), null(), &mut list, &mut err) == vs_status::VS_OK {
            for i in 0..vs_member_list_len(list) + 1 {
                let _ = vs_member_list_get(list, i);
            }
        }
        vs_error_free(&mut err);
        vs_member_list_free(&mut list);
        vs_sync_free(&mut sync);
    }
}
