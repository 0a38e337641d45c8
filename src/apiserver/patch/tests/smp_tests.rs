//! Strategic merge patch: every directive and the kubectl flows that send one.

use serde_json::{json, Value};

use super::super::*;
use super::{definitions, deployment, live_deployment};

fn smp(live: &Value, patch: Value) -> Result<Value, PatchError> {
    let defs = definitions();
    strategic_merge_patch(live, &patch, deployment(&defs))
}

fn containers(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]["containers"]
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubectl_set_image_merges_by_name() {
    let live = live_deployment();
    let out = smp(
        &live,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:2"}]}}}}),
    )
    .expect("set image");
    assert_eq!(names(containers(&out)), ["web", "sidecar"]);
    assert_eq!(containers(&out)[1]["image"], "busybox:2");
    assert_eq!(containers(&out)[1]["args"], json!(["sleep", "1"]));
    assert_eq!(containers(&out)[0], containers(&live)[0]);
}

#[test]
fn kubectl_rollout_restart_adds_template_annotation() {
    let live = live_deployment();
    let at = "2026-11-22T11:00:00Z";
    let out = smp(
        &live,
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}}}),
    )
    .expect("restart");
    assert_eq!(
        out["spec"]["template"]["metadata"],
        json!({"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": at}})
    );
    let paused = smp(&live, json!({"spec": {"paused": true}})).expect("pause");
    assert_eq!(paused["spec"]["paused"], true);
}

#[test]
fn client_side_apply_three_way_patch() {
    // What kubectl apply sends after removing the sidecar, changing the image, adding an env
    // var and reordering env.
    let live = live_deployment();
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [
                {"name": "web", "image": "nginx:1.26",
                 "$setElementOrder/env": [{"name": "C"}, {"name": "B"}, {"name": "A"}],
                 "env": [{"name": "C", "value": "3"}]},
                {"$patch": "delete", "name": "sidecar"}
            ]
        }}}
    });
    let out = smp(&live, patch).expect("3-way patch");
    assert_eq!(names(containers(&out)), ["web"]);
    let web = &containers(&out)[0];
    assert_eq!(web["image"], "nginx:1.26");
    assert_eq!(names(&web["env"]), ["C", "B", "A"]);
    assert_eq!(
        web["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{}\n"
    );
    assert!(
        !out.to_string().contains('$'),
        "no directive may leak: {out}"
    );
}

#[test]
fn list_and_map_directives() {
    let live = live_deployment();
    struct Case {
        name: &'static str,
        patch: Value,
        check: fn(&Value),
    }
    let cases = [
        Case {
            name: "new item without order goes first (server quirk)",
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x"}]}}}}),
            check: |o| assert_eq!(names(containers(o)), ["new", "web", "sidecar"]),
        },
        Case {
            name: "setElementOrder places new item",
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}, {"name": "new"}],
                "containers": [{"name": "new", "image": "x"}]}}}}),
            check: |o| assert_eq!(names(containers(o)), ["web", "sidecar", "new"]),
        },
        Case {
            name: "setElementOrder alone reorders",
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}}}}),
            check: |o| assert_eq!(names(containers(o)), ["sidecar", "web"]),
        },
        Case {
            name: "$patch delete element",
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "delete"}]}}}}),
            check: |o| assert_eq!(names(containers(o)), ["sidecar"]),
        },
        Case {
            name: "$patch replace list",
            patch: json!({"spec": {"template": {"spec": {"containers": [
                {"name": "only", "image": "i"}, {"$patch": "replace"}]}}}}),
            check: |o| assert_eq!(containers(o), &json!([{"name": "only", "image": "i"}])),
        },
        Case {
            name: "$patch replace map",
            patch: json!({"metadata": {"labels": {"x": "1", "$patch": "replace"}}}),
            check: |o| assert_eq!(o["metadata"]["labels"], json!({"x": "1"})),
        },
        Case {
            name: "$patch delete map",
            patch: json!({"spec": {"strategy": {"$patch": "delete"}}}),
            check: |o| assert_eq!(o["spec"]["strategy"], json!({})),
        },
        Case {
            name: "null deletes, nested nulls in new values are dropped",
            patch: json!({"spec": {"replicas": null, "paused": null,
                "template": {"spec": {"nodeSelector": {"a": "b", "c": null}}}}}),
            check: |o| {
                assert!(o["spec"].get("replicas").is_none());
                assert!(o["spec"].get("paused").is_none());
                assert_eq!(
                    o["spec"]["template"]["spec"]["nodeSelector"],
                    json!({"a": "b"})
                );
            },
        },
        Case {
            name: "primitive merge list is a union with new values first",
            patch: json!({"metadata": {"finalizers": ["c", "a"]}}),
            check: |o| assert_eq!(o["metadata"]["finalizers"], json!(["c", "a", "b"])),
        },
        Case {
            name: "deleteFromPrimitiveList",
            patch: json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}}),
            check: |o| assert_eq!(o["metadata"]["finalizers"], json!(["b"])),
        },
        Case {
            name: "setElementOrder on primitives",
            patch: json!({"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}}),
            check: |o| assert_eq!(o["metadata"]["finalizers"], json!(["b", "c", "a"])),
        },
        Case {
            name: "retainKeys drops rollingUpdate when switching to Recreate",
            patch: json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
            check: |o| assert_eq!(o["spec"]["strategy"], json!({"type": "Recreate"})),
        },
        Case {
            name: "retainKeys on list items (volume source switch)",
            patch: json!({"spec": {"template": {"spec": {"volumes": [
                {"name": "cfg", "$retainKeys": ["emptyDir", "name"], "emptyDir": {}}]}}}}),
            check: |o| {
                assert_eq!(
                    o["spec"]["template"]["spec"]["volumes"],
                    json!([{"name": "cfg", "emptyDir": {}}])
                )
            },
        },
        Case {
            name: "lists without strategy are replaced",
            patch: json!({"spec": {"template": {"spec": {"tolerations": [{"key": "k2"}],
                "containers": [{"name": "sidecar", "args": ["x"]}]}}}}),
            check: |o| {
                assert_eq!(
                    o["spec"]["template"]["spec"]["tolerations"],
                    json!([{"key": "k2"}])
                );
                assert_eq!(containers(o)[1]["args"], json!(["x"]));
            },
        },
        Case {
            name: "ports by containerPort, env by name with null value",
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "web",
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                "env": [{"name": "A", "value": null}, {"name": "B", "$patch": "delete"}]}]}}}}),
            check: |o| {
                let web = &containers(o)[0];
                assert_eq!(
                    web["ports"],
                    json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
                );
                assert_eq!(web["env"], json!([{"name": "A"}]));
            },
        },
        Case {
            name: "map-typed patch value into absent key is taken whole, directives resolved",
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "web",
                "resources": {"limits": {"cpu": "1"}, "x": null}}]}}}}),
            check: |o| {
                assert_eq!(
                    containers(o)[0]["resources"],
                    json!({"limits": {"cpu": "1"}})
                )
            },
        },
        Case {
            name: "type change takes the patch value",
            patch: json!({"spec": {"template": {"spec": {"containers": "oops"}}}}),
            check: |o| assert_eq!(containers(o), &json!("oops")),
        },
        Case {
            name: "whole object $patch replace",
            patch: json!({"$patch": "replace", "kind": "Deployment"}),
            check: |o| assert_eq!(o, &json!({"kind": "Deployment"})),
        },
    ];
    for case in cases {
        match smp(&live, case.patch.clone()) {
            Ok(out) => (case.check)(&out),
            Err(e) => panic!("{}: unexpected error {e}", case.name),
        }
    }
}

