//! HorizontalPodAutoscaler (autoscaling/v2) on resource metrics: every sync period it reads
//! the target's scale subresource and the pods' usage from the metrics API
//! (`metrics.k8s.io`), computes the replica count kube-controller-manager would (ratio of
//! utilization to target, 10 % tolerance, min/max, scale-down stabilization) and reports
//! why when it cannot (no metrics API, missing requests).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v2::{CrossVersionObjectReference, HorizontalPodAutoscaler};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use super::events::{reference, EventType, Recorder};
use crate::informer::{Changes, SharedCaches};
use crate::resources::validation::quantity_nanos;

/// `--horizontal-pod-autoscaler-sync-period`.
const SYNC_PERIOD: Duration = Duration::from_secs(15);
/// `--horizontal-pod-autoscaler-tolerance`.
const TOLERANCE: f64 = 0.1;
/// Default scale-down stabilization window.
const SCALE_DOWN_WINDOW: Duration = Duration::from_secs(300);

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    let mut changes = Changes::of::<HorizontalPodAutoscaler>(&caches);
    let recorder = Recorder::new(client.clone(), "horizontal-pod-autoscaler", "");
    // Recommendations per HPA uid, for the scale-down stabilization window.
    let mut history: HashMap<String, Vec<(Instant, i32)>> = HashMap::new();
    let mut last_sync: HashMap<String, Instant> = HashMap::new();
    loop {
        let hpas = caches.all::<HorizontalPodAutoscaler>().await;
        for hpa in &hpas {
            let uid = hpa.uid().unwrap_or_default();
            // A new or changed HPA is looked at at once, the rest every sync period.
            let generation_seen =
                hpa.status.as_ref().and_then(|s| s.observed_generation) == hpa.metadata.generation;
            if generation_seen
                && last_sync
                    .get(&uid)
                    .is_some_and(|t| t.elapsed() < SYNC_PERIOD)
            {
                continue;
            }
            last_sync.insert(uid.clone(), Instant::now());
            let recs = history.entry(uid).or_default();
            if let Err(e) = sync(&client, &recorder, hpa, recs).await {
                super::log_reconcile_error("horizontal-pod-autoscaler", &**hpa, &e);
            }
        }
        let live: Vec<String> = hpas.iter().filter_map(|h| h.uid()).collect();
        history.retain(|k, _| live.contains(k));
        last_sync.retain(|k, _| live.contains(k));
        changes
            .next_pass(Duration::from_secs(1), Duration::ZERO)
            .await;
    }
}

/// The target's API and its name as a URL path segment, resolved as kube-controller-manager
/// resolves them: `apiVersion` parsed as a group/version, the kind looked up among the
/// group's discovered resources (any version), so nothing the user wrote reaches a URL
/// except the escaped name.
async fn scale_api(
    client: &kube::Client,
    ns: &str,
    target: &CrossVersionObjectReference,
) -> Result<(Api<DynamicObject>, String), String> {
    let group = parse_group(target.api_version.as_deref().unwrap_or(""))
        .map_err(|e| format!("invalid API version in scale target reference: {e}"))?;
    let no_match = || {
        format!(
            "unable to determine resource for scale target reference: no matches for kind {:?} in group {:?}",
            target.kind, group
        )
    };
    let found = match kube::discovery::group(client, group).await {
        Ok(g) => g,
        Err(kube::Error::Discovery(_)) => return Err(no_match()),
        Err(e) => {
            return Err(format!(
                "unable to determine resource for scale target reference: {e}"
            ))
        }
    };
    let (resource, _) = found
        .resources_by_stability()
        .into_iter()
        .find(|(r, _)| r.kind == target.kind)
        .ok_or_else(no_match)?;
    let name = utf8_percent_encode(&target.name, PATH_SEGMENT).to_string();
    Ok((Api::namespaced_with(client.clone(), ns, &resource), name))
}

/// An API error as client-go prints it: the Status message alone.
fn api_message(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message,
        other => other.to_string(),
    }
}

