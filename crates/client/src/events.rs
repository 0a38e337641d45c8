//! Recording core/v1 Events the way client-go's recorder does: one Event per object,
//! reason and message, repeated occurrences counted on the same Event, written in the
//! background so that recording never waits on the API server.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Resource;
use lru::LruCache;
use serde_json::json;
use tokio::sync::mpsc;

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Routine.
    Normal,
    /// Something went wrong.
    Warning,
}

/// What makes two events the same: involved object uid, reason, message.
type EventKey = (String, String, String);

/// Events remembered for counting repeats: client-go's `maxLruCacheEntries`.
const REMEMBERED: NonZeroUsize = NonZeroUsize::new(4096).expect("non-zero");

/// Events waiting to be written per recorder: client-go's `maxQueuedEvents`. More are
/// dropped, as client-go drops them, rather than slowing the component down.
const QUEUED: usize = 1000;

/// Publishes Events for one component.
#[derive(Clone)]
pub struct Recorder {
    writer: Arc<Writer>,
    /// The queue to the task writing this recorder's events, started by the first event.
    queue: Arc<OnceLock<mpsc::Sender<Pending>>>,
}

/// Writes one component's events, in the order they were recorded.
struct Writer {
    client: kube::Client,
    component: String,
    host: String,
    seen: Mutex<LruCache<EventKey, (String, i32)>>,
}

/// An event recorded and not yet written.
struct Pending {
    obj: ObjectReference,
    kind: EventType,
    reason: String,
    message: String,
}

/// A reference to `obj` for `involvedObject`.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: obj.meta().name.clone(),
        namespace: obj.meta().namespace.clone(),
        uid: obj.meta().uid.clone(),
        resource_version: obj.meta().resource_version.clone(),
        field_path: None,
    }
}

impl Recorder {
    /// A recorder for `component` (e.g. `deployment-controller`) on `host`.
    pub fn new(client: kube::Client, component: &str, host: &str) -> Self {
        Recorder {
            writer: Arc::new(Writer {
                client,
                component: component.to_string(),
                host: host.to_string(),
                // Grown as events come: `LruCache::new` would allocate all 4096 entries up
                // front, in every component's recorder.
                seen: Mutex::new(LruCache::unbounded()),
            }),
            queue: Arc::new(OnceLock::new()),
        }
    }

    /// Record an event about `obj`. It is written in the background, after the events this
    /// recorder took before it; failures are logged, never fatal.
    pub fn publish(&self, obj: &ObjectReference, kind: EventType, reason: &str, message: &str) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUED);
            let writer = self.writer.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn(writer.run(rx))),
                Err(_) => tracing::debug!("no runtime to write events on"),
            }
            tx
        });
        let pending = Pending {
            obj: obj.clone(),
            kind,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        if queue.try_send(pending).is_err() {
            tracing::debug!(reason, "event queue full or closed: event dropped");
        }
    }
}

impl Writer {
    /// Write queued events until every recorder sharing this writer is gone.
    async fn run(self: Arc<Self>, mut queue: mpsc::Receiver<Pending>) {
        while let Some(p) = queue.recv().await {
            if let Err(e) = self.write(&p).await {
                tracing::debug!(error = %e, reason = %p.reason, "recording event");
            }
        }
    }

    async fn write(&self, event: &Pending) -> Result<(), kube::Error> {
        let Pending {
            obj,
            kind,
            reason,
            message,
        } = event;
        let ns = obj.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let now = jiff::Timestamp::now();
        let key = (
            obj.uid.clone().unwrap_or_default(),
            reason.to_string(),
            message.to_string(),
        );
        let previous = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some((name, count)) = previous {
            let patch = json!({"count": count + 1, "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()});
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.remember(key, (name, count + 1));
                return Ok(());
            }
        }
        let name = format!(
            "{}.{:x}",
            obj.name.clone().unwrap_or_default(),
            now.as_nanosecond() as u64
        );
        let time = Time(now);
        let event = Event {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns),
                ..Default::default()
            },
            involved_object: obj.clone(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            type_: Some(match kind {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            count: Some(1),
            first_timestamp: Some(time.clone()),
            last_timestamp: Some(time),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: Some(self.host.clone()).filter(|h| !h.is_empty()),
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.host.clone()),
            event_time: None::<MicroTime>,
            ..Default::default()
        };
        api.create(&PostParams::default(), &event).await?;
        self.remember(key, (name, 1));
        Ok(())
    }

    /// Record an event's name and count, forgetting the least recent past `REMEMBERED`.
    fn remember(&self, key: EventKey, seen: (String, i32)) {
        let mut cache = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        cache.put(key, seen);
        while cache.len() > REMEMBERED.get() {
            cache.pop_lru();
        }
    }
}