#[test]
fn unknown_schema_merges_maps_and_replaces_lists() {
    let live = json!({"spec": {"a": {"x": 1}, "l": [1, 2], "m": [{"name": "a"}]}});
    let out = strategic_merge_patch(
        &live,
        &json!({"spec": {"a": {"y": 2}, "l": [3], "m": [{"name": "b"}]}}),
        SchemaRef::unknown(),
    )
    .expect("unknown schema");
    assert_eq!(
        out,
        json!({"spec": {"a": {"x": 1, "y": 2}, "l": [3], "m": [{"name": "b"}]}})
    );
}

#[test]
fn malformed_strategic_patches_are_errors() {
    let live = live_deployment();
    let in_containers = |c: Value| json!({"spec": {"template": {"spec": {"containers": c}}}});
    // (patch, code, message fragment)
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!([1]), 400, "cannot unmarshal array"),
        (json!("x"), 400, "cannot unmarshal string"),
        (
            in_containers(json!([{"image": "x"}])),
            500,
            "does not contain declared merge key: name",
        ),
        (
            in_containers(json!([{"$patch": "delete"}])),
            500,
            "does not contain declared merge key",
        ),
        (
            in_containers(json!([{"name": "web", "$patch": "merge"}])),
            500,
            "merging lists cannot yet be specified",
        ),
        (
            in_containers(json!([{"name": "web", "$patch": "bogus"}])),
            500,
            "unknown patch type: bogus",
        ),
        (
            json!({"metadata": {"labels": {"$patch": "merge"}}}),
            500,
            "unknown patch type: merge in map",
        ),
        (
            json!({"metadata": {"finalizers": [["a"]]}}),
            422,
            "the server rejected our request",
        ),
        (
            json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            400,
            "invalid patch format of retainKeys",
        ),
        (
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            422,
            "the server rejected",
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
            400,
            "invalid patch format of primitive list",
        ),
        (
            json!({"metadata": {"$setElementOrderfinalizers": ["a"]}}),
            400,
            "invalid patch format of setElementOrder list",
        ),
        (
            json!({"metadata": {"$setElementOrder/finalizers": "a"}}),
            500,
            "expected a list",
        ),
        (
            json!({"metadata": {"finalizers": ["a", {"x": 1}]}}),
            500,
            "expected a consistent list element type",
        ),
        (
            in_containers(json!([{"name": "web"}, 5])),
            500,
            "expected a",
        ),
        (
            json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "zzz"}]}}}}),
            500,
            "doesn't match $setElementOrder list",
        ),
    ];
    for (patch, code, fragment) in cases {
        let err = smp(&live, patch.clone()).expect_err("patch must fail");
        assert_eq!(err.code(), code, "patch {patch}: {err}");
        assert!(
            err.to_string().contains(fragment),
            "patch {patch}: got {err}"
        );
    }
    assert_eq!(smp(&live, Value::Null).expect("null patch"), live);
}
