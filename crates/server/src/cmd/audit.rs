//! `tianshu audit`: reading and checking the tamper-evident audit log.
//!
//! `tianshu audit verify --store URL` walks the whole hash chain and either confirms it (exit 0) or
//! names the first record that no longer fits (exit 1): an edited, deleted or reordered record breaks
//! the chain from that record on.

use std::process::ExitCode;

use tianshu_store::access::verify_stored_chain;

use super::StoreArg;

/// `tianshu audit ...`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; names the first broken record.
    Verify(AuditArgs),
    /// Print the records as JSON lines.
    List(ListArgs),
}

/// Arguments of `tianshu audit verify`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
}

/// Arguments of `tianshu audit list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The store (`--store URL`).
    #[command(flatten)]
    pub store: StoreArg,
    /// Only records after this sequence number.
    #[arg(long, default_value_t = 0)]
    pub after: i64,
}

/// Runs `tianshu audit ...`.
pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    super::block_on(async move {
        match command {
            AuditCommand::Verify(args) => {
                let store = args.store.open().await?;
                match verify_stored_chain(store.access()).await? {
                    Ok(n) => {
                        println!("audit chain intact: {n} records");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(b) => {
                        println!("audit chain broken at record {}: {}", b.seq, b.reason);
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
            AuditCommand::List(args) => {
                let store = args.store.open().await?;
                let mut after = args.after;
                loop {
                    let page = store.access().audit(after, 5_000).await?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    for r in &page {
                        println!("{}", serde_json::to_string(r)?);
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
