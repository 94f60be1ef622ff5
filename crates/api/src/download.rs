//! Track downloads streamed: `GET /api/positions` and the exports of `GET /api/vehicles/{id}/track` are
//! written page by page while the client takes them, never whole in memory.
//!
//! A month at 1 Hz is 2.6 million points, 600 MB of JSON: a whole answer built in memory cost about a
//! gigabyte of server memory per request. Here a download holds one read page of the store and one write
//! buffer ([`FLUSH_BYTES`]); the HTTP body is pulled as the socket drains, so a slow client slows the read
//! instead of growing a buffer. At most `[web] max_concurrent_exports` downloads stream at once
//! ([`Downloads::admit`]); one more is refused with 429 and `Retry-After`, in the API's error contract.
//!
//! Before the first byte the points are counted ([`tianshu_store::Backend::track_count`]) and the look is
//! audited with that count: when the audit log cannot be written the request fails whole, as any other.
//! Once the headers have left, a failure cannot change the status: the body then ends with an error (the
//! connection is cut without the closing chunk) so that no client takes a truncated file for a complete
//! one, and the break is counted (`tianshu_api_downloads_broken_total{action}`).
//!
//! A document that reads the track more than once (GeoJSON writes the times, the speeds and then the
//! coordinates) checks that every read handed out the same points as the count announced; a point stored
//! into the range meanwhile breaks the download rather than misalign its arrays.

use std::sync::Arc;

use axum::body::Body;
use futures::StreamExt;
use tianshu_model::{Position, Timestamp, VehicleId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};

/// A write buffer is handed to the socket once it holds this much.
pub const FLUSH_BYTES: usize = 64 * 1024;

/// Seconds a refused download is told to wait before asking again.
const RETRY_AFTER_SECS: u64 = 5;

/// The bound on downloads streaming at once.
pub struct Downloads {
    slots: Arc<Semaphore>,
}

impl Downloads {
    /// At most `max` downloads at once (at least one).
    pub fn new(max: usize) -> Self {
        Downloads {
            slots: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// A place for one more download, held until its body ends; 429 when every place is taken.
    pub fn admit(&self) -> ApiResult<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::TooMany(
                RETRY_AFTER_SECS,
                "too many downloads at once; try again in a few seconds".into(),
            )
        })
    }
}

/// A document written from a track, point by point, in one or more reads of it.
pub trait Document: Send + 'static {
    /// How many times the track is read; each read is a pass.
    fn passes(&self) -> usize {
        1
    }

    /// Writes what comes before the points of `pass` (the head of the document before the first).
    fn open(&mut self, pass: usize, out: &mut String);

    /// Writes point number `index` (from 0) of `pass`.
    fn point(&mut self, pass: usize, index: u64, p: &Position, out: &mut String);

    /// Writes what ends the document, after the last pass.
    fn close(&mut self, out: &mut String);
}

/// Writes `points` whole with `doc`: what a download streams, for the tests and small documents.
pub fn render_all(mut doc: impl Document, points: &[Position]) -> String {
    let mut out = String::new();
    for pass in 0..doc.passes() {
        doc.open(pass, &mut out);
        for (i, p) in points.iter().enumerate() {
            doc.point(pass, i as u64, p, &mut out);
        }
    }
    doc.close(&mut out);
    out
}

