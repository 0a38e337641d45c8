//! Node lifecycle: a node whose kubelet goes silent turns NotReady with the unreachable
//! taints, its pods leave after their toleration, cordoning taints the node, and pods of a
//! deleted node are removed. Evictions (what `kubectl drain` sends) honour budgets.

use crate::support::{eventually, namespace, shared_with_node, Kubectl, Server};

fn jsonpath(k: &Kubectl, args: &[&str], path: &str) -> String {
    let mut a = args.to_vec();
    let p = format!("jsonpath={path}");
    a.extend(["-o", &p]);
    k.run(&a).stdout.trim().to_string()
}

#[test]
fn silent_node_is_tainted_and_its_pods_evicted() {
    let server = Server::start_with_flags(&[
        "--simulated-node",
        "node-1",
        // Above the kubelet's 10 s lease renewal, as on a real cluster, yet short.
        "--node-monitor-grace-period",
        "13s",
    ]);
    let k = server.kubectl();
    // A node no kubelet serves, and pods bound to it directly.
    k.clone()
        .stdin(r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"ghost","labels":{"kubernetes.io/hostname":"ghost"}}}"#)
        .run(&["apply", "-f", "-"])
        .ok();
    let pod = |name: &str, tolerations: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{"nodeName":"ghost","tolerations":{tolerations},"containers":[{{"name":"c","image":"x"}}]}}}}"#
        )
    };
    for (name, tolerations) in [
        (
            "short",
            r#"[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":2}]"#,
        ),
        ("defaulted", "[]"),
        ("forever", r#"[{"operator":"Exists"}]"#),
    ] {
        k.clone()
            .stdin(&pod(name, tolerations))
            .run(&["apply", "-f", "-"])
            .ok();
    }
    // DefaultTolerationSeconds gave the plain pod five minutes on a failed node.
    let defaulted = jsonpath(
        &k,
        &["get", "pod", "defaulted"],
        "{.spec.tolerations[?(@.key==\"node.kubernetes.io/unreachable\")].tolerationSeconds}",
    );
    assert_eq!(defaulted, "300");

    let nodes = eventually("ghost NotReady", 45, || {
        let out = k.run(&["get", "nodes", "ghost", "--no-headers"]).stdout;
        out.contains("NotReady").then_some(out)
    });
    assert!(nodes.starts_with("ghost"), "{nodes}");
    let described = eventually("unreachable taints", 20, || {
        let d = k.run(&["describe", "node", "ghost"]).stdout;
        d.contains("node.kubernetes.io/unreachable:NoExecute")
            .then_some(d)
    });
    assert!(
        described.contains("node.kubernetes.io/unreachable:NoSchedule"),
        "{described}"
    );
    assert!(
        described.contains("Kubelet never posted node status."),
        "{described}"
    );
    let reason = eventually("short evicted", 30, || {
        let r = jsonpath(
            &k,
            &["get", "pod", "short"],
            "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}",
        );
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(reason, "DeletionByTaintManager");
    let deleting = |name: &str| {
        !jsonpath(&k, &["get", "pod", name], "{.metadata.deletionTimestamp}").is_empty()
    };
    // No kubelet confirms the deletion: the pod stays Terminating, as on any cluster.
    assert!(deleting("short"));
    let events = k
        .run(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=short",
        ])
        .ok()
        .to_string();
    assert!(events.contains("TaintManagerEviction"), "{events}");
    assert!(!deleting("defaulted") && !deleting("forever"));

    // The simulated node keeps heartbeating: Ready, untainted; cordoning taints it.
    assert_eq!(
        jsonpath(&k, &["get", "node", "node-1"], "{.spec.taints}"),
        ""
    );
    k.run(&["cordon", "node-1"]).ok();
    eventually("unschedulable taint", 20, || {
        jsonpath(&k, &["get", "node", "node-1"], "{.spec.taints[*].key}")
            .contains("node.kubernetes.io/unschedulable")
            .then_some(())
    });
    k.run(&["uncordon", "node-1"]).ok();
    eventually("taint removed", 20, || {
        jsonpath(&k, &["get", "node", "node-1"], "{.spec.taints}")
            .is_empty()
            .then_some(())
    });
    let ready = k
        .run(&["get", "node", "node-1", "--no-headers"])
        .ok()
        .to_string();
    assert!(ready.split_whitespace().nth(1) == Some("Ready"), "{ready}");

    // Pods of a node that is gone are removed.
    k.run(&["delete", "node", "ghost"]).ok();
    eventually("ghost's pods removed", 30, || {
        k.run(&["get", "pods", "--no-headers"])
            .stdout
            .trim()
            .is_empty()
            .then_some(())
    });
}

/// POST an Eviction for `pod` (named `body_name` inside) as `kubectl drain` does.
fn evict(k: &Kubectl, ns: &str, pod: &str, body_name: &str) -> crate::support::Run {
    let body = format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{body_name}","namespace":"{ns}"}}}}"#
    );
    k.clone().stdin(&body).run(&[
        "create",
        "--raw",
        &format!("/api/v1/namespaces/{ns}/pods/{pod}/eviction"),
        "-f",
        "-",
    ])
}

