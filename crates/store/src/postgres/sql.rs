//! The PostgreSQL backend's side of [`crate::sql::Tx`]: SQL text runs as prepared (cached) statements.
//!
//! [`Value`] binds to whatever type PostgreSQL infers for a parameter (an integer to `int2`, `int4`,
//! `int8` or, as milliseconds, `timestamptz`; text to `text` or `jsonb`) and every column reads back
//! as a [`Value`], so area code never names a driver type.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, TimeZone, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::PostgresBackend;
use crate::sql::{Row, Tx, TxWork, Value};
use crate::{Error, Result};

type BoxError = Box<dyn StdError + Sync + Send>;

fn datetime(ms: i64) -> Result<DateTime<Utc>, BoxError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| format!("{ms} ms is not a representable time").into())
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::TIMESTAMPTZ => datetime(*v)?.to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(s) => match *ty {
                Type::JSONB => {
                    out.put_u8(1);
                    out.put_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                _ => s.as_str().to_sql(ty, out),
            },
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(match *ty {
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::TIMESTAMPTZ => Value::Int(DateTime::<Utc>::from_sql(ty, raw)?.timestamp_millis()),
            Type::BYTEA => Value::Bytes(raw.to_vec()),
            Type::JSONB => Value::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_string()),
            _ => Value::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A pooled connection or a transaction on one, as a [`Tx`].
struct PgTx<C>(C);

#[async_trait::async_trait]
impl<C> Tx for PgTx<C>
where
    C: std::ops::Deref + Send + Sync,
    C::Target: GenericClient,
{
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let st = self.0.prepare_cached(sql).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        rows_of(&self.0.query(&st, &refs).await?)
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let st = self.0.prepare_cached(sql).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.0.execute(&st, &refs).await.map_err(Error::from)
    }

    async fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.batch_execute(sql).await?)
    }

    fn row_lock(&self) -> &'static str {
        " FOR UPDATE"
    }

    async fn lock(&mut self, key: i64) -> Result<()> {
        // Prepared once per connection: a statement given as text costs a round trip to prepare each time.
        let st = self.0.prepare_cached(LOCK_SQL).await?;
        self.0.execute(&st, &[&key]).await.map_err(Error::from).map(drop)
    }

    async fn lock_then_query(&mut self, key: i64, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let lock = self.0.prepare_cached(LOCK_SQL).await?;
        let st = self.0.prepare_cached(sql).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        // Polled together, the two requests leave in this order on the one connection and come back in
        // one round trip; the server runs the query once the lock is granted (a statement's snapshot is
        // taken when it starts), and fails it too when the lock fails (the transaction is aborted).
        let lock_params: [&(dyn ToSql + Sync); 1] = [&key];
        let (locked, rows) = futures::join!(self.0.execute(&lock, &lock_params), self.0.query(&st, &refs));
        locked?;
        rows_of(&rows?)
    }
}

/// A transaction-scoped advisory lock on `$1`.
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock($1)";

/// Rows of either backend's [`Row`] shape.
fn rows_of(rows: &[tokio_postgres::Row]) -> Result<Vec<Row>> {
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<_, Value>(i).map_err(Error::from))
                .collect::<Result<Vec<_>>>()
                .map(Row)
        })
        .collect()
}

impl PostgresBackend {
    /// Runs `work` in one transaction; commits when it succeeds, rolls back otherwise.
    pub(crate) async fn write_tx<R: Send + 'static>(&self, work: TxWork<R>) -> Result<R> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut tx = PgTx(Box::new(tx));
        let result = work(&mut tx).await;
        let PgTx(tx) = tx;
        match result {
            Ok(r) => {
                (*tx).commit().await?;
                Ok(r)
            }
            Err(e) => {
                // Dropping the transaction rolls it back too; saying so explicitly frees the
                // connection at once.
                let _ = (*tx).rollback().await;
                Err(e)
            }
        }
    }

    /// Runs `work` on a pooled connection, outside a transaction (each statement on its own).
    pub(crate) async fn read_tx<R: Send + 'static>(&self, work: TxWork<R>) -> Result<R> {
        let mut conn = PgTx(Box::new(self.client().await?));
        work(&mut conn).await
    }
}
