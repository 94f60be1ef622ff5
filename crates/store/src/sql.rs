//! The seam every storage area is written over once: a transaction that runs SQL text with values and
//! returns rows, implemented by the embedded (SQLite) and the PostgreSQL backends.
//!
//! An area (registry, access, rules, cases...) is a set of `async fn(tx: &mut dyn Tx, ...)` functions: its
//! validation, conflict messages, stamps and state checks are written there and nowhere else. A backend
//! only translates: placeholders, value types and row decoding. Track points do not go through here;
//! their physical layouts really differ (COPY and packed records on PostgreSQL, a recent table and a
//! compactor in the embedded store).
//!
//! The SQL an area writes must mean the same on both databases:
//! - placeholders are `$1`, `$2`... (the embedded backend reads them as SQLite's `?1`, `?2`...);
//! - casts are `CAST(x AS type)`, never `x::type`; times are milliseconds in `BIGINT` columns, passed in
//!   (no `now()`), except where a column is `timestamptz` on PostgreSQL: [`Value::Int`] milliseconds bind
//!   to it and read back from it;
//! - `INSERT ... ON CONFLICT ... DO UPDATE/NOTHING` and `RETURNING` (both databases have them);
//! - serialising writers that must not interleave (the audit chain) call [`Tx::lock`].

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::{Error, Result};

/// One SQL value, as an area passes it and reads it back. It binds to whatever the column is: an `Int`
/// to `smallint`, `integer`, `bigint` or (as milliseconds) `timestamptz`; a `Text` to `text` or `jsonb`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer; also times in milliseconds since the Unix epoch.
    Int(i64),
    /// A double.
    Real(f64),
    /// Text (also JSON text).
    Text(String),
    /// A boolean (stored as 0/1 by SQLite).
    Bool(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// `Value::from` for each type an area passes: `type => |v| value`.
macro_rules! value_from {
    ($($t:ty => $f:expr;)*) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                let f: fn($t) -> Value = $f;
                f(v)
            }
        })*
    };
}

value_from! {
    i64 => Value::Int;
    i32 => |v| Value::Int(v.into());
    u32 => |v| Value::Int(v.into());
    f64 => Value::Real;
    bool => Value::Bool;
    String => Value::Text;
    &str => |v| Value::Text(v.to_string());
    &String => |v| Value::Text(v.clone());
    tianshu_model::Timestamp => |v| Value::Int(v.0);
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter list: `params![a, b, c]` is `[Value::from(a), ...]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => { &[$($crate::sql::Value::from($v)),*][..] };
}
pub(crate) use params;

/// One result row, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    /// The columns from `at` on, as a row of their own (a statement that reads two records side by
    /// side, each decoded by its own function).
    pub(crate) fn split_off(&mut self, at: usize) -> Row {
        Row(self.0.split_off(at.min(self.0.len())))
    }

    fn at(&self, i: usize) -> Result<&Value> {
        self.0
            .get(i)
            .ok_or_else(|| Error::Corrupt(format!("row has no column {i}")))
    }

    fn wrong(&self, i: usize, want: &str) -> Error {
        Error::Corrupt(format!("column {i}: expected {want}, found {:?}", self.0.get(i)))
    }

    /// An integer column (booleans stored by SQLite read as 0/1).
    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.wrong(i, "an integer"))
    }

    /// A nullable integer column.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Bool(b) => Ok(Some(i64::from(*b))),
            _ => Err(self.wrong(i, "an integer")),
        }
    }

    /// A text column.
    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| self.wrong(i, "text"))
    }

    /// A nullable text column.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            _ => Err(self.wrong(i, "text")),
        }
    }

    /// A boolean column (SQLite's 0/1 included).
    pub fn bool(&self, i: usize) -> Result<bool> {
        match self.at(i)? {
            Value::Bool(b) => Ok(*b),
            Value::Int(v) => Ok(*v != 0),
            _ => Err(self.wrong(i, "a boolean")),
        }
    }
}

/// A transaction (or, for reads, a connection) of either backend.
#[async_trait]
pub trait Tx: Send {
    /// Runs a statement and returns its rows.
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    /// Runs a statement and returns how many rows it changed.
    async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Runs several statements separated by `;`, without parameters (a migration).
    async fn batch(&mut self, sql: &str) -> Result<()>;

    /// What ends a `SELECT` that locks the rows it reads until the transaction ends: ` FOR UPDATE`
    /// on PostgreSQL; nothing in the embedded store, whose one writer holds the whole database.
    fn row_lock(&self) -> &'static str;

    /// Serialises the transactions that take the same `key` until they end (PostgreSQL: a
    /// transaction-scoped advisory lock; the embedded store has a single writer already).
    async fn lock(&mut self, key: i64) -> Result<()>;

    /// [`Tx::lock`], then a statement that reads what the lock protects, seeing everything committed
    /// before the lock was granted. PostgreSQL sends both at once (one round trip): it runs the statement
    /// after the lock is held, with a snapshot taken then.
    async fn lock_then_query(&mut self, key: i64, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.lock(key).await?;
        self.query(sql, params).await
    }
}

impl dyn Tx + '_ {
    /// The first row a statement returns, if any.
    pub async fn opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}

/// Work to run in one transaction: an area function with its arguments moved in.
pub type TxWork<R> = Box<dyn for<'t> FnOnce(&'t mut dyn Tx) -> BoxFuture<'t, Result<R>> + Send>;

/// Wraps an area function into [`TxWork`]: `work(move |tx| Box::pin(area::f(tx, args)))`.
pub fn work<R, F>(f: F) -> TxWork<R>
where
    F: for<'t> FnOnce(&'t mut dyn Tx) -> BoxFuture<'t, Result<R>> + Send + 'static,
{
    Box::new(f)
}

/// An area call as [`TxWork`], its arguments moved in: `tx!(|tx| area::f(tx, &a, b))`.
macro_rules! tx {
    (|$tx:ident| $call:expr) => {
        $crate::sql::work(move |$tx| Box::pin(async move { $call.await }))
    };
}
pub(crate) use tx;

/// Appends `values` to `args` and returns their placeholders, `$n, $m...`.
pub(crate) fn placeholders(values: Vec<Value>, args: &mut Vec<Value>) -> String {
    let marks: Vec<String> = values
        .into_iter()
        .map(|v| {
            args.push(v);
            format!("${}", args.len())
        })
        .collect();
    marks.join(", ")
}

/// Rewrites `$1`-style placeholders as SQLite's `?1` (outside quoted strings).
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_strings() {
        assert_eq!(
            sqlite_placeholders("SELECT $1, '$2', $10 WHERE a = $2"),
            "SELECT ?1, '$2', ?10 WHERE a = ?2"
        );
    }

    #[test]
    fn rows_read_booleans_stored_as_integers() {
        let row = Row(vec![Value::Int(1), Value::Null, Value::Text("x".into())]);
        assert!(row.bool(0).unwrap());
        assert_eq!(row.opt_int(1).unwrap(), None);
        assert!(row.int(1).is_err());
        assert_eq!(row.text(2).unwrap(), "x");
        assert!(row.int(2).is_err());
        assert!(row.int(9).is_err());
    }
}
