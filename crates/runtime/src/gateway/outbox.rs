//! The buffer between a server-streaming call's producer and its client.
//!
//! Producers read from the store, never from shared buffers, so a slow client can only hold
//! up its own producer. That producer waits for room in a bounded buffer; if the client has
//! not made room within the timeout, the stream is closed with `RESOURCE_EXHAUSTED` saying
//! so, and nothing else is affected.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tonic::Status;

/// Why a producer should stop.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// The client went away.
    ClientGone,
    /// The client stopped reading; the stream ends with `RESOURCE_EXHAUSTED`.
    TooSlow,
}

/// The producer's end.
pub struct Outbox<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    timeout: Duration,
    capacity: usize,
    ending: Arc<Mutex<Option<Status>>>,
}

/// The client's end: the messages, then the status that ended the stream, if any.
pub struct OutboxStream<T> {
    rx: mpsc::Receiver<Result<T, Status>>,
    ending: Arc<Mutex<Option<Status>>>,
    done: bool,
}

/// A buffer of `capacity` messages; a producer gives up on a client after `timeout` without
/// room.
pub fn outbox<T>(capacity: usize, timeout: Duration) -> (Outbox<T>, OutboxStream<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let ending = Arc::new(Mutex::new(None));
    (
        Outbox {
            tx,
            timeout,
            capacity,
            ending: ending.clone(),
        },
        OutboxStream {
            rx,
            ending,
            done: false,
        },
    )
}

impl<T> Outbox<T> {
    /// Queues a message for the client.
    pub async fn send(&self, message: T) -> Result<(), Closed> {
        match tokio::time::timeout(self.timeout, self.tx.send(Ok(message))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Closed::ClientGone),
            Err(_) => {
                self.end(Status::resource_exhausted(format!(
                    "the client did not read its stream: {} messages were waiting for more than {:?}; the stream is closed (read faster, or reconnect from the last position received)",
                    self.capacity, self.timeout
                )));
                Err(Closed::TooSlow)
            }
        }
    }

    /// Ends the stream with `status` (after the messages already queued).
    pub fn end(&self, status: Status) {
        *self.ending.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
    }

    /// Ends the stream with `status` right away if there is room, else after the queue.
    pub async fn fail(&self, status: Status) {
        if self.tx.try_send(Err(status.clone())).is_err() {
            self.end(status);
        }
    }

    /// Whether the client went away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves when the client goes away.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

impl<T> Stream for OutboxStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Ready(None) => {
                self.done = true;
                let ending = self.ending.lock().unwrap_or_else(|p| p.into_inner()).take();
                Poll::Ready(ending.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order_and_a_slow_client_is_told_why_it_was_dropped() {
        let (outbox, mut stream) = outbox::<u32>(2, Duration::from_millis(20));
        outbox.send(1).await.expect("room");
        outbox.send(2).await.expect("room");
        assert_eq!(outbox.send(3).await, Err(Closed::TooSlow));
        drop(outbox);
        assert_eq!(stream.next().await.map(|r| r.ok()), Some(Some(1)));
        assert_eq!(stream.next().await.map(|r| r.ok()), Some(Some(2)));
        let status = stream
            .next()
            .await
            .expect("the ending")
            .expect_err("a status");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn a_client_that_left_stops_the_producer() {
        let (outbox, stream) = outbox::<u32>(2, Duration::from_secs(60));
        drop(stream);
        assert_eq!(outbox.send(1).await, Err(Closed::ClientGone));
        assert!(outbox.is_closed());
    }
}
