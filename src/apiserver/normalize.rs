//! Give stored objects the shape Go's encoding would: what `omitempty` leaves out (nulls,
//! empty maps and lists) is removed, so a label removed by a patch leaves no `labels: {}`.

use serde_json::Value;

use crate::apiserver::openapi::Definitions;

/// Resolve `$ref` / `allOf: [{$ref}]` against the component schemas.
fn resolve<'a>(defs: &'a dyn Definitions, s: &'a Value) -> &'a Value {
    let mut cur = s;
    for _ in 0..8 {
        let r = cur
            .get("$ref")
            .or_else(|| {
                cur.get("allOf")
                    .and_then(|a| a.get(0))
                    .and_then(|x| x.get("$ref"))
            })
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"));
        match r.and_then(|name| defs.schema(name)) {
            Some(next) => cur = next,
            None => break,
        }
    }
    cur
}

fn is_map(schema: &Value) -> bool {
    schema.get("additionalProperties").is_some() && schema.get("properties").is_none()
}

/// Drop nulls, empty maps and empty lists below `v` (schema-guided; `None` = unknown).
pub fn normalize(defs: &dyn Definitions, schema: Option<&Value>, v: &mut Value) {
    let schema = schema.map(|s| resolve(defs, s));
    match v {
        Value::Object(m) => {
            let map_schema = schema.filter(|s| is_map(s));
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let child_schema = match (map_schema, schema) {
                    (Some(ms), _) => ms.get("additionalProperties"),
                    (None, Some(s)) => s.get("properties").and_then(|p| p.get(&k)),
                    _ => None,
                };
                let remove = {
                    let Some(child) = m.get_mut(&k) else { continue };
                    if child.is_null() {
                        // Go writes a zero Time as null and keeps it; everything else goes.
                        k != "creationTimestamp" && map_schema.is_none()
                    } else {
                        normalize(defs, child_schema, child);
                        let resolved = child_schema.map(|s| resolve(defs, s));
                        match child {
                            Value::Array(a) => a.is_empty() && map_schema.is_none(),
                            Value::Object(o) => {
                                o.is_empty() && map_schema.is_none() && resolved.is_some_and(is_map)
                            }
                            _ => false,
                        }
                    }
                };
                if remove {
                    m.remove(&k);
                }
            }
        }
        Value::Array(a) => {
            let item = schema.and_then(|s| s.get("items"));
            for x in a.iter_mut() {
                normalize(defs, item, x);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::openapi;
    use serde_json::json;

    #[test]
    fn drops_what_go_omits() {
        let defs = openapi::definitions();
        let root = defs
            .schema(openapi::definition_name("apps", "v1", "Deployment").unwrap())
            .unwrap();
        let mut d = json!({"metadata": {"name": "x", "labels": {}, "annotations": {"a": "b"}, "finalizers": []},
            "spec": {"selector": {}, "paused": null, "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "c", "resources": {}, "env": []}]}}},
            "status": {}});
        normalize(defs, Some(root), &mut d);
        assert_eq!(
            d,
            json!({"metadata": {"name": "x", "annotations": {"a": "b"}},
            "spec": {"selector": {}, "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "c", "resources": {}}]}}},
            "status": {}})
        );
    }
}
