//! Track blocks on every backend: replay across the row/block boundary, a backfill into a blocked day
//! stored once, compaction run again doing nothing more, and a damaged block reported while the rest of
//! the track replays.

use futures::TryStreamExt;
use tianshu_model::block::{china_day, china_day_start, track_key};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::{CompactSummary, Store};
use tianshu_testkit::{T0_SECS, point};

/// The China day of [`T0_SECS`]: the first day of these tracks.
fn day0() -> i64 {
    china_day(Timestamp::from_secs(T0_SECS))
}

/// Seconds after T0 of the start of China day `day0() + n`.
fn day_secs(n: i64) -> i64 {
    china_day_start(day0() + n).secs() - T0_SECS
}

/// A point of `vehicle` every `step` seconds over China days `day0()..day0() + days`.
fn days_of_points(vehicle: i64, days: i64, step: i64) -> Vec<Position> {
    (day_secs(0)..day_secs(days))
        .step_by(step as usize)
        .map(|s| point(vehicle, s))
        .collect()
}

async fn whole_track(store: &Store, vehicle: i64) -> Vec<Position> {
    store
        .track(VehicleId(vehicle), Timestamp(0), Timestamp(i64::MAX / 2))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

async fn range(store: &Store, vehicle: i64, from: i64, to: i64) -> Vec<Position> {
    store
        .track(
            VehicleId(vehicle),
            Timestamp::from_secs(T0_SECS + from),
            Timestamp::from_secs(T0_SECS + to),
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn ordered(mut points: Vec<Position>) -> Vec<Position> {
    points.sort_by_key(track_key);
    points.dedup_by_key(|p| track_key(p));
    points
}

pub async fn a_replay_crosses_the_row_block_boundary(store: Store) {
    // Three days a minute apart (more than one read chunk a day), two vehicles.
    let one = days_of_points(1, 3, 60);
    let two = days_of_points(2, 3, 600);
    store.append_points(&one).await.unwrap();
    store.append_points(&two).await.unwrap();
    let done = store.compact_blocks(day0() + 1).await.unwrap();
    assert_eq!(
        done,
        CompactSummary {
            blocks: 4,
            points: (one.len() + two.len()) as u64 * 2 / 3,
            damaged: 0,
            expired: 0
        }
    );
    assert_eq!(
        whole_track(&store, 1).await,
        one,
        "blocks and rows replay as one ordered track"
    );
    assert_eq!(whole_track(&store, 2).await, two);
    // A range that starts in a block and ends in rows, and one inside a block.
    let (from, to) = (day_secs(1) + 3_600, day_secs(2) + 7_200);
    let expect: Vec<Position> = one
        .iter()
        .filter(|p| (T0_SECS + from..T0_SECS + to).contains(&p.fix_time.secs()))
        .copied()
        .collect();
    assert_eq!(range(&store, 1, from, to).await, expect);
    assert_eq!(
        store
            .track_count(
                VehicleId(1),
                Timestamp::from_secs(T0_SECS + from),
                Timestamp::from_secs(T0_SECS + to)
            )
            .await
            .unwrap(),
        expect.len() as u64
    );
    assert_eq!(
        range(&store, 1, day_secs(0) + 60, day_secs(0) + 180).await,
        one[1..3].to_vec()
    );
    // Points received after a cursor are found in blocks too.
    let cursor = one[100].recv_time;
    let after: Vec<Position> = store
        .track_received_after(VehicleId(1), Timestamp(0), Timestamp(i64::MAX / 2), cursor)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after, one[101..].to_vec());
    // Compacting again finds nothing to do; compacting the last day moves it too.
    assert_eq!(
        store.compact_blocks(day0() + 1).await.unwrap(),
        CompactSummary::default()
    );
    let done = store.compact_blocks(day0() + 2).await.unwrap();
    assert_eq!(
        (done.blocks, done.points),
        (2, (one.len() + two.len()) as u64 / 3)
    );
    assert_eq!(whole_track(&store, 1).await, one);
    assert!(store.damaged_blocks().await.unwrap().is_empty());
}

pub async fn a_backfill_into_a_blocked_day_is_stored_once(store: Store) {
    let day: Vec<Position> = days_of_points(3, 1, 120);
    store.append_points(&day).await.unwrap();
    store.compact_blocks(day0()).await.unwrap();
    // A retransmission of blocked points, with new points of the same day between them.
    let mut backfill: Vec<Position> = day[10..20].to_vec();
    let new: Vec<Position> = (0..5)
        .map(|i| point(3, day_secs(0) + 1_000 + i * 120 + 7))
        .collect();
    backfill.extend(&new);
    let s = store.append_points(&backfill).await.unwrap();
    assert_eq!(
        (s.inserted, s.duplicates),
        (5, 10),
        "the blocked points are duplicates"
    );
    let all = ordered([day.clone(), new.clone()].concat());
    assert_eq!(
        whole_track(&store, 3).await,
        all,
        "rows inside a blocked day merge into its replay"
    );
    // The same again: everything is stored already, as rows or in the block.
    let s = store.append_points(&backfill).await.unwrap();
    assert_eq!((s.inserted, s.duplicates), (0, 15));
    // The next compaction rewrites the block once with the new rows.
    let done = store.compact_blocks(day0()).await.unwrap();
    assert_eq!((done.blocks, done.points), (1, 5));
    assert_eq!(whole_track(&store, 3).await, all);
    let s = store.append_points(&backfill).await.unwrap();
    assert_eq!(
        (s.inserted, s.duplicates),
        (0, 15),
        "the rewritten block holds them all"
    );
    assert_eq!(
        store.compact_blocks(day0()).await.unwrap(),
        CompactSummary::default()
    );
    assert_eq!(
        store
            .track_count(VehicleId(3), Timestamp(0), Timestamp(i64::MAX / 2))
            .await
            .unwrap(),
        all.len() as u64
    );
}

/// What arrived after a cursor, read across packed days (a JT/T 809 link's forwarding position, the
/// alert rules resuming): a block whose points all arrived before the cursor gives nothing, and a block
/// repacked with a backfill received after it gives exactly the backfill.
pub async fn what_arrived_after_a_cursor_is_read_from_blocks_too(store: Store) {
    let arrived = |cursor: Timestamp| {
        let store = store.clone();
        async move {
            store
                .backend()
                .track_received_after(VehicleId(4), Timestamp(0), Timestamp(i64::MAX / 2), cursor)
                .await
                .unwrap()
                .try_collect::<Vec<Position>>()
                .await
                .unwrap()
        }
    };
    let day = days_of_points(4, 1, 300);
    store.append_points(&day).await.unwrap();
    store.compact_blocks(day0()).await.unwrap();
    let cursor = day.iter().map(|p| p.recv_time).max().unwrap();
    assert_eq!(
        arrived(Timestamp(cursor.0 - 1)).await.len(),
        1,
        "the last point arrived at the cursor"
    );
    assert!(
        arrived(cursor).await.is_empty(),
        "the block holds nothing after the cursor"
    );
    // A terminal's blind-area backfill of that day, received an hour after the cursor, then packed into
    // the day's block with the rest.
    let backfill: Vec<Position> = (0..3)
        .map(|i| {
            let mut p = point(4, day_secs(0) + 3_600 + i * 300 + 11);
            p.recv_time = cursor.add_millis(3_600_000 + i * 1_000);
            p
        })
        .collect();
    store.append_points(&backfill).await.unwrap();
    let done = store.compact_blocks(day0()).await.unwrap();
    assert_eq!(
        (done.blocks, done.points),
        (1, 3),
        "the backfill went into the block"
    );
    assert_eq!(arrived(cursor).await, ordered(backfill.clone()));
    assert_eq!(arrived(backfill[1].recv_time).await, vec![backfill[2]]);
    assert!(arrived(backfill[2].recv_time).await.is_empty());
}

/// What arrived between a cursor and a bound over many cars at once (`Backend::received_between`, a
/// JT/T 809 link's read every poll) is each car's track filtered by receive time, over rows, blocks and a
/// row inside a packed day, and only the cars asked for.
pub async fn arrivals_over_many_cars_are_each_car_s_arrivals(store: Store) {
    let mut all = Vec::new();
    for v in [5, 6, 7] {
        all.extend(days_of_points(v, 2, 900));
    }
    store.append_points(&all).await.unwrap();
    store.compact_blocks(day0()).await.unwrap();
    let cursor = all.iter().map(|p| p.recv_time).max().unwrap();
    let late = |v: i64, n: i64, packed: bool| {
        let mut p = point(v, day_secs(0) + 1_800 + n * 60 + 13);
        p.recv_time = cursor.add_millis(60_000 * (n + 1) + if packed { 0 } else { 7 });
        p
    };
    // Car 5's backfill of the packed day is packed too; car 6's stays a row inside the packed day.
    store
        .append_points(&[late(5, 0, true), late(5, 1, true)])
        .await
        .unwrap();
    store.compact_blocks(day0()).await.unwrap();
    store
        .append_points(&[late(6, 0, false), late(6, 2, false)])
        .await
        .unwrap();
    let key = |p: &Position| (p.vehicle.0, track_key(p));
    // The oracle: each car's whole track from `from`, filtered here by receive time (not through the
    // store's own receive-time filters, which the read under test may share).
    let each = |cars: Vec<i64>, from: Timestamp, (after, upto): (Timestamp, Timestamp)| {
        let store = store.clone();
        async move {
            let mut out = Vec::new();
            for v in cars {
                let track: Vec<Position> = store
                    .backend()
                    .track(VehicleId(v), from, Timestamp(i64::MAX / 2))
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                out.extend(
                    track
                        .into_iter()
                        .filter(|p| p.recv_time > after && p.recv_time <= upto),
                );
            }
            out.sort_by_key(key);
            out
        }
    };
    let asked = [VehicleId(5), VehicleId(6)];
    let start = china_day_start(day0());
    let end = Timestamp(i64::MAX / 2);
    let window = (cursor, cursor.add_millis(120_000));
    for (from, received) in [
        (start, (Timestamp(0), end)),
        (start, (Timestamp(cursor.0 - 3_600_000), end)),
        (start, (Timestamp(cursor.0 - 3_600_000), cursor)),
        (start, (cursor, end)),
        (start, window),
        (start, (late(5, 0, true).recv_time, end)),
        (china_day_start(day0() + 1), (Timestamp(0), end)),
        (
            china_day_start(day0() + 1),
            (Timestamp(0), Timestamp(cursor.0 - 3_600_000)),
        ),
        (china_day_start(day0() + 1), (cursor, end)),
    ] {
        let mut many = store
            .backend()
            .received_between(&asked, from, received)
            .await
            .unwrap();
        many.sort_by_key(key);
        let expected = each(vec![5, 6], from, received).await;
        assert_eq!(many.len(), expected.len(), "from {from:?} received {received:?}");
        assert_eq!(many, expected, "from {from:?} received {received:?}");
    }
    let arrived = store
        .backend()
        .received_between(&asked, start, (cursor, end))
        .await
        .unwrap();
    assert_eq!(
        arrived.len(),
        4,
        "two late points of car 5 (packed) and two of car 6 (rows)"
    );
    let in_window = store
        .backend()
        .received_between(&asked, start, window)
        .await
        .unwrap();
    assert_eq!(
        in_window.len(),
        3,
        "both of car 5 (the second exactly at the bound) and the first of car 6"
    );
}

/// Overwrites the block of `vehicle` on `day` with bytes that start like a block but are not one.
async fn damage_block(url: &str, vehicle: i64, day: i64) {
    const BAD: &str = "54534231000000100000000000000000ffff";
    if url.starts_with("postgres") {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let n = client
            .execute(
                &format!("UPDATE point_blocks SET data = '\\x{BAD}'::bytea WHERE vehicle = $1 AND day = $2"),
                &[&vehicle, &(day as i32)],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    } else {
        let conn = rusqlite::Connection::open(url.strip_prefix("sqlite:").unwrap_or(url)).unwrap();
        let n = conn
            .execute(
                &format!("UPDATE point_blocks SET data = X'{BAD}' WHERE vehicle = ?1 AND day = ?2"),
                rusqlite::params![vehicle, day],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}

pub async fn a_damaged_block_is_reported_and_the_rest_replays(store: Store, url: String) {
    let points = days_of_points(4, 3, 300);
    store.append_points(&points).await.unwrap();
    store.compact_blocks(day0() + 1).await.unwrap();
    damage_block(&url, 4, day0()).await;
    let damaged = store.damaged_blocks().await.unwrap();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!((damaged[0].vehicle, damaged[0].day), (VehicleId(4), day0()));
    assert!(damaged[0].reason.contains("checksum"), "{}", damaged[0].reason);
    // The other block and the rows still replay.
    let rest: Vec<Position> = points
        .iter()
        .filter(|p| china_day(p.fix_time) != day0())
        .copied()
        .collect();
    assert_eq!(whole_track(&store, 4).await, rest);
    // A point backfilled into the damaged day stays a row, and replays; compaction leaves that day alone.
    let late = point(4, day_secs(0) + 17);
    assert_eq!(store.append_points(&[late]).await.unwrap().inserted, 1);
    let done = store.compact_blocks(day0() + 1).await.unwrap();
    assert_eq!((done.blocks, done.damaged), (0, 1));
    assert_eq!(whole_track(&store, 4).await, ordered([rest, vec![late]].concat()));
}

/// `[store.blocks] retain_days`: a compaction deletes the blocks of the days before the retained ones
/// (today counts as one) and packs the rest; the track then starts at the first retained day.
pub async fn blocks_older_than_the_retained_days_are_deleted(store: Store, url: String) {
    drop(store);
    let mut config = tianshu_store::StoreConfig::default();
    config.blocks.retain_days = Some(3);
    let store = Store::open_with(&url, &config).await.unwrap();
    let points = days_of_points(1, 4, 600);
    store.append_points(&points).await.unwrap();
    // "Now" is an hour into day 5: days 3 and 4 are kept, day 4 packed as the day before today.
    let now = Timestamp(china_day_start(day0() + 5).0 + 3_600_000);
    let done = store.compact_blocks_at(now).await.unwrap();
    assert_eq!((done.blocks, done.expired), (4, 3));
    let kept: Vec<Position> = points
        .iter()
        .filter(|p| china_day(p.fix_time) >= day0() + 3)
        .copied()
        .collect();
    assert!(!kept.is_empty());
    assert_eq!(whole_track(&store, 1).await, kept);
    assert_eq!(
        store.compact_blocks_at(now).await.unwrap(),
        CompactSummary::default(),
        "nothing more to do"
    );
}
