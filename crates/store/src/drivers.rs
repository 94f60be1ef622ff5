//! The drivers' registry: who drives each unit's cars, edited one record at a time by administrators
//! (the API). A write checks the fields (`tianshu_model::driver`), the unit named (unknown:
//! [`Error::Invalid`] naming `unit`) and the certificate (another driver's: [`Error::Conflict`]), under
//! the registry's lock; the API commits it with its audit record ([`Change::audited`]). A unit with
//! drivers cannot be deleted (`registry_admin`). A driver file is imported in one transaction: each
//! row creates the driver or updates the one holding its certificate (so a re-import changes nothing),
//! and a bad row (an unknown unit, a certificate or field refused) names its line and nothing is kept.
//!
//! Written once over [`crate::sql::Tx`]; reached through [`crate::Store::drivers`].

use tianshu_model::UnitId;
use tianshu_model::carpool::LicenceClass;
pub use tianshu_model::driver::{Driver, DriverFields, DriverRecord};
use tianshu_model::fuel::RowError;

use crate::db::{Change, Db};
use crate::registry::{REGISTRY_LOCK_KEY, returned_id};
use crate::sql::{Row, Tx, params, work};
use crate::{Error, Result, Store};

pub(crate) const COLS: &str = "id, name, certificate, phone, unit, licence, active";

pub(crate) fn to_driver(r: &Row) -> Result<Driver> {
    Ok(Driver {
        id: r.int(0)?,
        fields: DriverFields {
            name: r.text(1)?,
            certificate: r.text(2)?,
            phone: r.opt_text(3)?,
            unit: UnitId(r.int(4)?),
            licence: r
                .opt_text(5)?
                .map(|l| {
                    LicenceClass::parse(&l).ok_or_else(|| Error::Corrupt(format!("driver licence {l:?}")))
                })
                .transpose()?,
            active: r.bool(6)?,
        },
    })
}

/// Checks `f` and what it names in the store; `id` is the driver being replaced.
async fn checked(tx: &mut dyn Tx, f: &DriverFields, id: Option<i64>) -> Result<DriverFields> {
    let f = f
        .checked()
        .map_err(|reason| Error::Invalid { line: None, reason })?;
    tx.lock(REGISTRY_LOCK_KEY).await?;
    if tx
        .opt("SELECT id FROM units WHERE id = $1", params![f.unit.0])
        .await?
        .is_none()
    {
        return Err(Error::Invalid {
            line: None,
            reason: format!("unit: there is no unit {}", f.unit),
        });
    }
    if let Some(r) = tx
        .opt(
            "SELECT id FROM drivers WHERE certificate = $1",
            params![&f.certificate],
        )
        .await?
    {
        let other = r.int(0)?;
        if Some(other) != id {
            return Err(Error::Conflict(format!(
                "certificate: {} is the certificate of driver {other}",
                f.certificate
            )));
        }
    }
    Ok(f)
}

async fn create(tx: &mut dyn Tx, f: DriverFields) -> Result<Driver> {
    let f = checked(tx, &f, None).await?;
    let sql = "INSERT INTO drivers (name, certificate, phone, unit, licence, active) \
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    let licence = f.licence.map(LicenceClass::as_str);
    let id = returned_id(
        tx,
        sql,
        params![
            &f.name,
            &f.certificate,
            f.phone.clone(),
            f.unit.0,
            licence,
            f.active
        ],
    )
    .await?;
    Ok(Driver { id, fields: f })
}

async fn replace(tx: &mut dyn Tx, id: i64, f: DriverFields) -> Result<Driver> {
    let f = checked(tx, &f, Some(id)).await?;
    let n = tx
        .execute(
            "UPDATE drivers SET name = $1, certificate = $2, phone = $3, unit = $4, licence = $5, \
             active = $6 WHERE id = $7",
            params![
                &f.name,
                &f.certificate,
                f.phone.clone(),
                f.unit.0,
                f.licence.map(LicenceClass::as_str),
                f.active,
                id
            ],
        )
        .await?;
    if n == 0 {
        return Err(Error::NotFound(format!("driver {id}")));
    }
    Ok(Driver { id, fields: f })
}

