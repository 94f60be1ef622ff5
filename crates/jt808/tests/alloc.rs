//! The hot path allocates nothing: SmallChi's 107-byte 0x0200 frame (frame split, unescape, checksum,
//! header, body and its 12 items, then the `Position`) is decoded with a counting allocator installed.
// `GlobalAlloc` is an unsafe trait; this test-only allocator counts and delegates to the system one.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use tianshu_jt808::*;
use tianshu_model::{Edition, Phone, PositionSource, Timestamp, VehicleId};

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run on several threads at once).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc` contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same layout, same contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const FRAME_0200: &str = "7E0200005C11223344556622B8000000010000000200BA7F0E07E4F11C0028003C00001807151010100104000000640202003703020038040200011105010000000112060100000001011307000000020022012504000000172A0200F42B04000000F2300102310105167E";

#[test]
fn decoding_the_107_byte_location_report_allocates_nothing() {
    let raw = hex::decode(FRAME_0200).expect("hex");
    assert_eq!(raw.len(), 107);
    let mut scratch = [0u8; 128];
    let before = allocations();
    let (frame, used) = decode_next(&raw, &mut scratch, DecodeOptions::STRICT).expect("a whole frame");
    let frame = frame.expect("decodes");
    let Ok(Message::Location(report)) = frame.message() else {
        panic!("a location report")
    };
    let items = report
        .items
        .iter()
        .filter(|i| !matches!(i, AdditionalItem::Raw { .. }))
        .count();
    let p = report
        .to_position(
            frame.header.phone,
            VehicleId(1),
            Timestamp::from_secs(1_531_620_700),
            PositionSource::Live,
        )
        .expect("valid position");
    let leniencies = frame.leniencies | report.leniencies();
    let after = allocations();
    assert_eq!(after - before, 0, "allocations while decoding");
    assert_eq!(
        (used, items, p.mileage_dkm, p.satellites),
        (107, 12, Some(100), Some(5))
    );
    assert!(leniencies.is_empty());
    // The counter does count.
    let boxed = std::hint::black_box(Box::new(after));
    assert_eq!(allocations(), after + 1);
    drop(boxed);
}

#[test]
fn the_stream_decoder_and_the_acknowledgement_allocate_nothing_once_warm() {
    let raw = hex::decode(FRAME_0200).expect("hex");
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = BytesMut::with_capacity(64);
    // Warm up: the first split turns the buffer into a shared one (one allocation, once per buffer).
    buf.extend_from_slice(&raw);
    drop(decoder.decode(&mut buf).expect("decodes").expect("frame"));
    let before = allocations();
    for _ in 0..3 {
        buf.extend_from_slice(&raw);
        let frame = decoder.decode(&mut buf).expect("decodes").expect("frame");
        let Ok(Message::Location(report)) = frame.message() else {
            panic!("a location report")
        };
        assert_eq!(report.items.iter().count(), 12);
        out.clear();
        let ack = Message::PlatformAck(GeneralAck {
            reply_serial: frame.header.serial,
            reply_msg_id: frame.header.msg_id,
            result: GeneralAck::RESULT_OK,
        });
        encode_message(&frame.header.reply(id::PLATFORM_ACK, 1), &ack, &mut out).expect("encodes");
        // The frame is dropped before the next read, as a session does once the point is handed on.
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations per frame on the stream path");
    let _ = (Phone(0), Edition::V2013);
}
