//! `vinesync elect NAME [--ns NS] [--id ID] [--ttl D] [--once] -- CMD...`

use std::time::Duration;

use vinesync::{Client, ErrorKind, Leader, LeaderOptions};

use crate::args::{Connection, ElectArgs};
use crate::connect;
use crate::exit::{self, Failure};
use crate::interrupts::Interrupts;
use crate::output::shown;
use crate::signal_name;
use crate::supervise::{self, Ended, Role};

impl Role for Leader {
    fn holds(&self) -> bool {
        self.is_primary()
    }

    async fn lost(&self) {
        let mut status = self.status();
        // `true` reports the election we already waited for; anything
        // else (demotion, end of the candidacy) is the loss.
        while status.next().await == Some(true) {}
    }
}

pub async fn run(connection: &Connection, args: &ElectArgs) -> Result<u8, Failure> {
    let mut interrupts = Interrupts::catch()
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot catch signals: {e}")))?;
    let client = connect::client_unless_interrupted(connection, &mut interrupts).await?;
    let outcome = campaign(&client, args, &mut interrupts).await;
    let what = format!("the candidacy in {:?}", args.ns);
    connect::close(&client, &outcome, &what, &mut interrupts).await?;
    outcome
}

async fn campaign(
    client: &Client,
    args: &ElectArgs,
    interrupts: &mut Interrupts,
) -> Result<u8, Failure> {
    let name = args.name.as_deref().unwrap_or_default();
    // The core rounds up to whole seconds, so the role never lives shorter
    // than asked.
    let ttl = args.ttl;
    // The same id on every term, so `members` shows one candidate.
    let mut id = args.id.clone();
    loop {
        let mut options = LeaderOptions::new().namespace(args.ns.as_str()).ttl(ttl);
        if let Some(id) = &id {
            options = options.id(id.as_str());
        }
        let leader = join(client, name, options, args, interrupts).await?;
        id.get_or_insert_with(|| leader.id().to_string());
        note!(
            "vinesync: campaigning in {:?} as {:?}",
            args.ns,
            leader.id()
        );
        tokio::select! {
            elected = leader.wait_elected() => {
                if let Err(error) = elected {
                    if args.once {
                        return Err(error.into());
                    }
                    // Not at once: a campaign that fails on a healthy etcd
                    // (a permission, say) would write and delete a key as
                    // fast as etcd answers.
                    note!("vinesync: {error}; campaigning again in {RETRY_AFTER_A_FAILURE:?}");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_AFTER_A_FAILURE) => {}
                        signal = interrupts.next() => return Err(interrupted(signal)),
                    }
                    continue;
                }
            }
            signal = interrupts.next() => {
                let what = format!("the candidacy in {:?}", args.ns);
                interrupts.unless_again(&what, leader.resign()).await??;
                return Err(interrupted(signal));
            }
        }
        note!("vinesync: primary in {:?} as {:?}", args.ns, leader.id());
        let what = format!("primary role in {:?}", args.ns);
        let ended = if args.cmd.is_empty() {
            hold(&leader, interrupts).await
        } else {
            let env = [
                ("VINESYNC_LEADER_KEY", leader.key().to_string()),
                ("VINESYNC_LEADER_ID", leader.id().to_string()),
                ("VINESYNC_FENCING_TOKEN", leader.fencing_token().to_string()),
            ];
            supervise::run(
                &args.cmd,
                &env,
                &leader,
                &what,
                args.ttl,
                args.stopping,
                interrupts,
            )
            .await?
        };
        let lost = match ended {
            Ended::Exited(code) => {
                let _ = interrupts.unless_again(&what, leader.resign()).await?;
                return Ok(code);
            }
            Ended::Lost(_) if args.cmd.is_empty() => format!("{what} was lost"),
            Ended::Lost(code) => format!("{what} was lost; CMD was stopped (its status: {code})"),
        };
        // Best effort (a lost candidacy has no key left to delete) and in
        // the background: with etcd down it would wait out the request
        // timeout before the exit or the next campaign.
        tokio::spawn(async move { leader.resign().await });
        if args.once {
            return Err(Failure::new(exit::LOST, lost));
        }
        note!("vinesync: {lost}; campaigning again");
    }
}

/// The pause before campaigning again after a campaign failed.
const RETRY_AFTER_A_FAILURE: Duration = Duration::from_secs(1);

fn interrupted(signal: libc::c_int) -> Failure {
    Failure::new(
        exit::INTERRUPTED,
        format!("{} while campaigning", signal_name::name(signal)),
    )
}

/// Joins the election. Without `--once`, an etcd that cannot be reached
/// (an outage longer than the lease) is waited out, trying again with
/// backoff until a signal: the role is campaigned for again, as it is
/// after any loss.
async fn join(
    client: &Client,
    name: &str,
    options: LeaderOptions,
    args: &ElectArgs,
    interrupts: &mut Interrupts,
) -> Result<Leader, Failure> {
    let mut delay = Duration::from_millis(100);
    loop {
        let joined = tokio::select! {
            joined = client.leader(name, options.clone()) => joined,
            signal = interrupts.next() => return Err(interrupted(signal)),
        };
        match joined {
            Err(error) if !args.once && error.kind() == ErrorKind::Unavailable => {
                note!("vinesync: {error}; campaigning again in {delay:?}");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    signal = interrupts.next() => return Err(interrupted(signal)),
                }
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            joined => return Ok(joined?),
        }
    }
}

/// No CMD: say "primary" and hold the role until interrupted or demoted.
async fn hold(leader: &Leader, interrupts: &mut Interrupts) -> Ended {
    out!("primary {}", shown(leader.id()));
    tokio::select! {
        _ = Role::lost(leader) => {
            out!("demoted {}", shown(leader.id()));
            Ended::Lost(0)
        }
        _ = interrupts.next() => Ended::Exited(0),
    }
}