async fn delete(tx: &mut dyn Tx, id: i64) -> Result<Driver> {
    tx.lock(REGISTRY_LOCK_KEY).await?;
    let sql = format!("SELECT {COLS} FROM drivers WHERE id = $1");
    let row = tx
        .opt(&sql, params![id])
        .await?
        .ok_or_else(|| Error::NotFound(format!("driver {id}")))?;
    let driver = to_driver(&row)?;
    tx.execute("DELETE FROM drivers WHERE id = $1", params![id])
        .await?;
    Ok(driver)
}

/// What a driver import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DriverImport {
    /// Drivers registered.
    pub created: u64,
    /// Drivers whose fields changed.
    pub updated: u64,
    /// Rows that matched their driver already.
    pub unchanged: u64,
}

/// `e`, from the write of the row at `line`, with the line named.
fn at_line(line: usize, e: Error) -> Error {
    match e {
        Error::Invalid { line: None, reason } => Error::Invalid {
            line: Some(line),
            reason,
        },
        Error::Conflict(reason) => Error::Conflict(format!("line {line}: {reason}")),
        e => e,
    }
}

async fn import(tx: &mut dyn Tx, records: Vec<(usize, DriverRecord)>) -> Result<DriverImport> {
    let mut out = DriverImport::default();
    tx.lock(REGISTRY_LOCK_KEY).await?;
    let by_certificate = format!("SELECT {COLS} FROM drivers WHERE certificate = $1");
    for (line, r) in records {
        let unit = tx
            .opt("SELECT id FROM units WHERE path = $1", params![&r.unit])
            .await?
            .ok_or_else(|| RowError {
                line,
                column: Some("unit (5)".into()),
                reason: format!("no unit {:?} in the registry", r.unit),
            })?
            .int(0)?;
        let f = r.fields(UnitId(unit));
        match tx.opt(&by_certificate, params![r.certificate()]).await? {
            Some(row) => {
                let d = to_driver(&row)?;
                if d.fields == f {
                    out.unchanged += 1;
                } else {
                    replace(tx, d.id, f).await.map_err(|e| at_line(line, e))?;
                    out.updated += 1;
                }
            }
            None => {
                create(tx, f).await.map_err(|e| at_line(line, e))?;
                out.created += 1;
            }
        }
    }
    Ok(out)
}

/// The drivers' registry of a store.
pub struct Drivers<'a> {
    db: &'a Db,
}

impl<'a> Drivers<'a> {
    /// Every driver, by name.
    pub async fn list(&self) -> Result<Vec<Driver>> {
        let sql = format!("SELECT {COLS} FROM drivers ORDER BY name, id");
        self.db.rows(sql, Vec::new(), to_driver).await
    }

    /// Registers a driver.
    pub fn create(&self, f: &DriverFields) -> Change<'a, Driver> {
        let f = f.clone();
        Change::new(self.db, work(move |tx| Box::pin(create(tx, f))))
    }

    /// Replaces a driver's fields; an unknown driver is [`Error::NotFound`].
    pub fn replace(&self, id: i64, f: &DriverFields) -> Change<'a, Driver> {
        let f = f.clone();
        Change::new(self.db, work(move |tx| Box::pin(replace(tx, id, f))))
    }

    /// Imports a driver file's rows ([`tianshu_model::driver::parse_drivers_csv`]) in one transaction.
    pub fn import(&self, records: &[(usize, DriverRecord)]) -> Change<'a, DriverImport> {
        let records = records.to_vec();
        Change::new(self.db, work(move |tx| Box::pin(import(tx, records))))
    }

    /// Deletes a driver (their card sign-ins stay on record); returns what was deleted.
    pub fn delete(&self, id: i64) -> Change<'a, Driver> {
        Change::new(self.db, work(move |tx| Box::pin(delete(tx, id))))
    }
}

impl Store {
    /// The drivers' registry.
    pub fn drivers(&self) -> Drivers<'_> {
        Drivers { db: self.db() }
    }
}
