//! `points` on TimescaleDB as typed columns, and the SQL that moves a packed record in and out of them.
//!
//! Plain PostgreSQL keeps a point as its key plus one packed record (`rec`, see `tianshu_model::record`)
//! and packs old days into track blocks. A TimescaleDB hypertable compresses its own chunks column by
//! column instead, and its integer and timestamp columns (delta-of-delta, simple-8b, run lengths) compress
//! better than one opaque `bytea`; the 64-bit block hash of the key is stored as 32 bits there, which is
//! enough to tell apart two different fixes of one vehicle at the same instant.
//!
//! The store still exchanges packed records with the database: a commit COPYs them into the staging table
//! and one `INSERT ... SELECT` unpacks them into the columns ([`insert_from_staging`]); a replay reads
//! [`pack_expr`] of the columns, which is byte for byte the record the store would have written, so the
//! replay's COPY parser is the same on every layout. The field positions come from
//! [`REC_FIELDS`](tianshu_model::record::REC_FIELDS), the record's one description.
//!
//! A hypertable made with the packed layout is converted once, at open, under the reconciliation's lock
//! ([`conversion`]): a new hypertable is made as TimescaleDB's documentation describes (`create_hypertable`
//! with `by_range` and `create_default_indexes => false`), the key as a unique index covering the other
//! columns (`INCLUDE`), so that a replay of uncompressed chunks is an index-only scan as on plain
//! PostgreSQL, the rows are copied, and the new table takes the old one's name.
//! This is pure text: `timescale.rs` runs it.

use tianshu_model::record::{REC_FIELDS, REC_FIXED, presence_flag_of};

/// Whether `points` still has the packed layout (a `rec` column) and needs [`conversion`].
pub(crate) const HAS_PACKED_RECORD: &str = "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name = 'points' AND column_name = 'rec')";

/// A typed column: the record field it holds (a name of `REC_FIELDS`), its SQL type, and whether it may be
/// NULL (the optional fields, absent when their presence flag is clear).
struct Column {
    field: &'static str,
    at: usize,
    len: usize,
}

impl Column {
    /// Its SQL type: one byte a `smallint`, two or four an `integer` (the unsigned 16-bit fields do not fit a
    /// `smallint`; the unsigned 32-bit flags and mileage are kept as the same 32 bits), eight the receive
    /// time.
    fn sql_type(&self) -> &'static str {
        match self.len {
            1 => "smallint",
            8 => "timestamptz",
            _ => "integer",
        }
    }

    fn optional(&self) -> bool {
        presence_flag_of(self.field) != 0
    }

    /// The expression that reads the field from `rec`.
    fn unpack(&self) -> String {
        let (at, len) = (self.at, self.len);
        let value = match len {
            1 => format!("get_byte(rec, {at})"),
            2 => format!("(get_byte(rec, {at}) << 8 | get_byte(rec, {}))", at + 1),
            4 => format!(
                "('x' || encode(substring(rec FROM {} FOR 4), 'hex'))::bit(32)::integer",
                at + 1
            ),
            _ => format!(
                "(timestamptz 'epoch' + ('x' || encode(substring(rec FROM {} FOR 8), 'hex'))::bit(64)::bigint \
                 * interval '1 millisecond')",
                at + 1
            ),
        };
        match presence_flag_of(self.field) {
            0 => value,
            flag => format!("CASE WHEN get_byte(rec, 1) & {flag} <> 0 THEN {value} END"),
        }
    }

    /// The expression that writes the column's field as the record holds it.
    fn pack(&self) -> String {
        let column = if self.optional() {
            format!("coalesce({}, 0)", self.field)
        } else {
            self.field.to_string()
        };
        match self.len {
            1 => format!("set_byte('\\x00'::bytea, 0, {column})"),
            2 => format!("substring(int4send({column}) FROM 3)"),
            4 => format!("int4send({column})"),
            _ => format!("int8send((extract(epoch FROM {column}) * 1000)::bigint)"),
        }
    }
}

/// The typed columns after the key, in record order (the flags are not a column: an optional field is NULL
/// when absent).
fn columns() -> Vec<Column> {
    REC_FIELDS
        .iter()
        .filter(|(field, _, _)| *field != "flags")
        .map(|&(field, at, len)| Column { field, at, len })
        .collect()
}

/// The names of the typed columns after the key, the phone last, comma-separated.
fn column_names() -> String {
    let mut names: Vec<&str> = columns().iter().map(|c| c.field).collect();
    names.push("phone");
    names.join(", ")
}

/// The 32-bit block hash stored for a 64-bit one, in SQL (the low 32 bits, as Rust's `as i32`).
const HASH32: &str = "((block_hash << 32) >> 32)::integer";

/// The 32-bit block hash TimescaleDB's `points` stores for the store's 64-bit one ([`HASH32`] in Rust).
pub(crate) fn hash32(block_hash: i64) -> i64 {
    i64::from(block_hash as i32)
}

