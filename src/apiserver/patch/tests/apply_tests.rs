//! Server-side apply and update tracking: create, re-apply, conflicts, force, and the exact
//! managedFields the API server writes.

use serde_json::{json, Value};

use super::super::*;
use super::{definitions, deployment};

const T0: &str = "2026-11-22T11:00:00Z";
const T1: &str = "2026-11-22T11:05:00Z";
const T2: &str = "2026-11-22T11:10:00Z";

fn owner<'a>(manager: &'a str, now: &'a str) -> FieldOwner<'a> {
    FieldOwner {
        manager,
        api_version: "apps/v1",
        subresource: None,
        now,
        reset_fields: &["status"],
    }
}

fn config(replicas: i64, labels: Value, env: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx",
                    "ports": [{"containerPort": 80}], "env": env}]}
            }
        }
    })
}

fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, PatchError> {
    let defs = definitions();
    server_side_apply(
        live,
        applied,
        force,
        deployment(&defs),
        &owner(manager, now),
    )
}

fn update(old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
    let defs = definitions();
    track_update(old, new, deployment(&defs), &owner(manager, now))
}

fn entries(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

/// Simulates storage: the server keeps uid and resourceVersion on the stored object.
fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("u1");
    obj["metadata"]["resourceVersion"] = json!("7");
    obj
}

#[test]
fn apply_creates_with_exact_managed_fields() {
    let applied = config(
        2,
        json!({"app": "web"}),
        json!([{"name": "A", "value": "1"}]),
    );
    let out = apply(None, &applied, "kubectl", false, T0).expect("create");
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(
        entries(&out),
        vec![json!({
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
                            "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                        }}}
                    }
                }
            }
        })]
    );
}

#[test]
fn reapply_removes_fields_no_longer_applied() {
    let first = config(
        2,
        json!({"app": "web", "tier": "fe"}),
        json!([{"name": "A", "value": "1"}]),
    );
    let live = stored(apply(None, &first, "kubectl", false, T0).expect("create"));
    let mut second = config(2, json!({"app": "web"}), json!([]));
    if let Some(c) = second["spec"]["template"]["spec"]["containers"][0].as_object_mut() {
        c.shift_remove("env");
    }
    let out = apply(Some(&live), &second, "kubectl", false, T1).expect("re-apply");
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    let web = &out["spec"]["template"]["spec"]["containers"][0];
    assert!(web.get("env").is_none(), "env pruned: {web}");
    assert_eq!(web["image"], "nginx");
    assert_eq!(out["metadata"]["uid"], "u1");
    let fields = &entry(&out, "kubectl").expect("entry")["fieldsV1"];
    assert!(fields["f:metadata"]["f:labels"].get("f:tier").is_none());
    assert_eq!(entry(&out, "kubectl").expect("entry")["time"], T1);

    // Applying the same configuration again changes nothing, not even the time.
    let again = apply(Some(&stored(out.clone())), &second, "kubectl", false, T2).expect("no-op");
    assert_eq!(entry(&again, "kubectl").expect("entry")["time"], T1);
}

#[test]
fn conflict_with_update_manager_and_force() {
    let applied = config(2, json!({"app": "web"}), json!([]));
    let live = stored(apply(None, &applied, "kubectl", false, T0).expect("create"));
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let live = update(Some(&live), &scaled, "kubectl-client-side-apply", T1);
    assert_eq!(
        entry(&live, "kubectl-client-side-apply").expect("update entry")["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(
        entry(&live, "kubectl").expect("apply entry")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );

    let err = apply(Some(&live), &applied, "kubectl", false, T2).expect_err("conflict");
    assert_eq!((err.code(), err.reason()), (409, "Conflict"));
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        err.causes(),
        vec![StatusCause {
            reason: "FieldManagerConflict",
            message: "conflict with \"kubectl-client-side-apply\" using apps/v1".into(),
            field: ".spec.replicas".into(),
        }]
    );

    // Same value as the other owner: shared, no conflict.
    let shared = apply(
        Some(&live),
        &config(5, json!({"app": "web"}), json!([])),
        "kubectl",
        false,
        T2,
    )
    .expect("shared ownership");
    assert!(entry(&shared, "kubectl-client-side-apply").is_some());
    assert_eq!(
        entry(&shared, "kubectl").expect("apply")["fieldsV1"]["f:spec"]["f:replicas"],
        json!({})
    );

    let forced = apply(Some(&live), &applied, "kubectl", true, T2).expect("force");
    assert_eq!(forced["spec"]["replicas"], 2);
    assert!(
        entry(&forced, "kubectl-client-side-apply").is_none(),
        "lost its only field"
    );
    assert_eq!(entries(&forced).len(), 1);
}

