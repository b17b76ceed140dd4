//! Election data types, named as in vine: `Member`, `Role`, `ObserveResult`,
//! plus the event `watch_elect` delivers.

use std::fmt;

use crate::keys::MemberValue;

/// A candidate's role (vine's `sync.Role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The elected candidate: lowest create revision in its namespace.
    Primary,
    /// Any other live candidate.
    Follow,
}

impl Role {
    /// `"primary"` or `"follow"`, as vine spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Follow => "follow",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One candidate of an election (vine's `sync.Member`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Member {
    /// The election name the candidate gave to `leader` (for candidates
    /// written by other tools: their raw value).
    pub leader: String,
    /// The candidate's id (`LeaderId`).
    pub id: String,
    /// The namespace (`LeaderNS`).
    pub namespace: String,
    /// Primary or follow, at the time of reading.
    pub role: Role,
}

impl Member {
    pub(crate) fn from_value(value: MemberValue, role: Role) -> Self {
        Member {
            leader: value.leader,
            id: value.id,
            namespace: value.namespace,
            role,
        }
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{leader: {}, id: {}, namespace: {}, role: {}}}",
            self.leader, self.id, self.namespace, self.role
        )
    }
}

/// What `observe` yields when the primary of a namespace changes
/// (vine's `sync.ObserveResult`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ObserveResult {
    /// The namespace.
    pub namespace: String,
    /// The id of the new primary.
    pub id: String,
}

/// What happened to a member, in a [`ElectEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElectEventKind {
    /// A candidate joined the namespace.
    Joined,
    /// A candidate left (resigned, lease expired, deleted).
    Left,
    /// The member became the primary.
    Elected,
}

impl ElectEventKind {
    /// `"joined"`, `"left"` or `"elected"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ElectEventKind::Joined => "joined",
            ElectEventKind::Left => "left",
            ElectEventKind::Elected => "elected",
        }
    }
}

/// One election event (SPEC E8): the member and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ElectEvent {
    /// What happened.
    pub kind: ElectEventKind,
    /// The member it happened to, with its role right after the event.
    pub member: Member,
    /// The store revision of the change.
    pub revision: i64,
}
