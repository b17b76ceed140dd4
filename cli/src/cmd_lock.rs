//! `vinesync lock NAME [--ttl D] [--wait D] [--try] -- CMD...`

use vinesync::{Client, LockGuard, LockOptions};

use crate::args::{Connection, LockArgs};
use crate::connect;
use crate::exit::{self, Failure};
use crate::interrupts::Interrupts;
use crate::signal_name;
use crate::supervise::{self, Ended, Role};

impl Role for LockGuard {
    fn holds(&self) -> bool {
        !self.is_lost()
    }

    async fn lost(&self) {
        LockGuard::lost(self).await;
    }
}

pub async fn run(connection: &Connection, args: &LockArgs) -> Result<u8, Failure> {
    let mut interrupts = Interrupts::catch()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot catch signals: {e}")))?;
    let client = connect::client_unless_interrupted(connection, &mut interrupts).await?;
    let outcome = locked(&client, args, &mut interrupts).await;
    // Revokes the lease: whatever happened above, no key of ours is left.
    let what = format!("lock {:?}", args.name);
    connect::close(&client, &outcome, &what, &mut interrupts).await?;
    outcome
}

async fn locked(
    client: &Client,
    args: &LockArgs,
    interrupts: &mut Interrupts,
) -> Result<u8, Failure> {
    let mut options = LockOptions::new().ttl(args.ttl);
    if let Some(wait) = args.wait {
        options = options.wait(wait);
    }
    let acquire = async {
        if args.try_only {
            client.try_lock(&args.name, options).await
        } else {
            client.lock(&args.name, options).await
        }
    };
    let guard = tokio::select! {
        guard = acquire => guard?,
        signal = interrupts.next() => {
            return Err(Failure::new(
                exit::INTERRUPTED,
                format!("{} while waiting for lock {:?}", signal_name::name(signal), args.name),
            ));
        }
    };
    if args.cmd.is_empty() {
        return hold(guard, interrupts).await;
    }
    let token = guard.fencing_token().to_string();
    let env = [
        ("VINESYNC_LOCK_KEY", guard.key().to_string()),
        ("VINESYNC_FENCING_TOKEN", token.clone()),
        ("ETCD_LOCK_KEY", guard.key().to_string()),
        ("ETCD_LOCK_REV", token),
    ];
    let what = format!("lock {:?}", args.name);
    let ended = supervise::run(
        &args.cmd,
        &env,
        &guard,
        &what,
        args.ttl,
        args.stopping,
        interrupts,
    )
    .await?;
    match ended {
        Ended::Lost(code) => Err(Failure::new(
            exit::LOST,
            format!("{what} was lost while CMD ran; CMD was stopped (its status: {code})"),
        )),
        Ended::Exited(code) => match interrupts.unless_again(&what, guard.unlock()).await? {
            Ok(()) => Ok(code),
            Err(error) if error.kind() == vinesync::ErrorKind::Lost => Err(Failure::new(
                exit::LOST,
                format!("{what} was lost before CMD exited (its status: {code}): {error}"),
            )),
            Err(error) => {
                // CMD is done; the lease is revoked on close, so the lock goes anyway.
                note!("vinesync: releasing {what} failed: {error}");
                Ok(code)
            }
        },
    }
}

/// No CMD: print the key and the token, hold until interrupted or lost.
async fn hold(guard: LockGuard, interrupts: &mut Interrupts) -> Result<u8, Failure> {
    out!("VINESYNC_LOCK_KEY={}", guard.key());
    out!("VINESYNC_FENCING_TOKEN={}", guard.fencing_token());
    tokio::select! {
        _ = guard.lost() => Err(Failure::new(
            exit::LOST,
            format!("lock {:?} was lost", guard.id()),
        )),
        _ = interrupts.next() => {
            let what = format!("lock {:?}", guard.id());
            interrupts.unless_again(&what, guard.unlock()).await??;
            Ok(0)
        }
    }
}
