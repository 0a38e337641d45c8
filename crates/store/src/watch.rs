//! [`WatchStream`]: replays a key prefix's history from disk, then follows live writes,
//! delivering each revision exactly once and in order.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::broadcast;

use super::sqlite::{read_events, Readers};
use super::{prefix_end, Event, Revision, StoreError};

/// Rows fetched from disk per replay step.
const REPLAY_PAGE: usize = 512;

/// The events of one watch. Ends after yielding an error (compacted, closed); the API server
/// then ends the HTTP watch and the client re-watches from its last revision.
pub struct WatchStream {
    inner: BoxStream<'static, Result<Event, StoreError>>,
    progress: Arc<AtomicI64>,
}

/// Where a watch is, between two polls.
struct State {
    readers: Arc<Readers>,
    prefix: String,
    lower: Vec<u8>,
    upper: Option<Vec<u8>>,
    /// Replay has read history up to here.
    scanned: Revision,
    /// History up to here is replayed from disk; live events at or below it are duplicates.
    replay_until: Revision,
    buffered: VecDeque<Event>,
    live: broadcast::Receiver<Event>,
    finished: bool,
    /// Every matching event at or below this revision has been handed out.
    progress: Arc<AtomicI64>,
}

impl WatchStream {
    /// A watch on `prefix` for revisions after `after`; history up to `replay_until` comes
    /// from disk, later revisions from `live` (which must have subscribed before
    /// `replay_until` was read).
    pub(super) fn new(
        readers: Arc<Readers>,
        prefix: &str,
        after: Revision,
        replay_until: Revision,
        live: broadcast::Receiver<Event>,
    ) -> Self {
        let progress = Arc::new(AtomicI64::new(after));
        let state = State {
            readers,
            prefix: prefix.to_string(),
            lower: prefix.as_bytes().to_vec(),
            upper: prefix_end(prefix.as_bytes()),
            scanned: after,
            replay_until: replay_until.max(after),
            buffered: VecDeque::new(),
            live,
            finished: false,
            progress: Arc::clone(&progress),
        };
        let inner = futures::stream::unfold(state, |mut state| async move {
            let item = state.next_item().await?;
            if item.is_err() {
                state.finished = true;
            }
            Some((item, state))
        })
        .boxed();
        WatchStream { inner, progress }
    }

    /// The revision this watch has caught up to: every matching event at or below it has
    /// been yielded. Advances as the stream is polled, also past writes to other keys, so
    /// the API server can send a BOOKMARK with it when no event is pending.
    pub fn progress_revision(&self) -> Revision {
        self.progress.load(Ordering::SeqCst)
    }

    /// The next event; None once the watch has ended.
    pub async fn next(&mut self) -> Option<Result<Event, StoreError>> {
        self.inner.next().await
    }
}

impl Stream for WatchStream {
    type Item = Result<Event, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream").finish_non_exhaustive()
    }
}

impl State {
    async fn next_item(&mut self) -> Option<Result<Event, StoreError>> {
        if self.finished {
            return None;
        }
        loop {
            if let Some(event) = self.buffered.pop_front() {
                self.advance(event.revision());
                return Some(Ok(event));
            }
            if self.scanned < self.replay_until {
                if let Err(err) = self.replay_page().await {
                    return Some(Err(err));
                }
                continue;
            }
            // History is fully handed out.
            self.advance(self.replay_until);
            match self.live.recv().await {
                Ok(event) if event.revision() <= self.replay_until => {}
                Ok(event) => {
                    self.advance(event.revision());
                    if event.kv.key.starts_with(&self.prefix) {
                        return Some(Ok(event));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fallen behind the live ring: what it dropped is on disk up to the
                    // current revision, so replay that (as etcd catches up an unsynced
                    // watcher from its backend) and skip the live events it covers.
                    self.scanned = self.progress.load(Ordering::SeqCst);
                    self.replay_until = self.readers.shared.current.load(Ordering::SeqCst);
                }
                Err(broadcast::error::RecvError::Closed) => return Some(Err(StoreError::Closed)),
            }
        }
    }

    fn advance(&self, revision: Revision) {
        self.progress.fetch_max(revision, Ordering::SeqCst);
    }

    async fn replay_page(&mut self) -> Result<(), StoreError> {
        let (lower, upper) = (self.lower.clone(), self.upper.clone());
        let (after, until) = (self.scanned, self.replay_until);
        let events = self
            .readers
            .run(move |conn| read_events(conn, &lower, upper.as_deref(), after, until, REPLAY_PAGE))
            .await?;
        // Rows above the compacted revision are never purged; below it this page may have
        // missed some, so the watch cannot continue.
        self.readers.check_not_compacted(after)?;
        self.scanned = match events.last() {
            Some(last) if events.len() == REPLAY_PAGE => last.revision(),
            _ => until,
        };
        self.buffered.extend(events);
        Ok(())
    }
}
