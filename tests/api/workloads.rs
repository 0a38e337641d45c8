//! Workloads on the simulated node (the kubelet test double): Deployments roll through
//! ReplicaSets, the scheduler binds pods, and unschedulable pods say why.

use std::time::Duration;

use crate::support::{eventually, namespace, shared_with_node, Kubectl};

fn ready_pods(k: &Kubectl, ns: &str, selector: &str) -> usize {
    let out = k
        .run(&["-n", ns, "get", "pods", "-l", selector, "-o", "jsonpath={range .items[*]}{.metadata.deletionTimestamp}{\"|\"}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"])
        .ok()
        .to_string();
    out.lines().filter(|l| *l == "|True").count()
}

fn pod_names(k: &Kubectl, ns: &str, selector: &str) -> Vec<String> {
    k.run(&["-n", ns, "get", "pods", "-l", selector, "-o", "name"])
        .ok()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn deployment_scales_heals_rolls_and_undoes() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "deploy");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "deployment",
        "web",
        "--image=nginx:1",
        "--replicas=3",
    ])
    .ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=30s"])
        .ok();
    let row = k.run(&["-n", n, "get", "deploy", "web"]).ok().to_string();
    assert!(
        row.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()[1..4]
            == ["3/3", "3", "3"],
        "{row}"
    );
    let rs = k
        .run(&["-n", n, "get", "rs", "-o", "name"])
        .ok()
        .to_string();
    assert_eq!(rs.lines().count(), 1, "{rs}");
    assert!(rs.starts_with("replicaset.apps/web-"), "{rs}");

    // Scale up and down.
    k.run(&["-n", n, "scale", "deploy/web", "--replicas=5"])
        .ok();
    eventually("5 ready", 30, || {
        (ready_pods(&k, n, "app=web") == 5).then_some(())
    });
    k.run(&["-n", n, "scale", "deploy/web", "--replicas=2"])
        .ok();
    eventually("2 pods", 30, || {
        (pod_names(&k, n, "app=web").len() == 2).then_some(())
    });

    // A deleted pod comes back; a standalone pod does not.
    let victim = pod_names(&k, n, "app=web")[0].clone();
    k.run(&["-n", n, "delete", &victim, "--wait=false"]).ok();
    eventually("replacement", 30, || {
        let names = pod_names(&k, n, "app=web");
        (names.len() == 2 && !names.contains(&victim) && ready_pods(&k, n, "app=web") == 2)
            .then_some(())
    });
    k.run(&["-n", n, "run", "alone", "--image=busybox"]).ok();
    eventually("alone running", 30, || {
        (ready_pods(&k, n, "run=alone") == 1).then_some(())
    });
    k.run(&["-n", n, "delete", "pod", "alone"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    assert!(pod_names(&k, n, "run=alone").is_empty());

    // A new image rolls out through a second ReplicaSet, with history and undo.
    k.run(&[
        "-n",
        n,
        "annotate",
        "deploy/web",
        "kubernetes.io/change-cause=image nginx:2",
    ])
    .ok();
    k.run(&["-n", n, "set", "image", "deploy/web", "nginx=nginx:2"])
        .ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=60s"])
        .ok();
    let pod_images = || {
        k.run(&[
            "-n",
            n,
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ])
        .ok()
        .to_string()
    };
    let images = pod_images();
    assert!(
        images.split_whitespace().all(|i| i == "nginx:2"),
        "{images}"
    );
    let history = k
        .run(&["-n", n, "rollout", "history", "deploy/web"])
        .ok()
        .to_string();
    assert!(history.contains("image nginx:2"), "{history}");
    assert_eq!(
        history
            .lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .count(),
        2,
        "{history}"
    );
    k.run(&["-n", n, "rollout", "undo", "deploy/web"]).ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=60s"])
        .ok();
    let image = k
        .run(&[
            "-n",
            n,
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .ok()
        .to_string();
    assert_eq!(image, "nginx:1");
    let before = pod_names(&k, n, "app=web");
    k.run(&["-n", n, "rollout", "restart", "deploy/web"]).ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=60s"])
        .ok();
    eventually("restarted pods", 30, || {
        let after = pod_names(&k, n, "app=web");
        (after.len() == 2 && after.iter().all(|p| !before.contains(p))).then_some(())
    });
    // A paused deployment takes template changes without rolling; resume rolls them.
    k.run(&["-n", n, "rollout", "pause", "deploy/web"]).ok();
    k.run(&["-n", n, "set", "image", "deploy/web", "nginx=nginx:3"])
        .ok();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(pod_images(), "nginx:1 nginx:1", "paused");
    k.run(&["-n", n, "rollout", "resume", "deploy/web"]).ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=60s"])
        .ok();
    eventually("resumed rollout", 30, || {
        (pod_images() == "nginx:3 nginx:3").then_some(())
    });
    // Revision 2 was nginx:2.
    k.run(&["-n", n, "rollout", "undo", "deploy/web", "--to-revision=2"])
        .ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=60s"])
        .ok();
    eventually("back to revision 2", 30, || {
        (pod_images() == "nginx:2 nginx:2").then_some(())
    });
    let events = k
        .run(&["-n", n, "describe", "deploy", "web"])
        .ok()
        .to_string();
    assert!(events.contains("ScalingReplicaSet"), "{events}");

    // Orphaning keeps the ReplicaSets and pods; a normal delete removes them.
    k.run(&["-n", n, "delete", "deploy", "web", "--cascade=orphan"])
        .ok();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!k.run(&["-n", n, "get", "rs", "-o", "name"]).ok().is_empty());
    k.run(&[
        "-n",
        n,
        "create",
        "deployment",
        "db",
        "--image=postgres",
        "--replicas=2",
    ])
    .ok();
    k.run(&["-n", n, "rollout", "status", "deploy/db", "--timeout=30s"])
        .ok();
    k.run(&["-n", n, "delete", "deploy", "db"]).ok();
    eventually("db pods gone", 30, || {
        pod_names(&k, n, "app=db").is_empty().then_some(())
    });
    let left = k
        .run(&["-n", n, "get", "rs", "-l", "app=db", "-o", "name"])
        .ok()
        .to_string();
    assert!(left.trim().is_empty(), "{left}");
}

#[test]
fn rolling_update_respects_surge_and_unavailability() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "surge");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "deployment",
        "api",
        "--image=app:1",
        "--replicas=4",
    ])
    .ok();
    k.run(&["-n", n, "rollout", "status", "deploy/api", "--timeout=30s"])
        .ok();
    // Default strategy: maxSurge 25% (1), maxUnavailable 25% (1) of 4.
    let mut watch = k.spawn(&[
        "-n",
        n,
        "get",
        "pods",
        "-l",
        "app=api",
        "-w",
        "--no-headers",
        "--output-watch-events",
    ]);
    k.run(&["-n", n, "set", "image", "deploy/api", "app=app:2"])
        .ok();
    k.run(&["-n", n, "rollout", "status", "deploy/api", "--timeout=60s"])
        .ok();
    let _ = watch.kill();
    let seen = String::from_utf8_lossy(&watch.wait_with_output().unwrap().stdout).to_string();
    // Pods alive at once, from the watch: never above replicas + maxSurge.
    let mut alive = std::collections::HashSet::new();
    let mut peak = 0;
    for line in seen.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        match cols.as_slice() {
            ["ADDED" | "MODIFIED", name, ..] => {
                alive.insert(name.to_string());
            }
            ["DELETED", name, ..] => {
                alive.remove(*name);
            }
            _ => {}
        }
        peak = peak.max(alive.len());
    }
    assert!((4..=5).contains(&peak), "peak {peak}:\n{seen}");
    // The ReplicaSets record the same bound.
    let max_seen = k
        .run(&[
            "-n",
            n,
            "get",
            "rs",
            "-l",
            "app=api",
            "-o",
            "jsonpath={.items[*].metadata.annotations.deployment\\.kubernetes\\.io/max-replicas}",
        ])
        .ok()
        .split_whitespace()
        .map(|m| m.parse::<i32>().unwrap())
        .max()
        .unwrap();
    assert_eq!(max_seen, 5);
    let status = k
        .run(&["-n", n, "get", "deploy", "api", "-o", "jsonpath={.status.updatedReplicas} {.status.availableReplicas} {.status.conditions[?(@.type==\"Progressing\")].reason}"])
        .ok()
        .to_string();
    assert_eq!(status, "4 4 NewReplicaSetAvailable");
}

