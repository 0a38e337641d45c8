//! Addons on Docker: the default storage-provisioner and default-storageclass, `rkube
//! addons` as a user types it, and volumes whose data outlives pods and restarts.

use std::time::{Duration, Instant};

use crate::cluster::{docker, exclusive, rkube, shared, Cluster, BUSYBOX};
use crate::support::{eventually, namespace, Kubectl};

fn claim(name: &str, class: Option<&str>) -> String {
    let class = class
        .map(|c| format!("  storageClassName: {c}\n"))
        .unwrap_or_default();
    format!("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n{class}  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n")
}

fn phase(k: &Kubectl, ns: &str, claim: &str) -> String {
    k.run(&[
        "-n",
        ns,
        "get",
        "pvc",
        claim,
        "-o",
        "jsonpath={.status.phase}",
    ])
    .stdout
    .trim()
    .to_string()
}

/// A pod running `script` on claim `claim` (mounted at /data), run to completion; its log.
fn run_on_claim(k: &Kubectl, ns: &str, pod: &str, claim: &str, script: &str) -> String {
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: {BUSYBOX}\n    command: [sh, -c, '{script}']\n    volumeMounts: [{{name: d, mountPath: /data}}]\n  volumes:\n  - name: d\n    persistentVolumeClaim: {{claimName: {claim}}}\n"
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", ns, "apply", "-f", "-"])
        .ok();
    eventually(&format!("{pod} succeeded"), 120, || {
        let p = k
            .run(&[
                "-n",
                ns,
                "get",
                "pod",
                pod,
                "-o",
                "jsonpath={.status.phase}",
            ])
            .stdout;
        assert_ne!(p.trim(), "Failed", "{pod} failed");
        (p.trim() == "Succeeded").then_some(())
    });
    k.run(&["-n", ns, "logs", pod]).ok().to_string()
}

/// The directories the provisioner made for namespace `ns`, read from the state volume.
fn volume_dirs(profile: &str, ns: &str) -> String {
    docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{profile}-var:/state:ro"),
        BUSYBOX,
        "sh",
        "-c",
        &format!("ls /state/hostpath/tmp/hostpath-provisioner/{ns} 2>/dev/null; true"),
    ])
}

