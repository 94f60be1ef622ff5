//! `tianshu audit`: reading and checking the tamper-evident audit log.
//!
//! `tianshu audit verify --store URL` walks the whole chain and either confirms it (exit 0) or names the
//! first record that no longer fits (exit 1): an edited, deleted or reordered record breaks the chain from
//! that record on. Keyed records are checked with the audit key (`TIANSHU__AUDIT__KEY`, or the key file of
//! `--config` or `TIANSHU__AUDIT__KEY_FILE`); without it they cannot be confirmed, which fails too. With
//! `--anchor FILE` every head anchored in the file must still be in the chain with the anchored hash, so a
//! chain cut short or rewritten before the last anchor fails as well.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tianshu_store::access::{ChainVerifier, parse_anchors};

use super::StoreArg;

/// `tianshu audit ...`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the chain (and, with `--anchor FILE`, its anchored heads); names the first broken record.
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
    /// The anchor file `serve` appends the chain's head to (`[audit] anchor_file`).
    #[arg(long, value_name = "FILE")]
    pub anchor: Option<PathBuf>,
    /// The configuration file, for `[audit] key_file`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
            AuditCommand::Verify(args) => verify(args).await,
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

async fn verify(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let anchors = match &args.anchor {
        None => Vec::new(),
        Some(file) => {
            let text =
                std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            parse_anchors(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        }
    };
    let (store, key) = args.store.open_audited(args.config.as_deref()).await?;
    let verifier = ChainVerifier::new(key).with_anchors(anchors);
    match store.access().verify(verifier).await? {
        Ok(s) => {
            let keyed = s.keyed_from.map_or("none keyed".to_string(), |seq| {
                format!("keyed from record {seq} on")
            });
            let anchored = match args.anchor {
                Some(_) => format!(", {} anchored heads found", s.anchors),
                None => String::new(),
            };
            println!("audit chain intact: {} records, {keyed}{anchored}", s.records);
            Ok(ExitCode::SUCCESS)
        }
        Err(b) if b.missing_key => {
            println!("audit chain not verified from record {}: {}", b.seq, b.reason);
            Ok(ExitCode::FAILURE)
        }
        Err(b) => {
            println!("audit chain broken at record {}: {}", b.seq, b.reason);
            Ok(ExitCode::FAILURE)
        }
    }
}