/// The `SELECT` list that unpacks a row with `vehicle, fix_time, block_hash, rec` into the typed table's
/// columns, in [`column_names`] order after the key.
fn unpack_list() -> String {
    let mut out = vec!["vehicle".to_string(), "fix_time".to_string(), HASH32.to_string()];
    out.extend(columns().iter().map(Column::unpack));
    out.push(format!(
        "convert_from(substring(rec FROM {}), 'UTF8')",
        REC_FIXED + 1
    ));
    out.join(", ")
}

/// The packed record of a typed row, byte for byte what `encode_rec` writes.
pub(crate) fn pack_expr() -> String {
    let cols = columns();
    let flags = cols
        .iter()
        .filter(|c| c.optional())
        .map(|c| {
            format!(
                "({} IS NOT NULL)::integer * {}",
                c.field,
                presence_flag_of(c.field)
            )
        })
        .collect::<Vec<_>>()
        .join(" + ");
    let mut parts = vec![
        "'\\x01'::bytea".to_string(),
        format!("set_byte('\\x00'::bytea, 0, {flags})"),
    ];
    parts.extend(cols.iter().map(Column::pack));
    parts.push("convert_to(phone, 'UTF8')".to_string());
    format!("({})", parts.join(" || "))
}

/// The typed table's definition (columns only), named `table`.
fn create_table(table: &str) -> String {
    let mut cols = vec![
        "vehicle bigint NOT NULL".to_string(),
        "fix_time timestamptz NOT NULL".to_string(),
        "block_hash integer NOT NULL".to_string(),
    ];
    for c in columns() {
        let null = if c.optional() { "" } else { " NOT NULL" };
        cols.push(format!("{} {}{null}", c.field, c.sql_type()));
    }
    cols.push("phone text NOT NULL".to_string());
    format!("CREATE TABLE {table} ({})", cols.join(", "))
}

/// The key of the typed table `table` (it holds the partitioning column, as TimescaleDB requires of a unique
/// index), covering the other columns so that a replay of uncompressed chunks reads the index alone.
fn key_index(table: &str) -> String {
    format!(
        "CREATE UNIQUE INDEX {table}_key ON {table} (vehicle, fix_time, block_hash) INCLUDE ({})",
        column_names()
    )
}

/// The statement that moves the staged rows (`points_incoming`: `vehicle, fix_time, block_hash, rec`) into
/// the typed `points`, returning the keys that were new (the block hash as stored: [`hash32`]).
pub(crate) fn insert_from_staging() -> String {
    format!(
        "INSERT INTO points (vehicle, fix_time, block_hash, {names}) SELECT {unpack} FROM points_incoming \
         ORDER BY vehicle, fix_time, block_hash ON CONFLICT DO NOTHING \
         RETURNING vehicle, fix_time, block_hash::bigint",
        names = column_names(),
        unpack = unpack_list(),
    )
}

