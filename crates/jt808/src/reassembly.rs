//! Subpackage reassembly: a pure state machine with time passed in.
//!
//! Parts are keyed by (phone, message id) and ordered by their packet index; their serials are not
//! consecutive (a real 0x0104 pair arrives as 0x04D1 then 0x04E2), so serials are never used to order.
//! Everything is capped: parts per message, bytes per message, messages in flight, and age. When the
//! table of messages in flight is full the oldest is evicted and counted. [`Reassembler::missing`] and
//! [`Reassembler::expire`] name the packet indexes still missing, which is what a 0x8003 asks for.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use tianshu_model::{Phone, Timestamp};

use crate::{Frame, Header};

/// Limits on what reassembly holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Most parts one message may have; a larger `total` is refused before anything is allocated.
    pub max_parts: u16,
    /// Most body bytes one message may gather.
    pub max_message_bytes: usize,
    /// Most messages in flight; when full, the oldest is evicted.
    pub max_pending: usize,
    /// How long a partial message waits for its missing parts, milliseconds.
    pub max_age_ms: i64,
}

impl Default for ReassemblyLimits {
    /// 1024 parts, 1 MiB per message, 64 messages in flight, 5 minutes (as SmallChi).
    fn default() -> Self {
        ReassemblyLimits {
            max_parts: 1024,
            max_message_bytes: 1 << 20,
            max_pending: 64,
            max_age_ms: 300_000,
        }
    }
}

/// Why a part was refused (the message it belonged to, if any, is dropped with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// The frame is not a part (no subpackage fields).
    #[error("frame is not subpackaged")]
    NotSubpackaged,
    /// Index 0 or above the total.
    #[error("packet index {index} outside 1..={total}")]
    IndexOutOfRange {
        /// Index received.
        index: u16,
        /// Total declared.
        total: u16,
    },
    /// More parts than the limit.
    #[error("{total} parts exceed the limit of {max}")]
    TooManyParts {
        /// Total declared.
        total: u16,
        /// Limit.
        max: u16,
    },
    /// More bytes than the limit.
    #[error("message grew past {max} bytes")]
    TooManyBytes {
        /// Limit.
        max: usize,
    },
}

/// A message whose parts are all in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// The first part's header, with the subpackage fields removed.
    pub header: Header,
    /// The whole body, parts joined in index order.
    pub body: Bytes,
}

/// A partial message: what is known and what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// The terminal.
    pub phone: Phone,
    /// The message id.
    pub msg_id: u16,
    /// Serial of part 1 when it arrived (a 0x8003 names it), otherwise estimated from another part's
    /// serial and index, which holds when the terminal numbered the parts consecutively.
    pub first_serial: u16,
    /// Whether `first_serial` was seen rather than estimated.
    pub first_serial_known: bool,
    /// Total parts.
    pub total: u16,
    /// Indexes (from 1) not yet received, ascending.
    pub missing: Vec<u16>,
}

#[derive(Debug)]
struct Pending {
    header: Header,
    total: u16,
    first_serial: Option<u16>,
    /// Some part's (serial, index), to estimate the first serial.
    any_serial: (u16, u16),
    parts: Vec<Option<Bytes>>,
    received: u16,
    bytes: usize,
    started: Timestamp,
}

impl Pending {
    fn partial(&self, key: (Phone, u16)) -> Partial {
        let estimated = self.any_serial.0.wrapping_sub(self.any_serial.1.wrapping_sub(1));
        Partial {
            phone: key.0,
            msg_id: key.1,
            first_serial: self.first_serial.unwrap_or(estimated),
            first_serial_known: self.first_serial.is_some(),
            total: self.total,
            missing: (1..=self.total)
                .filter(|i| self.parts[usize::from(*i) - 1].is_none())
                .collect(),
        }
    }
}

