//! Deleting and waiting: by name, by label, `--all`, `-f`; `wait --for=delete|jsonpath`.

use std::time::{Duration, Instant};

use crate::support::{namespace, shared, write_file};

#[test]
fn delete_forms() {
    let k = shared().kubectl();
    let ns = namespace(&k, "del");
    let n = ns.as_str();
    for name in ["one", "two", "three"] {
        k.run(&["-n", n, "create", "configmap", name, "--from-literal=a=1"])
            .ok();
    }
    k.run(&["-n", n, "label", "cm", "two", "three", "group=x"])
        .ok();
    assert_eq!(
        k.run(&["-n", n, "delete", "configmap", "one"]).ok(),
        format!("configmap \"one\" deleted from {n} namespace\n")
    );
    let out = k
        .run(&["-n", n, "delete", "cm", "-l", "group=x"])
        .ok()
        .to_string();
    assert!(
        out.contains("configmap \"two\" deleted from")
            && out.contains("configmap \"three\" deleted from"),
        "{out}"
    );
    k.run(&["-n", n, "create", "deployment", "d1", "--image=nginx"])
        .ok();
    k.run(&["-n", n, "create", "deployment", "d2", "--image=nginx"])
        .ok();
    k.run(&["-n", n, "create", "service", "clusterip", "s1", "--tcp=80"])
        .ok();
    let out = k
        .run(&["-n", n, "delete", "deploy,svc", "--all"])
        .ok()
        .to_string();
    for line in [
        "deployment.apps \"d1\" deleted",
        "deployment.apps \"d2\" deleted",
        "service \"s1\" deleted",
    ] {
        assert!(out.contains(line), "{line} missing: {out}");
    }
    assert_eq!(
        k.run(&["-n", n, "get", "deploy,svc"]).stderr.trim(),
        format!("No resources found in {n} namespace.")
    );
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromfile\ndata:\n  a: b\n",
    );
    k.run(&["-n", n, "apply", "-f", f.to_str().unwrap()]).ok();
    assert_eq!(
        k.run(&["-n", n, "delete", "-f", f.to_str().unwrap()]).ok(),
        format!("configmap \"fromfile\" deleted from {n} namespace\n")
    );
}

#[test]
fn wait_returns_when_the_condition_holds() {
    let k = shared().kubectl();
    let ns = namespace(&k, "wait");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "configmap",
        "w",
        "--from-literal=state=old",
    ])
    .ok();
    let k2 = k.clone();
    let n2 = n.to_string();
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let r = k2.run(&[
            "-n",
            &n2,
            "wait",
            "configmap/w",
            "--for=jsonpath={.data.state}=new",
            "--timeout=30s",
        ]);
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(1500));
    k.run(&[
        "-n",
        n,
        "patch",
        "cm",
        "w",
        "--type=merge",
        "-p",
        r#"{"data":{"state":"new"}}"#,
    ])
    .ok();
    let (r, took) = waiter.join().unwrap();
    assert_eq!(r.ok(), "configmap/w condition met\n");
    assert!(took < Duration::from_secs(15), "wait took {took:?}");

    let k3 = k.clone();
    let n3 = n.to_string();
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let r = k3.run(&[
            "-n",
            &n3,
            "wait",
            "configmap/w",
            "--for=delete",
            "--timeout=30s",
        ]);
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(1500));
    k.run(&["-n", n, "delete", "cm", "w", "--wait=false"]).ok();
    let (r, took) = waiter.join().unwrap();
    assert_eq!(r.ok(), "configmap/w condition met\n");
    assert!(took < Duration::from_secs(15), "wait took {took:?}");
}

#[test]
fn deleting_a_namespace_deletes_its_contents() {
    let k = shared().kubectl();
    let ns = namespace(&k, "doomed");
    let n = ns.as_str();
    k.run(&["-n", n, "create", "configmap", "c", "--from-literal=a=1"])
        .ok();
    k.run(&["-n", n, "create", "deployment", "d", "--image=nginx"])
        .ok();
    // kubectl waits for the namespace to be gone.
    assert_eq!(
        k.run(&["delete", "namespace", n, "--timeout=30s"]).ok(),
        format!("namespace \"{n}\" deleted\n")
    );
    let gone = k.run(&["get", "namespace", n]);
    assert!(gone.fails().contains("not found"), "{}", gone.stderr);
    let cms = k.run(&[
        "get",
        "configmaps",
        "-A",
        "-o",
        "name",
        "--field-selector",
        &format!("metadata.namespace={n}"),
    ]);
    assert_eq!(cms.ok(), "");
    assert_eq!(
        k.run(&["delete", "namespace", "default"]).fails(),
        "Error from server (Forbidden): namespaces \"default\" is forbidden: this namespace may not be deleted\n"
    );
}