#[test]
fn pod_that_fits_nowhere_stays_pending_with_the_reason() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "sched");
    let n = ns.as_str();
    k.run(&["-n", n, "run", "huge", "--image=x", "--overrides={\"spec\":{\"containers\":[{\"name\":\"huge\",\"image\":\"x\",\"resources\":{\"requests\":{\"cpu\":\"64\"}}}]}}"])
        .ok();
    let described = eventually("FailedScheduling", 30, || {
        let d = k
            .run(&["-n", n, "describe", "pod", "huge"])
            .ok()
            .to_string();
        d.contains("FailedScheduling").then_some(d)
    });
    assert!(
        described.contains("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
        "{described}"
    );
    let phase = k
        .run(&[
            "-n",
            n,
            "get",
            "pod",
            "huge",
            "-o",
            "jsonpath={.status.phase}",
        ])
        .ok()
        .to_string();
    assert_eq!(phase, "Pending");
    k.run(&["-n", n, "run", "small", "--image=x"]).ok();
    let described = eventually("Scheduled", 30, || {
        let d = k
            .run(&["-n", n, "describe", "pod", "small"])
            .ok()
            .to_string();
        d.contains("Successfully assigned").then_some(d)
    });
    assert!(
        described.contains(&format!("Successfully assigned {n}/small to node-1")),
        "{described}"
    );
    let node = k.run(&["get", "nodes"]).ok().to_string();
    assert!(
        node.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()[..2]
            == ["node-1", "Ready"],
        "{node}"
    );
}