#[test]
fn evictions_honour_disruption_budgets() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "evictions");
    // Bare pods: a controller's replacement could be healthy before the second eviction
    // (the simulated node reports pods Ready at once), which rightly restores the budget.
    let run_pod = |name: &str| {
        k.run(&["-n", &ns, "run", name, "--image=x", "--labels=app=web"])
            .ok();
    };
    for name in ["web-0", "web-1", "web-2"] {
        run_pod(name);
    }
    k.run(&[
        "-n",
        &ns,
        "create",
        "pdb",
        "web",
        "--selector=app=web",
        "--min-available=2",
    ])
    .ok();
    let status = |path: &str| jsonpath(&k, &["-n", &ns, "get", "pdb", "web"], path);
    eventually("the budget allows one disruption", 30, || {
        (status("{.status.expectedPods}/{.status.currentHealthy}/{.status.desiredHealthy}/{.status.disruptionsAllowed}")
            == "3/3/2/1")
            .then_some(())
    });
    let listed = jsonpath(
        &k,
        &["-n", &ns, "get", "pods", "-l", "app=web"],
        "{.items[*].metadata.name}",
    );
    let pods: Vec<&str> = listed.split_whitespace().collect();
    assert_eq!(pods.len(), 3, "{listed}");

    // The name inside must be the pod's; a missing pod is NotFound.
    let e = evict(&k, &ns, pods[0], "other").fails().to_string();
    assert!(
        e.contains("name in URL does not match name in Eviction object"),
        "{e}"
    );
    let e = evict(&k, &ns, "ghost", "ghost").fails().to_string();
    assert!(e.contains("NotFound"), "{e}");

    // One may go; the next would leave fewer than two, so it is refused with 429.
    evict(&k, &ns, pods[0], pods[0]).ok();
    let e = evict(&k, &ns, pods[1], pods[1]).fails().to_string();
    assert!(
        e.contains(
            "(TooManyRequests): Cannot evict pod as it would violate the pod's disruption budget."
        ),
        "{e}"
    );
    assert!(
        k.run(&["-n", &ns, "get", "pod", pods[1]]).code == 0,
        "a refused eviction leaves the pod"
    );
    // Once a new pod is healthy the budget allows one again.
    run_pod("web-3");
    eventually("the budget recovers", 30, || {
        (status("{.status.currentHealthy}/{.status.disruptionsAllowed}") == "3/1").then_some(())
    });
    evict(&k, &ns, pods[1], pods[1]).ok();
    let condition = status("{.status.conditions[0].type}={.status.conditions[0].reason}");
    assert!(condition.starts_with("DisruptionAllowed="), "{condition}");
}
