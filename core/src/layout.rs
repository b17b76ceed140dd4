//! The two key layouts: vinesync's own (SPEC §3, the default) and vine's,
//! for fleets where vine 1.5 processes (`github.com/vine-io/plugins/sync/etcd`
//! v1.5.10) and vinesync processes share an etcd during a rolling upgrade.
//!
//! Under the vine layout the keys are exactly the ones vine's plugin derives:
//!
//! ```text
//! path.Join(prefix, replace(prefix+id, "/", "-"))/{lease:x}_{seq:x}   lock waiters
//! path.Join(prefix, "leaders", ns)/{lease:x}_{seq:x}                  candidates
//! path.Join(prefix, "primary", ns) = member id (no lease)            written when elected
//! ```
//!
//! Vine's own keys are `{dir}/{lease:x}`; etcd's `concurrency.Mutex` and
//! `Election` order every key under `{dir}/` by create revision whatever
//! its name, so the `_{seq:x}` suffix (one key per attempt) keeps both
//! sides in one queue.

use std::str::FromStr;

use crate::error::{Error, Result};

/// Where locks and candidates are kept in etcd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyLayout {
    /// vinesync's layout (SPEC §3): `{prefix}/locks/{esc(id)}/…` and
    /// `{prefix}/leaders/{esc(ns)}/…`; ids never collide.
    #[default]
    Vinesync,
    /// vine 1.5's etcd plugin's layout, so vine and vinesync processes
    /// exclude each other during a rolling migration. The prefix is vine's
    /// `Prefix` as given (vine's default is empty). See the README.
    Vine,
}

impl KeyLayout {
    /// The name `VINESYNC_LAYOUT` and the bindings use: `vinesync` or `vine`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyLayout::Vinesync => "vinesync",
            KeyLayout::Vine => "vine",
        }
    }
}

impl std::fmt::Display for KeyLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyLayout {
    type Err = Error;

    /// `vinesync` (or `default`) and `vine`; anything else is an
    /// `InvalidArgument` naming the value.
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "vinesync" | "default" => Ok(KeyLayout::Vinesync),
            "vine" => Ok(KeyLayout::Vine),
            other => Err(Error::invalid(format!(
                "key layout {other:?} is unknown: use \"vinesync\" (the default) or \"vine\""
            ))),
        }
    }
}

/// Under the vine layout, a lock id whose key would clean to something
/// outside its directory (`prefix+id` flattened to `.` or `..`, so the
/// mutex prefix is the prefix's directory or its parent): vine accepts it
/// but it breaks the key space. `InvalidArgument` naming the id.
pub(crate) fn check_vine_lock_id(layout: KeyLayout, prefix: &str, id: &str) -> Result<()> {
    // Only `.` and `..` are refused: nothing to build for a longer one.
    if layout != KeyLayout::Vine || prefix.len() + id.len() > 2 {
        return Ok(());
    }
    let flat = format!("{prefix}{id}").replace('/', "-");
    if flat == "." || flat == ".." {
        return Err(Error::invalid(format!(
            "lock id {id:?} is not allowed under the vine layout: its key would be outside the prefix's directory"
        )));
    }
    Ok(())
}

/// Under the vine layout, a namespace `.`, `..` or with a `.` or `..`
/// segment (`a/./b`, `../x`, `a/..`): Go's `path.Join` would clean it into
/// another namespace's directory or out of `leaders/`. `InvalidArgument`
/// naming `what` and the value.
pub(crate) fn check_vine_namespace(layout: KeyLayout, what: &str, ns: &str) -> Result<()> {
    if layout == KeyLayout::Vine
        && ns
            .split('/')
            .any(|segment| segment == "." || segment == "..")
    {
        return Err(Error::invalid(format!(
            "{what} {ns:?} is not allowed under the vine layout: \".\" and \"..\" segments would move it to another namespace's keys"
        )));
    }
    Ok(())
}

/// Vine's mutex prefix for lock `id`:
/// `path.Join(prefix, strings.Replace(prefix+id, "/", "-", -1))`.
pub(crate) fn vine_mutex_key(prefix: &str, id: &str) -> String {
    let flat = format!("{prefix}{id}").replace('/', "-");
    go_path_join(&[prefix, &flat])
}

