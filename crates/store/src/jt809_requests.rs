//! Requests between JT/T 809 platforms that wait for a person (migration 0520, both backends), written
//! once over [`crate::sql::Tx`]: platform checks (平台查岗) and supervision requests (报警督办) received
//! from an upper platform and answered here, and those sent to a lower platform with its answer.
//!
//! The table is also the links' queue: a received request's answer is sent by its link when the link is
//! up (`owed`, then `mark_sent`), a request made here goes down when its peer is logged in. A request
//! received twice (a retransmission) is stored once, by (direction, kind, peer, reference).

use serde::Serialize;
use tianshu_model::Timestamp;

use crate::db::{Change, Db};
use crate::sql::{Row, Tx, params, tx};
use crate::{Error, Result, Store};

/// A request came from an upper platform (`Received`) or went to a lower one (`Sent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From an upper platform, answered here.
    Received,
    /// To a lower platform, answered there.
    Sent,
}

impl Direction {
    /// Its stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Received => "received",
            Direction::Sent => "sent",
        }
    }

    fn parse(s: &str) -> Result<Direction> {
        match s {
            "received" => Ok(Direction::Received),
            "sent" => Ok(Direction::Sent),
            other => Err(Error::Corrupt(format!("jt809 request direction {other:?}"))),
        }
    }
}

/// A platform check (`check`) or a supervision request (`supervision`).
pub const KINDS: [&str; 2] = ["check", "supervision"];

/// One request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformRequest {
    /// Its number here.
    pub id: i64,
    /// Received from an upper platform or sent to a lower one.
    pub direction: Direction,
    /// `check` or `supervision`.
    pub kind: String,
    /// The peer's configured name.
    pub peer: String,
    /// INFO_ID (a check) or SUPERVISION_ID.
    pub ref_id: i64,
    /// MSG_SN of the frame that carried it.
    pub msg_sn: i64,
    /// OBJECT_TYPE of a check.
    pub object_type: i64,
    /// OBJECT_ID of a check.
    pub object_id: String,
    /// The car a supervision is about.
    pub plate: Option<String>,
    /// The question asked, or what is supervised.
    pub question: String,
    /// When it was received or made.
    pub created: Timestamp,
    /// When its answer is due.
    pub deadline: Timestamp,
    /// The answer: an operator's text, or a supervision's result.
    pub answer: Option<String>,
    /// When it was answered.
    pub answered: Option<Timestamp>,
    /// Who answered (a user here, the peer's responder there).
    pub answered_by: Option<String>,
    /// WARN_TYPE of a supervised alarm.
    pub warn_type: Option<i64>,
    /// When the supervised alarm happened.
    pub warn_time: Option<Timestamp>,
    /// The alert case a supervision is about, once known.
    pub case_id: Option<String>,
    /// When the answer (received) or the request (sent) went on the wire.
    pub sent: Option<Timestamp>,
}

/// A request before it is stored (its id, answer and sending come later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// Received or sent.
    pub direction: Direction,
    /// `check` or `supervision`.
    pub kind: &'static str,
    /// The peer's configured name.
    pub peer: String,
    /// INFO_ID or SUPERVISION_ID; for a sent request `None`: its id here is used.
    pub ref_id: Option<i64>,
    /// MSG_SN of its frame (a sent one: its reference).
    pub msg_sn: i64,
    /// OBJECT_TYPE.
    pub object_type: i64,
    /// OBJECT_ID.
    pub object_id: String,
    /// The car of a supervision.
    pub plate: Option<String>,
    /// The question or what is supervised.
    pub question: String,
    /// Received or made at.
    pub created: Timestamp,
    /// Due at.
    pub deadline: Timestamp,
    /// WARN_TYPE of a supervision.
    pub warn_type: Option<i64>,
    /// When the supervised alarm happened.
    pub warn_time: Option<Timestamp>,
    /// The case a supervision is about.
    pub case_id: Option<String>,
}

const COLS: &str = "id, direction, kind, peer, ref_id, msg_sn, object_type, object_id, plate, question, \
                    created_ms, deadline_ms, answer, answered_ms, answered_by, warn_type, warn_ms, case_id, sent_ms";

