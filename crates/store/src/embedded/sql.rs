//! The embedded backend's side of [`crate::sql::Tx`]: SQL text runs on a SQLite connection.
//!
//! A write transaction runs on the writer thread (`BEGIN IMMEDIATE`, so a second process waits instead
//! of failing half-way), a read on a pooled read connection. Area code is `async` because PostgreSQL
//! needs it; here every statement completes at once, so the work is driven to its end with
//! `block_on` on the thread that owns the connection.

use std::sync::Mutex;

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::EmbeddedBackend;
use crate::sql::{Row, Tx, TxWork, Value, sqlite_placeholders};
use crate::{Error, Result};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn to_value(v: ValueRef<'_>) -> Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| Error::Corrupt(format!("stored text is not UTF-8: {e}")))?
                .to_string(),
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

/// A SQLite connection as a [`Tx`]. The mutex only makes the borrowed connection `Send`; one thread
/// uses it.
struct SqliteTx<'c> {
    conn: Mutex<&'c mut Connection>,
}

impl SqliteTx<'_> {
    fn conn(&mut self) -> Result<&mut Connection> {
        self.conn
            .get_mut()
            .map(|c| &mut **c)
            .map_err(|_| Error::Unavailable("connection poisoned".into()))
    }
}

#[async_trait::async_trait]
impl Tx for SqliteTx<'_> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut st = self.conn()?.prepare_cached(&sqlite_placeholders(sql))?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(to_value(r.get_ref(i)?)?);
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut st = self.conn()?.prepare_cached(&sqlite_placeholders(sql))?;
        st.execute(rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(Error::from)
    }

    async fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn()?.execute_batch(sql)?)
    }

    fn row_lock(&self) -> &'static str {
        ""
    }

    async fn lock(&mut self, _key: i64) -> Result<()> {
        // Writes run on one thread inside BEGIN IMMEDIATE: they are serialised already.
        Ok(())
    }
}

impl EmbeddedBackend {
    /// Runs `work` in one write transaction on the writer thread; commits when it succeeds.
    pub(crate) async fn write_tx<R: Send + 'static>(&self, work: TxWork<R>) -> Result<R> {
        self.write(move |conn| write_tx(conn, work)).await
    }

    /// Runs `work` on a read connection.
    pub(crate) async fn read_tx<R: Send + 'static>(&self, work: TxWork<R>) -> Result<R> {
        self.read_owned(move |conn| {
            futures::executor::block_on(work(&mut SqliteTx {
                conn: Mutex::new(conn),
            }))
        })
        .await
    }
}

/// Runs `work` in one write transaction on `conn` (`BEGIN IMMEDIATE`); commits when it succeeds.
pub(super) fn write_tx<R>(conn: &mut Connection, work: TxWork<R>) -> Result<R> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = futures::executor::block_on(work(&mut SqliteTx {
        conn: Mutex::new(&mut *conn),
    }));
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match conn.execute_batch(end) {
        Ok(()) => result,
        Err(e) if result.is_ok() => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(Error::from(e))
        }
        Err(_) => result,
    }
}
