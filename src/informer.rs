//! A reflector-backed cache of one kind, like client-go's informers: the store is kept
//! current by a background watch, and every change pokes a shared `Notify` so its owner
//! can recompute what it derives from the cache.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;

/// What a cached kind must be: a typed object that can be decoded, cloned and shared.
pub trait Cached:
    kube::Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

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
    K: Cached,
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

/// Caches of whole kinds shared by every controller of the process, as client-go's shared
/// informer factory: each kind is listed and watched once, on first use; reconcilers read
/// from the cache instead of LISTing on every pass, and are triggered by the same watch,
/// after the cache has the change, so what triggers a pass is always in what it reads.
#[derive(Clone)]
pub struct SharedCaches {
    client: kube::Client,
    started: Arc<std::sync::Mutex<SharedMap>>,
}

/// The started kinds by type, each a `SharedKind<K>` kept for the life of the process.
type SharedMap = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// How many changes a slow subscriber may fall behind before it is told to look at all.
const TOUCHED_BUFFER: usize = 4096;

/// One shared kind: its cache, and every object the watch changed, once the cache has it.
struct SharedKind<K: kube::Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    touched: broadcast::Sender<Arc<K>>,
    task: JoinHandle<()>,
}

impl<K: kube::Resource<DynamicType = ()> + 'static> Drop for SharedKind<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SharedCaches {
    /// Caches that list and watch through `client`.
    pub fn new(client: kube::Client) -> Self {
        SharedCaches {
            client,
            started: Arc::default(),
        }
    }

    fn with_kind<K, T>(&self, f: impl FnOnce(&SharedKind<K>) -> T) -> T
    where
        K: Cached,
    {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        let entry = started
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(start_shared(Api::<K>::all(self.client.clone()))));
        f(entry
            .downcast_ref::<SharedKind<K>>()
            .expect("one kind per type"))
    }

    /// The cache of every `K` in the cluster, started on first use; wait for
    /// `Store::wait_until_ready` before trusting it.
    pub fn store<K>(&self) -> Store<K>
    where
        K: Cached,
    {
        self.with_kind(|k: &SharedKind<K>| k.store.clone())
    }

    /// Every cached `K`, once the cache has listed them.
    pub async fn all<K>(&self) -> Vec<Arc<K>>
    where
        K: Cached,
    {
        let store = self.store::<K>();
        // Only a dropped writer ends the wait, and the caches keep theirs for the process.
        let _ = store.wait_until_ready().await;
        store.state()
    }

    /// The cached `K`s in `namespace`, once the cache has listed them.
    pub async fn in_namespace<K>(&self, namespace: &str) -> Vec<Arc<K>>
    where
        K: Cached,
    {
        self.all::<K>()
            .await
            .into_iter()
            .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
            .collect()
    }

    /// Every `K` the watch adds, changes or deletes from now on, once the cache shows it;
    /// after a relist, every cached one. A subscriber that falls far behind gets every
    /// cached one too, since it missed some.
    pub fn touched<K>(&self) -> impl futures::Stream<Item = Arc<K>> + Send + 'static
    where
        K: Cached,
    {
        let (rx, store) =
            self.with_kind(|k: &SharedKind<K>| (k.touched.subscribe(), k.store.clone()));
        futures::stream::unfold((rx, store), |(mut rx, store)| async move {
            match rx.recv().await {
                Ok(obj) => Some((vec![obj], (rx, store))),
                Err(broadcast::error::RecvError::Lagged(_)) => Some((store.state(), (rx, store))),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .flat_map(futures::stream::iter)
    }
}

/// List and watch every `api` object into a cache, announcing each change after the cache
/// has applied it.
fn start_shared<K>(api: Api<K>) -> SharedKind<K>
where
    K: Cached,
{
    let (store, writer) = reflector::store();
    let (touched, _) = broadcast::channel(TOUCHED_BUFFER);
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
        .default_backoff();
    let (tx, cached) = (touched.clone(), store.clone());
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(obj) | watcher::Event::Delete(obj)) => {
                    let _ = tx.send(Arc::new(obj));
                }
                // A relist swaps the whole cache in at its end.
                Ok(watcher::Event::InitDone) => {
                    for obj in cached.state() {
                        let _ = tx.send(obj);
                    }
                }
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Err(e) => tracing::debug!(error = %e, kind = %K::kind(&()), "shared cache watch"),
            }
        }
    });
    SharedKind {
        store,
        touched,
        task,
    }
}
