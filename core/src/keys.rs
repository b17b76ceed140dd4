//! The key layout (SPEC §3), in one place:
//!
//! ```text
//! {prefix}/locks/{esc(id)}/{lease:x}_{seq:x}     lock waiters, value = holder JSON
//! {prefix}/leaders/{esc(ns)}/{lease:x}_{seq:x}   candidates,  value = member JSON
//! ```
//!
//! `esc` percent-encodes `/` and `%` so an id never nests under another one.
//! Every key is written with a lease, so a crash leaves nothing behind.
//!
//! Under [`KeyLayout::Vine`] the directories are vine's instead (see
//! `layout.rs`); the own key in a directory is the same.

use serde::{Deserialize, Serialize};

use crate::layout::{vine_election_key, vine_mutex_key, KeyLayout};
use crate::options::Options;

/// Percent-encodes `%` and `/` (and nothing else), so `a/b` and `a%2Fb`
/// stay distinct and neither nests under `a`.
pub fn esc(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    push_esc(&mut out, raw);
    out
}

/// Appends `esc(raw)` to `out`.
fn push_esc(out: &mut String, raw: &str) {
    if !raw.contains(['%', '/']) {
        out.push_str(raw);
        return;
    }
    for c in raw.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
}

/// The directory of the waiters of lock `id` under the handle's options:
/// `{prefix}/locks/{esc(id)}/`, or vine's mutex prefix and `/`.
pub fn lock_dir(options: &Options, id: &str) -> String {
    match options.layout {
        KeyLayout::Vinesync => {
            // One allocation (an id with nothing to escape fits exactly).
            let prefix = options.trimmed_prefix();
            let mut dir = String::with_capacity(prefix.len() + "/locks/".len() + id.len() + 1);
            dir.push_str(prefix);
            dir.push_str("/locks/");
            push_esc(&mut dir, id);
            dir.push('/');
            dir
        }
        KeyLayout::Vine => format!("{}/", vine_mutex_key(&options.prefix, id)),
    }
}

/// The directory of the candidates of one namespace:
/// `{prefix}/leaders/{esc(ns)}/`, or vine's election prefix and `/`.
pub fn election_dir(options: &Options, namespace: &str) -> String {
    match options.layout {
        KeyLayout::Vinesync => format!("{}/leaders/{}/", options.trimmed_prefix(), esc(namespace)),
        KeyLayout::Vine => format!("{}/", vine_election_key(&options.prefix, namespace)),
    }
}

/// One key per acquisition attempt or candidacy: the lease in hex (as etcd's
/// own `concurrency` package does) and a per-handle sequence number so one
/// handle can wait for the same lock twice.
pub(crate) fn own_key(dir: &str, lease: i64, seq: u64) -> String {
    // One allocation: at most 16 hex digits each.
    let mut key = String::with_capacity(dir.len() + 33);
    key.push_str(dir);
    // `{lease:x}` of an i64 is its two's complement, as of the same bits
    // read as u64 (lease ids are positive anyway).
    push_hex(&mut key, lease as u64);
    key.push('_');
    push_hex(&mut key, seq);
    key
}

/// Appends `n` in lower-case hex, as `{n:x}` would (without the
/// formatting machinery: this runs on every acquisition).
fn push_hex(out: &mut String, n: u64) {
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b"0123456789abcdef"[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    // Hex digits are ASCII, so always UTF-8.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// The value of a lock key: who holds or waits (for operators reading etcd).
#[derive(Debug, Serialize)]
pub(crate) struct HolderInfo<'a> {
    pub host: &'a str,
    pub pid: u32,
    pub handle: &'a str,
}

/// The value of a candidate key, vine's `Member` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberValue {
    pub leader: String,
    pub id: String,
    pub namespace: String,
    #[serde(default)]
    pub role: String,
}

/// Reads a candidate value written by anyone. A value that is not our JSON
/// (e.g. written by `etcdctl elect`) becomes a member whose `leader` is the
/// raw value, whose id is the key's last segment and whose namespace is the
/// one being read — never an error (SPEC §3).
pub(crate) fn parse_member(key: &str, value: &[u8], namespace: &str) -> MemberValue {
    // Only a JSON object is ours: serde would also read a JSON array of
    // strings as the struct's fields in order (found by the fuzz target).
    let is_object = value.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object {
        if let Ok(member) = serde_json::from_slice::<MemberValue>(value) {
            return member;
        }
    }
    MemberValue {
        leader: String::from_utf8_lossy(value).into_owned(),
        id: key.rsplit('/').next().unwrap_or(key).to_string(),
        namespace: namespace.to_string(),
        role: String::new(),
    }
}

/// The member a candidate value written by anyone reads as (for the fuzz
/// target: whatever the bytes, never a panic).
#[doc(hidden)]
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub fn member_from_value(key: &str, value: &[u8], namespace: &str) -> crate::Member {
    crate::Member::from_value(parse_member(key, value, namespace), crate::Role::Follow)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn own_key_writes_what_format_writes() {
        for (lease, seq) in [
            (0, 0),
            (1, 15),
            (0x694d_1234_5678, 16),
            (i64::MAX, u64::MAX),
            (-1, 255),
        ] {
            assert_eq!(own_key("/d/", lease, seq), format!("/d/{lease:x}_{seq:x}"));
        }
    }

    #[test]
    fn esc_keeps_ids_flat() {
        assert_eq!(esc("lock1"), "lock1");
        assert_eq!(esc("a/b"), "a%2Fb");
        assert_eq!(esc("a%2Fb"), "a%252Fb");
        assert_ne!(esc("a/b"), esc("a%2Fb"));
        assert!(!esc("../../x").contains('/'));
    }

    #[test]
    fn layout() {
        let vine_sync = Options::new();
        assert_eq!(lock_dir(&vine_sync, "l/1"), "/vine/sync/locks/l%2F1/");
        let p = Options::new().prefix("/p");
        assert_eq!(election_dir(&p, "default"), "/p/leaders/default/");
        // vine's layout with vine's default (empty) prefix.
        let vine = Options::new().layout(KeyLayout::Vine).prefix("");
        assert_eq!(lock_dir(&vine, "lock1"), "lock1/");
        assert_eq!(election_dir(&vine, "ns"), "leaders/ns/");
        assert_eq!(own_key("/p/locks/x/", 255, 1), "/p/locks/x/ff_1");
    }

    #[test]
    fn foreign_values_are_members() {
        let m = parse_member("/p/leaders/ns/694d7", b"someone", "ns");
        assert_eq!(m.leader, "someone");
        assert_eq!(m.id, "694d7");
        let ours = br#"{"leader":"l","id":"i","namespace":"ns","role":""}"#;
        assert_eq!(parse_member("/k", ours, "ns").id, "i");
        // Invalid UTF-8 and JSON of another shape are still members.
        assert_eq!(parse_member("/k/x", &[0xff, 0xfe], "ns").id, "x");
        // A JSON array is not our value, even one that fits the fields.
        let array = br#"["l","i","ns"]"#;
        assert_eq!(
            parse_member("/k/x", array, "ns").leader,
            r#"["l","i","ns"]"#
        );
        assert_eq!(parse_member("/k/x", array, "ns").id, "x");
        assert_eq!(
            parse_member("/k/x", br#"{"a":1}"#, "ns").leader,
            r#"{"a":1}"#
        );
    }
}
