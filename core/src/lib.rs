//! # vinesync
//!
//! Distributed locks and leader election with the names of the vine
//! framework's `Sync` interface, on **etcd** (recipes written client side
//! on KV, Txn, Watch and Lease) or on an in-process **memory** store.
//!
//! The rules every backend keeps are those of the project's `SPEC.md`
//! (exclusion, FIFO handoff without a thundering herd, fencing tokens, lost
//! signals, cancel safety, one primary per namespace, ...).
//!
//! ## The seed's lock example
//!
//! One handle takes `lock1`; a second task on the same handle waits for it
//! (locks are held by the handle, not reentrant); `unlock` hands it over.
//!
//! ```
//! use std::time::Duration;
//! use vinesync::{Client, LockOptions, Options};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> vinesync::Result<()> {
//! let s = Client::memory(Options::new().prefix("/doc/lock"))?; // or Client::etcd(options).await?
//! // take the lock
//! s.lock("lock1", LockOptions::new().ttl(Duration::from_secs(3))).await?.detach();
//! let s2 = s.clone();
//! let waiter = tokio::spawn(async move {
//!     let guard = s2.lock("lock1", LockOptions::new().ttl(Duration::from_secs(3))).await?;
//!     println!("Locked (fencing token {})", guard.fencing_token());
//!     guard.unlock().await
//! });
//! // release the lock
//! s.unlock("lock1").await?;
//! println!("lock1 released");
//! waiter.await.expect("waiter task")?;
//! # Ok(())
//! # }
//! ```
//!
//! ## The seed's election example
//!
//! ```
//! use vinesync::{Client, LeaderOptions, MemberOptions, Options};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> vinesync::Result<()> {
//! let s = Client::memory(Options::new().prefix("/doc/election"))?;
//! let id = uuid::Uuid::new_v4().to_string();
//! // new leader
//! let role1 = s
//!     .leader("leader", LeaderOptions::new().namespace("default").id(id.as_str()).ttl(std::time::Duration::from_secs(3)))
//!     .await?;
//! // list all election members
//! for m in s.list_members(MemberOptions::new().namespace("default")).await? {
//!     println!("{m}");
//! }
//! // the member resigns
//! role1.resign().await?;
//! # Ok(())
//! # }
//! ```

// The crate README's example, compiled as a doc test (`no_run`: it needs
// an etcd).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadme;

mod backend;
mod client;
mod clock;
mod error;
mod etcd;
mod fasthash;
mod feed;
mod first_poll;
mod guard;
mod held_table;
// What the C library and the Python module set up in their runtime threads;
// not part of the crate's API.
#[cfg(all(unix, feature = "host-hooks"))]
#[doc(hidden)]
pub mod host;
#[cfg(feature = "test-util")]
mod inject;
mod inspect;
mod key_names;
pub mod keys;
mod layout;
mod leader;
mod lock_dirs;
mod lock_progress;
mod member;
mod memory;
mod mutex;
mod options;
#[doc(hidden)]
pub mod per_process;
mod queue;
mod session;
mod store;
mod vine_primary;

pub use client::Client;
#[cfg(feature = "test-util")]
pub use client::Faults;
pub use error::{Error, ErrorKind, Result};
pub use feed::{ElectWatcher, Observer};
pub use guard::LockGuard;
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub use inject::Injected;
pub use inspect::{LockEntry, LockInfo};
pub use layout::KeyLayout;
pub use leader::{Leader, StatusStream};
pub use member::{ElectEvent, ElectEventKind, Member, ObserveResult, Role};
pub use memory::MemoryStore;
pub use options::{
    Credentials, LeaderOptions, LockOptions, MemberOptions, Options, TlsOptions, WatchOptions,
    DEFAULT_LEADER_TTL, DEFAULT_LOCK_TTL, DEFAULT_NAMESPACE, DEFAULT_NODE, DEFAULT_PREFIX,
    MAX_ID_LEN, MAX_TTL, MIN_TTL,
};
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub use store::KeyValue;

/// The etcd client crate, for the operations of [`LockGuard::txn`].
pub use etcd_client;

/// The crate version, as the C header's version macros give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