/// The statements that turn a packed-layout hypertable `points` into the typed one, with chunks of
/// `chunk_days` days, in one transaction (see the module's documentation). The old table's policy jobs go
/// with it; the reconciliation that follows sets compression and adds the configured policies anew.
pub(crate) fn conversion(chunk_days: u32) -> Vec<String> {
    let names = column_names();
    vec![
        "DROP VIEW IF EXISTS points_readable".to_string(),
        create_table("points_typed"),
        format!(
            "SELECT create_hypertable('points_typed', by_range('fix_time', INTERVAL '{} days'), \
             create_default_indexes => false)",
            chunk_days.max(1)
        ),
        key_index("points_typed"),
        format!(
            "INSERT INTO points_typed (vehicle, fix_time, block_hash, {names}) SELECT {unpack} FROM points \
             ON CONFLICT DO NOTHING",
            unpack = unpack_list()
        ),
        "DROP TABLE points".to_string(),
        "ALTER TABLE points_typed RENAME TO points".to_string(),
        // The name people's queries used for the packed layout's fields, now plain columns.
        format!("CREATE VIEW points_readable AS SELECT vehicle, fix_time, block_hash, {names} FROM points"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_table_has_a_column_per_field_and_a_32_bit_hash() {
        assert_eq!(
            create_table("points_typed"),
            "CREATE TABLE points_typed (vehicle bigint NOT NULL, fix_time timestamptz NOT NULL, \
             block_hash integer NOT NULL, source smallint NOT NULL, recv_time timestamptz NOT NULL, \
             lat_e6 integer NOT NULL, lon_e6 integer NOT NULL, altitude_m integer NOT NULL, \
             speed_dkmh integer NOT NULL, course_deg integer NOT NULL, alarm integer NOT NULL, \
             status integer NOT NULL, mileage_dkm integer, fuel_dl integer, satellites smallint, \
             rssi smallint, phone text NOT NULL)"
        );
        for h in [0, 1, -1, i64::MAX, i64::MIN, 0x1234_5678_9abc_def0] {
            assert_eq!(hash32(h), i64::from(h as i32));
            assert!(i32::try_from(hash32(h)).is_ok());
        }
    }

    #[test]
    fn the_conversion_follows_timescaledb_s_documented_calls() {
        let sql = conversion(7);
        assert_eq!(sql.len(), 8);
        assert_eq!(
            sql[2],
            "SELECT create_hypertable('points_typed', by_range('fix_time', INTERVAL '7 days'), \
             create_default_indexes => false)"
        );
        assert!(
            sql[3].starts_with(
                "CREATE UNIQUE INDEX points_typed_key ON points_typed (vehicle, fix_time, block_hash) \
                 INCLUDE (source, recv_time, lat_e6,"
            ) && sql[3].ends_with("rssi, phone)"),
            "{}",
            sql[3]
        );
        assert!(
            sql[4].contains("((block_hash << 32) >> 32)::integer"),
            "{}",
            sql[4]
        );
        assert!(
            sql[4].ends_with("FROM points ON CONFLICT DO NOTHING"),
            "{}",
            sql[4]
        );
        // The view on the old record goes first (it holds `rec`), and comes back over the columns.
        assert_eq!(sql[0], "DROP VIEW IF EXISTS points_readable");
        assert_eq!(
            &sql[5..7],
            ["DROP TABLE points", "ALTER TABLE points_typed RENAME TO points"]
        );
        assert!(sql[7].starts_with("CREATE VIEW points_readable"));
        assert!(conversion(0)[2].contains("INTERVAL '1 days'"));
    }

    #[test]
    fn packing_reads_every_column_and_unpacking_every_field() {
        let pack = pack_expr();
        for name in column_names().split(", ") {
            assert!(pack.contains(name), "{name} is not packed: {pack}");
        }
        assert!(pack.starts_with("('\\x01'::bytea || set_byte('\\x00'::bytea, 0, (mileage_dkm IS NOT NULL)"));
        let insert = insert_from_staging();
        assert!(
            insert.contains("CASE WHEN get_byte(rec, 1) & 8 <> 0 THEN get_byte(rec, 42) END"),
            "{insert}"
        );
        assert!(
            insert.contains("convert_from(substring(rec FROM 44), 'UTF8')"),
            "{insert}"
        );
        assert!(
            insert.ends_with("RETURNING vehicle, fix_time, block_hash::bigint"),
            "{insert}"
        );
    }

    /// The SQL against a real PostgreSQL (no TimescaleDB needed: the columns and expressions are plain
    /// SQL): records packed by the store go into the typed columns and come back byte for byte.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_unpack_into_the_columns_and_pack_back_byte_for_byte() {
        use tianshu_model::{Phone, Position, Timestamp, VehicleId};

        let scratch = tianshu_testkit::Scratch::postgres("typedcols").await;
        let (client, conn) = tokio_postgres::connect(&scratch.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let full = tianshu_testkit::extreme_point(7, 0);
        let sparse = Position {
            vehicle: VehicleId(7),
            phone: Phone(13_800_138_000),
            fix_time: Timestamp::from_secs(1_793_491_210),
            recv_time: Timestamp::from_secs(1_793_491_211),
            lat_e6: 30_200_000,
            lon_e6: 115_040_000,
            ..Default::default()
        };
        client
            .batch_execute(&format!(
                "{}; {}; CREATE TEMP TABLE points_incoming (vehicle bigint, fix_time timestamptz, \
                 block_hash bigint, rec bytea)",
                create_table("points"),
                key_index("points")
            ))
            .await
            .unwrap();
        let mut want = Vec::new();
        for p in [&full, &sparse] {
            let mut rec = Vec::new();
            crate::record::encode_rec(p, &mut rec);
            client
                .execute(
                    "INSERT INTO points_incoming VALUES ($1, $2, $3, $4)",
                    &[
                        &p.vehicle.0,
                        &super::super::copy::to_datetime(p.fix_time),
                        &p.block_hash(),
                        &rec,
                    ],
                )
                .await
                .unwrap();
            want.push((p.block_hash(), rec));
        }
        let inserted = client.query(&insert_from_staging(), &[]).await.unwrap();
        assert_eq!(inserted.len(), 2);
        let again = client.query(&insert_from_staging(), &[]).await.unwrap();
        assert!(again.is_empty(), "stored once");
        let rows = client
            .query(
                &format!(
                    "SELECT block_hash::bigint, {}, satellites IS NULL, speed_dkmh FROM points ORDER BY fix_time",
                    pack_expr()
                ),
                &[],
            )
            .await
            .unwrap();
        let got: Vec<(i64, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let want: Vec<(i64, Vec<u8>)> = want.into_iter().map(|(h, rec)| (hash32(h), rec)).collect();
        assert_eq!(got, want);
        assert_eq!(
            (rows[0].get::<_, bool>(2), rows[0].get::<_, i32>(3)),
            (false, 65_535),
            "typed as themselves"
        );
        assert!(rows[1].get::<_, bool>(2), "an absent field is NULL");
    }
}