#[test]
fn endpoints_and_slices_track_ready_pods() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "eps");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = crate::support::write_file(
        dir.path(),
        "app.yaml",
        &format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {n}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: echo
        ports: [{{name: http, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {n}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"#
        ),
    );
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    k.run(&["-n", n, "rollout", "status", "deploy/web", "--timeout=30s"])
        .ok();
    let ips = eventually("two endpoints", 30, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "endpoints",
            "web",
            "-o",
            "jsonpath={.subsets[0].addresses[*].ip}:{.subsets[0].ports[0].port}",
        ]);
        (r.code == 0
            && r.stdout
                .split(':')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .count()
                == 2)
            .then(|| r.stdout.clone())
    });
    assert!(ips.ends_with(":8080"), "{ips}");
    let slice = k
        .run(&[
            "-n",
            n,
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "json",
        ])
        .ok()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&slice).unwrap();
    let item = &v["items"][0];
    assert_eq!(item["ports"][0]["port"], 8080, "{slice}");
    assert_eq!(
        item["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(item["endpoints"].as_array().unwrap().len(), 2);
    assert_eq!(item["endpoints"][0]["targetRef"]["kind"], "Pod");
    let described = k.run(&["-n", n, "describe", "svc", "web"]).ok().to_string();
    let line = described
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_default()
        .to_string();
    assert_eq!(line.matches(":8080").count(), 2, "{described}");

    // A pod that turns not ready leaves the ready addresses.
    let pod = k
        .run(&[
            "-n",
            n,
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .ok()
        .to_string();
    k.run(&[
        "-n",
        n,
        "annotate",
        "pod",
        &pod,
        "rkube.io/simulate=not-ready",
    ])
    .ok();
    eventually("not-ready address", 30, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "endpoints",
            "web",
            "-o",
            "jsonpath={.subsets[0].notReadyAddresses[*].targetRef.name}",
        ]);
        (r.stdout.trim() == pod).then_some(())
    });
    // Deleting the service removes its Endpoints and slices.
    k.run(&["-n", n, "delete", "svc", "web"]).ok();
    eventually("endpoints gone", 30, || {
        let r = k.run(&["-n", n, "get", "endpoints,endpointslices", "-o", "name"]);
        r.stdout.trim().is_empty().then_some(())
    });
}

fn job_yaml(ns: &str, name: &str, mode: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: Job
metadata: {{name: {name}, namespace: {ns}}}
spec:
{extra}
  template:
    metadata:
      annotations: {{rkube.io/simulate: {mode}}}
    spec:
      restartPolicy: Never
      containers: [{{name: work, image: busybox, command: ["sh", "-c", "true"]}}]
"#
    )
}