#[test]
fn claims_bind_keep_data_across_restarts_and_clean_up() {
    let _one = exclusive();
    let profile = "e2e-addons";
    rkube(&["delete", "-p", profile]);
    let c = Cluster::start(profile);
    let k = c.kubectl();

    // minikube's two default addons are on.
    let list = rkube(&["addons", "list", "-p", profile]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    for name in ["storage-provisioner", "default-storageclass"] {
        let row = list
            .stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{}", list.stdout));
        assert!(row.contains("enabled") && row.contains(profile), "{row}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&rkube(&["addons", "list", "-p", profile, "-o", "json"]).stdout)
            .expect("addons list -o json");
    assert_eq!(json["storage-provisioner"]["Status"], "enabled");
    assert_eq!(json["default-storageclass"]["Profile"], profile);
    let sc = k.run(&["get", "storageclass"]).ok().to_string();
    assert!(
        sc.contains("standard (default)") && sc.contains("k8s.io/minikube-hostpath"),
        "{sc}"
    );

    // A claim with no class binds at once to a provisioned volume.
    let ns = namespace(&k, "vol");
    let n = ns.as_str();
    let t = Instant::now();
    k.clone()
        .stdin(&claim("data", None))
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("claim bound", 30, || {
        (phase(&k, n, "data") == "Bound").then_some(())
    });
    let bound_in = t.elapsed();
    // kubectl's own start-up counts here too; the provisioning path is watch-driven.
    assert!(
        bound_in < Duration::from_secs(5),
        "bound after {bound_in:?}"
    );
    let pv = k
        .run(&[
            "-n",
            n,
            "get",
            "pvc",
            "data",
            "-o",
            "jsonpath={.spec.volumeName}",
        ])
        .ok()
        .to_string();
    assert!(pv.starts_with("pvc-"), "{pv}");

    // One pod writes, the next reads.
    run_on_claim(&k, n, "writer", "data", "echo kept > /data/file");
    assert_eq!(
        run_on_claim(&k, n, "reader", "data", "cat /data/file").trim(),
        "kept"
    );

    // The data survives stop and start.
    let stop = rkube(&["stop", "-p", profile]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let start = rkube(&["start", "-p", profile]);
    assert_eq!(start.code, 0, "{}\n{}", start.stdout, start.stderr);
    assert!(
        start
            .stdout
            .contains("Enabled addons: default-storageclass, storage-provisioner"),
        "{}",
        start.stdout
    );
    assert_eq!(
        run_on_claim(&k, n, "after-restart", "data", "cat /data/file").trim(),
        "kept"
    );

    // The provisioner pod comes back when deleted, and claims made meanwhile bind.
    let selector = "integration-test=storage-provisioner";
    let old = k
        .run(&[
            "-n",
            "kube-system",
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "name",
        ])
        .ok()
        .trim()
        .to_string();
    assert!(!old.is_empty(), "no provisioner pod");
    k.run(&["-n", "kube-system", "delete", &old, "--wait=false"])
        .ok();
    k.clone()
        .stdin(&claim("meanwhile", Some("standard")))
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("claim made meanwhile bound", 120, || {
        (phase(&k, n, "meanwhile") == "Bound").then_some(())
    });
    eventually("provisioner back", 120, || {
        let pods = k
            .run(&[
                "-n",
                "kube-system",
                "get",
                "pods",
                "-l",
                selector,
                "--no-headers",
            ])
            .stdout;
        pods.lines()
            .any(|l| {
                !old.ends_with(l.split_whitespace().next().unwrap_or("-")) && l.contains("Running")
            })
            .then_some(())
    });

    // Deleting the claims deletes their volumes and directories.
    assert!(volume_dirs(profile, n).contains("data"));
    k.run(&["-n", n, "delete", "pod", "--all"]).ok();
    k.run(&["-n", n, "delete", "pvc", "data", "meanwhile"]).ok();
    eventually("volumes deleted", 60, || {
        k.run(&["get", "pv", "-o", "name"])
            .stdout
            .trim()
            .is_empty()
            .then_some(())
    });
    eventually("directories removed", 30, || {
        volume_dirs(profile, n).trim().is_empty().then_some(())
    });

    // Without the default class a claim with no class waits, as on any cluster.
    let off = rkube(&["addons", "disable", "default-storageclass", "-p", profile]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert!(
        off.stdout
            .contains("The 'default-storageclass' addon is disabled"),
        "{}",
        off.stdout
    );
    let again = rkube(&["addons", "disable", "default-storageclass", "-p", profile]);
    assert!(
        again.stdout.contains("already disabled"),
        "{}",
        again.stdout
    );
    k.clone()
        .stdin(&claim("classless", None))
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("no-class event", 60, || {
        let d = k.run(&["-n", n, "describe", "pvc", "classless"]).stdout;
        d.contains("no persistent volumes available for this claim and no storage class is set")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(phase(&k, n, "classless"), "Pending");
    let on = rkube(&["addons", "enable", "default-storageclass", "-p", profile]);
    assert_eq!(on.code, 0, "{}", on.stderr);
    k.clone()
        .stdin(&claim("classy", None))
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("claim bound after re-enabling", 30, || {
        (phase(&k, n, "classy") == "Bound").then_some(())
    });

    // Disabling the provisioner removes what it made and nothing else.
    let off = rkube(&["addons", "disable", "storage-provisioner", "-p", profile]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    eventually("provisioner objects gone", 60, || {
        let left = k
            .run(&[
                "-n",
                "kube-system",
                "get",
                "deploy,sa",
                "-l",
                "kubernetes.io/minikube-addons=storage-provisioner",
                "-o",
                "name",
            ])
            .stdout;
        left.trim().is_empty().then_some(())
    });
    assert!(k.run(&["-n", n, "get", "pvc", "classy"]).code == 0);
    assert!(k.run(&["get", "storageclass", "standard"]).code == 0);

    // `delete` forgets the enabled set with the profile.
    assert_eq!(rkube(&["delete", "-p", profile]).code, 0);
    let list = rkube(&["addons", "list", "-p", profile]);
    assert!(
        list.stdout.contains("MAINTAINER") && !list.stdout.contains("PROFILE"),
        "{}",
        list.stdout
    );
}

#[test]
fn statefulset_claims_from_the_default_class_bind() {
    let k = shared().kubectl();
    let ns = namespace(&k, "sts-default");
    let n = ns.as_str();
    let sts = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  replicas: 3\n  selector:\n    matchLabels: {{app: db}}\n  template:\n    metadata:\n      labels: {{app: db}}\n    spec:\n      containers:\n      - name: c\n        image: {BUSYBOX}\n        command: [sh, -c, 'hostname > /data/owner; sleep 3600']\n        volumeMounts: [{{name: data, mountPath: /data}}]\n  volumeClaimTemplates:\n  - metadata: {{name: data}}\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources: {{requests: {{storage: 1Gi}}}}\n"
    );
    k.clone()
        .stdin(&sts)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("3/3 ready", 180, || {
        let out = k.run(&["-n", n, "get", "sts", "db", "--no-headers"]).stdout;
        (out.split_whitespace().nth(1) == Some("3/3")).then_some(())
    });
    let claims = k
        .run(&["-n", n, "get", "pvc", "--no-headers"])
        .ok()
        .to_string();
    for i in 0..3 {
        let line = claims
            .lines()
            .find(|l| l.starts_with(&format!("data-db-{i} ")))
            .unwrap_or_else(|| panic!("no claim data-db-{i}: {claims}"));
        assert!(
            line.contains("Bound") && line.contains("standard"),
            "{line}"
        );
    }
    let owner = k
        .run(&["-n", n, "exec", "db-2", "--", "cat", "/data/owner"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(owner, "db-2");
}

#[test]
fn addon_commands_refuse_bad_input_and_change_nothing() {
    let r = rkube(&["addons", "enable", "no-such-addon", "-p", "e2e-nonexistent"]);
    assert_eq!(r.code, 94, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("'no-such-addon' is not a valid rkube addon")
            && r.stderr.contains("storage-provisioner"),
        "{}",
        r.stderr
    );
    let r = rkube(&[
        "addons",
        "enable",
        "storage-provisioner",
        "-p",
        "e2e-nonexistent",
    ]);
    assert_eq!(r.code, 85, "{}", r.stderr);
    let r = rkube(&["addons", "enable", "registry", "-p", "e2e-nonexistent"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("nothing needs to be pushed"),
        "{}",
        r.stdout
    );
    let r = rkube(&["addons", "list", "-o", "yaml"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    let r = rkube(&["start", "-p", "e2e-badaddon", "--addons=nope"]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    assert!(
        r.stderr.contains("'nope' is not a valid rkube addon"),
        "{}",
        r.stderr
    );
    let r = rkube(&["profile", "list"]);
    assert!(!r.stdout.contains("e2e-badaddon"), "{}", r.stdout);
    // Repeated enables say so and change nothing.
    let profile = &shared().profile;
    let r = rkube(&["addons", "enable", "storage-provisioner", "-p", profile]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already enabled"), "{}", r.stdout);
}
