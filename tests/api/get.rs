//! `kubectl get`: every output form, selectors, labels, all namespaces, `get all`, watches.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{namespace, shared};

fn seed(k: &crate::support::Kubectl, n: &str) {
    for (name, labels) in [
        ("a", "tier=web,env=prod"),
        ("b", "tier=db,env=prod"),
        ("c", "tier=web,env=dev"),
        ("d", ""),
    ] {
        k.run(&["-n", n, "create", "configmap", name, "--from-literal=k=v"])
            .ok();
        if !labels.is_empty() {
            let mut args = vec!["-n", n, "label", "configmap", name];
            let pairs: Vec<&str> = labels.split(',').collect();
            args.extend(pairs);
            k.run(&args).ok();
        }
    }
}

fn names(out: &str) -> Vec<String> {
    // kube-root-ca.crt is in every namespace once the root CA publisher runs.
    let mut v: Vec<String> = out
        .lines()
        .map(|l| l.trim_start_matches("configmap/").to_string())
        .filter(|l| !l.is_empty() && l != "kube-root-ca.crt")
        .collect();
    v.sort();
    v
}

#[test]
fn label_selectors_full_grammar() {
    let k = shared().kubectl();
    let ns = namespace(&k, "sel");
    let n = ns.as_str();
    seed(&k, n);
    let sel = |s: &str| names(k.run(&["-n", n, "get", "cm", "-l", s, "-o", "name"]).ok());
    assert_eq!(sel("tier=web"), ["a", "c"]);
    // Paging with limit/continue returns every object once.
    let paged = names(
        k.run(&["-n", n, "get", "cm", "--chunk-size=1", "-o", "name"])
            .ok(),
    );
    assert_eq!(paged, ["a", "b", "c", "d"]);
    assert_eq!(sel("tier==web,env=prod"), ["a"]);
    assert_eq!(sel("tier!=web"), ["b", "d"]);
    assert_eq!(sel("env in (prod,staging)"), ["a", "b"]);
    assert_eq!(sel("env notin (prod)"), ["c", "d"]);
    assert_eq!(sel("tier"), ["a", "b", "c"]);
    assert_eq!(sel("!tier"), ["d"]);
    let bad = k.run(&["-n", n, "get", "cm", "-l", "a in (b"]);
    assert!(
        bad.fails().contains("unable to parse requirement"),
        "{}",
        bad.stderr
    );
}

#[test]
fn output_forms() {
    let k = shared().kubectl();
    let ns = namespace(&k, "out");
    let n = ns.as_str();
    seed(&k, n);
    let table = k.run(&["-n", n, "get", "configmaps"]).ok().to_string();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"]);
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == ["a", "1"]),
        "{table}"
    );
    let wide = k
        .run(&["-n", n, "get", "cm", "a", "-o", "wide"])
        .ok()
        .to_string();
    assert!(wide.starts_with("NAME"), "{wide}");
    let labels = k
        .run(&["-n", n, "get", "cm", "a", "--show-labels"])
        .ok()
        .to_string();
    assert!(
        labels.lines().next().unwrap().ends_with("LABELS"),
        "{labels}"
    );
    assert!(labels.contains("env=prod,tier=web"), "{labels}");
    let yaml = k
        .run(&["-n", n, "get", "cm", "a", "-o", "yaml"])
        .ok()
        .to_string();
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("  k: v"),
        "{yaml}"
    );
    let json = k
        .run(&["-n", n, "get", "cm", "-o", "json"])
        .ok()
        .to_string();
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(list["kind"], "List");
    assert!(list["items"].as_array().unwrap().len() >= 4);
    assert_eq!(
        k.run(&["-n", n, "get", "cm", "a", "-o", "name"]).ok(),
        "configmap/a\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "a",
            "-o",
            "jsonpath={.metadata.labels.tier}"
        ])
        .ok(),
        "web"
    );
    let cc = k
        .run(&[
            "-n",
            n,
            "get",
            "cm",
            "a",
            "-o",
            "custom-columns=N:.metadata.name,T:.metadata.labels.tier",
        ])
        .ok()
        .to_string();
    assert_eq!(
        cc.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["a", "web"]
    );
    // Short names and -A.
    let all_ns = k.run(&["get", "cm", "-A"]).ok().to_string();
    assert!(
        all_ns.lines().next().unwrap().starts_with("NAMESPACE"),
        "{all_ns}"
    );
    assert!(
        all_ns
            .lines()
            .any(|l| l.starts_with(n) && l.contains(" a ")),
        "{all_ns}"
    );
    let namespaces = k.run(&["get", "ns"]).ok().to_string();
    for system in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            namespaces
                .lines()
                .any(|l| l.starts_with(system) && l.contains("Active")),
            "{namespaces}"
        );
    }
}