#[test]
fn jobs_complete_or_stop_at_the_backoff_limit() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "jobs");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = crate::support::write_file(
        dir.path(),
        "ok.yaml",
        &job_yaml(
            n,
            "batch",
            "succeed",
            "  completions: 3\n  parallelism: 2\n  completionMode: Indexed",
        ),
    );
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    k.run(&[
        "-n",
        n,
        "wait",
        "--for=condition=Complete",
        "job/batch",
        "--timeout=60s",
    ])
    .ok();
    let row = k.run(&["-n", n, "get", "job", "batch"]).ok().to_string();
    let cols: Vec<&str> = row.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(cols[1..3], ["Complete", "3/3"], "{row}");
    let indexes = k
        .run(&[
            "-n",
            n,
            "get",
            "job",
            "batch",
            "-o",
            "jsonpath={.status.completedIndexes}",
        ])
        .ok()
        .to_string();
    assert_eq!(indexes, "0-2");

    let f = crate::support::write_file(
        dir.path(),
        "bad.yaml",
        &job_yaml(n, "broken", "fail", "  backoffLimit: 1"),
    );
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    k.run(&[
        "-n",
        n,
        "wait",
        "--for=condition=Failed",
        "job/broken",
        "--timeout=60s",
    ])
    .ok();
    let reason = k
        .run(&[
            "-n",
            n,
            "get",
            "job",
            "broken",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason} {.status.failed}",
        ])
        .ok()
        .to_string();
    assert_eq!(reason, "BackoffLimitExceeded 2");
    let described = k
        .run(&["-n", n, "describe", "job", "broken"])
        .ok()
        .to_string();
    assert!(
        described.contains("Job has reached the specified backoff limit"),
        "{described}"
    );
}

#[test]
fn replication_controller_keeps_its_pods() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "rc");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = crate::support::write_file(
        dir.path(),
        "rc.yaml",
        &format!(
            "apiVersion: v1\nkind: ReplicationController\nmetadata: {{name: legacy, namespace: {n}}}\nspec:\n  replicas: 2\n  template:\n    metadata: {{labels: {{app: legacy}}}}\n    spec:\n      containers: [{{name: c, image: nginx}}]\n"
        ),
    );
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    let row = eventually("2 ready", 30, || {
        let r = k
            .run(&["-n", n, "get", "rc", "legacy", "--no-headers"])
            .ok()
            .to_string();
        (r.split_whitespace().collect::<Vec<_>>()[1..4] == ["2", "2", "2"]).then_some(r)
    });
    assert!(row.starts_with("legacy"), "{row}");
    k.run(&["-n", n, "scale", "rc/legacy", "--replicas=1"]).ok();
    eventually("1 pod", 30, || {
        (pod_names(&k, n, "app=legacy").len() == 1).then_some(())
    });
}

#[test]
fn cronjob_creates_jobs_on_schedule_and_prunes_history() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "cron");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = crate::support::write_file(
        dir.path(),
        "cj.yaml",
        &format!(
            r#"apiVersion: batch/v1
kind: CronJob
metadata: {{name: tick, namespace: {n}}}
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 0
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {{rkube.io/simulate: succeed}}
        spec:
          restartPolicy: OnFailure
          containers: [{{name: tick, image: busybox, command: ["date"]}}]
"#
        ),
    );
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    // The first run comes at the next minute boundary.
    let job = eventually("a scheduled job", 75, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "events",
            "--field-selector",
            "reason=SuccessfulCreate,involvedObject.kind=CronJob",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        r.stdout
            .split("Created job ")
            .nth(1)
            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
    });
    assert!(job.starts_with("tick-"), "{job}");
    // Named after the scheduled minute: a whole number of minutes since the epoch.
    assert!(
        job.trim_start_matches("tick-").parse::<i64>().is_ok(),
        "{job}"
    );
    // The Job runs to completion (the history limit of 0 may already have removed it),
    // and the CronJob records when it scheduled it.
    eventually("the scheduled job to finish", 90, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "job",
            &job,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}",
        ]);
        (r.code != 0 || r.stdout == "True").then_some(())
    });
    let scheduled = k
        .run(&[
            "-n",
            n,
            "get",
            "cronjob",
            "tick",
            "-o",
            "jsonpath={.status.lastScheduleTime}",
        ])
        .ok()
        .to_string();
    assert!(scheduled.ends_with(":00Z"), "{scheduled}");
    let row = k
        .run(&["-n", n, "get", "cronjob", "tick", "--no-headers"])
        .ok()
        .to_string();
    assert!(row.contains("*/1 * * * *"), "{row}");
}