/// The group of an `apiVersion`, as apimachinery's `ParseGroupVersion` splits it.
fn parse_group(api_version: &str) -> Result<&str, String> {
    match api_version.matches('/').count() {
        0 => Ok(""),
        1 => Ok(api_version.split('/').next().unwrap_or("")),
        _ => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

/// What a URL path segment must escape: Go's `url.PathEscape` set, in effect.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn condition(type_: &str, ok: bool, reason: &str, message: &str) -> Value {
    json!({
        "type": type_, "status": if ok { "True" } else { "False" }, "reason": reason,
        "message": message, "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

/// One resource metric target of the HPA: the resource, and a utilization (percent of
/// request) or an average value per pod.
struct Target {
    resource: String,
    utilization: Option<i32>,
    average_value: Option<i128>,
}

fn targets(hpa: &HorizontalPodAutoscaler) -> Result<Vec<Target>, String> {
    let metrics = hpa.spec.metrics.clone().unwrap_or_default();
    if metrics.is_empty() {
        // autoscaling/v2 defaults to 80 % CPU.
        return Ok(vec![Target {
            resource: "cpu".into(),
            utilization: Some(80),
            average_value: None,
        }]);
    }
    metrics
        .iter()
        .map(|m| {
            let r = m
                .resource
                .as_ref()
                .filter(|_| m.type_ == "Resource")
                .ok_or_else(|| {
                    format!(
                        "the HPA controller supports Resource metrics only, not {}",
                        m.type_
                    )
                })?;
            Ok(Target {
                resource: r.name.clone(),
                utilization: r.target.average_utilization,
                average_value: r
                    .target
                    .average_value
                    .as_ref()
                    .and_then(|q| quantity_nanos(&q.0)),
            })
        })
        .collect()
}

/// What the metrics API reports per pod for `resource`, in nano-units.
async fn pod_usage(
    client: &kube::Client,
    ns: &str,
    selector: &str,
    resource: &str,
) -> Result<BTreeMap<String, i128>, String> {
    let url = format!(
        "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector={}",
        form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>()
    );
    let req = http::Request::get(&url)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let list: Value = client.request(req).await.map_err(|e| {
        let reason = match &e {
            kube::Error::Api(s) if s.code == 404 || s.code == 503 => {
                "the server could not find the requested resource (get pods.metrics.k8s.io)".to_string()
            }
            other => other.to_string(),
        };
        format!("unable to get metrics for resource {resource}: unable to fetch metrics from resource metrics API: {reason}")
    })?;
    let mut usage = BTreeMap::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
        let sum: i128 = item["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["usage"][resource].as_str())
            .filter_map(quantity_nanos)
            .sum();
        usage.insert(name, sum);
    }
    if usage.is_empty() {
        return Err(format!(
            "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        ));
    }
    Ok(usage)
}

fn pod_request(pod: &Pod, resource: &str) -> Result<i128, String> {
    let mut total = 0;
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        let req = c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource))
            .and_then(|q| quantity_nanos(&q.0));
        match req {
            Some(r) => total += r,
            None => {
                return Err(format!(
                    "missing request for {resource} in container {} of Pod {}",
                    c.name,
                    pod.name_any()
                ))
            }
        }
    }
    Ok(total)
}

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// The replica count one target asks for, and the metric status to report.
async fn recommend(
    client: &kube::Client,
    ns: &str,
    selector: &str,
    current: i32,
    t: &Target,
) -> Result<(i32, Value), String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| e.to_string())?;
    let usage = pod_usage(client, ns, selector, &t.resource).await?;
    let mut used = 0i128;
    let mut requested = 0i128;
    let mut counted = 0i32;
    for p in pods.items.iter().filter(|p| ready(p)) {
        let Some(u) = usage.get(&p.name_any()) else {
            continue;
        };
        used += u;
        requested += pod_request(p, &t.resource)?;
        counted += 1;
    }
    if counted == 0 {
        return Err(format!(
            "did not receive metrics for targeted pods (pods might be unready): {}",
            t.resource
        ));
    }
    let average = used / counted as i128;
    let ratio = match (t.utilization, t.average_value) {
        (Some(target), _) if requested > 0 => {
            let util = (used as f64 * 100.0 / requested as f64).round();
            (
                util / target as f64,
                json!({"averageUtilization": util as i64, "averageValue": quantity_text(&t.resource, average)}),
            )
        }
        (Some(_), _) => return Err(format!("missing request for {}", t.resource)),
        (None, Some(target)) if target > 0 => (
            average as f64 / target as f64,
            json!({"averageValue": quantity_text(&t.resource, average)}),
        ),
        _ => return Err(format!("invalid target for resource {}", t.resource)),
    };
    let (ratio, current_metric) = ratio;
    let desired = if (ratio - 1.0).abs() <= TOLERANCE {
        current
    } else {
        (ratio * counted as f64).ceil() as i32
    };
    Ok((
        desired,
        json!({"type": "Resource", "resource": {"name": t.resource, "current": current_metric}}),
    ))
}

/// A nano-unit amount as the API writes it: CPU in millicores, memory in bytes.
fn quantity_text(resource: &str, nanos: i128) -> String {
    if resource == "cpu" {
        format!("{}m", nanos / 1_000_000)
    } else {
        format!("{}", nanos / 1_000_000_000)
    }
}

async fn sync(
    client: &kube::Client,
    recorder: &Recorder,
    hpa: &HorizontalPodAutoscaler,
    history: &mut Vec<(Instant, i32)>,
) -> Result<(), kube::Error> {
    let ns = hpa.namespace().unwrap_or_default();
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns);
    let spec = &hpa.spec;
    let target = &spec.scale_target_ref;
    let mut conditions = Vec::new();
    let mut status = json!({"observedGeneration": hpa.metadata.generation});
    let scale = match scale_api(client, &ns, target).await {
        Ok((scales, name)) => scales
            .get_scale(&name)
            .await
            .map(|s| (scales, name, s))
            .map_err(api_message),
        Err(e) => Err(e),
    };
    let (scales, name, scale) = match scale {
        Ok(s) => s,
        Err(e) => {
            let message =
                format!("the HPA controller was unable to get the target's current scale: {e}");
            conditions.push(condition("AbleToScale", false, "FailedGetScale", &message));
            recorder.publish(&reference(hpa), EventType::Warning, "FailedGetScale", &e);
            status["conditions"] = json!(conditions);
            return write_status(&api, hpa, status).await;
        }
    };
    let current = scale.status.as_ref().map_or(0, |s| s.replicas);
    let spec_replicas = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let selector = scale
        .status
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    status["currentReplicas"] = json!(current);
    let min = spec.min_replicas.unwrap_or(1);
    let max = spec.max_replicas;
    if spec_replicas == 0 && min > 0 {
        conditions.push(condition(
            "AbleToScale",
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        ));
        conditions.push(condition(
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        ));
        status["desiredReplicas"] = json!(0);
        status["conditions"] = json!(conditions);
        return write_status(&api, hpa, status).await;
    }
    let mut desired: Option<i32> = None;
    let mut metrics = Vec::new();
    let mut failure: Option<String> = None;
    match targets(hpa) {
        Ok(ts) => {
            for t in &ts {
                match recommend(client, &ns, &selector, current, t).await {
                    Ok((d, m)) => {
                        desired = Some(desired.map_or(d, |x| x.max(d)));
                        metrics.push(m);
                    }
                    Err(e) => {
                        failure = Some(format!("failed to get {} utilization: {e}", t.resource));
                    }
                }
            }
        }
        Err(e) => failure = Some(e),
    }
    status["currentMetrics"] = json!(metrics);
    let Some(mut want) = desired.filter(|_| failure.is_none()) else {
        let message = format!(
            "the HPA was unable to compute the replica count: {}",
            failure.unwrap_or_default()
        );
        conditions.push(condition(
            "AbleToScale",
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        ));
        conditions.push(condition(
            "ScalingActive",
            false,
            "FailedGetResourceMetric",
            &message,
        ));
        recorder.publish(
            &reference(hpa),
            EventType::Warning,
            "FailedGetResourceMetric",
            &message,
        );
        recorder.publish(
            &reference(hpa),
            EventType::Warning,
            "FailedComputeMetricsReplicas",
            &format!(
                "invalid metrics ({} invalid out of {}), first error is: {message}",
                1,
                targets(hpa).map(|t| t.len()).unwrap_or(1)
            ),
        );
        status["desiredReplicas"] = json!(current);
        status["conditions"] = json!(conditions);
        return write_status(&api, hpa, status).await;
    };
    // Scale-down takes the highest recommendation of the stabilization window.
    let window = spec
        .behavior
        .as_ref()
        .and_then(|b| b.scale_down.as_ref())
        .and_then(|r| r.stabilization_window_seconds)
        .map_or(SCALE_DOWN_WINDOW, |s| Duration::from_secs(s.max(0) as u64));
    history.push((Instant::now(), want));
    history.retain(|(t, _)| t.elapsed() <= window);
    if want < current {
        want = history
            .iter()
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(want)
            .min(current);
    }
    let limited = if want > max {
        want = max;
        Some((
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        ))
    } else if want < min {
        want = min;
        Some((
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        ))
    } else {
        None
    };
    let first = metrics
        .first()
        .and_then(|m| m["resource"]["name"].as_str())
        .unwrap_or("cpu")
        .to_string();
    if want != current {
        let patch = Patch::Merge(json!({"spec": {"replicas": want}}));
        if let Err(e) = scales
            .patch_scale(&name, &PatchParams::default(), &patch)
            .await
        {
            let message = format!(
                "the HPA controller was unable to update the target scale: {}",
                api_message(e)
            );
            conditions.push(condition(
                "AbleToScale",
                false,
                "FailedUpdateScale",
                &message,
            ));
            recorder.publish(
                &reference(hpa),
                EventType::Warning,
                "FailedRescale",
                &message,
            );
        } else {
            let reason = if want > current {
                format!("{first} resource utilization (percentage of request) above target")
            } else {
                "All metrics below target".to_string()
            };
            recorder.publish(
                &reference(hpa),
                EventType::Normal,
                "SuccessfulRescale",
                &format!("New size: {want}; reason: {reason}"),
            );
            conditions.push(condition(
                "AbleToScale",
                true,
                "SucceededRescale",
                &format!("the HPA controller was able to update the target scale to {want}"),
            ));
            status["lastScaleTime"] = json!(jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string());
        }
    } else {
        conditions.push(condition(
            "AbleToScale",
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
        ));
    }
    conditions.push(condition(
        "ScalingActive",
        true,
        "ValidMetricFound",
        &format!("the HPA was able to successfully calculate a replica count from {first} resource utilization (percentage of request)"),
    ));
    conditions.push(match limited {
        Some((reason, message)) => condition("ScalingLimited", true, reason, message),
        None => condition(
            "ScalingLimited",
            false,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        ),
    });
    status["desiredReplicas"] = json!(want);
    status["conditions"] = json!(conditions);
    write_status(&api, hpa, status).await
}

