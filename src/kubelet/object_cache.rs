//! The ConfigMaps and Secrets that the node's pods mount, each kept current by its own
//! watch (a field selector on its name, which the Node authorizer allows for objects the
//! node's pods use), as upstream's watch-based configmap and secret managers. Volumes read
//! from here instead of GETting on every sync, and a change wakes the pods that use the
//! object at once instead of at their next resync.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use tokio::sync::{mpsc, watch};

/// Data of a ConfigMap (`data` and `binaryData`) or a Secret (`data`), by key.
pub type Data = BTreeMap<String, Vec<u8>>;

/// The kinds of object a pod's volumes project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
}

/// One watched object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Its kind.
    pub kind: Kind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// What a watch knows of its object: `None` until its first list, then the object's data,
/// or `None` inside when the object does not exist.
type Known = Option<Option<Arc<Data>>>;

struct Entry {
    /// The pods (by uid) whose volumes use the object.
    users: HashSet<String>,
    known: watch::Receiver<Known>,
    /// Pods that read the object before its watch had listed it, so a first list that
    /// differs from what they got must wake them too.
    read_around: HashSet<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct Shared {
    entries: HashMap<Key, Entry>,
    /// Where the uids of pods to wake go; `None` until the kubelet subscribes.
    wake: Option<mpsc::UnboundedSender<String>>,
}

/// The watched ConfigMaps and Secrets of the node's pods.
#[derive(Clone)]
pub struct ObjectCache {
    client: kube::Client,
    shared: Arc<Mutex<Shared>>,
}

impl ObjectCache {
    /// A cache that watches through `client` (the node's identity).
    pub fn new(client: kube::Client) -> Self {
        ObjectCache {
            client,
            shared: Arc::default(),
        }
    }

    /// The uids of pods whose watched objects changed, from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().wake = Some(tx);
        rx
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Make `pod`'s volume objects the ones watched for it: watches start for objects no
    /// pod used before, and stop for objects it was the last to use.
    pub fn set_pod(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let wanted = volume_objects(pod);
        let mut shared = self.lock();
        shared.entries.retain(|key, e| {
            if !wanted.contains(key) {
                e.users.remove(&uid);
                e.read_around.remove(&uid);
            }
            !e.users.is_empty()
        });
        for key in wanted {
            let entry = shared
                .entries
                .entry(key.clone())
                .or_insert_with(|| self.watch(key));
            entry.users.insert(uid.clone());
        }
    }

    /// Stop watching for the pod `uid`.
    pub fn forget_pod(&self, uid: &str) {
        self.lock().entries.retain(|_, e| {
            e.users.remove(uid);
            e.read_around.remove(uid);
            !e.users.is_empty()
        });
    }

    /// The object's data for the pod `uid` (`None`: it does not exist): from its watch once
    /// that has listed it, else by a GET.
    pub async fn get(&self, key: &Key, uid: &str) -> Result<Option<Arc<Data>>, kube::Error> {
        {
            let mut shared = self.lock();
            if let Some(e) = shared.entries.get_mut(key) {
                if let Some(known) = e.known.borrow().clone() {
                    return Ok(known);
                }
                e.read_around.insert(uid.to_string());
            }
        }
        Ok(fetch(&self.client, key).await?.map(Arc::new))
    }