#[test]
fn daemonset_runs_one_pod_per_node_and_rolls() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "ds");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let ds = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, namespace: {n}}}\nspec:\n  selector: {{matchLabels: {{app: agent}}}}\n  template:\n    metadata: {{labels: {{app: agent}}}}\n    spec:\n      containers: [{{name: agent, image: {image}}}]\n"
        )
    };
    let f = crate::support::write_file(dir.path(), "ds.yaml", &ds("agent:1"));
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    k.run(&["-n", n, "rollout", "status", "ds/agent", "--timeout=30s"])
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
    let node = k
        .run(&[
            "-n",
            n,
            "get",
            "pods",
            "-l",
            "app=agent",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ])
        .ok()
        .to_string();
    assert_eq!(node, "node-1");
    let f = crate::support::write_file(dir.path(), "ds.yaml", &ds("agent:2"));
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    k.run(&["-n", n, "rollout", "status", "ds/agent", "--timeout=30s"])
        .ok();
    let images_become = |want: &str| {
        eventually(&format!("the daemon pod on {want}"), 30, || {
            let images = k.run(&[
                "-n",
                n,
                "get",
                "pods",
                "-l",
                "app=agent",
                "-o",
                "jsonpath={.items[*].spec.containers[0].image}",
            ]);
            (images.ok() == want).then_some(())
        })
    };
    images_become("agent:2");
    // ControllerRevisions keep the history that rollout history lists and undo restores.
    assert_revisions(&k, n, "ds/agent", &["1", "2"]);
    assert_eq!(
        k.run(&["-n", n, "rollout", "undo", "ds/agent"]).ok(),
        "daemonset.apps/agent rolled back\n"
    );
    images_become("agent:1");
    assert_revisions(&k, n, "ds/agent", &["2", "3"]);
}

/// Wait until the REVISION column of `kubectl rollout history WHAT` is `want` (the
/// controller records a new template's revision on its next pass).
#[track_caller]
fn assert_revisions(k: &Kubectl, ns: &str, what: &str, want: &[&str]) {
    let mut last = String::new();
    let ok = (0..300).any(|_| {
        last = k
            .run(&["-n", ns, "rollout", "history", what])
            .ok()
            .to_string();
        let revs: Vec<&str> = last
            .lines()
            .skip_while(|l| !l.starts_with("REVISION"))
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        revs == want || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(ok, "rollout history {what} never listed {want:?}:\n{last}");
}

#[test]
fn statefulset_rolls_back_through_its_history() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "sts-undo");
    let n = ns.as_str();
    let sts = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: {n}}}\nspec:\n  serviceName: db\n  replicas: 2\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n    metadata: {{labels: {{app: db}}}}\n    spec:\n      containers: [{{name: db, image: db:1}}]\n"
    );
    k.clone().stdin(&sts).run(&["apply", "-f", "-"]).ok();
    k.run(&["-n", n, "rollout", "status", "sts/db", "--timeout=60s"])
        .ok();
    k.run(&["-n", n, "set", "image", "sts/db", "db=db:2"]).ok();
    let done = k
        .run(&["-n", n, "rollout", "status", "sts/db", "--timeout=60s"])
        .ok()
        .to_string();
    assert!(
        done.contains("roll out complete: 2 new pods have been updated"),
        "{done}"
    );
    let images = |want: &str| {
        eventually(&format!("both pods on {want}"), 30, || {
            let r = k.run(&[
                "-n",
                n,
                "get",
                "pods",
                "-l",
                "app=db",
                "-o",
                "jsonpath={.items[*].spec.containers[0].image}",
            ]);
            (r.ok() == format!("{want} {want}")).then_some(())
        })
    };
    images("db:2");
    let status = k
        .run(&[
            "-n",
            n,
            "get",
            "sts",
            "db",
            "-o",
            "jsonpath={.status.currentRevision} {.status.updateRevision} {.status.currentReplicas}",
        ])
        .ok()
        .to_string();
    let parts: Vec<&str> = status.split(' ').collect();
    assert_eq!(parts[0], parts[1], "a finished update is current: {status}");
    assert!(parts[0].starts_with("db-"), "{status}");
    assert_eq!(parts[2], "2", "{status}");
    assert_revisions(&k, n, "sts/db", &["1", "2"]);
    let one = k
        .run(&["-n", n, "rollout", "history", "sts/db", "--revision=1"])
        .ok()
        .to_string();
    assert!(one.contains("Image:\tdb:1"), "{one}");
    assert_eq!(
        k.run(&["-n", n, "rollout", "undo", "sts/db"]).ok(),
        "statefulset.apps/db rolled back\n"
    );
    images("db:1");
    assert_revisions(&k, n, "sts/db", &["2", "3"]);
    // kubectl compares the revision's data with the live template byte for byte.
    let skipped = k.run(&["-n", n, "rollout", "undo", "sts/db", "--to-revision=3"]);
    assert_eq!(
        skipped.ok(),
        "statefulset.apps/db skipped rollback (current template already matches revision 3)\n"
    );
}

