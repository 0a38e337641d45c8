//! Several nodes, as `minikube start --nodes 3` users meet them: `node list` and `status`
//! show every node, a DaemonSet runs on each, a Deployment spreads over them, DNS and a
//! ClusterIP answer from a pod on each node and a NodePort on each node's address, `kubectl
//! drain` honours a PodDisruptionBudget, taints and affinity hold, a stopped node goes
//! NotReady and loses its pods, and `node delete` / `node add` leave nothing behind.

use crate::cluster::{docker, exclusive, pod_field, rkube, Cluster, BUSYBOX};
use crate::support::{eventually, Kubectl};

/// Pods of `selector` per node, as `node=count` sorted by node.
fn spread(k: &Kubectl, selector: &str) -> Vec<String> {
    let out = k
        .run(&[
            "get",
            "pods",
            "-l",
            selector,
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}",
        ])
        .stdout;
    let mut counts = std::collections::BTreeMap::new();
    for node in out.lines().filter(|l| !l.is_empty()) {
        *counts.entry(node.to_string()).or_insert(0) += 1;
    }
    counts.iter().map(|(n, c)| format!("{n}={c}")).collect()
}

/// The web replicas' spread, once all six run.
fn running_six(k: &Kubectl) -> Option<Vec<String>> {
    let s = spread(k, "app=web");
    let total: usize = s
        .iter()
        .filter_map(|e| e.split('=').nth(1)?.parse::<usize>().ok())
        .sum();
    (total == 6).then_some(s)
}

