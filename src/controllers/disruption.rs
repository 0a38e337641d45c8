//! The disruption controller: keeps each PodDisruptionBudget's status (expected, healthy and
//! desired pods, and how many disruptions are allowed now) current, which the eviction
//! subresource reads and decrements (kube-controller-manager's disruption controller).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, PostParams};
use kube::ResourceExt;
use serde_json::{Map, Value};

use crate::apiserver::selectors::LabelSelector;
use crate::informer::{Changes, SharedCaches};

/// An eviction is expected to be seen by then (`DeletionTimeout`).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// What one pass reads, from the shared caches.
struct Caches {
    pods: Vec<Arc<Pod>>,
    replica_sets: Vec<Arc<ReplicaSet>>,
    deployments: Vec<Arc<Deployment>>,
    stateful_sets: Vec<Arc<StatefulSet>>,
}

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    let mut changes = Changes::of::<PodDisruptionBudget>(&caches)
        .and::<Pod>(&caches)
        .and::<ReplicaSet>(&caches)
        .and::<Deployment>(&caches)
        .and::<StatefulSet>(&caches);
    loop {
        let pdbs = caches.all::<PodDisruptionBudget>().await;
        // Every pod change wakes this loop: without budgets there is nothing to read for.
        if !pdbs.is_empty() {
            sync_budgets(&client, &caches, pdbs).await;
        }
        // Recorded evictions expire with time, not only with events.
        changes
            .next_pass(Duration::from_secs(5), Duration::ZERO)
            .await;
    }
}

/// Brings every budget's status up to date with one snapshot of the caches.
async fn sync_budgets(
    client: &kube::Client,
    caches: &SharedCaches,
    pdbs: Vec<Arc<PodDisruptionBudget>>,
) {
    let c = Caches {
        pods: caches.all().await,
        replica_sets: caches.all().await,
        deployments: caches.all().await,
        stateful_sets: caches.all().await,
    };
    for pdb in pdbs {
        let status = compute(&c, &pdb, jiff::Timestamp::now());
        if !same(pdb.status.as_ref(), &status) {
            let mut next = (*pdb).clone();
            next.status = Some(status);
            let api: Api<PodDisruptionBudget> =
                Api::namespaced(client.clone(), &pdb.namespace().unwrap_or_default());
            // With the cached resourceVersion: an eviction that got in first makes this
            // a conflict, and the next round starts from what it wrote.
            if let Err(e) = api
                .replace_status(&pdb.name_any(), &PostParams::default(), &next)
                .await
            {
                super::log_reconcile_error("disruption", &*pdb, &e);
            }
        }
    }
}

/// Whether a status differs only in condition times.
fn same(old: Option<&PodDisruptionBudgetStatus>, new: &PodDisruptionBudgetStatus) -> bool {
    let Some(old) = old else { return false };
    let strip = |s: &PodDisruptionBudgetStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_transition_time = Time(jiff::Timestamp::UNIX_EPOCH);
        }
        s
    };
    strip(old) == strip(new)
}

fn labels(pod: &Pod) -> Map<String, Value> {
    pod.labels()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `GetScaledValueFromIntOrPercent` rounding up.
fn scaled(v: &IntOrString, total: i32) -> Result<i32, String> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            Ok(((pct * i64::from(total) + 99) / 100) as i32)
        }
    }
}

/// The scale of the controller that owns `pod`, keyed by that controller's uid: a
/// Deployment through its ReplicaSet, a bare ReplicaSet, or a StatefulSet.
fn controller_scale(c: &Caches, pod: &Pod) -> Option<(String, i32)> {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))?;
    let ns = pod.namespace().unwrap_or_default();
    match owner.kind.as_str() {
        "ReplicaSet" => {
            let rs = c.replica_sets.iter().find(|r| {
                r.uid().as_deref() == Some(owner.uid.as_str())
                    && r.namespace().as_deref() == Some(&ns)
            })?;
            let deployment = rs
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true) && o.kind == "Deployment")
                .and_then(|o| {
                    c.deployments
                        .iter()
                        .find(|d| d.uid().as_deref() == Some(o.uid.as_str()))
                });
            Some(match deployment {
                Some(d) => (d.uid().unwrap_or_default(), d.spec.replicas.unwrap_or(1)),
                None => (rs.uid().unwrap_or_default(), rs.spec.replicas.unwrap_or(1)),
            })
        }
        "StatefulSet" => c
            .stateful_sets
            .iter()
            .find(|s| s.uid().as_deref() == Some(owner.uid.as_str()))
            .map(|s| (s.uid().unwrap_or_default(), s.spec.replicas.unwrap_or(1))),
        _ => None,
    }
}

