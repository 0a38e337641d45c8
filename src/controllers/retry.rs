//! When a failed reconcile runs again: per object, 5 ms doubling up to 1000 s, forgotten
//! once the object reconciles, as the per-item part of client-go's default controller rate
//! limiter. A conflict is retried at once; an object that keeps failing stops costing a
//! request a second.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use kube::runtime::controller::Action;
use kube::Resource;

use super::object_key;

/// The first retry's delay.
const BASE: Duration = Duration::from_millis(5);
/// The longest delay.
const MAX: Duration = Duration::from_secs(1000);

/// Failure counts of one controller's objects.
pub struct Retries {
    component: &'static str,
    failures: Mutex<HashMap<String, u32>>,
}

impl Retries {
    /// Retries of the controller `component` (named in its logs).
    pub fn new(component: &'static str) -> Arc<Self> {
        Arc::new(Retries {
            component,
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // The map holds plain counters: one left by a panicking holder is still sound.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Log the failed reconcile of `obj` and say when to try it again.
    pub fn failed<K: Resource>(&self, obj: &K, err: &(dyn std::error::Error + 'static)) -> Action {
        super::log_reconcile_error(self.component, obj, err);
        Action::requeue(self.delay(&object_key(obj)))
    }

    fn delay(&self, key: &str) -> Duration {
        let mut counts = self.counts();
        let n = counts.entry(key.to_string()).or_default();
        let delay = 2u32
            .checked_pow(*n)
            .and_then(|f| BASE.checked_mul(f))
            .map_or(MAX, |d| d.min(MAX));
        *n = n.saturating_add(1);
        delay
    }

    /// A kube-runtime error policy logging each failure and backing off per object.
    pub fn error_policy<K, E, C>(self: &Arc<Self>) -> impl Fn(Arc<K>, &E, Arc<C>) -> Action
    where
        K: Resource,
        E: std::error::Error + 'static,
    {
        let retries = self.clone();
        move |obj, err, _ctx| retries.failed(&*obj, err)
    }

    /// Forget the failures of `obj`: it reconciled.
    pub fn forget<K: Resource>(&self, obj: &K) {
        self.counts().remove(&object_key(obj));
    }

    /// `reconcile`, forgetting an object's failures when a pass over it succeeds.
    pub fn forgetting<K, C, E, F, Fut>(
        self: &Arc<Self>,
        mut reconcile: F,
    ) -> impl FnMut(Arc<K>, Arc<C>) -> BoxFuture<'static, Result<Action, E>>
    where
        K: Resource + Send + Sync + 'static,
        C: Send + Sync + 'static,
        E: Send + 'static,
        F: FnMut(Arc<K>, Arc<C>) -> Fut,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
    {
        let retries = self.clone();
        move |obj, ctx| {
            let pass = reconcile(obj.clone(), ctx);
            let retries = retries.clone();
            async move {
                let out = pass.await;
                if out.is_ok() {
                    retries.forget(&*obj);
                }
                out
            }
            .boxed()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_object_up_to_the_cap() {
        let r = Retries::new("test");
        let delays: Vec<_> = (0..4).map(|_| r.delay("ns/a")).collect();
        assert_eq!(delays, [5, 10, 20, 40].map(Duration::from_millis).to_vec());
        // Another object starts from the base.
        assert_eq!(r.delay("ns/b"), BASE);
        for _ in 0..40 {
            r.delay("ns/a");
        }
        assert_eq!(r.delay("ns/a"), MAX);
    }

    #[tokio::test]
    async fn a_successful_pass_starts_the_object_over() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let r = Retries::new("test");
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("a".into());
        cm.metadata.namespace = Some("ns".into());
        r.delay("ns/a");
        r.delay("ns/a");
        let mut reconcile = r.forgetting(|_: Arc<ConfigMap>, _: Arc<()>| async {
            Ok::<_, String>(Action::await_change())
        });
        reconcile(Arc::new(cm.clone()), Arc::new(())).await.unwrap();
        assert_eq!(r.delay("ns/a"), BASE);

        // A failed pass leaves the count alone.
        let mut failing = r.forgetting(|_: Arc<ConfigMap>, _: Arc<()>| async {
            Err::<Action, _>("no".to_string())
        });
        failing(Arc::new(cm.clone()), Arc::new(()))
            .await
            .unwrap_err();
        assert_eq!(r.delay("ns/a"), Duration::from_millis(10));
        assert_eq!(
            r.failed(&cm, &std::io::Error::other("boom")),
            Action::requeue(Duration::from_millis(20))
        );
    }
}