#[test]
fn several_conflicts_are_listed_per_manager() {
    let applied = config(2, json!({"app": "web"}), json!([]));
    let live = stored(apply(None, &applied, "kubectl", false, T0).expect("create"));
    let mut changed = live.clone();
    changed["spec"]["replicas"] = json!(3);
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("httpd");
    let live = update(Some(&live), &changed, "editor", T1);
    let err = apply(Some(&live), &applied, "kubectl", false, T2).expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"editor\" using apps/v1\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    );
    assert_eq!(err.causes().len(), 2);
}

#[test]
fn removed_field_stays_when_another_manager_owns_it() {
    let a = config(2, json!({"app": "web", "team": "x"}), json!([]));
    let live = stored(apply(None, &a, "alice", false, T0).expect("alice"));
    let live = stored(apply(Some(&live), &a, "bob", false, T1).expect("bob shares"));
    let without_team = config(2, json!({"app": "web"}), json!([]));
    let out = apply(Some(&live), &without_team, "alice", false, T2).expect("alice drops team");
    assert_eq!(out["metadata"]["labels"]["team"], "x", "bob still owns it");
    let out = apply(Some(&stored(out)), &without_team, "bob", false, T2).expect("bob drops team");
    assert!(out["metadata"]["labels"].get("team").is_none());
}

#[test]
fn apply_input_errors() {
    let good = config(1, json!({"app": "web"}), json!([]));
    let mut wrong_version = good.clone();
    wrong_version["apiVersion"] = json!("apps/v1beta1");
    let mut with_managed = good.clone();
    with_managed["metadata"]["managedFields"] = json!([]);
    let mut missing_key = good.clone();
    missing_key["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let mut duplicate = good.clone();
    duplicate["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!([1]), 400, "error decoding YAML"),
        (wrong_version, 400, "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
        (with_managed, 400, "metadata.managedFields must be nil"),
        (missing_key, 500, "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"),
        (duplicate, 500, "duplicate entries for key [name=\"a\"]"),
    ];
    for (applied, code, message) in cases {
        let err = apply(None, &applied, "kubectl", false, T0).expect_err("must fail");
        assert_eq!(err.code(), code, "{applied}");
        assert!(err.to_string().contains(message), "got {err}");
    }
}

#[test]
fn apply_resets_status_and_syncs_last_applied_for_kubectl() {
    let mut applied = config(1, json!({"app": "web"}), json!([]));
    applied["status"] = json!({"replicas": 9});
    let created = apply(None, &applied, "kubectl", false, T0).expect("create");
    assert!(created.get("status").is_none(), "status is reset on create");
    assert!(entry(&created, "kubectl").expect("entry")["fieldsV1"]
        .get("f:status")
        .is_none());

    let mut live = stored(created);
    live["status"] = json!({"replicas": 1});
    live["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n"});
    let mut next = config(3, json!({"app": "web"}), json!([]));
    next["status"] = json!({"replicas": 9});
    let out = apply(Some(&live), &next, "kubectl", false, T1).expect("apply");
    assert_eq!(out["status"], json!({"replicas": 1}));
    let text = out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.ends_with('\n'));
    let parsed: Value = serde_json::from_str(&text).expect("annotation is JSON");
    assert_eq!(parsed["spec"]["replicas"], 3);

    let other = apply(Some(&live), &next, "my-tool", true, T1).expect("forced apply");
    assert_eq!(
        other["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"old\":true}\n"
    );
}

#[test]
fn apply_without_schema_is_granular_and_atomic() {
    let cr = json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"},
        "spec": {"a": {"b": 1}, "list": [1, 2]}});
    let who = FieldOwner {
        manager: "m",
        api_version: "x.io/v1",
        subresource: None,
        now: T0,
        reset_fields: &[],
    };
    let out = server_side_apply(None, &cr, false, SchemaRef::unknown(), &who).expect("create");
    assert_eq!(
        entry(&out, "m").expect("entry")["fieldsV1"],
        json!({"f:spec": {"f:a": {"f:b": {}}, "f:list": {}}})
    );
    let next = json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"},
        "spec": {"a": {"c": 2}, "list": [3]}});
    let out =
        server_side_apply(Some(&out), &next, false, SchemaRef::unknown(), &who).expect("update");
    assert_eq!(out["spec"], json!({"a": {"c": 2}, "list": [3]}));
}

#[test]
fn track_update_on_create_matches_the_server() {
    let created = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx"}}, "strategy": {},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}}},
        "status": {}
    });
    let out = update(None, &created, "kubectl-create", T0);
    assert_eq!(
        entries(&out),
        vec![json!({
            "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {}, "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}}}
                    }
                }
            }
        })]
    );
}

