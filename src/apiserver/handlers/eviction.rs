//! The pods' `eviction` subresource (policy/v1 Eviction), which `kubectl drain` uses: a
//! delete that first takes one disruption from the pod's PodDisruptionBudget, and is refused
//! with 429 when the budget has none left (kube-apiserver's pod eviction REST).

use bytes::Bytes;
use http::Response;
use serde_json::{json, Map, Value};

use super::delete::{delete_object, DeleteOptions};
use super::read::{get_object, store_error};
use super::write::{guaranteed_update, Change};
use super::Ctx;
use crate::apiserver::http::{decode_body, object_response, Body};
use crate::apiserver::object;
use crate::apiserver::selectors::LabelSelector;
use crate::apiserver::status::ApiError;

/// Most evictions a budget remembers before its controller has seen them go.
const MAX_DISRUPTED_PODS: usize = 2000;

/// The message kubectl shows while it retries.
const VIOLATES: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn sibling(ctx: &Ctx, group: &str, plural: &str) -> Result<Ctx, ApiError> {
    let res = ctx
        .state
        .registry
        .lookup(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not registered")))?;
    Ok(Ctx {
        state: ctx.state.clone(),
        res,
        req: ctx.req.clone(),
        query: ctx.query.clone(),
        output: ctx.output.clone(),
        user: ctx.user.clone(),
        content_type: "application/json".into(),
        user_agent: ctx.user_agent.clone(),
    })
}

fn too_many(message: String) -> ApiError {
    let mut e = ApiError::new(429, "TooManyRequests", VIOLATES);
    e.details = Some(json!({"causes": [{"reason": "DisruptionBudget", "message": message}]}));
    e
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// The budgets in the pod's namespace whose selector matches it.
async fn budgets_of(pdb_ctx: &Ctx, pod: &Value) -> Result<Vec<Value>, ApiError> {
    let ns = object::meta_str(pod, "namespace").unwrap_or("");
    let prefix = format!("{}/", pdb_ctx.res.key(Some(ns), "").trim_end_matches('/'));
    let listed = pdb_ctx
        .state
        .store
        .range(&prefix, None, None, None)
        .await
        .map_err(|e| store_error(pdb_ctx, "", e))?;
    let empty = Map::new();
    let labels = pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out = Vec::new();
    for kv in &listed.kvs {
        let pdb = pdb_ctx.decode(kv)?;
        let selector = pdb
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or(Value::Null);
        if LabelSelector::from_label_selector_json(&selector).is_ok_and(|s| s.matches(labels)) {
            out.push(pdb);
        }
    }
    Ok(out)
}

/// Take one disruption from `pdb` for `pod`, or say why not. `Unchanged`: the pod may go
/// without taking one (it is not healthy, and the budget is met anyway or allows that).
fn take_disruption(mut pdb: Value, pod: &Value) -> Result<Change, ApiError> {
    let name = object::name(&pdb).to_string();
    let pod_name = object::name(pod).to_string();
    let status = pdb.get("status").cloned().unwrap_or(json!({}));
    let int = |f: &str| status.get(f).and_then(Value::as_i64).unwrap_or(0);
    let generation = object::meta(&pdb)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if int("observedGeneration") < generation {
        return Err(too_many(format!(
            "The disruption budget {name} is still being processed by the server."
        )));
    }
    let (current, desired) = (int("currentHealthy"), int("desiredHealthy"));
    if !ready(pod) {
        let policy = pdb
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str)
            .unwrap_or("IfHealthyBudget");
        if policy == "AlwaysAllow" || (current >= desired && desired > 0) {
            return Ok(Change::Unchanged);
        }
    }
    if int("disruptionsAllowed") <= 0 {
        return Err(too_many(format!(
            "The disruption budget {name} needs {desired} healthy pods and has {current} currently"
        )));
    }
    let disrupted = pdb["status"]
        .get("disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    if disrupted >= MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    pdb["status"]["disruptionsAllowed"] = json!(int("disruptionsAllowed") - 1);
    if !pdb["status"]["disruptedPods"].is_object() {
        pdb["status"]["disruptedPods"] = json!({});
    }
    pdb["status"]["disruptedPods"][pod_name] = json!(object::now_rfc3339());
    Ok(Change::Write(pdb))
}

/// POST `pods/NAME/eviction`.
pub async fn create(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let eviction = decode_body(&ctx.content_type, &body)?;
    let name = ctx.req.name.clone().unwrap_or_default();
    if let Some(kind) = eviction.get("kind").and_then(Value::as_str) {
        if kind != "Eviction" {
            return Err(ApiError::bad_request(format!(
                "the body of an eviction must be an Eviction, not {kind}"
            )));
        }
    }
    if eviction.pointer("/metadata/name").and_then(Value::as_str) != Some(name.as_str()) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let options = match eviction.get("deleteOptions") {
        Some(o) if o.is_object() => Bytes::from(o.to_string()),
        _ => Bytes::new(),
    };
    let opts = DeleteOptions::parse(ctx, &options)?;
    let pod = get_object(ctx, &name).await?;
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    // Pods that are done, not yet running, or already going need no budget.
    let needs_budget = !object::is_deleting(&pod)
        && !matches!(phase, Some("Succeeded") | Some("Failed") | Some("Pending"));
    if needs_budget {
        let pdb_ctx = sibling(ctx, "policy", "poddisruptionbudgets")?;
        let budgets = budgets_of(&pdb_ctx, &pod).await?;
        match budgets.as_slice() {
            [] => {}
            [pdb] => {
                let pdb_name = object::name(pdb).to_string();
                guaranteed_update(&pdb_ctx, &pdb_name, None, |current| {
                    take_disruption(current, &pod)
                })
                .await?;
            }
            _ => {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ))
            }
        }
    }
    delete_object(ctx, &name, &opts).await?;
    Ok(object_response(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        &ctx.output,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb(allowed: i64, current: i64, desired: i64, observed: i64) -> Value {
        json!({"metadata": {"name": "web", "generation": 1},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": current,
                "desiredHealthy": desired, "observedGeneration": observed}})
    }

    fn pod(ready: bool) -> Value {
        json!({"metadata": {"name": "web-1"}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn a_disruption_is_taken_and_recorded() {
        let Change::Write(next) = take_disruption(pdb(1, 3, 2, 1), &pod(true)).unwrap() else {
            panic!("expected a write");
        };
        assert_eq!(next["status"]["disruptionsAllowed"], 0);
        assert!(next["status"]["disruptedPods"]["web-1"].is_string());
    }

    #[test]
    fn no_disruption_left_is_too_many_requests() {
        let e = take_disruption(pdb(0, 2, 2, 1), &pod(true)).unwrap_err();
        assert_eq!((e.code, e.reason), (429, "TooManyRequests"));
        assert_eq!(e.message, VIOLATES);
        let cause = &e.details.unwrap()["causes"][0];
        assert_eq!(cause["reason"], "DisruptionBudget");
        assert_eq!(
            cause["message"],
            "The disruption budget web needs 2 healthy pods and has 2 currently"
        );
    }

    #[test]
    fn a_budget_not_yet_observed_refuses() {
        let e = take_disruption(pdb(5, 3, 1, 0), &pod(true)).unwrap_err();
        assert_eq!(e.code, 429);
        assert!(e.details.unwrap()["causes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("still being processed"));
    }

    #[test]
    fn an_unhealthy_pod_goes_when_the_budget_is_met() {
        assert!(matches!(
            take_disruption(pdb(0, 2, 2, 1), &pod(false)).unwrap(),
            Change::Unchanged
        ));
        assert!(take_disruption(pdb(0, 1, 2, 1), &pod(false)).is_err());
    }
}
