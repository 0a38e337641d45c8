//! Watch event lines encoded once for every watcher that sends the same bytes, as
//! kube-apiserver's cachingObject does: with many unfiltered watches open on one kind,
//! decoding and printing each event once per watcher was most of a write's cost.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::store::Revision;

/// Lines kept at most; watchers of one event ask within moments of each other, so only
/// the newest few hundred events are worth keeping.
const KEPT: usize = 512;

/// What makes two watchers' lines for one event the same bytes: the event's revision (one
/// write of one key), the watch event type, and the group/version/resource it is served as
/// (shared by each watch's events, so a key costs no allocation).
pub type LineKey = (Revision, &'static str, Arc<str>);

/// Recently encoded watch lines, shared by every watch of the server.
#[derive(Default)]
pub struct WatchLines {
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    lines: HashMap<LineKey, Bytes>,
    order: VecDeque<LineKey>,
}

impl WatchLines {
    /// The line for `key`, encoded by `encode` unless another watcher already did; `None`
    /// (nothing to send) is not kept.
    pub fn get_or_encode(
        &self,
        key: LineKey,
        encode: impl FnOnce() -> Option<Bytes>,
    ) -> Option<Bytes> {
        if let Some(line) = self.lock().lines.get(&key) {
            return Some(line.clone());
        }
        // Encoded outside the lock: two watchers that miss together both encode, and
        // neither waits for the other.
        let line = encode()?;
        let mut recent = self.lock();
        if recent.lines.insert(key.clone(), line.clone()).is_none() {
            recent.order.push_back(key);
            while recent.order.len() > KEPT {
                if let Some(old) = recent.order.pop_front() {
                    recent.lines.remove(&old);
                }
            }
        }
        Some(line)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rev: Revision) -> LineKey {
        (rev, "ADDED", Arc::from("/v1/configmaps"))
    }

    #[test]
    fn a_line_is_encoded_once_and_then_shared() {
        let lines = WatchLines::default();
        let mut encoded = 0;
        for _ in 0..3 {
            let line = lines.get_or_encode(key(1), || {
                encoded += 1;
                Some(Bytes::from_static(b"one\n"))
            });
            assert_eq!(line.as_deref(), Some(&b"one\n"[..]));
        }
        assert_eq!(encoded, 1);
        // Another type or resource of the same revision is another line.
        let other = lines.get_or_encode((1, "MODIFIED", Arc::from("/v1/configmaps")), || {
            Some(Bytes::from_static(b"two\n"))
        });
        assert_eq!(other.as_deref(), Some(&b"two\n"[..]));
    }

    #[test]
    fn nothing_to_send_is_not_kept_and_old_lines_go() {
        let lines = WatchLines::default();
        assert_eq!(lines.get_or_encode(key(1), || None), None);
        assert_eq!(
            lines.get_or_encode(key(1), || Some(Bytes::from_static(b"x"))),
            Some(Bytes::from_static(b"x"))
        );
        for rev in 2..(KEPT as Revision + 2) {
            lines.get_or_encode(key(rev), || Some(Bytes::new()));
        }
        let mut again = false;
        lines.get_or_encode(key(1), || {
            again = true;
            Some(Bytes::new())
        });
        assert!(again, "the oldest line should have been dropped");
        assert_eq!(lines.lock().lines.len(), KEPT);
        assert_eq!(lines.lock().order.len(), KEPT);
    }
}
