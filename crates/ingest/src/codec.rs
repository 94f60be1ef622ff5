//! The tokio-util codec over the JT/T 808 frame layer.
//!
//! A thin wrapper: [`tianshu_jt808::FrameDecoder`] does the work (scan position never rescanned, frame cap,
//! unescape, checksum, header). A frame that does not decode is handed up as [`Inbound::Bad`] rather than as
//! a stream error, because a tokio-util stream ends after its first error and one bad frame on a mobile link
//! must not end a session: the session charges it to the connection's error budget instead.

use bytes::BytesMut;
use tianshu_jt808::{DecodeOptions, Frame, FrameDecoder};
use tokio_util::codec::Decoder;

/// What the codec yields.
#[derive(Debug)]
pub enum Inbound {
    /// A frame whose header and checksum are good (its body is decoded later, by message id).
    Frame(Frame),
    /// Bytes that were meant as a frame but are not one; already consumed from the buffer.
    Bad(tianshu_jt808::Error),
    /// More bytes than the noise limit were skipped outside frames (the count so far): bytes that never
    /// form a frame, which a connection that has not authenticated is not allowed to send for long.
    Noise(u64),
}

/// The JT/T 808 frame codec for a `FramedRead`.
#[derive(Debug, Clone)]
pub struct Jt808Codec {
    /// The splitter and its scan position.
    frames: FrameDecoder,
    /// Skipped bytes beyond which [`Inbound::Noise`] is yielded, while set.
    noise_limit: Option<u64>,
}

impl Jt808Codec {
    /// A codec with the given frame cap (escaped bytes, delimiters included) and strictness.
    pub fn new(max_frame_bytes: usize, options: DecodeOptions) -> Self {
        Jt808Codec {
            frames: FrameDecoder::new(options, max_frame_bytes),
            noise_limit: None,
        }
    }

    /// Yields [`Inbound::Noise`] once more than `limit` bytes were skipped outside frames (`None`: never).
    pub fn set_noise_limit(&mut self, limit: Option<u64>) {
        self.noise_limit = limit;
    }

    /// Bytes skipped outside frames so far (noise between frames, the rest of an oversized run).
    pub fn discarded_bytes(&self) -> u64 {
        self.frames.discarded_bytes()
    }
}

impl Decoder for Jt808Codec {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        match self.frames.decode(src) {
            Ok(Some(frame)) => Ok(Some(Inbound::Frame(frame))),
            Ok(None) => match self.noise_limit {
                Some(limit) if self.frames.discarded_bytes() > limit => {
                    Ok(Some(Inbound::Noise(self.frames.discarded_bytes())))
                }
                // Not enough bytes yet is normal, not an error.
                _ => Ok(None),
            },
            Err(e) => Ok(Some(Inbound::Bad(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_and_bad_frames_do_not_end_the_stream() {
        let mut codec = Jt808Codec::new(64, DecodeOptions::STRICT);
        let heartbeat = hex::decode("7e00020000012345678900000a817e").unwrap();
        let mut bad_checksum = heartbeat.clone();
        bad_checksum[13] ^= 0xff;
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"garbage");
        buf.extend_from_slice(&heartbeat[..5]);
        assert!(
            codec.decode(&mut buf).unwrap().is_none(),
            "half a frame needs more bytes"
        );
        buf.extend_from_slice(&heartbeat[5..]);
        buf.extend_from_slice(&bad_checksum);
        buf.extend_from_slice(&heartbeat);
        let Some(Inbound::Frame(f)) = codec.decode(&mut buf).unwrap() else {
            panic!("first frame")
        };
        assert_eq!(f.header.msg_id, 0x0002);
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Inbound::Bad(_))));
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Inbound::Frame(_))));
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(
            codec.discarded_bytes() >= 7,
            "the garbage before the first frame is counted"
        );
    }

    #[test]
    fn bytes_that_never_form_a_frame_are_reported_past_the_noise_limit() {
        let mut codec = Jt808Codec::new(64, DecodeOptions::STRICT);
        codec.set_noise_limit(Some(1000));
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0x11; 1000]);
        assert!(codec.decode(&mut buf).unwrap().is_none(), "up to the limit");
        buf.extend_from_slice(&[0x11; 1]);
        assert!(matches!(
            codec.decode(&mut buf).unwrap(),
            Some(Inbound::Noise(1001))
        ));
        codec.set_noise_limit(None);
        buf.extend_from_slice(&[0x11; 4096]);
        assert!(codec.decode(&mut buf).unwrap().is_none(), "no limit, no report");
    }

    #[test]
    fn an_endless_frame_is_an_error_not_memory() {
        let mut codec = Jt808Codec::new(64, DecodeOptions::STRICT);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0x7e]);
        buf.extend_from_slice(&[0x11; 100]);
        assert!(matches!(codec.decode(&mut buf).unwrap(), Some(Inbound::Bad(_))));
        assert!(buf.is_empty(), "the oversized run is dropped");
    }
}
