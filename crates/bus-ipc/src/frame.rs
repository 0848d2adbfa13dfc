//! The wire format: length-prefixed protobuf frames.
//!
//! Each frame is a 4-byte big-endian length and a protobuf [`Frame`]. A pipe or socket may
//! deliver any number of bytes per read and accept any number per write, so the reader keeps
//! what it has until a whole frame is there ([`FrameReader`], cancel-safe), and writers send a
//! frame with `write_all`. A length above [`MAX_FRAME`] means the peer is not speaking this
//! protocol; the connection is dropped rather than allocating on its word.

use std::io;

use angzarr_proto::{EventBook, EventPageExt, Target, UuidExt};
use angzarr_runtime::gateway::tail::group_into_books;
use angzarr_runtime::storage::{HistoryKey, StoredEvent};
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame accepted (events are limited far below this by the runtime).
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// One message on a bus connection.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    /// What it says.
    #[prost(oneof = "Body", tags = "1, 2, 3, 4, 5")]
    pub body: Option<Body>,
}

/// The kinds of frames.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Body {
    /// Subscriber → publisher, first: who it is and what it wants.
    #[prost(message, tag = "1")]
    Hello(Hello),
    /// Publisher → subscriber, first: accepted; everything up to `head` is in its log.
    #[prost(message, tag = "2")]
    Welcome(Welcome),
    /// Publisher → subscriber: newly committed events the subscriber asked for.
    #[prost(message, tag = "3")]
    Events(Events),
    /// Publisher → subscriber: frames were dropped because the subscriber's buffer was full;
    /// what it asked for up to `up_to` must be read from the publisher's log.
    #[prost(message, tag = "4")]
    Lagged(Lagged),
    /// Publisher → subscriber: not accepted (e.g. another protocol version).
    #[prost(message, tag = "5")]
    Refused(Refused),
}

/// A subscriber introducing itself.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Hello {
    /// The protocol version it speaks.
    #[prost(uint32, tag = "1")]
    pub protocol: u32,
    /// Who it is (for logs): `<process>/<subscriber>`.
    #[prost(string, tag = "2")]
    pub subscriber: String,
    /// The domains and types it wants (ignored when `all`).
    #[prost(message, repeated, tag = "3")]
    pub targets: Vec<Target>,
    /// Everything, unfiltered.
    #[prost(bool, tag = "4")]
    pub all: bool,
}

/// A publisher accepting a subscriber.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Welcome {
    /// The protocol version it speaks.
    #[prost(uint32, tag = "1")]
    pub protocol: u32,
    /// The publishing process.
    #[prost(string, tag = "2")]
    pub process: String,
    /// The last position published before this subscriber was added; later frames carry
    /// only later positions.
    #[prost(uint64, tag = "3")]
    pub head: u64,
}

/// Committed events, grouped into books per history run.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Events {
    /// The events.
    #[prost(message, repeated, tag = "1")]
    pub books: Vec<EventBook>,
}

/// Frames were dropped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Lagged {
    /// The highest position among the dropped frames.
    #[prost(uint64, tag = "1")]
    pub up_to: u64,
    /// How many frames were dropped.
    #[prost(uint64, tag = "2")]
    pub dropped: u64,
}

/// A refusal.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Refused {
    /// Why.
    #[prost(string, tag = "1")]
    pub reason: String,
}

impl Frame {
    /// A frame with this body.
    pub fn of(body: Body) -> Self {
        Self { body: Some(body) }
    }

    /// The frame as bytes on the wire (length prefix included).
    pub fn to_wire(&self) -> Vec<u8> {
        let len = self.encoded_len();
        let mut out = Vec::with_capacity(4 + len);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        self.encode(&mut out)
            .expect("a Vec grows as needed, so encoding cannot run out of room");
        out
    }
}

/// Encodes stored events as an `Events` frame on the wire.
pub fn events_frame(events: &[StoredEvent]) -> Vec<u8> {
    Frame::of(Body::Events(Events {
        books: group_into_books(events),
    }))
    .to_wire()
}

