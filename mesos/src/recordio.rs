//! RecordIO framing of the Mesos event stream.
//!
//! A record is `<decimal byte length>\n<payload>`, with no separator after
//! the payload. Record boundaries are unrelated to HTTP chunk boundaries, so
//! the decoder is a stateful parser fed with whatever bytes arrive.

use bytes::{Buf, Bytes, BytesMut};

/// Records larger than this are refused (a corrupt length line would
/// otherwise make us buffer without bound).
pub const DEFAULT_MAX_RECORD: usize = 64 * 1024 * 1024;

/// Longest length line we accept: 20 digits cover u64.
const MAX_LENGTH_DIGITS: usize = 20;

/// Why a stream is not valid RecordIO. Every error is fatal for the stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordIoError {
    #[error("invalid RecordIO length line {0:?}")]
    InvalidLength(String),
    #[error("RecordIO record of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
    #[error("RecordIO stream ended inside a record ({0} bytes left over)")]
    Truncated(usize),
}

/// Incremental RecordIO decoder.
#[derive(Debug)]
pub struct RecordIoDecoder {
    buf: BytesMut,
    /// Length of the record being read, once its length line is parsed.
    pending: Option<usize>,
    max_record: usize,
}

impl Default for RecordIoDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD)
    }
}

impl RecordIoDecoder {
    pub fn new(max_record: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            pending: None,
            max_record,
        }
    }

    /// Appends bytes received from the stream.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Returns the next complete record, or `None` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        if self.pending.is_none() {
            let Some(newline) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > MAX_LENGTH_DIGITS || !self.buf.iter().all(u8::is_ascii_digit) {
                    return Err(invalid_length(&self.buf));
                }
                return Ok(None);
            };
            let line = &self.buf[..newline];
            let len = parse_length(line)?;
            if len > self.max_record as u64 {
                return Err(RecordIoError::TooLarge {
                    len,
                    max: self.max_record,
                });
            }
            self.buf.advance(newline + 1);
            // Bounded by max_record above, so it fits in usize.
            self.pending = Some(len as usize);
        }
        match self.pending {
            Some(len) if self.buf.len() >= len => {
                self.pending = None;
                Ok(Some(self.buf.split_to(len).freeze()))
            }
            _ => Ok(None),
        }
    }

    /// Call when the stream has ended: an error if it ended mid-record.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        let left = self.buf.len();
        if left == 0 && self.pending.is_none() {
            Ok(())
        } else {
            Err(RecordIoError::Truncated(left))
        }
    }
}

fn parse_length(line: &[u8]) -> Result<u64, RecordIoError> {
    if line.is_empty() || line.len() > MAX_LENGTH_DIGITS || !line.iter().all(u8::is_ascii_digit) {
        return Err(invalid_length(line));
    }
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| invalid_length(line))
}

fn invalid_length(line: &[u8]) -> RecordIoError {
    let shown: Vec<u8> = line.iter().copied().take(32).collect();
    RecordIoError::InvalidLength(String::from_utf8_lossy(&shown).into_owned())
}

/// Frames one payload as a RecordIO record.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, RecordIoError> {
        let mut decoder = RecordIoDecoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk);
            while let Some(record) = decoder.next_record()? {
                out.push(record.to_vec());
            }
        }
        decoder.finish()?;
        Ok(out)
    }

    #[test]
    fn several_records_in_one_chunk() {
        let wire = b"20\n{\"type\":\"HEARTBEAT\"}20\n{\"type\":\"HEARTBEAT\"}";
        let records = decode_all(&[wire]).expect("valid");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], b"{\"type\":\"HEARTBEAT\"}");
    }

    #[test]
    fn record_split_inside_length_and_payload() {
        // Guards MESOS-5943: a record split across reads must not be lost.
        let records = decode_all(&[b"2", b"0\n{\"type\":", b"\"HEARTBEAT\"}"]).expect("valid");
        assert_eq!(records, vec![b"{\"type\":\"HEARTBEAT\"}".to_vec()]);
    }

    #[test]
    fn non_numeric_length_is_fatal() {
        let err = decode_all(&[b"x1\nabc"]).expect_err("invalid");
        assert!(matches!(err, RecordIoError::InvalidLength(_)));
        let err = decode_all(&[b"{\"type\""]).expect_err("invalid");
        assert!(matches!(err, RecordIoError::InvalidLength(_)));
    }

    #[test]
    fn truncated_stream_is_reported() {
        assert_eq!(
            decode_all(&[b"10\nabc"]).expect_err("truncated"),
            RecordIoError::Truncated(3)
        );
    }

    #[test]
    fn oversized_record_is_refused() {
        let mut decoder = RecordIoDecoder::new(16);
        decoder.feed(b"17\n");
        assert!(matches!(
            decoder.next_record(),
            Err(RecordIoError::TooLarge { len: 17, max: 16 })
        ));
    }

    proptest! {
        /// Any payloads, framed and cut into arbitrary chunks, come back
        /// whole and in order.
        #[test]
        fn arbitrary_chunkings_round_trip(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..20),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let wire: Vec<u8> = payloads.iter().flat_map(|p| encode(p)).collect();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            points.push(0);
            points.push(wire.len());
            points.sort_unstable();
            points.dedup();
            let chunks: Vec<&[u8]> = points.windows(2).map(|w| &wire[w[0]..w[1]]).collect();
            let decoded = decode_all(&chunks).expect("valid stream");
            prop_assert_eq!(decoded, payloads);
        }

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_all(&[&data]);
        }
    }
}
