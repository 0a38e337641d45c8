//! Changing objects: label, annotate, patch (json, merge, strategic), edit, scale, describe.

use crate::support::{namespace, shared, write_file};

#[test]
fn label_and_annotate() {
    let k = shared().kubectl();
    let ns = namespace(&k, "label");
    let n = ns.as_str();
    k.run(&["-n", n, "create", "configmap", "x", "--from-literal=a=1"])
        .ok();
    assert_eq!(
        k.run(&["-n", n, "label", "cm", "x", "color=red"]).ok(),
        "configmap/x labeled\n"
    );
    let again = k.run(&["-n", n, "label", "cm", "x", "color=blue"]);
    assert!(
        again
            .fails()
            .contains("'color' already has a value (red), and --overwrite is false"),
        "{}",
        again.stderr
    );
    k.run(&["-n", n, "label", "cm", "x", "color=blue", "--overwrite"])
        .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "x",
            "-o",
            "jsonpath={.metadata.labels.color}"
        ])
        .ok(),
        "blue"
    );
    k.run(&["-n", n, "label", "cm", "x", "color-"]).ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "x",
            "-o",
            "jsonpath={.metadata.labels}"
        ])
        .ok(),
        ""
    );
    assert_eq!(
        k.run(&["-n", n, "annotate", "cm", "x", "note=hello"]).ok(),
        "configmap/x annotated\n"
    );
    k.run(&["-n", n, "annotate", "cm", "x", "note=bye", "--overwrite"])
        .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "x",
            "-o",
            "jsonpath={.metadata.annotations.note}"
        ])
        .ok(),
        "bye"
    );
    k.run(&["-n", n, "annotate", "cm", "x", "note-"]).ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "x",
            "-o",
            "jsonpath={.metadata.annotations}"
        ])
        .ok(),
        ""
    );
}

#[test]
fn patch_types() {
    let k = shared().kubectl();
    let ns = namespace(&k, "patch");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "deployment",
        "web",
        "--image=nginx:1",
        "--port=80",
    ])
    .ok();
    // Strategic: containers merge by name, so the image changes and the port stays.
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#
        ])
        .ok(),
        "deployment.apps/web patched\n"
    );
    assert_eq!(
        k.run(&["-n", n, "get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.generation}"]).ok(),
        "nginx:2 80 2"
    );
    // Merge: lists are replaced whole.
    k.run(&[
        "-n",
        n,
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"merge"}}}"#,
    ])
    .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.labels.patched}"
        ])
        .ok(),
        "merge"
    );
    // JSON patch.
    k.run(&[
        "-n",
        n,
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#,
    ])
    .ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .ok(),
        "4"
    );
    let bad = k.run(&[
        "-n",
        n,
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/nope/deeper","value":1}]"#,
    ]);
    assert_eq!(
        bad.fails(),
        "The request is invalid: the server rejected our request due to an error in our request\n"
    );
    // No change: kubectl says so.
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":4}}"#
        ])
        .ok(),
        "deployment.apps/web patched (no change)\n"
    );
}

#[test]
fn edit_with_editor_script() {
    let k = shared().kubectl();
    let ns = namespace(&k, "edit");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "configmap",
        "e",
        "--from-literal=color=red",
    ])
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let editor = write_file(
        dir.path(),
        "editor.sh",
        "#!/bin/sh\nsed -i 's/color: red/color: green/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = k
        .clone()
        .env("EDITOR", editor.to_str().unwrap())
        .env("KUBE_EDITOR", editor.to_str().unwrap())
        .run(&["-n", n, "edit", "cm", "e"]);
    assert_eq!(out.ok(), "configmap/e edited\n");
    assert_eq!(
        k.run(&["-n", n, "get", "cm", "e", "-o", "jsonpath={.data.color}"])
            .ok(),
        "green"
    );
}

#[test]
fn scale_and_describe() {
    let k = shared().kubectl();
    let ns = namespace(&k, "scale");
    let n = ns.as_str();
    k.run(&["-n", n, "create", "deployment", "web", "--image=nginx"])
        .ok();
    assert_eq!(
        k.run(&["-n", n, "scale", "deployment", "web", "--replicas=3"])
            .ok(),
        "deployment.apps/web scaled\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .ok(),
        "3"
    );
    let scale = k
        .run(&[
            "-n",
            n,
            "get",
            "--raw",
            &format!("/apis/apps/v1/namespaces/{n}/deployments/web/scale"),
        ])
        .ok()
        .to_string();
    let s: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(s["kind"], "Scale");
    assert_eq!(s["spec"]["replicas"], 3);
    assert_eq!(s["status"]["selector"], "app=web");
    let cur = k.run(&[
        "-n",
        n,
        "scale",
        "deployment",
        "web",
        "--current-replicas=2",
        "--replicas=5",
    ]);
    assert!(
        cur.fails().contains("Expected replicas to be 2, was 3"),
        "{}",
        cur.stderr
    );
    let describe = k
        .run(&["-n", n, "describe", "deployment", "web"])
        .ok()
        .to_string();
    for line in [
        "Name:",
        "Namespace:",
        n,
        "Selector:",
        "app=web",
        "Replicas:",
        "3 desired",
        "StrategyType:",
        "RollingUpdate",
        "Pod Template:",
        "nginx",
    ] {
        assert!(describe.contains(line), "{line} missing from:\n{describe}");
    }
    k.run(&["-n", n, "run", "solo", "--image=nginx"]).ok();
    // Pods have no scale subresource, so kube-apiserver answers 404 for pods/solo/scale.
    assert_eq!(
        k.run(&["-n", n, "scale", "pod", "solo", "--replicas=3"])
            .fails(),
        "Error from server (NotFound): the server could not find the requested resource\n"
    );
}
