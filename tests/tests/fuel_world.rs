//! The demo world's planted year of fuel-card statements, on both backends: `tianshu simulate
//! --write-world` writes the cards, stations, a statement with planted misuse of every kind and the
//! truth of each row; the registry, cards and stations imported, the cars' fixes the truth gives fed
//! as their terminals would, the statement imported with `tianshu fuel import`. Every planted misuse
//! is found by the check the truth names (recall 100%), and the fills found are nearly all planted
//! (precision at least 98%, each false finding printed with its reason).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;
use tianshu_e2e::{Fix, Scratch, tianshu_ok};
use tianshu_model::{Position, Timestamp, VehicleId};
use tianshu_store::Store;
use tianshu_store::fuel::FindingFilter;

fn write_world(dir: &Path, url: &str) {
    let d = dir.to_str().unwrap();
    let args = [
        "simulate",
        "--write-world",
        d,
        "--vehicles",
        "80",
        "--seed",
        "1919",
        "--start",
        "2026-03-02T00:00:00Z",
    ];
    tianshu_ok(&[&args[..], &["--days", "1"]].concat());
    for (what, file) in [
        (&["registry", "import"][..], "registry.csv"),
        (&["fuel", "cards", "import"], "fuel_cards.csv"),
        (&["fuel", "stations", "import"], "fuel_stations.csv"),
    ] {
        let path = dir.join(file);
        tianshu_ok(&[what, &["--store", url, path.to_str().unwrap()]].concat());
    }
}

/// The truth's fixes of a car elsewhere: a fix a minute for 25 minutes either side of the fill.
fn fixes_elsewhere(
    truth: &[Value],
    plate_of: &HashMap<String, VehicleId>,
    cards: &HashMap<String, String>,
) -> Vec<Position> {
    let mut out = Vec::new();
    for t in truth.iter().filter(|t| t["car_at"].is_array()) {
        let at = &t["car_at"];
        let (lon, lat) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        let vehicle = plate_of[&cards[t["card"].as_str().unwrap()]];
        let secs = t["time_ms"].as_i64().unwrap() / 1000;
        out.extend((-25..=25).map(|k| {
            Position {
                vehicle,
                ..Fix::at(secs + k * 60)
                    .at_e6((lat * 1e6).round() as i32, (lon * 1e6).round() as i32)
                    .build()
            }
        }));
    }
    out
}

async fn planted_misuse_is_found(scratch: Scratch) {
    let dir = tianshu_testkit::unique_dir("fuel-world");
    let url = scratch.url();
    write_world(&dir, &url);
    let truth: Vec<Value> = std::fs::read_to_string(dir.join("fuel_truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let store = Store::open(&url).await.unwrap();
    let plate_of: HashMap<String, VehicleId> = store
        .vehicles()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.plate, v.id))
        .collect();
    let cards: HashMap<String, String> = store
        .fuel()
        .cards(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            let plate = plate_of
                .iter()
                .find(|(_, id)| Some(**id) == c.vehicle)
                .unwrap()
                .0
                .clone();
            (c.number, plate)
        })
        .collect();
    store
        .append_points(&fixes_elsewhere(&truth, &plate_of, &cards))
        .await
        .unwrap();
    store.flush().await.unwrap();

    let statement = dir.join("fuel_statement.csv");
    let out = tianshu_ok(&["fuel", "import", "--store", &url, statement.to_str().unwrap()]);
    assert!(
        out.contains(&format!("{} transactions stored", truth.len())),
        "{out}"
    );

    // Each stored fill's findings, by (card, time).
    let from = Timestamp(0);
    let to = Timestamp(i64::MAX / 2);
    let txns = store.fuel().transactions(None, from, to).await.unwrap();
    let key_of: HashMap<i64, (String, i64)> = txns
        .iter()
        .map(|t| (t.id, (t.txn.card.clone(), t.txn.time.0)))
        .collect();
    let filter = FindingFilter {
        limit: 10_000,
        ..FindingFilter::default()
    };
    let mut found: BTreeMap<(String, i64), Vec<(String, String)>> = BTreeMap::new();
    for f in store.fuel().findings(&filter).await.unwrap() {
        found
            .entry(key_of[&f.transaction_id].clone())
            .or_default()
            .push((f.check, f.reason));
    }

    // Recall: every planted misuse found by its check. Precision: the fills found that were planted.
    let (mut planted, mut caught, mut false_found) = (0usize, 0usize, Vec::new());
    let mut missed = Vec::new();
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in &truth {
        let key = (
            t["card"].as_str().unwrap().to_string(),
            t["time_ms"].as_i64().unwrap(),
        );
        let checks = found.get(&key);
        match t["misuse"].as_str() {
            Some(want) => {
                planted += 1;
                let kind = by_kind.entry(t["planted"].as_str().unwrap()).or_default();
                kind.0 += 1;
                if checks.is_some_and(|c| c.iter().any(|(check, _)| check == want)) {
                    caught += 1;
                    kind.1 += 1;
                } else {
                    missed.push(format!("line {} ({want}): found {checks:?}", t["line"]));
                }
            }
            None => {
                if let Some(c) = checks {
                    false_found.push(format!("line {} (clean): {c:?}", t["line"]));
                }
            }
        }
    }
    let flagged = found.len();
    let recall = caught as f64 / planted as f64;
    let precision = (flagged - false_found.len()) as f64 / flagged.max(1) as f64;
    println!(
        "fuel world: {} rows, {planted} planted, {caught} found (recall {:.1}%), {flagged} fills flagged, {} of them clean (precision {:.1}%)",
        truth.len(),
        recall * 100.0,
        false_found.len(),
        precision * 100.0
    );
    println!("  planted and found, by kind: {by_kind:?}");
    for f in &false_found {
        println!("  false finding: {f}");
    }
    assert_eq!(by_kind.len(), 10, "every kind planted: {by_kind:?}");
    assert!(missed.is_empty(), "planted misuse not found: {missed:#?}");
    assert!(precision >= 0.98, "precision {precision}: {false_found:#?}");
    store.close().await.unwrap();
}

tianshu_e2e::on_both_backends!(fuel_world, planted_misuse_is_found, "fuel_world");
