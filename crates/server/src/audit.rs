//! The audit log's key and anchors while Tianshu runs: the `[audit]` section.
//!
//! The key (HMAC-SHA256 over each record's link) comes only from `TIANSHU__AUDIT__KEY` or the file named by
//! `[audit] key_file`, never from the database or the configuration file itself. With it, records are
//! keyed from the first one written on; once a record is keyed, a process without the key refuses to start
//! rather than append unkeyed records the chain would not accept.
//!
//! Anchors: every `anchor_interval_secs`, when the chain's head moved, and once more at shutdown, the head
//! (sequence number and hash) is logged and appended to `anchor_file`, where the database cannot change it.
//! `tianshu audit verify --anchor FILE` then finds a chain cut short or rewritten before the last anchor.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use tianshu_model::Timestamp;
use tianshu_store::Store;
use tianshu_store::access::{Anchor, AuditKey, ChainScheme};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The `[audit]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// File holding the key audit records are chained with (its first line, at least 32 characters, e.g.
    /// `openssl rand -hex 32`); empty for none. `TIANSHU__AUDIT__KEY` gives the key itself instead.
    #[serde(default)]
    pub key_file: String,
    /// File the chain's head is appended to, one JSON line per anchor (make it append-only, e.g.
    /// `chattr +a`, or ship it off the host); empty: the head goes to the log only.
    #[serde(default)]
    pub anchor_file: String,
    /// Seconds between anchors; one is written only when the head moved since the last, and at shutdown.
    #[serde(default = "default_anchor_interval_secs")]
    pub anchor_interval_secs: u64,
}

const fn default_anchor_interval_secs() -> u64 {
    300
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            key_file: String::new(),
            anchor_file: String::new(),
            anchor_interval_secs: default_anchor_interval_secs(),
        }
    }
}

impl AuditConfig {
    /// What `serve` runs the audit log with: the key is the text of the `audit.key` secret, if set.
    pub fn options(&self, key_text: Option<&str>) -> anyhow::Result<AuditOptions> {
        Ok(AuditOptions {
            key: key(key_text)?,
            anchor_file: (!self.anchor_file.is_empty()).then(|| PathBuf::from(&self.anchor_file)),
            anchor_interval: Duration::from_secs(self.anchor_interval_secs.max(1)),
        })
    }
}

/// The audit key whose text is the `audit.key` secret (`TIANSHU__AUDIT__KEY` or `[audit] key_file`),
/// if one is set.
pub fn key(text: Option<&str>) -> anyhow::Result<Option<AuditKey>> {
    match text.map(AuditKey::from_text) {
        None => Ok(None),
        Some(Ok(key)) => Ok(Some(key)),
        Some(Err(e)) => bail!("audit.key: {e}"),
    }
}

/// How the running server keeps its audit log.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The key records are chained with; unkeyed without.
    pub key: Option<AuditKey>,
    /// Where anchors are appended; the log only without.
    pub anchor_file: Option<PathBuf>,
    /// Between anchors.
    pub anchor_interval: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            key: None,
            anchor_file: None,
            anchor_interval: Duration::from_secs(default_anchor_interval_secs()),
        }
    }
}

/// Before anything is served: a keyed chain and no key is refused (every audited request would fail); a
/// key that does not check the newest keyed record, or no key at all, is warned about.
pub async fn check_key(store: &Store, key: Option<&AuditKey>) -> anyhow::Result<()> {
    let access = store.access();
    match (access.audit_head().await?, key) {
        (Some((seq, _, ChainScheme::HmacSha256)), None) => bail!(
            "the audit log is keyed (record {seq} is hmac-sha256) and no audit key is configured: set \
             TIANSHU__AUDIT__KEY or [audit] key_file"
        ),
        (Some((seq, _, ChainScheme::HmacSha256)), Some(key)) => {
            let newest = access.audit(seq - 1, 1).await?;
            if newest.iter().any(|r| r.link(Some(key)).as_ref() != Some(&r.hash)) {
                warn!(
                    seq,
                    "the audit key does not check the newest audit record: another key, or the record was \
                     altered; run `tianshu audit verify`"
                );
            }
        }
        (_, None) => warn!(
            "audit records are not keyed: set TIANSHU__AUDIT__KEY or [audit] key_file so that whoever can \
             write the database cannot rewrite them"
        ),
        (_, Some(_)) => {}
    }
    Ok(())
}

/// The anchoring task: periodic anchors until [`Anchoring::finish`], which writes the last one.
pub struct Anchoring {
    /// Ends the periodic anchors.
    stop: CancellationToken,
    /// The task, which writes a last anchor when stopped.
    task: JoinHandle<()>,
}

impl Anchoring {
    /// Starts anchoring `store`'s chain as `opts` say.
    pub fn spawn(store: Store, opts: &AuditOptions) -> Anchoring {
        let stop = CancellationToken::new();
        let (file, interval) = (opts.anchor_file.clone(), opts.anchor_interval);
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut last = None;
            let mut ticks = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    _ = stopped.cancelled() => break,
                    _ = ticks.tick() => anchor(&store, file.as_ref(), &mut last, false).await,
                }
            }
            anchor(&store, file.as_ref(), &mut last, true).await;
        });
        Anchoring { stop, task }
    }

    /// Writes the last anchor (after the last audited request) and ends the task.
    pub async fn finish(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "the audit anchoring task failed");
        }
    }
}

/// Anchors the head when it moved since `last` (or `always`): a log line, and a line of `file`.
async fn anchor(store: &Store, file: Option<&PathBuf>, last: &mut Option<(i64, String)>, always: bool) {
    let (seq, hash) = match store.access().audit_head().await {
        Ok(Some((seq, hash, _))) => (seq, hash),
        Ok(None) => return,
        Err(e) => return warn!(error = %e, "reading the audit chain's head to anchor it failed"),
    };
    if !always && last.as_ref().is_some_and(|(s, h)| *s == seq && *h == hash) {
        return;
    }
    let anchor = Anchor {
        anchored: Timestamp::from_millis(chrono::Utc::now().timestamp_millis()),
        seq,
        hash,
    };
    info!(seq, hash = %anchor.hash, "audit chain head anchored");
    if let Some(path) = file
        && let Err(e) = append(path, &anchor.line()).await
    {
        warn!(file = %path.display(), error = %e, "appending to the audit anchor file failed");
        return;
    }
    *last = Some((anchor.seq, anchor.hash));
}

/// Appends `line` to `path` and waits until it is on disk.
async fn append(path: &PathBuf, line: &str) -> std::io::Result<()> {
    let mut f = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .await?;
    f.write_all(line.as_bytes()).await?;
    f.sync_data().await
}
