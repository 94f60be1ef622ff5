use super::*;

fn key(c: char) -> AuditKey {
    AuditKey::from_text(&c.to_string().repeat(40)).expect("a long enough key")
}

/// `n` records; those from `keyed_from` on are keyed with `key`.
fn chain(n: i64, keyed_from: i64, key: &AuditKey) -> Vec<AuditRecord> {
    let mut prev = GENESIS_HASH.to_string();
    (1..=n)
        .map(|seq| {
            let entry = AuditEntry {
                actor: "li".into(),
                action: "replay".into(),
                rows: seq as u64,
                ..Default::default()
            };
            let time = Timestamp::from_secs(1_800_000_000 + seq);
            let r = AuditRecord::chained(seq, time, entry, prev.clone(), (seq >= keyed_from).then_some(key));
            prev = r.hash.clone();
            r
        })
        .collect()
}

fn unkeyed(n: i64) -> Vec<AuditRecord> {
    chain(n, i64::MAX, &key('k'))
}

/// Rewrites `c[from..]` as an attacker without the key would: `edit`ed, then every link recomputed
/// with plain SHA-256 (the stored scheme left as it was unless `downgrade`).
fn rechain(c: &mut [AuditRecord], from: usize, downgrade: bool) {
    for i in from..c.len() {
        if i > 0 {
            c[i].prev_hash = c[i - 1].hash.clone();
        }
        if downgrade {
            c[i].scheme = ChainScheme::Sha256;
        }
        c[i].hash = AuditRecord::compute_hash(c[i].seq, c[i].time, &c[i].entry, &c[i].prev_hash);
    }
}

fn verify(c: &[AuditRecord], key: Option<&AuditKey>, anchors: &[Anchor]) -> Result<ChainSummary, ChainBreak> {
    let mut v = ChainVerifier::new(key.cloned()).with_anchors(anchors.iter().cloned());
    for r in c {
        v.push(r)?;
    }
    v.finish()
}

/// `c` does not verify (with `key` and `anchors`): the break is at record `seq` and its reason says `says`.
fn assert_broken_at(c: &[AuditRecord], key: &AuditKey, anchors: &[Anchor], seq: i64, says: &str) {
    let b = verify(c, Some(key), anchors).unwrap_err();
    assert_eq!(b.seq, seq, "{}", b.reason);
    assert!(b.reason.contains(says), "{}", b.reason);
}

fn anchor(r: &AuditRecord) -> Anchor {
    Anchor {
        anchored: Timestamp::from_secs(1_900_000_000),
        seq: r.seq,
        hash: r.hash.clone(),
    }
}

#[test]
fn intact_chain_verifies() {
    assert_eq!(verify_chain(&unkeyed(5)), Ok(5));
}

#[test]
fn edited_record_is_named() {
    let mut c = unkeyed(5);
    c[2].entry.rows = 999;
    assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
}

#[test]
fn deleted_record_is_named() {
    let mut c = unkeyed(5);
    c.remove(1);
    assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
}

#[test]
fn rehashed_record_breaks_the_next_link() {
    let mut c = unkeyed(5);
    c[1].entry.actor = "mallory".into();
    c[1].hash = AuditRecord::compute_hash(2, c[1].time, &c[1].entry, &c[1].prev_hash);
    assert_eq!(verify_chain(&c).unwrap_err().seq, 3);
}

#[test]
fn unkeyed_records_then_keyed_ones_verify_with_the_key() {
    let k = key('k');
    let c = chain(6, 4, &k);
    let summary = verify(&c, Some(&k), &[]).expect("intact");
    assert_eq!((summary.records, summary.keyed_from), (6, Some(4)));
    // Another key, or none, cannot confirm the keyed part.
    let other = verify(&c, Some(&key('x')), &[]).unwrap_err();
    assert_eq!((other.seq, other.missing_key), (4, false), "{}", other.reason);
    let none = verify(&c, None, &[]).unwrap_err();
    assert_eq!((none.seq, none.missing_key), (4, true), "{}", none.reason);
}

#[test]
fn an_edited_keyed_record_rechained_with_sha256_is_found() {
    let k = key('k');
    let mut c = chain(6, 1, &k);
    c[2].entry.actor = "mallory".into();
    rechain(&mut c, 2, false);
    assert_broken_at(&c, &k, &[], 3, "keyed hash");
}

#[test]
fn a_keyed_record_passed_off_as_unkeyed_is_found() {
    let k = key('k');
    let mut c = chain(6, 2, &k);
    c[3].entry.rows = 0;
    rechain(&mut c, 3, true);
    assert_broken_at(&c, &k, &[], 4, "downgraded");
}

#[test]
fn anchors_find_cut_and_rewritten_chains() {
    let k = key('k');
    let c = chain(6, 1, &k);
    let anchors = [anchor(&c[2]), anchor(&c[5])];
    let summary = verify(&c, Some(&k), &anchors).expect("intact");
    assert_eq!(summary.anchors, 2);
    // The newest two records cut off: every link still fits, the anchor of record 6 does not.
    assert_broken_at(&c[..4], &k, &anchors, 6, "ends at record 4");
    // The whole chain rewritten as unkeyed from its first record: no link breaks, the anchors do.
    let mut rewritten = c.clone();
    rewritten[1].entry.detail = "forged".into();
    rechain(&mut rewritten, 0, true);
    assert_eq!(verify(&rewritten, Some(&k), &[]).map(|s| s.records), Ok(6));
    assert_broken_at(&rewritten, &k, &anchors, 3, "rewritten");
}

#[test]
fn anchor_files_are_json_lines_and_a_torn_last_line_is_skipped() {
    let c = unkeyed(2);
    let text = format!("{}{}{{\"anchored\":", anchor(&c[0]).line(), anchor(&c[1]).line());
    assert_eq!(parse_anchors(&text), Ok(vec![anchor(&c[0]), anchor(&c[1])]));
    let bad = format!("{}not json\n", anchor(&c[0]).line());
    assert!(parse_anchors(&bad).unwrap_err().starts_with("line 2:"));
}

#[test]
fn a_keyed_chain_never_goes_back() {
    use ChainScheme::*;
    assert_eq!(next_scheme(None, false), Ok(Sha256));
    assert_eq!(next_scheme(Some(Sha256), false), Ok(Sha256));
    assert_eq!(next_scheme(Some(Sha256), true), Ok(HmacSha256));
    assert_eq!(next_scheme(None, true), Ok(HmacSha256));
    assert!(next_scheme(Some(HmacSha256), false).is_err());
}

#[test]
fn keys_are_long_and_never_shown() {
    assert!(AuditKey::from_text("short").is_err());
    assert_eq!(format!("{:?}", key('s')), "AuditKey(***)");
    assert_eq!(ChainScheme::parse("hmac-sha256"), Some(ChainScheme::HmacSha256));
}
