//! Points in and out of PostgreSQL as bytes: the binary COPY stream a commit sends (`vehicle, fix_time,
//! block_hash, rec`) and the one a replay reads (`fix_time, rec`), parsed chunk by chunk without a row object
//! per point, and `timestamptz` as Unix milliseconds without calendar types.

use chrono::{DateTime, Utc};
use tianshu_model::record::{REC_RECV_AT, recv_time_bytes};
use tianshu_model::{Position, Timestamp};
use tokio_postgres::types::{FromSql, Type};

use crate::record::{REC_FIXED, decode_rec, encode_rec};
use crate::{Error, Result};

/// Instants PostgreSQL's `timestamptz` holds (about 4300 BC to 255,000 AD); a range bound beyond
/// them (say `i64::MAX` for "until the end") is clamped rather than wrapped.
pub(super) const PG_MIN_MILLIS: i64 = -200_000_000_000_000;
pub(super) const PG_MAX_MILLIS: i64 = 8_000_000_000_000_000;

/// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix milliseconds.
const PG_EPOCH_MILLIS: i64 = 946_684_800_000;

pub(crate) fn to_datetime(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t.0.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS)).unwrap_or_default()
}

/// A Unix millisecond instant as the microseconds since 2000 of binary `timestamptz`.
pub(super) fn to_pg_micros(ms: i64) -> i64 {
    (ms.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS) - PG_EPOCH_MILLIS) * 1000
}

/// A `timestamptz` read straight from its binary form, as Unix milliseconds (no calendar types).
pub(super) struct PgMillis(pub(super) i64);