/// A configmap owned by another one, as controllers make ReplicaSets owned by Deployments.
fn owned_pair(k: &crate::support::Kubectl, n: &str, owner: &str, dependent: &str) {
    k.run(&["-n", n, "create", "configmap", owner]).ok();
    let uid = k
        .run(&[
            "-n",
            n,
            "get",
            "cm",
            owner,
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .ok()
        .to_string();
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {dependent}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {uid}\n    blockOwnerDeletion: true\n"
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn garbage_collector_follows_owner_references() {
    let k = shared().kubectl();
    let ns = namespace(&k, "gc");
    let n = ns.as_str();
    owned_pair(&k, n, "bg-owner", "bg-dep");
    owned_pair(&k, n, "orphan-owner", "orphan-dep");
    owned_pair(&k, n, "fg-owner", "fg-dep");

    k.run(&["-n", n, "delete", "cm", "bg-owner"]).ok();
    eventually("background dependent deleted", || {
        k.run(&["-n", n, "get", "cm", "bg-dep"]).code != 0
    });

    k.run(&["-n", n, "delete", "cm", "orphan-owner", "--cascade=orphan"])
        .ok();
    assert!(
        k.run(&["-n", n, "get", "cm", "orphan-owner"]).code != 0,
        "owner gone once dependents are orphaned"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "orphan-dep",
            "-o",
            "jsonpath={.metadata.ownerReferences}"
        ])
        .ok(),
        ""
    );

    // Foreground: kubectl waits for the owner, which goes only after its dependent.
    k.run(&["-n", n, "delete", "cm", "fg-owner", "--cascade=foreground"])
        .ok();
    assert!(
        k.run(&["-n", n, "get", "cm", "fg-dep"]).code != 0,
        "dependent deleted first"
    );
    assert!(k.run(&["-n", n, "get", "cm", "fg-owner"]).code != 0);
}

#[test]
fn every_namespace_gets_a_default_service_account_and_the_root_ca() {
    let k = shared().kubectl();
    let ns = namespace(&k, "defaults");
    let n = ns.as_str();
    eventually("default service account", || {
        k.run(&["-n", n, "get", "serviceaccount", "default"]).code == 0
    });
    eventually("root CA configmap", || {
        k.run(&["-n", n, "get", "configmap", "kube-root-ca.crt"])
            .code
            == 0
    });
    let ca = k
        .run(&[
            "-n",
            n,
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ])
        .ok()
        .to_string();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    k.run(&["-n", n, "delete", "serviceaccount", "default"])
        .ok();
    eventually("default service account recreated", || {
        k.run(&["-n", n, "get", "serviceaccount", "default"]).code == 0
    });
}

#[test]
fn deleting_every_service_in_default_brings_the_kubernetes_service_back() {
    // A server of its own: the other tests' clients need `kubernetes` present.
    let server = crate::support::Server::start();
    let k = server.kubectl();
    let cluster_ip = || {
        k.run(&[
            "get",
            "service",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
    };
    let before = cluster_ip().ok().to_string();
    assert!(!before.is_empty());
    let out = k.run(&["delete", "svc", "--all"]).ok().to_string();
    assert!(out.contains("service \"kubernetes\" deleted"), "{out}");
    // kube-apiserver's reconciler runs every 10 s.
    eventually("the kubernetes service re-created", || {
        cluster_ip().code == 0
    });
    assert_eq!(cluster_ip().ok(), before);
}

#[test]
fn a_component_that_keeps_panicking_is_restarted_and_reported() {
    // The test-only failpoint makes the scheduler panic at every start.
    let server = crate::support::Server::start_with_env(&[("RKUBE_FAILPOINT_PANIC", "scheduler")]);
    let k = server.kubectl();
    let healthy = k.run(&["get", "--raw", "/readyz/controller/deployment"]);
    assert_eq!(healthy.ok(), "ok");
    // Stops at 0, 1 and 3 s (back-off 1 s, 2 s): the third makes it "keeps failing".
    let start = Instant::now();
    let failed = loop {
        let out = k.run(&["get", "--raw", "/readyz?verbose"]);
        if out.code != 0 {
            break out.fails().to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "readyz still passes: {}",
            out.ok()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        failed.contains("[-]scheduler failed: reason withheld"),
        "{failed}"
    );
    assert!(failed.contains("[+]controller/deployment ok"), "{failed}");
    assert!(failed.contains("[+]ping ok"), "{failed}");
    assert_ne!(k.run(&["get", "--raw", "/livez/scheduler"]).code, 0);
    // The other components serve on: a Deployment still gets its ReplicaSet.
    k.run(&["create", "deployment", "web", "--image=x"]).ok();
    eventually("a replicaset for web", || {
        !k.run(&["get", "rs", "-l", "app=web", "-o", "name"])
            .ok()
            .is_empty()
    });
}
