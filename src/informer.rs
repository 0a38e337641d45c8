//! A reflector-backed cache of one kind, like client-go's informers: the store is kept
//! current by a background watch, and every change pokes a shared `Notify` so its owner
//! can recompute what it derives from the cache.

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A cache of one kind whose watch stops when the informer is dropped.
pub struct Informer<K: kube::Resource<DynamicType = ()> + 'static> {
    /// The cached objects.
    pub store: Store<K>,
    task: JoinHandle<()>,
}

impl<K: kube::Resource<DynamicType = ()> + 'static> Drop for Informer<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<K> Informer<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    /// Start watching `api`, notifying `changed` after every event.
    pub fn start(api: Api<K>, changed: Arc<Notify>) -> Self {
        let (store, writer) = reflector::store();
        let stream =
            reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
                .default_backoff();
        let task = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                if let Err(e) = event {
                    tracing::debug!(error = %e, kind = %K::kind(&()), "informer watch");
                }
                changed.notify_one();
            }
        });
        Informer { store, task }
    }

    /// The cached objects now.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.store.state()
    }
}