impl<'a> FromSql<'a> for PgMillis {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let micros = i64::from_be_bytes(raw.try_into()?);
        Ok(PgMillis(micros.div_euclid(1000).saturating_add(PG_EPOCH_MILLIS)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// A row of `points` or `latest_positions` read as `vehicle, fix_time, rec`.
pub(super) fn row_to_position(r: &tokio_postgres::Row) -> Result<Position> {
    let get_err = |e: tokio_postgres::Error| Error::Corrupt(format!("points row: {e}"));
    let vehicle: i64 = r.try_get(0).map_err(get_err)?;
    let fix_time: PgMillis = r.try_get(1).map_err(get_err)?;
    let rec: &[u8] = r.try_get(2).map_err(get_err)?;
    decode_rec(vehicle, fix_time.0, rec)
}

/// The packed record's receive time (the 8 bytes at `REC_RECV_AT`) compared with `t`, `op` being a
/// comparison operator: a condition on `rec` for statements that take no parameters (COPY).
pub(super) fn rec_received(op: &str, t: Timestamp) -> String {
    let hex: String = recv_time_bytes(t).iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "substring(rec FROM {} FOR 8) {op} '\\x{hex}'::bytea",
        REC_RECV_AT + 1
    )
}

/// A `timestamptz` expression for a Unix millisecond instant (exact: whole milliseconds).
pub(super) fn timestamptz_literal(ms: i64) -> String {
    format!("(timestamptz 'epoch' + {ms}::bigint * interval '1 millisecond')")
}

/// Parses a binary COPY stream of `fix_time, rec` rows of one vehicle (or `vehicle, fix_time, rec` rows
/// of many) into positions, chunk by chunk (a row may straddle two chunks).
pub(super) struct CopyParser {
    /// The one vehicle of every row; `None`: each row starts with its vehicle.
    vehicle: Option<i64>,
    /// Bytes of an incomplete row (or header) carried to the next chunk.
    pending: Vec<u8>,
    header_done: bool,
    trailer_seen: bool,
}

/// The fixed part of a binary COPY header: signature, flags, extension length.
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

impl CopyParser {
    /// A parser of one vehicle's `fix_time, rec` rows.
    pub(super) fn new(vehicle: i64) -> Self {
        CopyParser::with_vehicle(Some(vehicle))
    }

    /// A parser of `vehicle, fix_time, rec` rows.
    pub(super) fn of_many() -> Self {
        CopyParser::with_vehicle(None)
    }

    fn with_vehicle(vehicle: Option<i64>) -> Self {
        CopyParser {
            vehicle,
            pending: Vec::new(),
            header_done: false,
            trailer_seen: false,
        }
    }

    pub(super) fn feed(&mut self, chunk: &[u8], out: &mut Vec<Result<Position>>) {
        if self.pending.is_empty() {
            let used = self.parse(chunk, out);
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            self.pending.extend_from_slice(chunk);
            let buf = std::mem::take(&mut self.pending);
            let used = self.parse(&buf, out);
            self.pending.extend_from_slice(&buf[used..]);
        }
    }

    /// Parses every complete row of `buf`; returns the bytes used.
    fn parse(&mut self, buf: &[u8], out: &mut Vec<Result<Position>>) -> usize {
        let mut at = 0;
        if !self.header_done {
            let fixed = COPY_SIGNATURE.len() + 8;
            if buf.len() < fixed {
                return 0;
            }
            if &buf[..COPY_SIGNATURE.len()] != COPY_SIGNATURE {
                out.push(Err(Error::Corrupt("track: not a binary COPY stream".into())));
                self.trailer_seen = true;
                return buf.len();
            }
            let ext = i32::from_be_bytes([buf[fixed - 4], buf[fixed - 3], buf[fixed - 2], buf[fixed - 1]]);
            let ext = usize::try_from(ext).unwrap_or(0);
            if buf.len() < fixed + ext {
                return 0;
            }
            at = fixed + ext;
            self.header_done = true;
        }
        while !self.trailer_seen {
            let rest = &buf[at..];
            if rest.len() < 2 {
                break;
            }
            let fields = i16::from_be_bytes([rest[0], rest[1]]);
            if fields == -1 {
                self.trailer_seen = true;
                at += 2;
                break;
            }
            // fields (2) [+ vehicle (4 + 8)] + fix_time (4 + 8) + rec length (4)
            let (lead, expected_fields) = match self.vehicle {
                Some(_) => (0, 2),
                None => (12, 3),
            };
            let head = 18 + lead;
            if rest.len() < head {
                break;
            }
            let be32 = |i: usize| i32::from_be_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
            let be64 = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[i..i + 8]);
                i64::from_be_bytes(b)
            };
            let vehicle = match self.vehicle {
                Some(v) => v,
                None if be32(2) == 8 => be64(6),
                None => {
                    out.push(Err(Error::Corrupt("track: COPY row without its vehicle".into())));
                    self.trailer_seen = true;
                    return buf.len();
                }
            };
            let time_len = be32(2 + lead);
            let rec_len = be32(14 + lead);
            let Ok(rec_len) = usize::try_from(rec_len) else {
                out.push(Err(Error::Corrupt("track: null record".into())));
                self.trailer_seen = true;
                return buf.len();
            };
            if fields != expected_fields || time_len != 8 {
                out.push(Err(Error::Corrupt(format!(
                    "track: COPY row of {fields} fields, time of {time_len} bytes"
                ))));
                self.trailer_seen = true;
                return buf.len();
            }
            if rest.len() < head + rec_len {
                break;
            }
            let fix_time = be64(6 + lead).div_euclid(1000) + PG_EPOCH_MILLIS;
            out.push(decode_rec(vehicle, fix_time, &rest[head..head + rec_len]));
            at += head + rec_len;
        }
        at
    }

    /// The error, if the stream ended before its trailer.
    pub(super) fn finish(&mut self) -> Vec<Result<Position>> {
        if self.trailer_seen {
            Vec::new()
        } else {
            self.trailer_seen = true;
            vec![Err(Error::Unavailable(
                "track: the COPY stream ended early".into(),
            ))]
        }
    }
}

/// One point of a batch on its way in: its key, and where it was in the batch.
pub(super) struct Staged {
    pub(super) vehicle: i64,
    pub(super) fix_time: i64,
    pub(super) block_hash: i64,
    /// Index of the point in the batch.
    pub(super) at: usize,
}

