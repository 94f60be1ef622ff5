//! The ledger: every point the platform acknowledged, so a test can prove each one is stored once.
//!
//! An entry is written only when the 0x8001 answering the frame that carried the point arrives with
//! result 0. Entries go to memory (bounded: past the cap they are counted, not kept) and, when a path
//! is given, to a JSON Lines file.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tianshu_model::{Phone, Position, PositionSource, Timestamp};

/// One acknowledged point: its identity in the store is (vehicle of `phone`, `fix_time`, `block_hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The terminal that sent it.
    pub phone: Phone,
    /// The fix time (whole seconds: the protocol carries no more).
    pub fix_time: Timestamp,
    /// [`Position::block_hash`] of the point.
    pub block_hash: i64,
    /// Live report or blind-area backfill.
    pub source: PositionSource,
}

impl LedgerEntry {
    /// The entry for a point.
    pub fn of(p: &Position) -> Self {
        LedgerEntry {
            phone: p.phone,
            fix_time: p.fix_time,
            block_hash: p.block_hash(),
            source: p.source,
        }
    }
}

/// Why the ledger file failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be created or written.
    #[error("ledger file: {0}")]
    Io(#[from] std::io::Error),
}

struct Inner {
    entries: Vec<LedgerEntry>,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

/// The acknowledged points of a fleet.
pub struct Ledger {
    inner: Mutex<Inner>,
    max_in_memory: usize,
    recorded: AtomicU64,
    not_kept: AtomicU64,
    file_errors: AtomicU64,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("recorded", &self.recorded())
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// A ledger keeping at most `max_in_memory` entries in memory, and writing every entry to `path`
    /// (truncated first) when given.
    pub fn new(max_in_memory: usize, path: Option<&Path>) -> Result<Self, LedgerError> {
        let file = match path {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        Ok(Ledger {
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                file,
            }),
            max_in_memory,
            recorded: AtomicU64::new(0),
            not_kept: AtomicU64::new(0),
            file_errors: AtomicU64::new(0),
        })
    }

    /// Records points the platform acknowledged.
    pub fn record(&self, points: &[LedgerEntry]) {
        if points.is_empty() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.max_in_memory.saturating_sub(inner.entries.len());
        let kept = room.min(points.len());
        inner.entries.extend_from_slice(&points[..kept]);
        if kept < points.len() {
            self.not_kept
                .fetch_add((points.len() - kept) as u64, Ordering::Relaxed);
        }
        if let Some(file) = inner.file.as_mut() {
            for p in points {
                let ok = serde_json::to_writer(&mut *file, p).is_ok() && file.write_all(b"\n").is_ok();
                if !ok {
                    self.file_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.recorded.fetch_add(points.len() as u64, Ordering::Relaxed);
    }

    /// A copy of the entries kept in memory, in acknowledgement order.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .clone()
    }

    /// How many points were acknowledged in all.
    pub fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }

    /// How many acknowledged points were not kept in memory because the cap was reached.
    pub fn not_kept(&self) -> u64 {
        self.not_kept.load(Ordering::Relaxed)
    }

    /// How many entries could not be written to the file.
    pub fn file_errors(&self) -> u64 {
        self.file_errors.load(Ordering::Relaxed)
    }

    /// Flushes the file, if any.
    pub fn flush(&self) -> Result<(), LedgerError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = inner.file.as_mut() {
            f.flush()?;
        }
        Ok(())
    }

    /// Reads a ledger file back.
    pub fn read_file(path: &Path) -> Result<Vec<LedgerEntry>, LedgerError> {
        let text = std::fs::read_to_string(path)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| LedgerError::Io(std::io::Error::other(e))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_capped_and_the_file_gets_everything() {
        let path = std::env::temp_dir().join(format!("tianshu-ledger-{}.jsonl", std::process::id()));
        let l = Ledger::new(2, Some(&path)).unwrap();
        let e = |s| LedgerEntry {
            phone: Phone(1),
            fix_time: Timestamp::from_secs(s),
            block_hash: s,
            source: PositionSource::Live,
        };
        l.record(&[e(1), e(2), e(3)]);
        assert_eq!(l.entries(), vec![e(1), e(2)]);
        assert_eq!((l.recorded(), l.not_kept()), (3, 1));
        l.flush().unwrap();
        assert_eq!(Ledger::read_file(&path).unwrap(), vec![e(1), e(2), e(3)]);
        std::fs::remove_file(&path).ok();
    }
}
