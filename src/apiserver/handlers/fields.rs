//! The fields each kind can be selected on (kube-apiserver's per-kind field label sets).

use serde_json::Value;

use crate::resources::registry::ResourceInfo;

/// Unsupported field label.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported;

fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, p| v.get(*p))
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The value of a selectable field, `Err` when the kind does not support it.
pub fn field_value(
    res: &ResourceInfo,
    obj: &Value,
    field: &str,
) -> Result<Option<String>, Unsupported> {
    let path: Vec<&str> = field.split('.').collect();
    let get = |p: &[&str]| Ok(Some(text(at(obj, p))));
    match field {
        "metadata.name" | "metadata.namespace" => return get(&path),
        _ => {}
    }
    match (res.group.as_str(), res.kind.as_str(), field) {
        ("", "Pod", "spec.nodeName")
        | ("", "Pod", "spec.restartPolicy")
        | ("", "Pod", "spec.schedulerName")
        | ("", "Pod", "spec.serviceAccountName")
        | ("", "Pod", "spec.hostNetwork")
        | ("", "Pod", "status.phase")
        | ("", "Pod", "status.podIP")
        | ("", "Pod", "status.nominatedNodeName") => {
            if field == "spec.hostNetwork" {
                return Ok(Some(
                    at(obj, &path)
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string(),
                ));
            }
            get(&path)
        }
        ("", "Event", "involvedObject.kind")
        | ("", "Event", "involvedObject.namespace")
        | ("", "Event", "involvedObject.name")
        | ("", "Event", "involvedObject.uid")
        | ("", "Event", "involvedObject.apiVersion")
        | ("", "Event", "involvedObject.resourceVersion")
        | ("", "Event", "involvedObject.fieldPath")
        | ("", "Event", "reason")
        | ("", "Event", "reportingComponent")
        | ("", "Event", "type")
        | ("", "Event", "source") => {
            if field == "source" {
                return Ok(Some(text(at(obj, &["source", "component"]))));
            }
            get(&path)
        }
        ("", "Secret", "type") => get(&path),
        ("", "Namespace", "status.phase") => get(&path),
        ("", "Node", "spec.unschedulable") => Ok(Some(
            at(obj, &path)
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string(),
        )),
        ("", "ReplicationController", "status.replicas")
        | ("apps", "ReplicaSet", "status.replicas") => get(&path),
        ("batch", "Job", "status.successful") => get(&path),
        ("", "PersistentVolume", "name") => Ok(Some(text(at(obj, &["metadata", "name"])))),
        ("", "PersistentVolumeClaim", "spec.volumeName") => get(&path),
        ("", "Service", "spec.clusterIP") | ("", "Service", "spec.type") => get(&path),
        ("certificates.k8s.io", _, "spec.signerName") => get(&path),
        _ => Err(Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::registry::Registry;
    use serde_json::json;

    #[test]
    fn pod_and_event_fields() {
        let reg = Registry::builtin();
        let pods = reg.lookup("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert_eq!(
            field_value(&pods, &pod, "spec.nodeName"),
            Ok(Some("n1".into()))
        );
        assert_eq!(
            field_value(&pods, &pod, "status.phase"),
            Ok(Some("Running".into()))
        );
        assert_eq!(
            field_value(&pods, &pod, "metadata.name"),
            Ok(Some("p".into()))
        );
        assert_eq!(field_value(&pods, &pod, "spec.bogus"), Err(Unsupported));
        let cms = reg.lookup("", "v1", "configmaps").unwrap();
        assert_eq!(field_value(&cms, &pod, "status.phase"), Err(Unsupported));
    }
}