/// Write the status, keeping a condition's transition time while its status holds.
async fn write_status(
    api: &Api<HorizontalPodAutoscaler>,
    hpa: &HorizontalPodAutoscaler,
    mut status: Value,
) -> Result<(), kube::Error> {
    let old = hpa
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for c in status["conditions"].as_array_mut().into_iter().flatten() {
        if let Some(prev) = old
            .iter()
            .find(|o| Some(o.type_.as_str()) == c["type"].as_str())
        {
            if Some(prev.status.as_str()) == c["status"].as_str() {
                if let Some(t) = &prev.last_transition_time {
                    c["lastTransitionTime"] = json!(t);
                }
            }
        }
    }
    if status.get("lastScaleTime").is_none() {
        if let Some(t) = hpa.status.as_ref().and_then(|s| s.last_scale_time.clone()) {
            status["lastScaleTime"] = json!(t);
        }
    }
    api.patch_status(
        &hpa.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_versions_split_as_apimachinery_does() {
        assert_eq!(parse_group("apps/v1"), Ok("apps"));
        assert_eq!(parse_group("v1"), Ok(""));
        assert_eq!(parse_group(""), Ok(""));
        assert_eq!(
            parse_group("apps/v1/namespaces/kube-system"),
            Err("unexpected GroupVersion string: apps/v1/namespaces/kube-system".to_string())
        );
    }

    #[test]
    fn names_are_escaped_as_one_path_segment() {
        let escaped = |n: &str| utf8_percent_encode(n, PATH_SEGMENT).to_string();
        assert_eq!(escaped("a b"), "a%20b");
        assert_eq!(escaped("../x"), "..%2Fx");
        assert_eq!(escaped("web-1.v2"), "web-1.v2");
    }

    #[test]
    fn quantities_print_like_the_api() {
        assert_eq!(quantity_text("cpu", 250_000_000), "250m");
        assert_eq!(quantity_text("memory", 1024 * 1_000_000_000), "1024");
    }
}