/// Why a download ended before its document did.
#[derive(Debug, thiserror::Error)]
pub enum Broken {
    /// The store failed part way.
    #[error("{0}")]
    Store(#[from] tianshu_store::Error),
    /// A later read of the track did not hand out what the first announced.
    #[error("the track changed while it was downloaded; download it again")]
    Changed,
}

/// Which track a download reads.
#[derive(Debug, Clone, Copy)]
pub struct TrackRange {
    /// The vehicle (already checked against the caller's scope).
    pub vehicle: VehicleId,
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// The points counted before the first byte (audited, and stated by some documents).
    pub count: u64,
}

/// Where a download is.
struct Progress<D> {
    state: ApiState,
    range: TrackRange,
    /// For the broken-download counter (`positions`, `export.csv`...).
    action: String,
    doc: D,
    /// The place among the concurrent downloads; given back as soon as the last byte is written.
    permit: Option<OwnedSemaphorePermit>,
    /// The pass being read, and its points.
    pass: usize,
    rows: Option<tianshu_store::TrackStream>,
    index: u64,
    /// A digest of the (fix time, hash) keys of this pass and of the first.
    digest: u64,
    first: Option<(u64, u64)>,
    buf: String,
    done: bool,
}

/// Mixes one point's identity into a pass's digest (FNV-1a over the key's two words).
fn mix(digest: u64, p: &Position) -> u64 {
    let prime = 0x0000_0100_0000_01b3u64;
    let d = (digest ^ p.fix_time.0 as u64).wrapping_mul(prime);
    (d ^ p.block_hash() as u64).wrapping_mul(prime)
}

impl<D: Document> Progress<D> {
    /// The next piece of the body: a full buffer, the end of the document, or why it broke.
    async fn next(&mut self) -> Option<Result<String, Broken>> {
        if self.done {
            return None;
        }
        match self.fill().await {
            Ok(()) => Some(Ok(std::mem::replace(
                &mut self.buf,
                String::with_capacity(FLUSH_BYTES + 4096),
            ))),
            Err(e) => {
                self.done = true;
                self.permit = None;
                crate::metrics::metrics()
                    .downloads_broken
                    .with_label_values(&[&self.action])
                    .inc();
                tracing::warn!(action = %self.action, vehicle = self.range.vehicle.0, error = %e,
                    "download broken after its headers were sent");
                Some(Err(e))
            }
        }
    }

    /// Writes into the buffer until it holds [`FLUSH_BYTES`] or the document is finished.
    async fn fill(&mut self) -> Result<(), Broken> {
        let r = self.range;
        while self.buf.len() < FLUSH_BYTES {
            let Some(rows) = self.rows.as_mut() else {
                if self.pass == self.doc.passes() {
                    self.doc.close(&mut self.buf);
                    self.done = true;
                    self.permit = None;
                    return Ok(());
                }
                self.doc.open(self.pass, &mut self.buf);
                self.rows = Some(self.state.store().track(r.vehicle, r.from, r.to).await?);
                (self.index, self.digest) = (0, 0xcbf2_9ce4_8422_2325);
                continue;
            };
            match rows.next().await {
                Some(p) => {
                    let p = p?;
                    self.doc.point(self.pass, self.index, &p, &mut self.buf);
                    self.index += 1;
                    self.digest = mix(self.digest, &p);
                }
                None => {
                    self.rows = None;
                    self.pass += 1;
                    self.end_of_pass()?;
                }
            }
        }
        Ok(())
    }

    /// A document read more than once must get the same points each time, as many as it announced.
    fn end_of_pass(&mut self) -> Result<(), Broken> {
        if self.doc.passes() == 1 {
            return Ok(());
        }
        let seen = (self.index, self.digest);
        match self.first {
            None if seen.0 != self.range.count => Err(Broken::Changed),
            None => {
                self.first = Some(seen);
                Ok(())
            }
            Some(first) if first != seen => Err(Broken::Changed),
            Some(_) => Ok(()),
        }
    }
}

/// The body of a download: `doc` written from the points of `range` as the client takes them, holding
/// `permit` until its end.
pub fn body<D: Document>(
    state: &ApiState,
    range: TrackRange,
    action: &str,
    doc: D,
    permit: OwnedSemaphorePermit,
) -> Body {
    let progress = Progress {
        state: state.clone(),
        range,
        action: action.to_string(),
        doc,
        permit: Some(permit),
        pass: 0,
        rows: None,
        index: 0,
        digest: 0,
        first: None,
        buf: String::with_capacity(FLUSH_BYTES + 4096),
        done: false,
    };
    let stream = futures::stream::unfold(progress, |mut p| async move {
        let piece = p.next().await?;
        Some((piece, p))
    });
    Body::from_stream(stream)
}