#[test]
fn get_all_and_workload_tables() {
    let k = shared().kubectl();
    let ns = namespace(&k, "all");
    let n = ns.as_str();
    k.run(&[
        "-n",
        n,
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
    ])
    .ok();
    k.run(&[
        "-n",
        n,
        "create",
        "service",
        "nodeport",
        "web",
        "--tcp=80:80",
    ])
    .ok();
    k.run(&[
        "-n",
        n,
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=*/5 * * * *",
        "--",
        "date",
    ])
    .ok();
    let all = k.run(&["-n", n, "get", "all"]).ok().to_string();
    assert!(all.contains("deployment.apps/web"), "{all}");
    assert!(all.contains("service/web"), "{all}");
    assert!(all.contains("cronjob.batch/tick"), "{all}");
    let svc = k.run(&["-n", n, "get", "svc", "web"]).ok().to_string();
    let header: Vec<&str> = svc.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    let row: Vec<&str> = svc.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[1], "NodePort");
    assert_eq!(row[3], "<none>");
    assert!(
        row[4].starts_with("80:3") && row[4].ends_with("/TCP"),
        "{svc}"
    );
    let deploy = k
        .run(&["-n", n, "get", "deploy", "-o", "wide"])
        .ok()
        .to_string();
    let header: Vec<&str> = deploy.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let cj = k.run(&["-n", n, "get", "cj"]).ok().to_string();
    assert!(
        cj.lines().next().unwrap().starts_with("NAME   SCHEDULE"),
        "{cj}"
    );
}

#[test]
fn watch_prints_later_changes() {
    let k = shared().kubectl();
    let ns = namespace(&k, "watch");
    let n = ns.as_str();
    k.run(&["-n", n, "create", "configmap", "w0", "--from-literal=a=1"])
        .ok();
    let mut child = k.spawn(&["-n", n, "get", "configmaps", "-w"]);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Every namespace has kube-root-ca.crt; only the test's own objects matter here.
    let next = |what: &str| loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        if !line.starts_with("kube-root-ca.crt") {
            break line;
        }
    };
    assert!(next("header").starts_with("NAME"));
    let mut seen = vec![next("w0")];
    assert!(seen[0].starts_with("w0 "), "{seen:?}");
    k.run(&["-n", n, "create", "configmap", "w1", "--from-literal=a=1"])
        .ok();
    seen.push(next("w1 added"));
    assert!(
        seen[1].starts_with("w1 ") && seen[1].split_whitespace().nth(1) == Some("1"),
        "{seen:?}"
    );
    k.run(&[
        "-n",
        n,
        "patch",
        "configmap",
        "w1",
        "-p",
        r#"{"data":{"b":"2"}}"#,
    ])
    .ok();
    seen.push(next("w1 modified"));
    assert_eq!(
        seen[2].split_whitespace().take(2).collect::<Vec<_>>(),
        ["w1", "2"],
        "{seen:?}"
    );
    k.run(&["-n", n, "delete", "configmap", "w0"]).ok();
    seen.push(next("w0 deleted"));
    assert!(seen[3].starts_with("w0 "), "{seen:?}");
    let _ = child.kill();
    let _ = child.wait();
}
