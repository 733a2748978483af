//! An answer keeps its organization's concurrency permit until it has been written: the permit
//! travels in the body and is released at the end of the stream, or when the connection drops the
//! body (a client that stops reading keeps counting against its organization until the write
//! timeout ends it). Large frames are handed to the connection in slices, so "handed over" stays
//! close to "written" (hyper buffers a few hundred KiB, not the whole answer).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

/// The most one frame hands to the connection at once.
const SLICE: usize = 64 * 1024;

/// A body that holds a permit until its last byte is handed to the connection.
pub struct HeldBody {
    inner: Body,
    /// The part of the inner body's last data frame not yet handed over.
    pending: Bytes,
    permit: Option<OwnedSemaphorePermit>,
}

impl HeldBody {
    /// Wraps `inner`, releasing `permit` when it is done.
    pub fn wrap(inner: Body, permit: OwnedSemaphorePermit) -> Body {
        Body::new(HeldBody {
            inner,
            pending: Bytes::new(),
            permit: Some(permit),
        })
    }

    fn next_slice(&mut self) -> Bytes {
        self.pending.split_to(self.pending.len().min(SLICE))
    }
}

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if !this.pending.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(this.next_slice()))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    this.pending = data;
                    Poll::Ready(Some(Ok(Frame::data(this.next_slice()))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(end) => {
                // End of stream or a failed body: either way nothing more will be written.
                this.permit = None;
                Poll::Ready(end)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // Exact sizes must stay exact: hyper derives `Content-Length` from them.
        let inner = self.inner.size_hint();
        let pending = self.pending.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(pending));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(pending));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use tokio::sync::Semaphore;

    #[tokio::test]
    async fn the_permit_is_held_until_the_last_slice_and_sizes_stay_exact() {
        let semaphore = Arc::new(Semaphore::new(1));
        let permit = semaphore.clone().try_acquire_owned().unwrap();
        let answer = vec![b'x'; SLICE * 2 + 10];
        let mut body = HeldBody::wrap(Body::from(answer.clone()), permit);
        assert_eq!(body.size_hint().exact(), Some(answer.len() as u64));
        let mut got = Vec::new();
        let mut frames = 0;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() <= SLICE);
            got.extend_from_slice(&data);
            frames += 1;
            if got.len() < answer.len() {
                assert_eq!(
                    semaphore.available_permits(),
                    0,
                    "released before the answer was handed over"
                );
                assert_eq!(body.size_hint().exact(), Some((answer.len() - got.len()) as u64));
            }
        }
        assert_eq!(got, answer);
        assert_eq!(frames, 3);
        assert_eq!(semaphore.available_permits(), 1);
    }

    #[tokio::test]
    async fn dropping_the_body_releases_the_permit() {
        let semaphore = Arc::new(Semaphore::new(1));
        let body = HeldBody::wrap(Body::from("abc"), semaphore.clone().try_acquire_owned().unwrap());
        assert_eq!(semaphore.available_permits(), 0);
        drop(body);
        assert_eq!(semaphore.available_permits(), 1);
    }
}
