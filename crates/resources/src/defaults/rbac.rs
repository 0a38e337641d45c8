//! rbac.authorization.k8s.io/v1: bindings' roleRef and subject API groups.

use serde_json::{json, Value};

use super::{default, obj_mut};

/// A binding: the roleRef's and subjects' API groups.
pub(crate) fn binding(obj: &mut Value) {
    if let Some(r) = obj_mut(obj, "roleRef") {
        default(r, "apiGroup", json!("rbac.authorization.k8s.io"));
    }
    if let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) {
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            if s.get("apiGroup")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                match s.get("kind").and_then(Value::as_str) {
                    Some("ServiceAccount") => {
                        s.insert("apiGroup".into(), json!(""));
                    }
                    Some("User") | Some("Group") => {
                        s.insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_defaults() {
        let mut b = json!({"roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "d", "namespace": "n"}]});
        binding(&mut b);
        assert_eq!(b["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(b["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(b["subjects"][1]["apiGroup"], "");
    }
}