#[test]
fn track_update_moves_and_drops_ownership() {
    let created = update(
        None,
        &config(1, json!({"app": "web", "x": "y"}), json!([])),
        "creator",
        T0,
    );
    let live = stored(created);

    // Only server-managed metadata changed: nothing recorded.
    let mut bumped = live.clone();
    bumped["metadata"]["resourceVersion"] = json!("8");
    let out = update(Some(&live), &bumped, "noop", T1);
    assert!(entry(&out, "noop").is_none());
    assert_eq!(entries(&out), entries(&live));

    // Status writes by the main resource endpoint are not owned (reset field).
    let mut status = live.clone();
    status["status"] = json!({"replicas": 1});
    assert!(entry(&update(Some(&live), &status, "ctl", T1), "ctl").is_none());

    // Status subresource writes are owned under their own entry.
    let defs = definitions();
    let status_owner = FieldOwner {
        manager: "kube-controller-manager",
        api_version: "apps/v1",
        subresource: Some("status"),
        now: T1,
        reset_fields: &["spec", "metadata"],
    };
    let out = track_update(Some(&live), &status, deployment(&defs), &status_owner);
    let e = entry(&out, "kube-controller-manager").expect("status entry");
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {".": {}, "f:replicas": {}}})
    );

    // Removing a label takes it from its owner; changing one moves it.
    let mut edited = live.clone();
    if let Some(labels) = edited["metadata"]["labels"].as_object_mut() {
        labels.shift_remove("x");
        labels.insert("app".into(), json!("api"));
    }
    let out = update(Some(&live), &edited, "editor", T1);
    let creator = &entry(&out, "creator").expect("creator")["fieldsV1"]["f:metadata"]["f:labels"];
    assert!(creator.get("f:x").is_none() && creator.get("f:app").is_none());
    assert_eq!(
        entry(&out, "editor").expect("editor")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:app": {}}}})
    );
    // Entries sort by operation, then time.
    let order: Vec<Value> = entries(&out).iter().map(|e| e["manager"].clone()).collect();
    assert_eq!(order, vec![json!("creator"), json!("editor")]);
}

#[test]
fn clients_may_rewrite_or_clear_managed_fields() {
    let live = stored(update(
        None,
        &config(1, json!({"app": "web"}), json!([])),
        "creator",
        T0,
    ));
    let mut cleared = live.clone();
    cleared["metadata"]["managedFields"] = json!([{}]);
    let out = update(Some(&live), &cleared, "ctl", T1);
    assert!(out["metadata"].get("managedFields").is_none());

    let mut rewritten = live.clone();
    rewritten["metadata"]["managedFields"] = json!([{"manager": "other", "operation": "Update",
        "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    let out = update(Some(&live), &rewritten, "ctl", T1);
    assert_eq!(entries(&out).len(), 1);
    assert_eq!(entries(&out)[0]["manager"], "other");

    // An omitted list keeps what was stored.
    let mut omitted = live.clone();
    if let Some(meta) = omitted["metadata"].as_object_mut() {
        meta.shift_remove("managedFields");
    }
    assert_eq!(
        entries(&update(Some(&live), &omitted, "ctl", T1)),
        entries(&live)
    );
}

#[test]
fn kubectl_takes_over_client_side_applied_fields_without_force() {
    let cfg = config(2, json!({"app": "web"}), json!([]));
    let mut created = cfg.clone();
    created["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": format!("{cfg}\n")});
    let live = stored(update(None, &created, "kubectl-client-side-apply", T0));
    let mut next = cfg.clone();
    next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("httpd");

    let err = apply(Some(&live), &next, "tool", false, T1).expect_err("other appliers conflict");
    assert_eq!(
        err.causes()[0].field,
        ".spec.template.spec.containers[name=\"web\"].image"
    );

    let out = apply(Some(&live), &next, "kubectl", false, T1).expect("migration is allowed");
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "httpd"
    );
    let csa = &entry(&out, "kubectl-client-side-apply").expect("csa entry")["fieldsV1"];
    assert!(
        csa["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]
            .get("f:image")
            .is_none()
    );
    let synced = out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    assert!(synced.contains("httpd"));

    // A live value that drifted from the last applied configuration still conflicts.
    let mut drifted = live.clone();
    drifted["spec"]["replicas"] = json!(7);
    let drifted = update(Some(&live), &drifted, "kubectl-client-side-apply", T1);
    let err = apply(Some(&drifted), &next, "kubectl", false, T2).expect_err("drifted");
    assert_eq!(err.causes().len(), 1);
    assert_eq!(err.causes()[0].field, ".spec.replicas");
}

#[test]
fn untracked_objects_belong_to_before_first_apply() {
    let mut live = stored(config(3, json!({"app": "web"}), json!([])));
    live["metadata"]["annotations"] = json!({"note": "x"});
    let err = apply(
        Some(&live),
        &config(2, json!({"app": "web"}), json!([])),
        "kubectl",
        false,
        T1,
    )
    .expect_err("replicas set by someone unknown");
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
    let out = apply(
        Some(&live),
        &config(3, json!({"app": "web"}), json!([])),
        "kubectl",
        false,
        T1,
    )
    .expect("same values");
    let before = entry(&out, "before-first-apply").expect("seeded entry");
    assert_eq!(
        before["fieldsV1"]["f:metadata"]["f:annotations"],
        json!({".": {}, "f:note": {}})
    );
}