/// What the status should say now.
fn compute(
    c: &Caches,
    pdb: &PodDisruptionBudget,
    now: jiff::Timestamp,
) -> PodDisruptionBudgetStatus {
    let ns = pdb.namespace().unwrap_or_default();
    let spec = pdb.spec.clone().unwrap_or_default();
    let selector = serde_json::to_value(&spec.selector).unwrap_or(Value::Null);
    let selector = LabelSelector::from_label_selector_json(&selector)
        .unwrap_or_else(|_| LabelSelector::nothing());
    let pods: Vec<&Pod> = c
        .pods
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| p.namespace().as_deref() == Some(&ns) && selector.matches(&labels(p)))
        .collect();
    let old = pdb.status.clone().unwrap_or_default();
    // Evictions not yet seen through: those pods do not count as healthy for a while.
    let mut disrupted = BTreeMap::new();
    for p in &pods {
        let name = p.name_any();
        let Some(at) = old.disrupted_pods.as_ref().and_then(|m| m.get(&name)) else {
            continue;
        };
        let expired =
            at.0.checked_add(jiff::SignedDuration::try_from(DELETION_TIMEOUT).unwrap_or_default())
                .is_ok_and(|t| t < now);
        if p.metadata.deletion_timestamp.is_none() && !expired {
            disrupted.insert(name, at.clone());
        }
    }
    let healthy = pods
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && !disrupted.contains_key(&p.name_any())
                && is_ready(p)
        })
        .count() as i32;
    let expected_from_controllers = || -> Result<i32, String> {
        let mut seen: HashMap<String, i32> = HashMap::new();
        for p in &pods {
            let (uid, n) = controller_scale(c, p)
                .ok_or_else(|| format!("found no controllers for pod {:?}", p.name_any()))?;
            seen.insert(uid, n);
        }
        Ok(seen.values().sum())
    };
    let counts: Result<(i32, i32), String> = match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => expected_from_controllers()
            .and_then(|expected| Ok((expected, (expected - scaled(max, expected)?).max(0)))),
        (None, Some(IntOrString::Int(n))) => Ok((pods.len() as i32, *n)),
        (None, Some(min)) => {
            expected_from_controllers().and_then(|expected| Ok((expected, scaled(min, expected)?)))
        }
        (None, None) => Ok((pods.len() as i32, 0)),
    };
    let generation = pdb.metadata.generation;
    let (expected, desired, allowed, condition) = match counts {
        Ok((expected, desired)) => {
            let allowed = (healthy - desired).max(0);
            let (status, reason) = if allowed > 0 {
                ("True", "SufficientPods")
            } else {
                ("False", "InsufficientPods")
            };
            (expected, desired, allowed, (status, reason, String::new()))
        }
        // As kube's fail-safe: nothing may be disrupted while the budget cannot be worked out.
        Err(message) => (0, 0, 0, ("False", "SyncFailed", message)),
    };
    let old_condition = old
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionAllowed");
    let since = match old_condition {
        Some(c) if c.status == condition.0 && c.reason == condition.1 => {
            c.last_transition_time.clone()
        }
        _ => Time(now),
    };
    let live: HashSet<String> = pods.iter().map(|p| p.name_any()).collect();
    disrupted.retain(|k, _| live.contains(k));
    PodDisruptionBudgetStatus {
        conditions: Some(vec![Condition {
            type_: "DisruptionAllowed".into(),
            status: condition.0.into(),
            reason: condition.1.into(),
            message: condition.2,
            last_transition_time: since,
            observed_generation: generation,
        }]),
        current_healthy: Some(healthy),
        desired_healthy: Some(desired),
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        disruptions_allowed: Some(allowed),
        expected_pods: Some(expected),
        observed_generation: generation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3).unwrap(), 2);
        assert_eq!(scaled(&IntOrString::String("10%".into()), 10).unwrap(), 1);
        assert_eq!(scaled(&IntOrString::Int(2), 10).unwrap(), 2);
        assert!(scaled(&IntOrString::String("half".into()), 10).is_err());
    }
}