fn decode(r: &Row) -> Result<PlatformRequest> {
    let time = |i| -> Result<Option<Timestamp>> { Ok(r.opt_int(i)?.map(Timestamp)) };
    Ok(PlatformRequest {
        id: r.int(0)?,
        direction: Direction::parse(&r.text(1)?)?,
        kind: r.text(2)?,
        peer: r.text(3)?,
        ref_id: r.int(4)?,
        msg_sn: r.int(5)?,
        object_type: r.int(6)?,
        object_id: r.text(7)?,
        plate: r.opt_text(8)?,
        question: r.text(9)?,
        created: Timestamp(r.int(10)?),
        deadline: Timestamp(r.int(11)?),
        answer: r.opt_text(12)?,
        answered: time(13)?,
        answered_by: r.opt_text(14)?,
        warn_type: r.opt_int(15)?,
        warn_time: time(16)?,
        case_id: r.opt_text(17)?,
        sent: time(18)?,
    })
}

async fn one(tx: &mut dyn Tx, id: i64) -> Result<PlatformRequest> {
    let sql = format!("SELECT {COLS} FROM jt809_requests WHERE id = $1");
    match tx.opt(&sql, params![id]).await? {
        Some(r) => decode(&r),
        None => Err(Error::NotFound(format!("platform request {id}"))),
    }
}

/// Stores `n`; a received request already stored (same peer, kind and reference) is returned as it is,
/// with `false`.
async fn record(tx: &mut dyn Tx, n: NewRequest) -> Result<(PlatformRequest, bool)> {
    let sql = "INSERT INTO jt809_requests (direction, kind, peer, ref_id, msg_sn, object_type, object_id, plate, \
               question, created_ms, deadline_ms, warn_type, warn_ms, case_id) \
               VALUES ($1, $2, $3, CAST($4 AS BIGINT), CAST($5 AS BIGINT), CAST($6 AS BIGINT), $7, $8, $9, \
               CAST($10 AS BIGINT), CAST($11 AS BIGINT), CAST($12 AS BIGINT), CAST($13 AS BIGINT), $14) \
               ON CONFLICT (direction, kind, peer, ref_id) DO NOTHING RETURNING id";
    let values = params![
        n.direction.as_str(),
        n.kind,
        &n.peer,
        n.ref_id.unwrap_or(0),
        n.msg_sn,
        n.object_type,
        &n.object_id,
        n.plate.clone(),
        &n.question,
        n.created,
        n.deadline,
        n.warn_type,
        n.warn_time,
        n.case_id.clone(),
    ];
    if let Some(row) = tx.opt(sql, values).await? {
        let id = row.int(0)?;
        if n.ref_id.is_none() {
            // A request made here is numbered by its id, on the wire too.
            tx.execute(
                "UPDATE jt809_requests SET ref_id = id, msg_sn = id WHERE id = $1",
                params![id],
            )
            .await?;
        }
        return Ok((one(tx, id).await?, true));
    }
    let sql = format!(
        "SELECT {COLS} FROM jt809_requests WHERE direction = $1 AND kind = $2 AND peer = $3 AND ref_id = $4"
    );
    let row = tx
        .opt(
            &sql,
            params![n.direction.as_str(), n.kind, &n.peer, n.ref_id.unwrap_or(0)],
        )
        .await?
        .ok_or_else(|| Error::Corrupt("a platform request clashed and is not there".into()))?;
    Ok((decode(&row)?, false))
}

/// An operator's answer to received request `id`: refused when it is a sent one or answered already.
async fn answer(
    tx: &mut dyn Tx,
    id: i64,
    text: String,
    by: String,
    now: Timestamp,
) -> Result<PlatformRequest> {
    let sql = format!("SELECT {COLS} FROM jt809_requests WHERE id = $1{}", tx.row_lock());
    let row = tx
        .opt(&sql, params![id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("platform request {id}")))?;
    let request = decode(&row)?;
    if request.direction != Direction::Received {
        return Err(Error::Conflict(format!(
            "platform request {id} was sent to {}: its answer comes from there",
            request.peer
        )));
    }
    if request.answered.is_some() {
        return Err(Error::Conflict(format!(
            "platform request {id} is answered already"
        )));
    }
    tx.execute(
        "UPDATE jt809_requests SET answer = $1, answered_ms = CAST($2 AS BIGINT), answered_by = $3 WHERE id = $4",
        params![text, now, by, id],
    )
    .await?;
    one(tx, id).await
}

