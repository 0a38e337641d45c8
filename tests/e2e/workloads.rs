//! Workload controllers on a real node: a Deployment scaled, rolled out and rolled back, a
//! Job running to completion, and a namespace deleted with its running pods.

use crate::cluster::{docker, shared, BUSYBOX};
use crate::support::{eventually, namespace, Kubectl};

/// The busybox image under a second tag, for a rollout to a different image.
const BUSYBOX_V2: &str = "rkube-test/busybox:2";

fn ready(k: &Kubectl, ns: &str, deploy: &str, want: &str) {
    eventually(&format!("{deploy} {want}"), 120, || {
        let out = k
            .run(&["-n", ns, "get", "deploy", deploy, "--no-headers"])
            .stdout;
        (out.split_whitespace().nth(1) == Some(want)).then_some(())
    });
}

fn containers(ns: &str) -> usize {
    docker(&[
        "ps",
        "--filter",
        &format!("label=io.kubernetes.pod.namespace={ns}"),
        "--filter",
        "label=io.kubernetes.docker.type=container",
        "-q",
    ])
    .lines()
    .count()
}

#[test]
fn deployment_scales_rolls_out_and_back() {
    let k = shared().kubectl();
    docker(&["tag", BUSYBOX, BUSYBOX_V2]);
    let ns = namespace(&k, "rollout");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "deployment",
        "web",
        &format!("--image={BUSYBOX}"),
        "--replicas=2",
        "--",
        "sleep",
        "3600",
    ])
    .ok();
    ready(&k, n, "web", "2/2");
    k.run(&["-n", n, "scale", "deployment", "web", "--replicas=4"])
        .ok();
    ready(&k, n, "web", "4/4");
    eventually("4 containers", 60, || (containers(n) == 4).then_some(()));
    k.run(&["-n", n, "scale", "deployment", "web", "--replicas=2"])
        .ok();
    ready(&k, n, "web", "2/2");
    eventually("2 containers", 60, || (containers(n) == 2).then_some(()));

    k.run(&[
        "-n",
        n,
        "set",
        "image",
        "deployment/web",
        &format!("busybox={BUSYBOX_V2}"),
    ])
    .ok();
    let status = k
        .run(&[
            "-n",
            n,
            "rollout",
            "status",
            "deployment/web",
            "--timeout=120s",
        ])
        .ok()
        .to_string();
    assert!(status.contains("successfully rolled out"), "{status}");
    let images = k
        .run(&[
            "-n",
            n,
            "get",
            "pods",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .ok()
        .to_string();
    eventually("pods on the new image", 60, || {
        let images = k
            .run(&[
                "-n",
                n,
                "get",
                "pods",
                "-o",
                "jsonpath={.items[*].spec.containers[0].image}",
            ])
            .stdout;
        (images.split_whitespace().count() == 2
            && images.split_whitespace().all(|i| i == BUSYBOX_V2))
        .then_some(())
    });
    let history = k
        .run(&["-n", n, "rollout", "history", "deployment/web"])
        .ok()
        .to_string();
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}\n{images}"
    );
    k.run(&["-n", n, "rollout", "undo", "deployment/web"]).ok();
    k.run(&[
        "-n",
        n,
        "rollout",
        "status",
        "deployment/web",
        "--timeout=120s",
    ])
    .ok();
    eventually("pods back on the first image", 90, || {
        let images = k
            .run(&[
                "-n",
                n,
                "get",
                "pods",
                "-o",
                "jsonpath={.items[*].spec.containers[0].image}",
            ])
            .stdout;
        (images.split_whitespace().count() == 2 && images.split_whitespace().all(|i| i == BUSYBOX))
            .then_some(())
    });
    k.run(&["-n", n, "delete", "deployment", "web"]).ok();
    eventually("containers gone", 90, || (containers(n) == 0).then_some(()));
}

#[test]
fn job_completes_and_namespace_deletion_cleans_up() {
    let k = shared().kubectl();
    let ns = namespace(&k, "batch");
    let n = ns.as_str();
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: count\nspec:\n  completions: 3\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: {BUSYBOX}\n        command: [sh, -c, 'echo done']\n"
    );
    k.clone()
        .stdin(&job)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    let line = eventually("job Complete", 120, || {
        let out = k
            .run(&["-n", n, "get", "job", "count", "--no-headers"])
            .stdout;
        out.contains("Complete").then_some(out)
    });
    assert!(line.contains("3/3"), "{line}");
    let logs = k.run(&["-n", n, "logs", "job/count"]).ok().to_string();
    assert_eq!(logs.trim(), "done");

    k.run(&[
        "-n",
        n,
        "run",
        "sleeper",
        &format!("--image={BUSYBOX}"),
        "--",
        "sleep",
        "3600",
    ])
    .ok();
    eventually("sleeper running", 60, || (containers(n) == 1).then_some(()));
    k.run(&["delete", "namespace", n, "--timeout=120s"]).ok();
    let gone = k.run(&["get", "namespace", n]);
    assert!(
        gone.stderr.contains("NotFound") || gone.stderr.contains("not found"),
        "{}",
        gone.stderr
    );
    eventually("no containers left", 60, || {
        (containers(n) == 0).then_some(())
    });
}
