//! What a controller created and deleted until its shared cache shows it, as upstream's
//! ControllerExpectations: a pass that counted pods from a cache that has not yet seen the
//! previous pass's writes would create or delete them a second time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::ResourceExt;

/// After this long unseen, a write is checked against the API: its pod may have come and
/// gone while the cache relisted, so the cache would never show it.
const CHECK_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    Created,
    Deleted,
}

/// Pending writes by owner uid, each with the pod name and when it was made.
type Pending = HashMap<String, Vec<(String, Write, Instant)>>;

/// The writes of one controller that its cache does not show yet.
#[derive(Default)]
pub struct Expectations {
    pending: Mutex<Pending>,
}

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `owner` created the pod `name`.
    pub fn created(&self, owner: &str, name: String) {
        self.add(owner, name, Write::Created);
    }

    /// `owner` deleted the pod `name`.
    pub fn deleted(&self, owner: &str, name: String) {
        self.add(owner, name, Write::Deleted);
    }

    fn add(&self, owner: &str, name: String, write: Write) {
        self.lock()
            .entry(owner.to_string())
            .or_default()
            .push((name, write, Instant::now()));
    }

    /// Forget `owner` (it was deleted).
    pub fn forget(&self, owner: &str) {
        self.lock().remove(owner);
    }

    /// Whether `cached` (the owner's namespace as the cache has it) shows every write of
    /// `owner`: a created pod present, a deleted one gone or terminating. Writes unseen for
    /// a while are read through `api`, and count as seen if the API agrees with the cache.
    pub async fn satisfied(&self, owner: &str, cached: &[&Pod], api: &Api<Pod>) -> bool {
        let shows = |name: &str, write: Write| {
            let pod = cached.iter().find(|p| p.name_any() == name);
            match write {
                Write::Created => pod.is_some(),
                Write::Deleted => pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
            }
        };
        let overdue: Vec<(String, Write)> = {
            let mut pending = self.lock();
            let Some(writes) = pending.get_mut(owner) else {
                return true;
            };
            writes.retain(|(name, write, _)| !shows(name, *write));
            let overdue = writes
                .iter()
                .filter(|(_, _, at)| at.elapsed() >= CHECK_AFTER)
                .map(|(name, write, _)| (name.clone(), *write))
                .collect();
            if writes.is_empty() {
                pending.remove(owner);
            }
            overdue
        };
        for (name, write) in overdue {
            let agrees = match api.get_opt(&name).await {
                // The created pod is gone already, or the deleted one is at least going.
                Ok(None) => true,
                Ok(Some(p)) => write == Write::Deleted && p.metadata.deletion_timestamp.is_some(),
                Err(_) => false,
            };
            if agrees {
                if let Some(writes) = self.lock().get_mut(owner) {
                    writes.retain(|(n, w, _)| !(*n == name && *w == write));
                }
            }
        }
        let mut pending = self.lock();
        let done = pending.get(owner).is_none_or(Vec::is_empty);
        if done {
            pending.remove(owner);
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, terminating: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        if terminating {
            p.metadata.deletion_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
            );
        }
        p
    }

    /// An API that is never reached: these checks all come before `CHECK_AFTER`.
    fn unreachable_api() -> Api<Pod> {
        let cfg = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        Api::namespaced(kube::Client::try_from(cfg).unwrap(), "ns")
    }

    #[tokio::test]
    async fn writes_count_once_the_cache_shows_them() {
        let e = Expectations::default();
        let api = unreachable_api();
        assert!(e.satisfied("rs", &[], &api).await, "nothing pending");
        e.created("rs", "a".into());
        e.deleted("rs", "b".into());
        let (a, b, b_going) = (pod("a", false), pod("b", false), pod("b", true));
        assert!(!e.satisfied("rs", &[&b], &api).await, "a not seen yet");
        assert!(!e.satisfied("rs", &[&a, &b], &api).await, "b still active");
        assert!(e.satisfied("other", &[], &api).await, "owners are apart");
        assert!(e.satisfied("rs", &[&a, &b_going], &api).await);
        // Seen writes are gone: the cache may move on.
        assert!(e.satisfied("rs", &[], &api).await);
        e.created("rs", "c".into());
        e.forget("rs");
        assert!(e.satisfied("rs", &[], &api).await);
    }
}