/// Vine's election prefix of namespace `ns`: `path.Join(prefix, "leaders", ns)`.
pub(crate) fn vine_election_key(prefix: &str, ns: &str) -> String {
    go_path_join(&[prefix, "leaders", ns])
}

/// Vine's primary key of namespace `ns`: `path.Join(prefix, "primary", ns)`,
/// whose value is the id of the member that won last.
pub(crate) fn vine_primary_key(prefix: &str, ns: &str) -> String {
    go_path_join(&[prefix, "primary", ns])
}

/// Go's `path.Join`: the non-empty elements joined with `/`, then cleaned;
/// `""` when every element is empty.
fn go_path_join(elements: &[&str]) -> String {
    let parts: Vec<&str> = elements.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    go_path_clean(&parts.join("/"))
}

/// Go's `path.Clean`: no empty or `.` segments, `..` removes the segment
/// before it (dropped at the root, kept at the start of a relative path).
fn go_path_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if !rooted => out.push(".."),
                _ => {}
            },
            segment => out.push(segment),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vine_layout_rejects_dot_namespaces_and_ids() {
        for ns in [".", "..", "a/./b", "a/../b", "../x", "a/..", "./a", "a/."] {
            let error = check_vine_namespace(KeyLayout::Vine, "LeaderNS", ns).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidArgument);
            assert!(error.to_string().contains(&format!("{ns:?}")), "{error}");
            check_vine_namespace(KeyLayout::Vinesync, "LeaderNS", ns).unwrap();
        }
        for ns in ["a", "a.b", "..a", "a/.b", "a..", "default"] {
            check_vine_namespace(KeyLayout::Vine, "LeaderNS", ns).unwrap();
        }
        for (prefix, id) in [("", "."), ("", ".."), (".", "."), ("", "./")] {
            let result = check_vine_lock_id(KeyLayout::Vine, prefix, id);
            if format!("{prefix}{id}").replace('/', "-") == "."
                || format!("{prefix}{id}").replace('/', "-") == ".."
            {
                let error = result.unwrap_err();
                assert!(error.to_string().contains(&format!("{id:?}")), "{error}");
            } else {
                result.unwrap();
            }
            check_vine_lock_id(KeyLayout::Vinesync, prefix, id).unwrap();
        }
        check_vine_lock_id(KeyLayout::Vine, "/p", "..").unwrap();
    }

    #[test]
    fn vine_keys_match_the_plugin() {
        // The examples of issue 20, read from vine 1.5.10's plugin.
        assert_eq!(vine_mutex_key("", "lock1"), "lock1");
        assert_eq!(
            vine_mutex_key("/vine/sync", "lock1"),
            "/vine/sync/-vine-synclock1"
        );
        assert_eq!(vine_mutex_key("", "a/b"), "a-b");
        assert_eq!(vine_election_key("", "default"), "leaders/default");
        assert_eq!(vine_election_key("/p/", "ns"), "/p/leaders/ns");
        assert_eq!(vine_primary_key("", "ns"), "primary/ns");
    }

    #[test]
    fn path_join_is_gos() {
        // Cases from Go's path.Join and path.Clean tests.
        assert_eq!(go_path_join(&["", ""]), "");
        assert_eq!(go_path_join(&["a", ""]), "a");
        assert_eq!(go_path_join(&["", "b"]), "b");
        assert_eq!(go_path_join(&["/", "a"]), "/a");
        assert_eq!(go_path_join(&["a/", "b"]), "a/b");
        assert_eq!(go_path_join(&["a", "../.."]), "..");
        assert_eq!(go_path_join(&["/a", "../../b"]), "/b");
        assert_eq!(go_path_clean("abc/./../def"), "def");
        assert_eq!(go_path_clean("/../abc"), "/abc");
        assert_eq!(go_path_clean("abc/../../.."), "../..");
        assert_eq!(go_path_clean("."), ".");
    }

    #[test]
    fn layout_names() {
        assert_eq!("vine".parse::<KeyLayout>().unwrap(), KeyLayout::Vine);
        assert_eq!("default".parse::<KeyLayout>().unwrap(), KeyLayout::Vinesync);
        let err = "Vine2".parse::<KeyLayout>().unwrap_err();
        assert!(err.message().contains("\"Vine2\""), "{err}");
    }
}