/// The peer's answer to sent request `ref_id`; `None` when there is no such request. A later answer
/// replaces an earlier one (a supervision's result moves from handling to handled).
async fn answered_there(
    tx: &mut dyn Tx,
    kind: &'static str,
    peer: String,
    ref_id: i64,
    answer: String,
    by: String,
    now: Timestamp,
) -> Result<Option<PlatformRequest>> {
    let sql = "UPDATE jt809_requests SET answer = $1, answered_ms = CAST($2 AS BIGINT), answered_by = $3 \
               WHERE direction = 'sent' AND kind = $4 AND peer = $5 AND ref_id = CAST($6 AS BIGINT) RETURNING id";
    match tx.opt(sql, params![answer, now, by, kind, peer, ref_id]).await? {
        Some(row) => Ok(Some(one(tx, row.int(0)?).await?)),
        None => Ok(None),
    }
}

/// The platform requests in a store; reached through [`Store::platform_requests`].
#[derive(Clone, Copy)]
pub struct PlatformRequests<'a> {
    db: &'a Db,
}

impl<'a> PlatformRequests<'a> {
    /// Stores a request; `false` with the stored one when it was there already.
    pub async fn record(&self, n: NewRequest) -> Result<(PlatformRequest, bool)> {
        self.db.write(tx!(|tx| record(tx, n))).await
    }

    /// Makes a request to a lower platform (its reference its id), as a change the API audits.
    pub fn make(&self, n: NewRequest) -> Change<'a, (PlatformRequest, bool)> {
        Change::new(self.db, tx!(|tx| record(tx, n)))
    }

    /// One request.
    pub async fn get(&self, id: i64) -> Result<PlatformRequest> {
        self.db.read(tx!(|tx| one(tx, id))).await
    }

    /// The newest `limit` requests, of `kind` when given, newest first.
    pub async fn list(&self, kind: Option<&str>, limit: usize) -> Result<Vec<PlatformRequest>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (filter, args) = match kind {
            Some(k) => ("WHERE kind = $2", params![limit, k].to_vec()),
            None => ("", params![limit].to_vec()),
        };
        let sql =
            format!("SELECT {COLS} FROM jt809_requests {filter} ORDER BY id DESC LIMIT CAST($1 AS BIGINT)");
        self.db.rows(sql, args, decode).await
    }

    /// Records an operator's answer to a received request, as a change the API audits.
    pub fn answer(&self, id: i64, text: &str, by: &str, now: Timestamp) -> Change<'a, PlatformRequest> {
        let (text, by) = (text.to_string(), by.to_string());
        Change::new(self.db, tx!(|tx| answer(tx, id, text, by, now)))
    }

    /// Records a lower platform's answer to a request sent to it; `None` when none has that reference.
    pub async fn answered_there(
        &self,
        kind: &'static str,
        peer: &str,
        ref_id: i64,
        answer: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<Option<PlatformRequest>> {
        let (peer, answer, by) = (peer.to_string(), answer.to_string(), by.to_string());
        self.db
            .write(tx!(|tx| answered_there(tx, kind, peer, ref_id, answer, by, now)))
            .await
    }

    /// What `peer`'s link owes the wire, oldest first: the answers to its received requests not yet
    /// sent (`Received`), or the requests to it not yet sent (`Sent`).
    pub async fn owed(&self, direction: Direction, peer: &str) -> Result<Vec<PlatformRequest>> {
        let answered = match direction {
            Direction::Received => "AND answered_ms IS NOT NULL",
            Direction::Sent => "",
        };
        let sql = format!(
            "SELECT {COLS} FROM jt809_requests WHERE peer = $1 AND direction = $2 AND sent_ms IS NULL {answered} \
             ORDER BY id"
        );
        self.db
            .rows(sql, params![peer, direction.as_str()].to_vec(), decode)
            .await
    }

    /// The received supervision requests from `peer` still unanswered that name a case here.
    pub async fn supervising_cases(&self, peer: &str) -> Result<Vec<PlatformRequest>> {
        let sql = format!(
            "SELECT {COLS} FROM jt809_requests WHERE peer = $1 AND direction = 'received' AND kind = 'supervision' \
             AND answered_ms IS NULL AND case_id IS NOT NULL ORDER BY id"
        );
        self.db.rows(sql, params![peer].to_vec(), decode).await
    }

    /// Records that request `id`'s answer (received) or the request itself (sent) went on the wire.
    pub async fn mark_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.db
            .execute(
                "UPDATE jt809_requests SET sent_ms = CAST($1 AS BIGINT) WHERE id = $2",
                params![now, id].to_vec(),
            )
            .await?;
        Ok(())
    }
}

impl Store {
    /// The platform checks and supervision requests in this store.
    pub fn platform_requests(&self) -> PlatformRequests<'_> {
        PlatformRequests { db: self.db() }
    }
}