/// The stored events of an `Events` frame.
pub fn stored_events(events: Events) -> io::Result<Vec<StoredEvent>> {
    let mut out = Vec::new();
    for book in events.books {
        let cover = book.cover.unwrap_or_default();
        let root = cover
            .root
            .as_ref()
            .map(UuidExt::to_uuid)
            .transpose()
            .map_err(|e| invalid(format!("a frame has an invalid root: {e}")))?
            .unwrap_or_default();
        let key = HistoryKey {
            domain: cover.domain.clone(),
            edition: cover.edition.clone(),
            root,
        };
        for page in book.pages {
            out.push(StoredEvent {
                key: key.clone(),
                sequence: page.sequence_num().unwrap_or_default(),
                position: page.position,
                created_at: page.created_at.unwrap_or_default(),
                event: page.event.unwrap_or_default(),
                correlation_id: cover.correlation_id.clone(),
                causation: page.causation,
            });
        }
    }
    Ok(out)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Writes one frame whole (however many writes that takes).
pub async fn write_frame(writer: &mut (impl AsyncWrite + Unpin), frame: &Frame) -> io::Result<()> {
    writer.write_all(&frame.to_wire()).await?;
    writer.flush().await
}

/// Reads frames from a byte stream that may split or join them anywhere.
#[derive(Debug)]
pub struct FrameReader<R> {
    reader: R,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader over `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::new(),
        }
    }

    /// The next frame; `None` at a clean end of stream (between frames). Cancel-safe: bytes
    /// already read stay buffered for the next call.
    pub async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.take_frame()? {
                return Ok(Some(frame));
            }
            let mut chunk = [0u8; 64 * 1024];
            let read = self.reader.read(&mut chunk).await?;
            if read == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection in the middle of a frame",
                    ))
                };
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    fn take_frame(&mut self) -> io::Result<Option<Frame>> {
        let Some(prefix) = self.buffer.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > MAX_FRAME {
            return Err(invalid(format!(
                "a frame of {len} bytes is larger than the {MAX_FRAME} allowed: the peer does not speak this protocol"
            )));
        }
        if self.buffer.len() < 4 + len {
            return Ok(None);
        }
        let frame = Frame::decode(&self.buffer[4..4 + len])
            .map_err(|e| invalid(format!("an undecodable frame: {e}")))?;
        self.buffer.drain(..4 + len);
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.at + self.step).min(self.data.len());
            let end = end.min(self.at + buf.remaining());
            let at = self.at;
            buf.put_slice(&self.data[at..end]);
            self.at = end;
            Poll::Ready(Ok(()))
        }
    }

    fn lagged(up_to: u64) -> Frame {
        Frame::of(Body::Lagged(Lagged { up_to, dropped: 1 }))
    }

    async fn read_all(data: Vec<u8>, step: usize) -> io::Result<Vec<Frame>> {
        let mut reader = FrameReader::new(Trickle { data, at: 0, step });
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().await? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[tokio::test]
    async fn frames_survive_reads_split_anywhere_and_joined() {
        let frames: Vec<Frame> = (1..=50).map(lagged).collect();
        let wire: Vec<u8> = frames.iter().flat_map(Frame::to_wire).collect();
        for step in [1, 2, 3, 5, 7, 64, wire.len()] {
            assert_eq!(read_all(wire.clone(), step).await.expect("read"), frames);
        }
    }

    #[tokio::test]
    async fn an_end_inside_a_frame_and_an_absurd_length_are_errors() {
        let mut wire = lagged(7).to_wire();
        wire.pop();
        let err = read_all(wire, 3).await.expect_err("truncated");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = read_all(vec![0xff, 0xff, 0xff, 0xff, 1], 5)
            .await
            .expect_err("absurd length");
        assert!(
            err.to_string().contains("does not speak this protocol"),
            "{err}"
        );
    }

    #[test]
    fn events_round_trip_through_a_frame() {
        let event = |domain: &str, position: u64| StoredEvent {
            key: HistoryKey::main(domain, uuid::Uuid::from_u128(position as u128 % 2)),
            sequence: position as u32,
            position,
            created_at: prost_types::Timestamp {
                seconds: 5,
                nanos: 6,
            },
            event: prost_types::Any {
                type_url: "type.googleapis.com/x.Y".into(),
                value: vec![1, 2, 3],
            },
            correlation_id: format!("c{}", position % 3),
            causation: None,
        };
        let events: Vec<StoredEvent> = (1..=9)
            .map(|p| event(if p % 2 == 0 { "a" } else { "b" }, p))
            .collect();
        let wire = events_frame(&events);
        let frame = Frame::decode(&wire[4..]).expect("decode");
        let Some(Body::Events(decoded)) = frame.body else {
            panic!("not an events frame");
        };
        assert_eq!(stored_events(decoded).expect("events"), events);
    }
}
