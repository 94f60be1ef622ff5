//! Versioned schema migrations.
//!
//! Each backend has its own list, discovered at build time from `migrations/<backend>/NNNN_name.sql`
//! (see `build.rs`). A backend applies, at open and in version order, every migration whose version is
//! not yet in its `schema_migrations` table, each in its own transaction together with its row in
//! that table; re-running is therefore a no-op, and a failed migration leaves the last good version.

/// One schema migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The version number (the file name's prefix); unique per backend, applied in ascending order.
    pub version: u32,
    /// The rest of the file name, for the `schema_migrations` table and logs.
    pub name: &'static str,
    /// The SQL, as one batch of statements.
    pub sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
