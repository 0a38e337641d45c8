//! Workload controllers on a real node: a Deployment scaled, rolled out and rolled back, a
//! Job running to completion, and a namespace deleted with its running pods.

use crate::cluster::{docker, pod_field, shared, BUSYBOX};
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

/// Whether exactly `count` pods run, all on `image`.
fn all_pods_run(k: &Kubectl, ns: &str, count: usize, image: &str) -> bool {
    let images = k
        .run(&[
            "-n",
            ns,
            "get",
            "pods",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .stdout;
    images.split_whitespace().count() == count && images.split_whitespace().all(|i| i == image)
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
    eventually("pods on the new image", 60, || {
        all_pods_run(&k, n, 2, BUSYBOX_V2).then_some(())
    });
    let history = k
        .run(&["-n", n, "rollout", "history", "deployment/web"])
        .ok()
        .to_string();
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
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
        all_pods_run(&k, n, 2, BUSYBOX).then_some(())
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

#[test]
fn statefulset_daemonset_and_unschedulable_pod() {
    let k = shared().kubectl();
    let ns = namespace(&k, "sts");
    let n = ns.as_str();
    // Volumes for the claims, bound by the PersistentVolume controller (no provisioner).
    let class = format!("{n}-manual");
    for i in 0..3 {
        let pv = format!(
            "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {n}-pv{i}\nspec:\n  storageClassName: {class}\n  capacity:\n    storage: 1Gi\n  accessModes: [ReadWriteOnce]\n  hostPath:\n    path: /data/{n}-pv{i}\n    type: DirectoryOrCreate\n"
        );
        k.clone().stdin(&pv).run(&["apply", "-f", "-"]).ok();
    }
    let sts = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  serviceName: web\n  replicas: 3\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: c\n        image: {BUSYBOX}\n        command: [sh, -c, 'hostname > /data/owner; sleep 3600']\n        volumeMounts: [{{name: data, mountPath: /data}}]\n  volumeClaimTemplates:\n  - metadata: {{name: data}}\n    spec:\n      storageClassName: {class}\n      accessModes: [ReadWriteOnce]\n      resources: {{requests: {{storage: 1Gi}}}}\n"
    );
    k.clone()
        .stdin(&sts)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("3/3 ready", 180, || {
        let out = k
            .run(&["-n", n, "get", "sts", "web", "--no-headers"])
            .stdout;
        (out.split_whitespace().nth(1) == Some("3/3")).then_some(())
    });
    // Ordered: each pod started after the one before it.
    let started: Vec<String> = (0..3)
        .map(|i| pod_field(&k, n, &format!("web-{i}"), "{.status.startTime}"))
        .collect();
    assert!(started.windows(2).all(|w| w[0] <= w[1]), "{started:?}");
    let claims = k
        .run(&["-n", n, "get", "pvc", "--no-headers"])
        .ok()
        .to_string();
    for i in 0..3 {
        let line = claims
            .lines()
            .find(|l| l.starts_with(&format!("data-web-{i} ")))
            .unwrap_or_else(|| panic!("no claim data-web-{i}: {claims}"));
        assert!(line.contains("Bound"), "{line}");
    }

    // A DaemonSet runs one pod on the node.
    let ds = format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels: {{app: agent}}\n  template:\n    metadata:\n      labels: {{app: agent}}\n    spec:\n      containers:\n      - name: c\n        image: {BUSYBOX}\n        command: [sleep, '3600']\n"
    );
    k.clone()
        .stdin(&ds)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    k.run(&["-n", n, "rollout", "status", "ds/agent", "--timeout=120s"])
        .ok();
    let row = k
        .run(&["-n", n, "get", "ds", "agent", "--no-headers"])
        .ok()
        .to_string();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>()[1..6],
        ["1", "1", "1", "1", "1"],
        "{row}"
    );

    // More CPU than the node has: Pending, with the scheduler's reason.
    k.run(&[
        "-n",
        n,
        "run",
        "huge",
        &format!("--image={BUSYBOX}"),
        "--overrides={\"spec\":{\"containers\":[{\"name\":\"huge\",\"image\":\"rkube-test/busybox:1\",\"resources\":{\"requests\":{\"cpu\":\"1000\"}}}]}}",
    ])
    .ok();
    let described = eventually("FailedScheduling", 60, || {
        let d = k.run(&["-n", n, "describe", "pod", "huge"]).stdout;
        d.contains("FailedScheduling").then_some(d)
    });
    assert!(
        described.contains("0/1 nodes are available: 1 Insufficient cpu."),
        "{described}"
    );
    k.run(&["delete", "namespace", n, "--timeout=120s"]).ok();
    for i in 0..3 {
        k.run(&["delete", "pv", &format!("{n}-pv{i}")]).ok();
    }
}

#[test]
fn a_recreate_rollout_starts_new_pods_only_once_the_old_are_gone() {
    let k = shared().kubectl();
    let ns = namespace(&k, "recreate");
    let n = ns.as_str();
    // The old pod ignores SIGTERM, so it stays Terminating for its whole grace period.
    let manifest = |version: &str| {
        format!(
            r#"{{"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {{"name": "web"}},
             "spec": {{"replicas": 1, "strategy": {{"type": "Recreate"}},
              "selector": {{"matchLabels": {{"app": "web"}}}},
              "template": {{"metadata": {{"labels": {{"app": "web", "version": "{version}"}}}},
               "spec": {{"terminationGracePeriodSeconds": 4,
                "containers": [{{"name": "c", "image": "{BUSYBOX}", "imagePullPolicy": "Never",
                 "command": ["sh", "-c", "trap '' TERM; sleep 3600"]}}]}}}}}}}}"#
        )
    };
    k.clone()
        .stdin(&manifest("one"))
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    ready(&k, n, "web", "1/1");
    k.clone()
        .stdin(&manifest("two"))
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    let versions = || {
        k.run(&[
            "-n",
            n,
            "get",
            "pods",
            "-o",
            "jsonpath={.items[*].metadata.labels.version}",
        ])
        .stdout
    };
    // Until the old pod is gone, no new pod may exist; then the new one runs.
    let mut overlap = None;
    eventually("only the new pod", 60, || {
        let now = versions();
        if now.contains("one") && now.contains("two") {
            overlap = Some(now.clone());
        }
        (now.trim() == "two").then_some(())
    });
    assert_eq!(overlap, None, "old and new pods existed together");
    ready(&k, n, "web", "1/1");
}