/// Joins subpackaged messages. Plain data without locks: keep one per connection (or per shard).
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Partial messages by (phone, message id).
    pending: HashMap<(Phone, u16), Pending>,
    /// The caps.
    limits: ReassemblyLimits,
    /// Partial messages dropped because the table was full.
    evicted: u64,
    /// Partial messages dropped because they grew too old.
    expired: u64,
}

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            pending: HashMap::new(),
            limits,
            evicted: 0,
            expired: 0,
        }
    }

    /// Partial messages dropped because the table was full.
    pub const fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Partial messages dropped because they grew too old.
    pub const fn expired(&self) -> u64 {
        self.expired
    }

    /// Messages in flight.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds one part received at `now`. Returns the whole message when this part completes it.
    pub fn push(&mut self, frame: &Frame, now: Timestamp) -> Result<Option<Reassembled>, ReassemblyError> {
        self.push_part(&frame.header, frame.body.clone(), now)
    }

    /// As [`Reassembler::push`], from a header and the part's body.
    pub fn push_part(
        &mut self,
        header: &Header,
        body: Bytes,
        now: Timestamp,
    ) -> Result<Option<Reassembled>, ReassemblyError> {
        let Some(sub) = header.subpackage else {
            return Err(ReassemblyError::NotSubpackaged);
        };
        let key = (header.phone, header.msg_id);
        if sub.index == 0 || sub.index > sub.total {
            return Err(ReassemblyError::IndexOutOfRange {
                index: sub.index,
                total: sub.total,
            });
        }
        if sub.total > self.limits.max_parts {
            self.pending.remove(&key);
            return Err(ReassemblyError::TooManyParts {
                total: sub.total,
                max: self.limits.max_parts,
            });
        }
        // A different total means the terminal started over: drop what was gathered.
        if self
            .pending
            .get(&key)
            .is_some_and(|p| p.total != sub.total || self.too_old(p, now))
        {
            self.pending.remove(&key);
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= self.limits.max_pending {
            self.evict_oldest();
        }
        let limits = self.limits;
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            header: Header {
                subpackage: None,
                ..*header
            },
            total: sub.total,
            first_serial: None,
            any_serial: (header.serial, sub.index),
            parts: vec![None; usize::from(sub.total)],
            received: 0,
            bytes: 0,
            started: now,
        });
        if sub.index == 1 {
            p.first_serial = Some(header.serial);
            p.header = Header {
                subpackage: None,
                ..*header
            };
        }
        let slot = &mut p.parts[usize::from(sub.index) - 1];
        let old_len = slot.as_ref().map_or(0, Bytes::len);
        if slot.is_none() {
            p.received += 1;
        }
        p.bytes = p.bytes - old_len + body.len();
        *slot = Some(body);
        if p.bytes > limits.max_message_bytes {
            self.pending.remove(&key);
            return Err(ReassemblyError::TooManyBytes {
                max: limits.max_message_bytes,
            });
        }
        if p.received < p.total {
            return Ok(None);
        }
        let Some(p) = self.pending.remove(&key) else {
            return Ok(None);
        };
        let mut body = BytesMut::with_capacity(p.bytes);
        for part in p.parts.iter().flatten() {
            body.extend_from_slice(part);
        }
        let mut header = p.header;
        header.attributes.0 &= !crate::BodyAttributes::SUBPACKAGE;
        Ok(Some(Reassembled {
            header,
            body: body.freeze(),
        }))
    }

    fn too_old(&self, p: &Pending, now: Timestamp) -> bool {
        now.millis() - p.started.millis() > self.limits.max_age_ms
    }

    fn evict_oldest(&mut self) {
        if let Some(key) = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.started)
            .map(|(k, _)| *k)
        {
            self.pending.remove(&key);
            self.evicted += 1;
        }
    }

    /// What is still missing of the message `(phone, msg_id)`, if one is in flight.
    pub fn missing(&self, phone: Phone, msg_id: u16) -> Option<Partial> {
        self.pending
            .get(&(phone, msg_id))
            .map(|p| p.partial((phone, msg_id)))
    }

    /// Every message in flight older than `older_than_ms` at `now` (to ask for its missing parts).
    pub fn overdue(&self, now: Timestamp, older_than_ms: i64) -> Vec<Partial> {
        let mut v: Vec<Partial> = self
            .pending
            .iter()
            .filter(|(_, p)| now.millis() - p.started.millis() > older_than_ms)
            .map(|(k, p)| p.partial(*k))
            .collect();
        v.sort_by_key(|p| (p.phone, p.msg_id));
        v
    }

    /// Drops every message older than the age limit at `now` and returns what each was missing.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Partial> {
        let max_age_ms = self.limits.max_age_ms;
        let expired = self.overdue(now, max_age_ms);
        for p in &expired {
            self.pending.remove(&(p.phone, p.msg_id));
        }
        self.expired += expired.len() as u64;
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Subpackage;
    use tianshu_model::Edition;

    fn part(index: u16, total: u16, serial: u16, body: &'static [u8]) -> (Header, Bytes) {
        let mut h = Header::new(0x0104, Phone(11_275_400_381), serial, Edition::V2013);
        h.subpackage = Some(Subpackage { total, index });
        (h, Bytes::from_static(body))
    }

    #[test]
    fn joins_by_index_whatever_the_serials_and_order() {
        let mut r = Reassembler::default();
        let t = Timestamp::from_secs(1000);
        let (h3, b3) = part(3, 3, 0x04f0, b"ghi");
        let (h1, b1) = part(1, 3, 0x04d1, b"abc");
        let (h2, b2) = part(2, 3, 0x04e2, b"def");
        assert_eq!(r.push_part(&h3, b3, t), Ok(None));
        assert_eq!(r.push_part(&h1, b1, t), Ok(None));
        let m = r.missing(h1.phone, 0x0104).unwrap();
        assert_eq!(
            (m.first_serial, m.first_serial_known, m.missing),
            (0x04d1, true, vec![2])
        );
        let done = r.push_part(&h2, b2, t).unwrap().unwrap();
        assert_eq!(&done.body[..], b"abcdefghi");
        assert_eq!(done.header.serial, 0x04d1);
        assert_eq!(done.header.subpackage, None);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn encoded_parts_reassemble_to_the_body() {
        let body: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let header = Header::new(0x0801, Phone(13_800_138_000), 0xfffe, Edition::V2019);
        let mut out = bytes::BytesMut::new();
        assert_eq!(crate::encode_parts(&header, &body, 1023, &mut out), Ok(3));
        let mut decoder = crate::FrameDecoder::default();
        let mut r = Reassembler::default();
        let mut done = None;
        let mut serials = Vec::new();
        while let Some(frame) = decoder.decode(&mut out).expect("decodes") {
            serials.push(frame.header.serial);
            done = r.push(&frame, Timestamp::from_secs(0)).expect("accepted");
        }
        let done = done.expect("complete");
        assert_eq!(&done.body[..], &body[..]);
        assert_eq!(serials, vec![0xfffe, 0xffff, 0]);
        assert_eq!(done.header.serial, 0xfffe);
        assert!(crate::encode_parts(&header, &body, 1024, &mut out).is_err());
    }

    #[test]
    fn caps_and_expiry() {
        let limits = ReassemblyLimits {
            max_parts: 4,
            max_message_bytes: 5,
            max_pending: 1,
            max_age_ms: 10_000,
        };
        let mut r = Reassembler::new(limits);
        let t = Timestamp::from_secs(0);
        let (h, b) = part(1, 5, 1, b"x");
        assert_eq!(
            r.push_part(&h, b, t),
            Err(ReassemblyError::TooManyParts { total: 5, max: 4 })
        );
        let (h, b) = part(5, 4, 1, b"x");
        assert!(matches!(
            r.push_part(&h, b, t),
            Err(ReassemblyError::IndexOutOfRange { .. })
        ));
        let (h, b) = part(1, 2, 1, b"abcdef");
        assert_eq!(
            r.push_part(&h, b, t),
            Err(ReassemblyError::TooManyBytes { max: 5 })
        );
        let (h, b) = part(2, 2, 7, b"ab");
        assert_eq!(r.push_part(&h, b, t), Ok(None));
        // A second message in flight evicts the first (max_pending 1).
        let (mut h2, b2) = part(1, 2, 9, b"zz");
        h2.msg_id = 0x0801;
        assert_eq!(r.push_part(&h2, b2, t), Ok(None));
        assert_eq!((r.evicted(), r.pending()), (1, 1));
        assert!(r.expire(Timestamp::from_secs(5)).is_empty());
        let gone = r.expire(Timestamp::from_secs(11));
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (gone[0].msg_id, gone[0].missing.clone(), gone[0].first_serial),
            (0x0801, vec![2], 9)
        );
        assert_eq!((r.expired(), r.pending()), (1, 0));
    }
}
