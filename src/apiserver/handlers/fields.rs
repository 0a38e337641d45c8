//! The fields each kind can be selected on (kube-apiserver's per-kind field label sets).

use serde_json::Value;

use crate::resources::registry::ResourceInfo;
use crate::resources::strategy::Field;

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
    let read = match field {
        "metadata.name" => Field::Text("metadata.name"),
        "metadata.namespace" => Field::Text("metadata.namespace"),
        _ => res.strategy.field(field).ok_or(Unsupported)?,
    };
    let path = |p: &str| at(obj, &p.split('.').collect::<Vec<_>>());
    Ok(Some(match read {
        Field::Text(p) | Field::Alias(_, p) => text(path(p)),
        Field::Flag(p) => path(p)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string(),
    }))
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