/// The binary COPY stream of `rows` (`COLUMNS` order), built in one buffer.
pub(super) fn copy_buffer(points: &[Position], rows: &[Staged]) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + rows.len() * (2 + 12 * 3 + 4 + REC_FIXED + 20) + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for r in rows {
        out.extend_from_slice(&4i16.to_be_bytes());
        for v in [r.vehicle, to_pg_micros(r.fix_time), r.block_hash] {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&v.to_be_bytes());
        }
        let len_at = out.len();
        out.extend_from_slice(&0i32.to_be_bytes());
        encode_rec(&points[r.at], &mut out);
        let len = (out.len() - len_at - 4) as i32;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use tianshu_model::{Phone, VehicleId};

    use super::*;

    /// A point of vehicle 7 whose record's length follows its phone number's.
    fn point(secs: i64, phone: u128) -> Position {
        Position {
            vehicle: VehicleId(7),
            phone: Phone(phone),
            fix_time: Timestamp::from_secs(1_793_491_200 + secs),
            mileage_dkm: Some(secs as u32),
            ..Default::default()
        }
    }

    /// The binary COPY-out stream of `points`: `fix_time, rec` rows, or `vehicle, fix_time, rec` rows.
    fn copy_out(points: &[Position], with_vehicle: bool) -> Vec<u8> {
        let mut stream = b"PGCOPY\n\xff\r\n\0".to_vec();
        stream.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        for p in points {
            let mut fields = vec![to_pg_micros(p.fix_time.0)];
            if with_vehicle {
                fields.insert(0, p.vehicle.0);
            }
            stream.extend_from_slice(&(fields.len() as i16 + 1).to_be_bytes());
            for v in fields {
                stream.extend_from_slice(&8i32.to_be_bytes());
                stream.extend_from_slice(&v.to_be_bytes());
            }
            let mut rec = Vec::new();
            encode_rec(p, &mut rec);
            stream.extend_from_slice(&(rec.len() as i32).to_be_bytes());
            stream.extend_from_slice(&rec);
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        stream
    }

    /// What `parser` makes of `stream` fed in chunks of `size` bytes; fails the test on an error.
    fn parse_in_chunks(mut parser: CopyParser, stream: &[u8], size: usize) -> Vec<Position> {
        let mut out = Vec::new();
        for chunk in stream.chunks(size) {
            parser.feed(chunk, &mut out);
        }
        out.extend(parser.finish());
        out.into_iter().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn copy_rows_parse_whatever_the_chunking() {
        let points = [
            point(0, 99_999_999_999_999_999_999),
            point(10, 1),
            point(20, 13_800_138_000),
        ];
        let staged: Vec<Staged> = points
            .iter()
            .enumerate()
            .map(|(at, p)| Staged {
                vehicle: 7,
                fix_time: p.fix_time.0,
                block_hash: p.block_hash(),
                at,
            })
            .collect();
        // The stream COPY out sends for `fix_time, rec`: the COPY-in buffer without the two key columns.
        let stream = copy_out(&points, false);
        assert!(copy_buffer(&points, &staged).len() > stream.len());
        for size in [1, 2, 7, 19, 64, stream.len()] {
            let got = parse_in_chunks(CopyParser::new(7), &stream, size);
            assert_eq!(got, points, "chunks of {size}");
        }
        // `vehicle, fix_time, rec` rows of several vehicles.
        let many: Vec<Position> = points
            .iter()
            .zip([3, 9, 3])
            .map(|(p, v)| Position {
                vehicle: VehicleId(v),
                ..*p
            })
            .collect();
        let stream_of_many = copy_out(&many, true);
        for size in [1, 2, 7, 19, 31, 64, stream_of_many.len()] {
            let got = parse_in_chunks(CopyParser::of_many(), &stream_of_many, size);
            assert_eq!(got, many, "chunks of {size}, many vehicles");
        }
        let mut out = Vec::new();
        CopyParser::of_many().feed(&stream, &mut out);
        assert!(
            matches!(out[..], [Err(Error::Corrupt(_)), ..]),
            "rows without their vehicle are refused"
        );
        let mut parser = CopyParser::new(7);
        let mut out = Vec::new();
        parser.feed(&stream[..stream.len() - 2], &mut out);
        assert!(
            matches!(parser.finish()[..], [Err(Error::Unavailable(_))]),
            "a stream cut short is an error"
        );
    }
}
