//! The IPC bus framing: arbitrary bytes from a peer, delivered in chunks split anywhere, ->
//! [`FrameReader`] -> frames, then what the bus does with them: a subscriber's `Hello` becomes
//! its [`EventFilter`], an `Events` frame becomes stored events ([`stored_events`]).
//!
//! The first input byte chooses how the rest is split into reads; the rest is the byte stream.
//!
//! Promises checked: nothing panics; the frames read (and where reading stops, and why) do not
//! depend on how the bytes were split; every frame read re-encodes to itself; the events
//! of an `Events` frame survive a round trip through [`events_frame`] unchanged. A length
//! prefix alone must not make the reader allocate: `cargo fuzz run` is given
//! `-malloc_limit_mb`, so an allocation on a peer's word is a crash.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use angzarr_bus_ipc::frame::{
    Body, Events, Frame, FrameReader, Hello, Lagged, Welcome, events_frame, stored_events,
};
use angzarr_proto::{Cover, EventBook, EventPage, Target, UuidExt, event_page};
use angzarr_runtime::subscription::EventFilter;
use prost::Message;
use tokio::io::{AsyncRead, ReadBuf};

use crate::fixture;
use crate::mutate::Rng;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    fixture::runtime().block_on(check(split, stream));
}

async fn check(split: u8, stream: &[u8]) {
    let whole = read_all(stream, Chunks::Whole).await;
    let split = read_all(stream, Chunks::Random(Rng::new(u64::from(split)))).await;
    assert_eq!(
        whole, split,
        "the frames read depend on how the bytes were split"
    );
    let (frames, _end) = whole;
    let mut filters = Vec::new();
    let mut events = Vec::new();
    for frame in &frames {
        let wire = frame.to_wire();
        assert_eq!(
            Frame::decode(&wire[4..]).as_ref(),
            Ok(frame),
            "a frame does not re-encode to itself"
        );
        match &frame.body {
            Some(Body::Hello(hello)) => filters.push(EventFilter::from_targets(&hello.targets)),
            Some(Body::Events(frame_events)) => match stored_events(frame_events.clone()) {
                Ok(decoded) => {
                    let wire = events_frame(&decoded);
                    let again = match Frame::decode(&wire[4..]).map(|f| f.body) {
                        Ok(Some(Body::Events(again))) => stored_events(again),
                        other => panic!("events_frame wrote something else: {other:?}"),
                    };
                    assert_eq!(
                        again.as_ref().ok(),
                        Some(&decoded),
                        "events change through a frame"
                    );
                    events.extend(decoded);
                }
                Err(err) => assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}"),
            },
            _ => {}
        }
    }
    for filter in &filters {
        for event in &events {
            // What a publisher asks of every subscriber's filter for every event it publishes.
            let _ = filter.matches(event);
        }
    }
}

/// How reads hand out the bytes.
enum Chunks {
    Whole,
    Random(Rng),
}

/// A peer that hands out its bytes in chunks.
struct Peer<'a> {
    data: &'a [u8],
    chunks: Chunks,
}

impl AsyncRead for Peer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let step = match &mut self.chunks {
            Chunks::Whole => usize::MAX,
            // Mostly tiny reads (splitting prefixes and bodies), sometimes large ones.
            Chunks::Random(rng) => match rng.below(4) {
                0 => 1 + rng.below(4096),
                _ => 1 + rng.below(7),
            },
        };
        let n = step.min(buf.remaining()).min(self.data.len());
        let (now, later) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

/// Every frame of `data`, and how reading ended: `None` at a clean end, else the error kind.
async fn read_all(data: &[u8], chunks: Chunks) -> (Vec<Frame>, Option<io::ErrorKind>) {
    let mut reader = FrameReader::new(Peer { data, chunks });
    let mut frames = Vec::new();
    loop {
        match reader.next().await {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(err) => {
                assert!(!err.to_string().is_empty(), "an error without a message");
                return (frames, Some(err.kind()));
            }
        }
    }
}

/// Each kind of frame, a conversation of several, a length prefix without its frame, an
/// absurd length and a truncated frame.
pub fn seeds() -> Vec<Vec<u8>> {
    let hello = Frame::of(Body::Hello(Hello {
        protocol: 1,
        subscriber: "p/projector-x".into(),
        targets: vec![Target {
            domain: "fuzz".into(),
            types: vec!["Happened".into()],
            editions: vec!["*".into()],
        }],
        all: false,
    }));
    let welcome = Frame::of(Body::Welcome(Welcome {
        protocol: 1,
        process: "p".into(),
        head: 7,
    }));
    let page = |sequence: u32, position: u64| EventPage {
        sequence: Some(event_page::Sequence::Num(sequence)),
        created_at: Some(prost_types::Timestamp {
            seconds: 5,
            nanos: 6,
        }),
        event: Some(prost_types::Any {
            type_url: fixture::type_url("Happened"),
            value: vec![1, 2, 3],
        }),
        causation: None,
        position,
    };
    let events = Frame::of(Body::Events(Events {
        books: vec![EventBook {
            cover: Some(Cover {
                root: Some(angzarr_proto::Uuid::from_uuid(uuid::Uuid::from_u128(1))),
                domain: "fuzz".into(),
                correlation_id: "c".into(),
                edition: String::new(),
            }),
            pages: vec![page(0, 8), page(1, 9)],
            ..Default::default()
        }],
    }));
    let lagged = Frame::of(Body::Lagged(Lagged {
        up_to: 12,
        dropped: 3,
    }));
    let conversation: Vec<u8> = [&hello, &welcome, &events, &lagged]
        .iter()
        .flat_map(|f| f.to_wire())
        .collect();
    let mut truncated = events.to_wire();
    truncated.pop();
    let with_split = |split: u8, bytes: Vec<u8>| {
        let mut input = vec![split];
        input.extend(bytes);
        input
    };
    vec![
        with_split(0, hello.to_wire()),
        with_split(1, welcome.to_wire()),
        with_split(2, events.to_wire()),
        with_split(3, lagged.to_wire()),
        with_split(4, conversation),
        with_split(5, 0x0100_0000u32.to_be_bytes().to_vec()),
        with_split(6, vec![0xff, 0xff, 0xff, 0xff, 1]),
        with_split(7, truncated),
    ]
}