/// A pod pinned to `node` that runs `script` to completion; its log.
fn run_on(k: &Kubectl, node: &str, name: &str, script: &str) -> String {
    let overrides = format!(r#"{{"spec":{{"nodeName":"{node}"}}}}"#);
    k.run(&[
        "run",
        name,
        "--restart=Never",
        &format!("--image={BUSYBOX}"),
        &format!("--overrides={overrides}"),
        "--",
        "sh",
        "-c",
        script,
    ])
    .ok();
    eventually(&format!("{name} finished"), 90, || {
        let phase = pod_field(k, "default", name, "{.status.phase}");
        matches!(phase.as_str(), "Succeeded" | "Failed").then_some(())
    });
    k.run(&["logs", name]).ok().to_string()
}

#[test]
fn three_nodes_share_the_work() {
    let _one = exclusive();
    let profile = format!("multi-{}", std::process::id());
    let p = profile.as_str();
    crate::cluster::images();
    let r = rkube(&["start", "-p", p, "--nodes", "3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "Starting \"{p}-m03\" worker node in \"{p}\" cluster"
        )),
        "{}",
        r.stdout
    );
    let c = Cluster {
        profile: profile.clone(),
    };
    let k = c.kubectl();
    let (m02, m03) = (format!("{p}-m02"), format!("{p}-m03"));

    let list = rkube(&["node", "list", "-p", p]).ok().to_string();
    let names: Vec<&str> = list.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(names, [p, m02.as_str(), m03.as_str()], "{list}");
    let m02_ip = rkube(&["ip", "-p", p, "-n", "m02"]).ok().trim().to_string();
    assert!(
        list.contains(&format!("{m02}\t{m02_ip}\n")),
        "{list} / {m02_ip}"
    );
    let status = rkube(&["status", "-p", p]);
    assert_eq!(status.code, 0, "{}", status.stdout);
    assert_eq!(
        status.stdout.matches("type: Worker").count(),
        2,
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains(&format!(
            "{m03}\ntype: Worker\nhost: Running\nkubelet: Running"
        )),
        "{}",
        status.stdout
    );
    let ready = k.run(&["get", "nodes", "--no-headers"]).ok().to_string();
    assert_eq!(ready.matches(" Ready ").count(), 3, "{ready}");

    // One daemon pod per node, and six replicas on all three.
    k.run(&[
        "create",
        "deployment",
        "web",
        "--image=kicbase/echo-server:1.0",
        "--replicas=6",
    ])
    .ok();
    k.run(&[
        "expose",
        "deployment",
        "web",
        "--port=8080",
        "--type=NodePort",
    ])
    .ok();
    k.clone()
        .stdin(&format!(
            r#"{{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{{"name":"agent"}},"spec":{{"selector":{{"matchLabels":{{"app":"agent"}}}},"template":{{"metadata":{{"labels":{{"app":"agent"}}}},"spec":{{"containers":[{{"name":"c","image":"{BUSYBOX}","command":["sleep","3600"]}}]}}}}}}}}"#
        ))
        .run(&["apply", "-f", "-"])
        .ok();
    let daemons = eventually("a daemon pod on each node", 90, || {
        let s = spread(&k, "app=agent");
        (s.len() == 3).then_some(s)
    });
    assert_eq!(
        daemons,
        [format!("{p}=1"), format!("{m02}=1"), format!("{m03}=1")]
    );
    let web = eventually("six replicas on three nodes", 90, || running_six(&k));
    assert_eq!(web.len(), 3, "the scheduler spreads replicas: {web:?}");

    // DNS and the ClusterIP from a pod on each node; the NodePort on each node's address.
    for (i, node) in [p, m02.as_str(), m03.as_str()].iter().enumerate() {
        let log = run_on(
            &k,
            node,
            &format!("client-{i}"),
            "nslookup web.default.svc.cluster.local && wget -qO- http://web:8080/ | head -1",
        );
        assert!(
            log.contains("Name:\tweb.default.svc.cluster.local"),
            "{node}: {log}"
        );
        assert!(log.contains("Request served by web-"), "{node}: {log}");
    }
    let node_port = k
        .run(&[
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .ok()
        .to_string();
    for line in list.lines() {
        let ip = line.split('\t').nth(1).expect("node address");
        let log = run_on(
            &k,
            p,
            &format!("nodeport-{}", ip.replace('.', "-")),
            &format!("wget -qO- http://{ip}:{node_port}/ | head -1"),
        );
        assert!(
            log.contains("Request served by web-"),
            "NodePort on {ip}: {log}"
        );
    }

    // A budget that allows no disruption stops the drain; one that allows it lets it go.
    k.run(&[
        "create",
        "pdb",
        "web",
        "--selector=app=web",
        "--min-available=6",
    ])
    .ok();
    eventually("the budget is observed", 30, || {
        (k.run(&["get", "pdb", "web", "-o", "jsonpath={.status.expectedPods}"])
            .stdout
            == "6")
            .then_some(())
    });
    let blocked = k.run(&["drain", &m02, "--ignore-daemonsets", "--timeout=8s"]);
    assert_ne!(blocked.code, 0, "{}", blocked.stdout);
    assert!(
        blocked
            .stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{}",
        blocked.stderr
    );
    k.run(&[
        "patch",
        "pdb",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":4}}"#,
    ])
    .ok();
    let drained = k.run(&["drain", &m02, "--ignore-daemonsets", "--timeout=120s"]);
    assert_eq!(drained.code, 0, "{}{}", drained.stdout, drained.stderr);
    assert!(
        drained.stdout.contains(&format!("node/{m02} drained")),
        "{}",
        drained.stdout
    );
    let after = eventually("six replicas off the drained node", 90, || running_six(&k));
    assert!(
        !after.iter().any(|e| e.starts_with(&format!("{m02}="))),
        "{after:?}"
    );
    k.run(&["uncordon", &m02]).ok();

    // Taints and node affinity hold across nodes.
    k.run(&["taint", "nodes", &m02, "dedicated=batch:NoSchedule"])
        .ok();
    let pinned = |name: &str, tolerate: bool| {
        let tolerations = if tolerate {
            r#"[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"}]"#
        } else {
            "[]"
        };
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{"tolerations":{tolerations},"affinity":{{"nodeAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":{{"nodeSelectorTerms":[{{"matchExpressions":[{{"key":"kubernetes.io/hostname","operator":"In","values":["{m02}"]}}]}}]}}}}}},"containers":[{{"name":"c","image":"{BUSYBOX}","command":["sleep","3600"]}}]}}}}"#
        )
    };
    for (name, tolerate) in [("intolerant", false), ("tolerant", true)] {
        k.clone()
            .stdin(&pinned(name, tolerate))
            .run(&["apply", "-f", "-"])
            .ok();
    }
    eventually("the tolerant pod runs on the tainted node", 60, || {
        (pod_field(
            &k,
            "default",
            "tolerant",
            "{.status.phase}/{.spec.nodeName}",
        ) == format!("Running/{m02}"))
        .then_some(())
    });
    let why = eventually("the intolerant pod is unschedulable", 30, || {
        let m = pod_field(
            &k,
            "default",
            "intolerant",
            "{.status.conditions[?(@.type==\"PodScheduled\")].message}",
        );
        (!m.is_empty()).then_some(m)
    });
    assert!(why.contains("untolerated taint"), "{why}");
    k.run(&["delete", "pod", "intolerant", "tolerant", "--now"])
        .ok();
    k.run(&["taint", "nodes", &m02, "dedicated-"]).ok();

    // A stopped node goes NotReady, and its pods leave when their toleration runs out.
    k.clone()
        .stdin(&format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"brief"}},"spec":{{"nodeSelector":{{"kubernetes.io/hostname":"{m03}"}},"tolerations":[{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":1}},{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":1}}],"containers":[{{"name":"c","image":"{BUSYBOX}","command":["sleep","3600"]}}]}}}}"#
        ))
        .run(&["apply", "-f", "-"])
        .ok();
    eventually("brief runs", 60, || {
        (pod_field(&k, "default", "brief", "{.status.phase}") == "Running").then_some(())
    });
    let stopped = rkube(&["node", "stop", "-p", p, "m03"]);
    assert_eq!(stopped.code, 0, "{}{}", stopped.stdout, stopped.stderr);
    let status = rkube(&["status", "-p", p]);
    assert!(
        status
            .stdout
            .contains(&format!("{m03}\ntype: Worker\nhost: Stopped")),
        "{}",
        status.stdout
    );
    eventually("the stopped node is NotReady", 120, || {
        k.run(&["get", "node", &m03, "--no-headers"])
            .stdout
            .contains("NotReady")
            .then_some(())
    });
    eventually("its pod is evicted", 60, || {
        let gone = k.run(&["get", "pod", "brief"]).code != 0;
        let target = pod_field(
            &k,
            "default",
            "brief",
            "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}",
        );
        (gone || !target.is_empty()).then_some(())
    });
    let started = rkube(&["node", "start", "-p", p, "m03"]);
    assert_eq!(started.code, 0, "{}{}", started.stdout, started.stderr);
    let ready = k
        .run(&["get", "node", &m03, "--no-headers"])
        .ok()
        .to_string();
    assert!(ready.contains(" Ready "), "{ready}");

    // Bad input: one sentence and a distinct code, nothing changed.
    let cp = rkube(&["node", "delete", "-p", p, p]);
    assert_eq!(cp.code, 99, "{}", cp.stderr);
    let unknown = rkube(&["node", "delete", "-p", p, "m09"]);
    assert_eq!(unknown.code, 97, "{}", unknown.stderr);

    // `node delete` leaves no container; `node add` brings a Ready node back.
    rkube(&["node", "delete", "-p", p, "m03"]).ok();
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.rkube.node={m03}"),
    ]);
    assert_eq!(left.trim(), "", "containers of {m03} remain");
    let volumes = docker(&["volume", "ls", "-q", "--filter", &format!("name={m03}-var")]);
    assert_eq!(volumes.trim(), "", "the volume of {m03} remains");
    eventually("the Node object is gone", 30, || {
        (!k.run(&["get", "nodes", "--no-headers"])
            .stdout
            .contains(&m03))
        .then_some(())
    });
    let added = rkube(&["node", "add", "-p", p]);
    assert_eq!(added.code, 0, "{}{}", added.stdout, added.stderr);
    assert!(
        added
            .stdout
            .contains(&format!("Successfully added m03 to {p}!")),
        "{}",
        added.stdout
    );
    let ready = k
        .run(&["get", "node", &m03, "--no-headers"])
        .ok()
        .to_string();
    assert!(ready.contains(" Ready "), "{ready}");
    eventually("the DaemonSet covers the new node", 90, || {
        (spread(&k, "app=agent").len() == 3).then_some(())
    });

    let deleted = rkube(&["delete", "-p", p]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.rkube.profile={p}"),
    ]);
    assert_eq!(left.trim(), "", "containers of {p} remain");
}