    /// Start the watch of `key`, which wakes the object's users whenever its data changes.
    fn watch(&self, key: Key) -> Entry {
        let (tx, known) = watch::channel(None);
        let fields = format!("metadata.name={}", key.name);
        let cfg = watcher::Config::default().fields(&fields);
        let shared = Arc::downgrade(&self.shared);
        let client = self.client.clone();
        let watched = key.clone();
        let task = tokio::spawn(async move {
            let mut objects = match watched.kind {
                Kind::ConfigMap => {
                    let api: Api<ConfigMap> = Api::namespaced(client, &watched.namespace);
                    watcher(api, cfg)
                        .default_backoff()
                        .map(|ev| ev.map(|e| data_event(e, config_map_data)))
                        .boxed()
                }
                Kind::Secret => {
                    let api: Api<Secret> = Api::namespaced(client, &watched.namespace);
                    watcher(api, cfg)
                        .default_backoff()
                        .map(|ev| ev.map(|e| data_event(e, secret_data)))
                        .boxed()
                }
            };
            let mut listing: Option<Option<Data>> = None;
            while let Some(ev) = objects.next().await {
                let now = match ev {
                    Ok(watcher::Event::Init) => {
                        listing = Some(None);
                        continue;
                    }
                    Ok(watcher::Event::InitApply(data)) => {
                        listing = Some(Some(data));
                        continue;
                    }
                    Ok(watcher::Event::InitDone) => listing.take().flatten(),
                    Ok(watcher::Event::Apply(data)) => Some(data),
                    Ok(watcher::Event::Delete(_)) => None,
                    Err(e) => {
                        tracing::debug!(error = %e, object = ?watched, "volume object watch");
                        continue;
                    }
                };
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let before = tx.borrow().clone();
                let first = before.is_none();
                if before.flatten().as_deref() == now.as_ref() && !first {
                    continue;
                }
                tx.send_replace(Some(now.map(Arc::new)));
                wake_users(&shared, &watched, first);
            }
        });
        Entry {
            users: HashSet::new(),
            known,
            read_around: HashSet::new(),
            task,
        }
    }
}

/// Wake the pods using `key` after its data changed; after its first list only those that
/// read it before (the others have not read it yet).
fn wake_users(shared: &Mutex<Shared>, key: &Key, first: bool) {
    let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
    let Shared { entries, wake } = &mut *shared;
    let (Some(entry), Some(wake)) = (entries.get_mut(key), wake.as_ref()) else {
        return;
    };
    let users = if first {
        std::mem::take(&mut entry.read_around)
    } else {
        entry.users.clone()
    };
    for uid in users {
        let _ = wake.send(uid);
    }
}

/// A watch event of an object as one of its data.
fn data_event<K>(ev: watcher::Event<K>, data: fn(K) -> Data) -> watcher::Event<Data> {
    match ev {
        watcher::Event::Apply(o) => watcher::Event::Apply(data(o)),
        watcher::Event::Delete(o) => watcher::Event::Delete(data(o)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(o) => watcher::Event::InitApply(data(o)),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

/// GET the object's data; `None` if it does not exist.
async fn fetch(client: &kube::Client, key: &Key) -> Result<Option<Data>, kube::Error> {
    Ok(match key.kind {
        Kind::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), &key.namespace)
            .get_opt(&key.name)
            .await?
            .map(config_map_data),
        Kind::Secret => Api::<Secret>::namespaced(client.clone(), &key.namespace)
            .get_opt(&key.name)
            .await?
            .map(secret_data),
    })
}

/// The ConfigMaps and Secrets that `pod`'s volumes project.
pub fn volume_objects(pod: &Pod) -> HashSet<Key> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let key = |kind, name: &str| Key {
        kind,
        namespace: namespace.clone(),
        name: name.to_string(),
    };
    let mut keys = HashSet::new();
    let volumes = pod.spec.iter().flat_map(|s| s.volumes.iter().flatten());
    for v in volumes {
        if let Some(c) = &v.config_map {
            keys.insert(key(Kind::ConfigMap, &c.name));
        }
        if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
            keys.insert(key(Kind::Secret, name));
        }
        let sources = v.projected.iter().flat_map(|p| p.sources.iter().flatten());
        for s in sources {
            if let Some(c) = &s.config_map {
                keys.insert(key(Kind::ConfigMap, &c.name));
            }
            if let Some(c) = &s.secret {
                keys.insert(key(Kind::Secret, &c.name));
            }
        }
    }
    keys
}

/// A ConfigMap's `data` and `binaryData` as bytes by key.
pub fn config_map_data(cm: ConfigMap) -> Data {
    let mut d: Data = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    d.extend(
        cm.binary_data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0)),
    );
    d
}

/// A Secret's `data` (and `stringData`, which a stored Secret no longer has) by key.
pub fn secret_data(s: Secret) -> Data {
    let mut d: Data = s
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    d.extend(
        s.string_data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes())),
    );
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_objects_are_every_projected_config_map_and_secret() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "app", "uid": "u"},
            "spec": {
                "containers": [{"name": "c", "image": "i",
                    "envFrom": [{"configMapRef": {"name": "env-only"}}]}],
                "volumes": [
                    {"name": "a", "configMap": {"name": "cm"}},
                    {"name": "b", "secret": {"secretName": "s"}},
                    {"name": "c", "projected": {"sources": [
                        {"configMap": {"name": "kube-root-ca.crt"}},
                        {"secret": {"name": "s"}},
                        {"serviceAccountToken": {"path": "token"}}
                    ]}},
                    {"name": "d", "emptyDir": {}}
                ]
            }
        }))
        .unwrap();
        let mut got: Vec<_> = volume_objects(&pod)
            .into_iter()
            .map(|k| (k.kind, k.namespace, k.name))
            .collect();
        got.sort();
        let want = [
            (Kind::ConfigMap, "cm"),
            (Kind::ConfigMap, "kube-root-ca.crt"),
            (Kind::Secret, "s"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, n)| (*k, "app".to_string(), n.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
