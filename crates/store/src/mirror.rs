//! In-memory views kept in step with the stored objects under one prefix, the way
//! kube-apiserver's authorizers read informer caches: one paged load, then a store watch,
//! and a reload when the watch falls behind compaction or breaks.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{EventKind, Revision, Store, StoreError};

/// A view built from the stored objects under one prefix.
pub trait Mirror: Send + Sync + 'static {
    /// Take in one stored object, or its deletion.
    fn apply(&self, value: &[u8], deleted: bool);
    /// Forget every object, before a reload.
    fn clear(&self);
}

/// Load every object under `prefix` into `mirror`; returns the revision it was read at.
pub async fn load(
    store: &dyn Store,
    prefix: &str,
    mirror: &dyn Mirror,
) -> Result<Revision, StoreError> {
    let mut start_after: Option<String> = None;
    let mut at = None;
    loop {
        let page = store
            .range(prefix, start_after.as_deref(), Some(500), at)
            .await?;
        at = Some(page.revision);
        for kv in &page.kvs {
            mirror.apply(&kv.value, false);
        }
        match (page.more, page.kvs.last()) {
            (true, Some(last)) => start_after = Some(last.key.clone()),
            _ => return Ok(page.revision),
        }
    }
}

/// Load `prefix` now, then follow its writes in a task until that task is aborted.
pub async fn start(
    store: Arc<dyn Store>,
    prefix: String,
    mirror: Arc<dyn Mirror>,
) -> Result<JoinHandle<()>, StoreError> {
    let rev = load(store.as_ref(), &prefix, mirror.as_ref()).await?;
    Ok(tokio::spawn(follow(store, prefix, mirror, rev)))
}

/// Follow writes after `rev`; a watch that fails or falls behind compaction reloads.
async fn follow(store: Arc<dyn Store>, prefix: String, mirror: Arc<dyn Mirror>, mut rev: Revision) {
    loop {
        let mut watch = match store.watch(&prefix, rev).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, prefix, "mirror watch failed; reloading");
                rev = reload(store.as_ref(), &prefix, mirror.as_ref()).await;
                continue;
            }
        };
        while let Some(event) = watch.next().await {
            match event {
                Ok(ev) => {
                    rev = ev.revision();
                    mirror.apply(&ev.kv.value, ev.kind == EventKind::Deleted);
                }
                Err(e) => {
                    tracing::warn!(error = %e, prefix, "mirror watch ended; reloading");
                    rev = reload(store.as_ref(), &prefix, mirror.as_ref()).await;
                    break;
                }
            }
        }
    }
}

async fn reload(store: &dyn Store, prefix: &str, mirror: &dyn Mirror) -> Revision {
    loop {
        mirror.clear();
        match load(store, prefix, mirror).await {
            Ok(rev) => return rev,
            Err(e) => {
                tracing::warn!(error = %e, prefix, "reloading a mirror");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