#[test]
fn statefulset_comes_up_in_order_with_a_claim_each() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "sts");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = crate::support::write_file(
        dir.path(),
        "sts.yaml",
        &format!(
            r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web, namespace: {n}}}
spec:
  serviceName: web
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: nginx}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 1Gi}}}}
"#
        ),
    );
    k.run(&["apply", "-f", f.to_str().unwrap()]).ok();
    k.run(&["-n", n, "rollout", "status", "sts/web", "--timeout=60s"])
        .ok();
    let pods = k
        .run(&[
            "-n",
            n,
            "get",
            "pods",
            "-l",
            "app=web",
            "--sort-by=.metadata.creationTimestamp",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .ok()
        .to_string();
    assert_eq!(pods, "web-0 web-1 web-2");
    let created = k
        .run(&[
            "-n",
            n,
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=StatefulSet,reason=SuccessfulCreate",
            "--sort-by=.metadata.creationTimestamp",
            "-o",
            "jsonpath={.items[*].message}",
        ])
        .ok()
        .to_string();
    let order: Vec<&str> = created
        .split("create Pod ")
        .skip(1)
        .map(|s| s.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(order, ["web-0", "web-1", "web-2"], "{created}");
    let claims = k
        .run(&["-n", n, "get", "pvc", "-o", "name"])
        .ok()
        .to_string();
    for i in 0..3 {
        assert!(
            claims.contains(&format!("persistentvolumeclaim/data-web-{i}")),
            "{claims}"
        );
    }
    let host = k
        .run(&["-n", n, "get", "pod", "web-1", "-o", "jsonpath={.spec.hostname}.{.spec.subdomain} {.metadata.labels.apps\\.kubernetes\\.io/pod-index}"])
        .ok()
        .to_string();
    assert_eq!(host, "web-1.web 1");
    k.run(&["-n", n, "scale", "sts/web", "--replicas=1"]).ok();
    eventually("scaled down from the top", 30, || {
        let r = k.run(&[
            "-n",
            n,
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        (r.stdout.trim() == "web-0").then_some(())
    });
}

/// A deployment `web` of `replicas` pods, each requesting 100m CPU (what an HPA needs).
pub fn deployment_requesting_cpu(k: &Kubectl, ns: &str, replicas: u32) {
    k.run(&[
        "-n",
        ns,
        "create",
        "deployment",
        "web",
        "--image=x",
        &format!("--replicas={replicas}"),
    ])
    .ok();
    k.run(&[
        "-n",
        ns,
        "set",
        "resources",
        "deployment",
        "web",
        "--requests=cpu=100m",
    ])
    .ok();
}

#[test]
fn hpa_reports_missing_metrics_api() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "hpa");
    let n = ns.as_str();
    deployment_requesting_cpu(&k, n, 2);
    k.run(&[
        "-n",
        n,
        "autoscale",
        "deployment",
        "web",
        "--cpu=50%",
        "--min=1",
        "--max=5",
    ])
    .ok();
    eventually("ScalingActive False", 40, || {
        let reason = k
            .run(&[
                "-n",
                n,
                "get",
                "hpa",
                "web",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"ScalingActive\")].reason}",
            ])
            .ok()
            .to_string();
        (reason == "FailedGetResourceMetric").then_some(())
    });
    let described = k.run(&["-n", n, "describe", "hpa", "web"]).ok().to_string();
    let active = described
        .lines()
        .find(|l| l.trim_start().starts_with("ScalingActive"))
        .unwrap_or_default();
    assert_eq!(
        active.split_whitespace().take(3).collect::<Vec<_>>(),
        ["ScalingActive", "False", "FailedGetResourceMetric"],
        "{described}"
    );
    assert!(
        described.contains("FailedComputeMetricsReplicas"),
        "{described}"
    );
    assert!(
        described.contains("unable to fetch metrics from resource metrics API"),
        "{described}"
    );
    // The replica count is read from the scale subresource on each sync.
    eventually("REPLICAS 2", 40, || {
        let line = k
            .run(&["-n", n, "get", "hpa", "web", "--no-headers"])
            .ok()
            .to_string();
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(..7)
            == Some(
                &[
                    "web",
                    "Deployment/web",
                    "cpu:",
                    "<unknown>/50%",
                    "1",
                    "5",
                    "2",
                ][..],
            ))
        .then_some(())
    });
}
