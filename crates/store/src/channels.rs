//! Alert channels an administrator adds beside the configured ones (the API), read by the alerts
//! runtime's routing and its deliverer. A write checks the fields (`tianshu_rules::channels`: a bad one
//! is [`Error::Invalid`] naming it) against the units registered and the names taken (the stored
//! channels' and the `reserved` ones of the configuration: [`Error::Conflict`] naming `name`), under the
//! registry's lock, and moves the reference stamp so the running rules reload their routing; the API
//! commits it with its audit record ([`Change::audited`]).
//!
//! Written once over [`crate::sql::Tx`]; reached through [`crate::Store::channels`].

use std::collections::HashSet;
use tianshu_model::Timestamp;

use tianshu_model::UnitId;
use tianshu_rules::Severity;
use tianshu_rules::channels::ChannelRefusal;
pub use tianshu_rules::channels::{Channel, ChannelFields, ChannelKind, WebhookFormat};

use crate::db::{Change, Db};
use crate::registry::{REGISTRY_LOCK_KEY, returned_id};
use crate::sql::{Row, Tx, Value, params, work};
use crate::stamp::next_stamp;
use crate::{Error, Result, Store};

const COLS: &str = "id, name, kind, url, format, address, units, min_severity, enabled";

fn corrupt(what: &str, v: &str) -> Error {
    Error::Corrupt(format!("alert channel {what} {v:?}"))
}

fn to_channel(r: &Row) -> Result<Channel> {
    let (kind, format, units, severity) = (r.text(2)?, r.text(4)?, r.text(6)?, r.text(7)?);
    Ok(Channel {
        id: r.int(0)?,
        fields: ChannelFields {
            name: r.text(1)?,
            kind: ChannelKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            url: r.opt_text(3)?,
            format: WebhookFormat::parse(&format).ok_or_else(|| corrupt("format", &format))?,
            address: r.opt_text(5)?,
            units: serde_json::from_str::<Vec<i64>>(&units)
                .map_err(|_| corrupt("units", &units))?
                .into_iter()
                .map(UnitId)
                .collect(),
            min_severity: Severity::parse(&severity).ok_or_else(|| corrupt("severity", &severity))?,
            enabled: r.bool(8)?,
        },
    })
}

/// The unit ids of a channel as stored.
fn units_json(f: &ChannelFields) -> String {
    serde_json::to_string(&f.units.iter().map(|u| u.0).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

/// Checks `f` against the store; `id` is the channel being replaced.
async fn checked(
    tx: &mut dyn Tx,
    f: &ChannelFields,
    id: Option<i64>,
    reserved: &[String],
) -> Result<ChannelFields> {
    tx.lock(REGISTRY_LOCK_KEY).await?;
    let mut units = HashSet::new();
    for r in tx.query("SELECT id FROM units", &[]).await? {
        units.insert(r.int(0)?);
    }
    let mut names = Vec::new();
    for r in tx.query("SELECT id, name FROM alert_channels", &[]).await? {
        if Some(r.int(0)?) != id {
            names.push(r.text(1)?);
        }
    }
    let taken = |n: &str| names.iter().chain(reserved).any(|t| t == n);
    f.checked(|u| units.contains(&u.0), taken)
        .map_err(|refusal| match refusal {
            ChannelRefusal::NameTaken(reason) => Error::Conflict(reason),
            ChannelRefusal::Invalid(reason) => Error::Invalid { line: None, reason },
        })
}

/// A channel's columns after `id`, in the order of the INSERT and the UPDATE.
fn row_values(f: &ChannelFields) -> Vec<Value> {
    params![
        &f.name,
        f.kind.as_str(),
        f.url.clone(),
        f.format.as_str(),
        f.address.clone(),
        units_json(f),
        f.min_severity.as_str(),
        f.enabled
    ]
    .to_vec()
}

async fn create(tx: &mut dyn Tx, f: ChannelFields, reserved: Vec<String>) -> Result<Channel> {
    let f = checked(tx, &f, None, &reserved).await?;
    let sql = "INSERT INTO alert_channels (name, kind, url, format, address, units, min_severity, enabled) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    let id = returned_id(tx, sql, &row_values(&f)).await?;
    next_stamp(tx, Timestamp::now()).await?;
    Ok(Channel { id, fields: f })
}

async fn replace(tx: &mut dyn Tx, id: i64, f: ChannelFields, reserved: Vec<String>) -> Result<Channel> {
    let f = checked(tx, &f, Some(id), &reserved).await?;
    let n = tx
        .execute(
            "UPDATE alert_channels SET name = $1, kind = $2, url = $3, format = $4, address = $5, units = $6, \
             min_severity = $7, enabled = $8 WHERE id = $9",
            &[row_values(&f).as_slice(), params![id]].concat(),
        )
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!("channel {id}")));
    }
    next_stamp(tx, Timestamp::now()).await?;
    Ok(Channel { id, fields: f })
}

async fn delete(tx: &mut dyn Tx, id: i64) -> Result<Channel> {
    tx.lock(REGISTRY_LOCK_KEY).await?;
    let sql = format!("SELECT {COLS} FROM alert_channels WHERE id = $1");
    let row = tx
        .opt(&sql, params![id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("channel {id}")))?;
    let channel = to_channel(&row)?;
    tx.execute("DELETE FROM alert_channels WHERE id = $1", params![id])
        .await?;
    next_stamp(tx, Timestamp::now()).await?;
    Ok(channel)
}

/// The stored alert channels of a store.
pub struct Channels<'a> {
    db: &'a Db,
}

impl<'a> Channels<'a> {
    /// Every stored channel, by name.
    pub async fn list(&self) -> Result<Vec<Channel>> {
        let sql = format!("SELECT {COLS} FROM alert_channels ORDER BY name, id");
        self.db.rows(sql, Vec::new(), to_channel).await
    }

    /// One stored channel.
    pub async fn get(&self, id: i64) -> Result<Option<Channel>> {
        let sql = format!("SELECT {COLS} FROM alert_channels WHERE id = $1");
        Ok(self.db.rows(sql, vec![id.into()], to_channel).await?.pop())
    }

    /// Adds a channel; `reserved` are the names the configuration's channels hold.
    pub fn create(&self, f: &ChannelFields, reserved: &[String]) -> Change<'a, Channel> {
        let (f, reserved) = (f.clone(), reserved.to_vec());
        Change::new(self.db, work(move |tx| Box::pin(create(tx, f, reserved))))
    }

    /// Replaces a channel's fields; an unknown channel is [`Error::NotFound`].
    pub fn replace(&self, id: i64, f: &ChannelFields, reserved: &[String]) -> Change<'a, Channel> {
        let (f, reserved) = (f.clone(), reserved.to_vec());
        Change::new(self.db, work(move |tx| Box::pin(replace(tx, id, f, reserved))))
    }

    /// Deletes a channel (its deliveries still due are given up); returns what was deleted.
    pub fn delete(&self, id: i64) -> Change<'a, Channel> {
        Change::new(self.db, work(move |tx| Box::pin(delete(tx, id))))
    }
}

impl Store {
    /// The stored alert channels.
    pub fn channels(&self) -> Channels<'_> {
        Channels { db: self.db() }
    }
}
