//! Reflector-backed caches, like client-go's informers: a store kept current by a
//! background watch, whose changes are announced to whoever recomputes what it derives from
//! it. `SharedCaches` keeps one per kind for a whole process; `Informer` is one of a
//! component's own (the addon programs, the tunnel).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use tokio::sync::{broadcast, watch, Notify};
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

/// Changes of several cached kinds merged into one stream, for a loop that recomputes
/// what it derives from them whenever any of them changes.
pub struct Changes(futures::stream::SelectAll<BoxStream<'static, ()>>);

impl Changes {
    /// Changes of `K` in `caches`; subscribe before the first read, so nothing is missed.
    pub fn of<K: Cached>(caches: &SharedCaches) -> Self {
        Changes(futures::stream::select_all([caches.changes::<K>()]))
    }

    /// Also the changes of `K`.
    pub fn and<K: Cached>(mut self, caches: &SharedCaches) -> Self {
        self.0.push(caches.changes::<K>());
        self
    }

    /// Waits for a change or for `at_most`, then for `settle`, then takes every change
    /// already queued, so that a burst of changes is one pass.
    pub async fn next_pass(&mut self, at_most: Duration, settle: Duration) {
        let _ = tokio::time::timeout(at_most, self.0.next()).await;
        if !settle.is_zero() {
            tokio::time::sleep(settle).await;
        }
        while let Some(Some(())) = self.0.next().now_or_never() {}
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
/// tokio allocates and writes the whole ring up front, for every shared kind: at 4096 the
/// rings were 2.3 MiB of an idle node's memory. A subscriber that lags past 256 (a burst of
/// pods) gets the cached objects, which its controller's queue deduplicates.
const TOUCHED_BUFFER: usize = 256;

/// One shared kind: its cache, and every object the watch changed, once the cache has it.
struct SharedKind<K: kube::Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    touched: broadcast::Sender<Arc<K>>,
    /// True once the first list is in the store. Waiters use this, not
    /// `Store::wait_until_ready`: kube-runtime's readiness wakes only the last task that
    /// polled it, so with several waiters on one shared store the others slept forever.
    listed: watch::Receiver<bool>,
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

    /// The cache of every `K` in the cluster, started on first use, once it has listed
    /// them all.
    pub async fn store<K>(&self) -> Store<K>
    where
        K: Cached,
    {
        let (store, mut listed) =
            self.with_kind(|k: &SharedKind<K>| (k.store.clone(), k.listed.clone()));
        // Only the end of the cache's task ends the wait early, and it lasts the process.
        let _ = listed.wait_for(|listed| *listed).await;
        store
    }

    /// Every cached `K`, once the cache has listed them.
    pub async fn all<K>(&self) -> Vec<Arc<K>>
    where
        K: Cached,
    {
        self.store::<K>().await.state()
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

    /// A kube-runtime controller over the cached `K`s that adds no watch of its own: it
    /// reads the shared store and is triggered by every `K` cached now, once listed, and
    /// by every later change.
    pub async fn controller<K>(&self) -> Controller<K>
    where
        K: Cached,
    {
        // Subscribed before the current objects are read, so no change falls between.
        let later = self.touched::<K>();
        // Only a listed store is handed over: the controller waits for its readiness too,
        // which wakes one waiter only (see `SharedKind::listed`).
        let store = self.store::<K>().await;
        let now = futures::stream::iter(store.state());
        Controller::for_shared_stream(now.chain(later), store)
    }

    /// One item for every change of `K` (see `touched`), for loops that recompute all.
    pub fn changes<K>(&self) -> BoxStream<'static, ()>
    where
        K: Cached,
    {
        self.touched::<K>().map(|_| ()).boxed()
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
    let (listed_tx, listed) = watch::channel(false);
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(obj) | watcher::Event::Delete(obj)) => {
                    let _ = tx.send(Arc::new(obj));
                }
                // A relist swaps the whole cache in at its end.
                Ok(watcher::Event::InitDone) => {
                    listed_tx.send_replace(true);
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
        listed,
        task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    /// A kube client whose API lists `count` ConfigMaps after `delay` and then holds every
    /// watch open without events.
    fn listing_api(count: usize, delay: Duration) -> kube::Client {
        let api = tower::service_fn(move |req: http::Request<kube::client::Body>| async move {
            if req.uri().query().is_some_and(|q| q.contains("watch=true")) {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(delay).await;
            let items: Vec<_> = (0..count)
                .map(|i| {
                    json!({"metadata": {"name": format!("cm-{i}"), "namespace": "default",
                                             "resourceVersion": "7"}})
                })
                .collect();
            let list = json!({
                "apiVersion": "v1", "kind": "ConfigMapList",
                "metadata": {"resourceVersion": "7"}, "items": items,
            });
            let body = Bytes::from(serde_json::to_vec(&list).expect("JSON"));
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(body)))
        });
        kube::Client::new(api, "default")
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_the_ring_gets_every_cached_object() {
        let count = TOUCHED_BUFFER * 2 + 3;
        let caches = SharedCaches::new(listing_api(count, Duration::ZERO));
        let touched = caches.touched::<ConfigMap>();
        // The first list announces every object at once, twice the ring, while the
        // subscriber reads nothing.
        assert_eq!(caches.all::<ConfigMap>().await.len(), count);
        futures::pin_mut!(touched);
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < count {
            let obj = tokio::time::timeout(Duration::from_secs(10), touched.next())
                .await
                .expect("a lagging subscriber is told about every cached object")
                .expect("the stream stays open");
            seen.insert(obj.metadata.name.clone().expect("name"));
        }
    }

    #[tokio::test]
    async fn every_task_waiting_for_the_first_list_wakes() {
        let caches = SharedCaches::new(listing_api(1, Duration::from_millis(200)));
        // All wait before the list is in: kube-runtime's own readiness would wake one.
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let caches = caches.clone();
                tokio::spawn(async move { caches.all::<ConfigMap>().await.len() })
            })
            .collect();
        for waiter in waiters {
            let listed = tokio::time::timeout(Duration::from_secs(10), waiter)
                .await
                .expect("a waiter slept through the first list");
            assert_eq!(listed.expect("waiter"), 1);
        }
        let controller =
            tokio::time::timeout(Duration::from_secs(10), caches.controller::<ConfigMap>())
                .await
                .expect("a controller waits for the same list");
        assert_eq!(controller.store().state().len(), 1);
    }
}
