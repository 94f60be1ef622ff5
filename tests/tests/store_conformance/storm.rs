//! A reconnect storm's registry calls: many concurrent terminal lookups and registration writes, each
//! answered with its own terminal, none, or error, in far fewer queries and transactions than calls.

use futures::future::join_all;
use tianshu_model::{Edition, Phone};
use tianshu_store::{Error, RegistryRecord, Store};
use tianshu_testkit::{metric, registry_record};

const PROVISIONED: u128 = 300;
const ASKED: u128 = 600;

fn phone(i: u128) -> Phone {
    Phone(13_900_000_000 + i)
}

/// The registry's calls and the batches they ran in, so far.
fn calls_and_batches() -> (f64, f64) {
    let mut text = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    prometheus::Encoder::encode(&encoder, &prometheus::gather(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    (
        metric(&text, "tianshu_store_registry_calls_total", ""),
        metric(&text, "tianshu_store_registry_batches_total", ""),
    )
}

/// Asserts that `calls` calls ran since `before`, in at least one and fewer than half as many batches.
fn assert_coalesced(before: (f64, f64), calls: u128) {
    let (c, b) = calls_and_batches();
    let (calls_run, batches) = (c - before.0, b - before.1);
    assert_eq!(calls_run, calls as f64, "every call counted");
    assert!(
        batches >= 1.0 && batches < calls_run / 2.0,
        "{calls_run} calls in {batches} batches"
    );
}

pub async fn a_reconnect_storm_of_lookups_and_registrations_is_coalesced_and_answered_one_by_one(
    store: Store,
) {
    let records: Vec<RegistryRecord> = (0..PROVISIONED)
        .map(|i| registry_record("黄石市", &format!("鄂S{i:05}"), phone(i).0, &format!("S{i:06}")))
        .collect();
    store.import_registry(&records).await.unwrap();

    // Every other phone asked is not provisioned: its caller gets none, the others their own terminal.
    let before = calls_and_batches();
    let found = join_all((0..ASKED).map(|i| store.terminal(phone(i * 2)))).await;
    for (i, t) in (0..ASKED).zip(found) {
        let t = t.unwrap();
        match i * 2 < PROVISIONED {
            true => assert_eq!(t.unwrap().terminal_id, format!("S{:06}", i * 2)),
            false => assert_eq!(t, None, "phone {i}"),
        }
    }
    assert_coalesced(before, ASKED);

    // Registrations of unknown phones fail alone; the others are each stored with their own code.
    let before = calls_and_batches();
    let hashes: Vec<String> = (0..ASKED).map(|i| format!("hash-{i}")).collect();
    let imei = |i: u128| i.is_multiple_of(3).then(|| format!("86{i:013}"));
    let imeis: Vec<Option<String>> = (0..ASKED).map(imei).collect();
    let saved = join_all((0..ASKED).map(|i| {
        let (hash, imei) = (&hashes[i as usize], imeis[i as usize].as_deref());
        store.save_registration(phone(i), Edition::V2019, hash, imei)
    }))
    .await;
    for (i, r) in (0..ASKED).zip(saved) {
        match i < PROVISIONED {
            true => r.unwrap(),
            false => assert!(matches!(r, Err(Error::NotFound(_))), "phone {i}: {r:?}"),
        }
    }
    assert_coalesced(before, ASKED);
    let found = join_all((0..PROVISIONED).map(|i| store.terminal(phone(i)))).await;
    for (i, t) in (0..PROVISIONED).zip(found) {
        let t = t.unwrap().unwrap();
        assert_eq!(t.auth_code_hash, Some(format!("hash-{i}")));
        assert_eq!((t.edition, t.imei), (Some(Edition::V2019), imei(i)));
    }
}
