//! `vinesync elect NAME [--ns NS] [--id ID] [--ttl D] [--once] -- CMD...`

use vinesync::{Client, Leader, LeaderOptions};

use crate::args::{Connection, ElectArgs};
use crate::connect;
use crate::exit::{self, Failure};
use crate::interrupts::Interrupts;
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
    interrupts.unless_again(&what, client.close()).await?;
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
        let leader = client.leader(name, options).await?;
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
                    note!("vinesync: {error}; campaigning again");
                    continue;
                }
            }
            signal = interrupts.next() => {
                let what = format!("the candidacy in {:?}", args.ns);
                interrupts.unless_again(&what, leader.resign()).await??;
                return Err(Failure::new(
                    exit::INTERRUPTED,
                    format!("{} while campaigning", signal_name::name(signal)),
                ));
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
        // Best effort: a lost candidacy has no key left to delete.
        let _ = interrupts.unless_again(&what, leader.resign()).await?;
        match ended {
            Ended::Exited(code) => return Ok(code),
            Ended::Lost(code) if args.once => {
                return Err(Failure::new(
                    exit::LOST,
                    format!("{what} was lost; CMD was stopped (its status: {code})"),
                ))
            }
            Ended::Lost(code) => {
                note!("vinesync: {what} was lost; CMD was stopped (its status: {code}); campaigning again");
            }
        }
    }
}

/// No CMD: say "primary" and hold the role until interrupted or demoted.
async fn hold(leader: &Leader, interrupts: &mut Interrupts) -> Ended {
    out!("primary {}", leader.id());
    tokio::select! {
        _ = Role::lost(leader) => {
            out!("demoted {}", leader.id());
            Ended::Lost(0)
        }
        _ = interrupts.next() => Ended::Exited(0),
    }
}
