//! kube-apiserver's `--event-ttl`: an Event lives this long after its last write. etcd
//! gives each Event a lease; here a sweep deletes those whose newest timestamp is older,
//! through the store, so watchers see them go.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Store, StoreError};

/// kube-apiserver's default `--event-ttl`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Where Events of both APIs (core/v1 and events.k8s.io/v1) are stored.
const PREFIX: &str = "/registry/events/";
/// Keys read per page of a sweep.
const PAGE: usize = 500;

/// When an Event was last written: its newest timestamp of any API version.
fn last_written(event: &Value) -> Option<jiff::Timestamp> {
    [
        "/lastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
        "/deprecatedLastTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|p| event.pointer(p)?.as_str()?.parse().ok())
    .max()
}

/// Delete every Event last written before `now - ttl`; returns how many went.
pub async fn sweep(store: &dyn Store, ttl: Duration) -> Result<usize, StoreError> {
    let Ok(ttl) = jiff::SignedDuration::try_from(ttl) else {
        return Ok(0);
    };
    let Ok(cutoff) = jiff::Timestamp::now().checked_sub(ttl) else {
        return Ok(0);
    };
    let mut after: Option<String> = None;
    let mut removed = 0;
    loop {
        let page = store
            .range(PREFIX, after.as_deref(), Some(PAGE), None)
            .await?;
        for kv in &page.kvs {
            let expired = serde_json::from_slice::<Value>(&kv.value)
                .ok()
                .and_then(|e| last_written(&e))
                .is_some_and(|t| t < cutoff);
            // Conditional on the version read: an Event counted again meanwhile stays.
            if expired && store.delete(&kv.key, Some(kv.mod_revision)).await.is_ok() {
                removed += 1;
            }
        }
        match page.kvs.last() {
            Some(last) if page.more => after = Some(last.key.clone()),
            _ => return Ok(removed),
        }
    }
}

/// Sweep every `ttl / 10` (at most a minute) until the store closes.
pub fn spawn(store: Arc<dyn Store>, ttl: Duration) -> tokio::task::JoinHandle<()> {
    let period = (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            match sweep(&*store, ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(events = n, "expired events deleted"),
                Err(StoreError::Closed) => return,
                Err(e) => tracing::warn!(error = %e, "expiring events"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteOptions, SqliteStore, Synchronous};
    use bytes::Bytes;
    use serde_json::json;

    fn event(last: &str) -> Bytes {
        Bytes::from(
            serde_json::to_vec(
                &json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
                "lastTimestamp": last}),
            )
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn events_older_than_the_ttl_go_and_recent_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            synchronous: Synchronous::Off,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(&dir.path().join("db"), options).unwrap();
        let now = jiff::Timestamp::now();
        let recent = now.checked_sub(jiff::SignedDuration::from_mins(5)).unwrap();
        let old = now
            .checked_sub(jiff::SignedDuration::from_hours(2))
            .unwrap();
        store
            .create("/registry/events/default/old", event(&old.to_string()))
            .await
            .unwrap();
        store
            .create(
                "/registry/events/default/recent",
                event(&recent.to_string()),
            )
            .await
            .unwrap();
        store
            .create("/registry/configmaps/default/old", event(&old.to_string()))
            .await
            .unwrap();
        assert_eq!(sweep(&store, DEFAULT_TTL).await.unwrap(), 1);
        let left: Vec<String> = store
            .range("/registry/", None, None, None)
            .await
            .unwrap()
            .kvs
            .into_iter()
            .map(|kv| kv.key)
            .collect();
        assert_eq!(
            left,
            [
                "/registry/configmaps/default/old",
                "/registry/events/default/recent"
            ]
        );
    }
}
