//! Pods on a real node: images, logs, restarts, probes, volumes and deployments, with the
//! statuses kubectl shows on any cluster.

use std::str::FromStr;

use crate::cluster::{docker, pod_field, shared, BUSYBOX};
use crate::support::{eventually, namespace, Kubectl};

fn get_pods_line(k: &Kubectl, ns: &str, pod: &str) -> String {
    let out = k
        .run(&["-n", ns, "get", "pods", pod, "--no-headers"])
        .stdout;
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn node_is_ready_with_its_columns() {
    let c = shared();
    let k = c.kubectl();
    let out = k.run(&["get", "nodes", "-o", "wide"]).ok().to_string();
    let line = out.lines().nth(1).expect("a node");
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[0], c.profile);
    assert_eq!(cols[1], "Ready", "{out}");
    assert_eq!(cols[2], "control-plane", "{out}");
    assert!(cols[4].starts_with("v1."), "{out}");
    assert!(cols[5].starts_with("192.168."), "{out}");
    assert!(line.contains("docker://"), "{out}");
}

#[test]
fn run_shows_logs_and_tail() {
    let k = shared().kubectl();
    let ns = namespace(&k, "logs");
    k.run(&[
        "-n",
        &ns,
        "run",
        "web",
        &format!("--image={BUSYBOX}"),
        "--",
        "sh",
        "-c",
        // stdout and stderr are separate pipes: the pause keeps their order certain.
        "echo to-stderr >&2; sleep 1; for i in 1 2 3 4 5 6 7; do echo line-$i; done; sleep 3600",
    ])
    .ok();
    eventually("web Running", 60, || {
        (pod_field(&k, &ns, "web", "{.status.phase}") == "Running").then_some(())
    });
    let logs = eventually("web's output", 30, || {
        let r = k.run(&["-n", &ns, "logs", "web"]);
        r.stdout.contains("line-7").then_some(r.stdout)
    });
    assert!(logs.starts_with("to-stderr\nline-1\n"), "{logs}");
    let tail = k
        .run(&["-n", &ns, "logs", "web", "--tail=2"])
        .ok()
        .to_string();
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert_eq!(tail, "line-6\nline-7\n");
    let err = k
        .run(&["-n", &ns, "logs", "web", "-c", "nope"])
        .fails()
        .to_string();
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
    // The pod's container runs as a sibling container on Docker, with the pod's labels.
    let ps = docker(&[
        "ps",
        "--filter",
        &format!("label=io.kubernetes.pod.namespace={ns}"),
        "--format",
        "{{.Names}}",
    ]);
    assert!(
        ps.lines()
            .any(|n| n.starts_with(&format!("k8s_web_web_{ns}_"))),
        "{ps}"
    );
    assert!(
        ps.lines()
            .any(|n| n.starts_with(&format!("k8s_POD_web_{ns}_"))),
        "{ps}"
    );
}

#[test]
fn a_missing_image_backs_off_with_the_reason() {
    let k = shared().kubectl();
    let ns = namespace(&k, "pull");
    k.run(&[
        "-n",
        &ns,
        "run",
        "bad",
        "--image=rkube-test/does-not-exist:v1",
    ])
    .ok();
    let line = eventually("ImagePullBackOff", 60, || {
        let l = get_pods_line(&k, &ns, "bad");
        l.contains("ImagePullBackOff").then_some(l)
    });
    assert!(line.contains("0/1"), "{line}");
    let describe = k
        .run(&["-n", &ns, "describe", "pod", "bad"])
        .ok()
        .to_string();
    assert!(
        describe.contains("Failed to pull image \"rkube-test/does-not-exist:v1\""),
        "{describe}"
    );
    assert!(describe.contains("Back-off pulling image"), "{describe}");
    // imagePullPolicy Never with a missing image says so.
    k.run(&[
        "-n",
        &ns,
        "run",
        "never",
        "--image=rkube-test/does-not-exist:v1",
        "--image-pull-policy=Never",
    ])
    .ok();
    eventually("ErrImageNeverPull", 60, || {
        get_pods_line(&k, &ns, "never")
            .contains("ErrImageNeverPull")
            .then_some(())
    });
}

#[test]
fn a_crashing_container_loops_with_growing_restarts() {
    let k = shared().kubectl();
    let ns = namespace(&k, "crash");
    k.run(&[
        "-n",
        &ns,
        "run",
        "crash",
        &format!("--image={BUSYBOX}"),
        "--",
        "sh",
        "-c",
        "echo boom; exit 3",
    ])
    .ok();
    eventually("CrashLoopBackOff", 60, || {
        get_pods_line(&k, &ns, "crash")
            .contains("CrashLoopBackOff")
            .then_some(())
    });
    let restarts = |k: &Kubectl| {
        pod_field(
            k,
            &ns,
            "crash",
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse::<u32>()
        .unwrap_or(0)
    };
    let first = restarts(&k);
    eventually("the restart count grows", 60, || {
        (restarts(&k) > first).then_some(())
    });
    assert_eq!(
        pod_field(
            &k,
            &ns,
            "crash",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "3"
    );
    let prev = k
        .run(&["-n", &ns, "logs", "crash", "--previous"])
        .ok()
        .to_string();
    assert_eq!(prev, "boom\n");
    let describe = k
        .run(&["-n", &ns, "describe", "pod", "crash"])
        .ok()
        .to_string();
    assert!(
        describe.contains("Back-off restarting failed container crash"),
        "{describe}"
    );
}

/// A container killed behind the kubelet's back (`docker kill`) is restarted on Docker's
/// event at once, not at the next resync of the settled pod.
#[test]
fn a_container_killed_behind_the_kubelets_back_restarts_at_once() {
    let k = shared().kubectl();
    let ns = namespace(&k, "killed");
    k.run(&[
        "-n",
        &ns,
        "run",
        "victim",
        &format!("--image={BUSYBOX}"),
        "--",
        "sleep",
        "3600",
    ])
    .ok();
    eventually("victim Running", 60, || {
        (pod_field(&k, &ns, "victim", "{.status.phase}") == "Running").then_some(())
    });
    let container = |attempt: &str| {
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.kubernetes.pod.namespace={ns}"),
            "--filter",
            "label=io.kubernetes.container.name=victim",
            "--filter",
            &format!("label=io.rkube.attempt={attempt}"),
        ])
        .trim()
        .to_string()
    };
    let first = container("0");
    assert!(!first.is_empty(), "the victim's container");
    // Settled: the pod's next resync is far off, so only the event can explain a quick
    // restart.
    std::thread::sleep(std::time::Duration::from_secs(2));
    docker(&["kill", &first]);
    let second = eventually("a new container", 10, || {
        Some(container("1")).filter(|c| !c.is_empty())
    });
    let instant = |id: &str, field: &str| {
        let t = docker(&["inspect", "-f", &format!("{{{{.State.{field}}}}}"), id]);
        jiff::Timestamp::from_str(t.trim()).expect("a Docker timestamp")
    };
    let died = instant(&first, "FinishedAt");
    let restarted = eventually("the new container started", 10, || {
        let t = instant(&second, "StartedAt");
        (t > died).then_some(t)
    });
    let took = restarted.duration_since(died);
    println!("killed container restarted after {took:#}");
    assert!(
        took < jiff::SignedDuration::from_secs(1),
        "the restart came {took:#} after the kill"
    );
    eventually("restartCount 1 and Running", 10, || {
        let f = pod_field(
            &k,
            &ns,
            "victim",
            "{.status.containerStatuses[0].restartCount}/{.status.containerStatuses[0].state.running.startedAt}",
        );
        (f.starts_with("1/") && f.len() > 2).then_some(())
    });
    k.run(&["delete", "namespace", &ns, "--wait=false"]).ok();
}

#[test]
fn a_failing_readiness_probe_keeps_the_pod_unready() {
    let k = shared().kubectl();
    let ns = namespace(&k, "probe");
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"probed"}},"spec":{{"containers":[
          {{"name":"ok","image":"{BUSYBOX}","command":["sh","-c","mkdir -p /tmp /www && echo ok > /www/index.html && touch /tmp/ready && httpd -f -p 8080 -h /www"],
            "readinessProbe":{{"httpGet":{{"path":"/","port":8080}},"periodSeconds":1}},
            "livenessProbe":{{"exec":{{"command":["cat","/tmp/ready"]}},"periodSeconds":1}}}},
          {{"name":"never","image":"{BUSYBOX}","command":["sleep","3600"],
            "readinessProbe":{{"exec":{{"command":["false"]}},"periodSeconds":1}}}}]}}}}"#
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    eventually("one of two ready", 60, || {
        let ready = pod_field(&k, &ns, "probed", "{.status.containerStatuses[*].ready}");
        (ready.split_whitespace().filter(|r| *r == "true").count() == 1).then_some(())
    });
    let line = get_pods_line(&k, &ns, "probed");
    assert!(line.contains("1/2") && line.contains("Running"), "{line}");
    let ready = k
        .run(&[
            "-n",
            &ns,
            "get",
            "pod",
            "probed",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ])
        .ok()
        .to_string();
    assert_eq!(ready, "False");
    let describe = k
        .run(&["-n", &ns, "describe", "pod", "probed"])
        .ok()
        .to_string();
    assert!(describe.contains("Readiness probe failed"), "{describe}");
}

/// The ConfigMap `cfg` with `literals` and the Secret `sec` with `password`, in `ns`.
fn config_and_secret(k: &Kubectl, ns: &str, literals: &[&str], password: &str) {
    let mut args = vec!["-n", ns, "create", "configmap", "cfg"];
    let literals: Vec<String> = literals
        .iter()
        .map(|l| format!("--from-literal={l}"))
        .collect();
    args.extend(literals.iter().map(String::as_str));
    k.run(&args).ok();
    let password = format!("--from-literal=password={password}");
    k.run(&["-n", ns, "create", "secret", "generic", "sec", &password])
        .ok();
}

#[test]
fn env_and_volumes_reach_the_container() {
    let k = shared().kubectl();
    let ns = namespace(&k, "vols");
    config_and_secret(
        &k,
        &ns,
        &["greeting=hello", "file.txt=from-a-file"],
        "s3cret",
    );
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"env","labels":{{"app":"envtest"}}}},"spec":{{"restartPolicy":"Never",
          "volumes":[{{"name":"cfg","configMap":{{"name":"cfg","items":[{{"key":"file.txt","path":"f.txt"}}]}}}},
                     {{"name":"scratch","emptyDir":{{}}}}],
          "initContainers":[{{"name":"init","image":"{BUSYBOX}","command":["sh","-c","echo from-init > /work/init.txt"],
            "volumeMounts":[{{"name":"scratch","mountPath":"/work"}}]}}],
          "containers":[{{"name":"c","image":"{BUSYBOX}",
            "command":["sh","-c","echo G=$GREETING P=$PASSWORD N=$MY_NAME L=$APP; cat /cfg/f.txt; echo; cat /work/init.txt; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace 2>/dev/null; hostname"],
            "env":[{{"name":"GREETING","valueFrom":{{"configMapKeyRef":{{"name":"cfg","key":"greeting"}}}}}},
                   {{"name":"PASSWORD","valueFrom":{{"secretKeyRef":{{"name":"sec","key":"password"}}}}}},
                   {{"name":"MY_NAME","valueFrom":{{"fieldRef":{{"fieldPath":"metadata.name"}}}}}},
                   {{"name":"APP","value":"$(MY_NAME)-app"}}],
            "volumeMounts":[{{"name":"cfg","mountPath":"/cfg"}},{{"name":"scratch","mountPath":"/work"}}]}}]}}}}"#
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    eventually("env Succeeded", 60, || {
        (pod_field(&k, &ns, "env", "{.status.phase}") == "Succeeded").then_some(())
    });
    let logs = k.run(&["-n", &ns, "logs", "env"]).ok().to_string();
    assert!(logs.contains("G=hello P=s3cret N=env L=env-app"), "{logs}");
    assert!(logs.contains("from-a-file"), "{logs}");
    assert!(logs.contains("from-init"), "{logs}");
    assert!(
        logs.trim_end().ends_with("env"),
        "hostname is the pod name: {logs}"
    );
    let line = get_pods_line(&k, &ns, "env");
    assert!(line.contains("Completed"), "{line}");
}

/// A changed ConfigMap or Secret reaches the volume of a running pod within seconds: the
/// kubelet watches what its pods mount and wakes them, instead of the pod's 60 s resync.
#[test]
fn changed_config_maps_and_secrets_reach_running_pods_at_once() {
    let k = shared().kubectl();
    let ns = namespace(&k, "refresh");
    config_and_secret(&k, &ns, &["mode=one"], "first");
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"reader"}},"spec":{{
          "volumes":[{{"name":"cfg","configMap":{{"name":"cfg"}}}},
                     {{"name":"both","projected":{{"sources":[{{"secret":{{"name":"sec"}}}},{{"configMap":{{"name":"cfg"}}}}]}}}}],
          "containers":[{{"name":"c","image":"{BUSYBOX}","command":["sleep","3600"],
            "volumeMounts":[{{"name":"cfg","mountPath":"/cfg"}},{{"name":"both","mountPath":"/both"}}]}}]}}}}"#
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    eventually("reader Running", 60, || {
        (pod_field(&k, &ns, "reader", "{.status.phase}") == "Running").then_some(())
    });
    let read = |path: &str| {
        k.run(&["-n", &ns, "exec", "reader", "--", "cat", path])
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(read("/cfg/mode"), "one");
    assert_eq!(read("/both/password"), "first");
    // Settled first, so that only the watch can explain a refresh within the deadline.
    std::thread::sleep(std::time::Duration::from_secs(2));
    k.run(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "cfg",
        "-p",
        r#"{"data":{"mode":"two"}}"#,
    ])
    .ok();
    eventually("the ConfigMap change in both volumes", 10, || {
        (read("/cfg/mode") == "two" && read("/both/mode") == "two").then_some(())
    });
    k.run(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "sec",
        "-p",
        r#"{"stringData":{"password":"second"}}"#,
    ])
    .ok();
    eventually("the Secret change in the projected volume", 10, || {
        (read("/both/password") == "second").then_some(())
    });
}

#[test]
fn a_deployment_runs_three_pods_with_their_own_ips() {
    let k = shared().kubectl();
    let ns = namespace(&k, "deploy");
    k.run(&[
        "-n",
        &ns,
        "create",
        "deployment",
        "web",
        &format!("--image={BUSYBOX}"),
        "--replicas=3",
        "--",
        "httpd",
        "-f",
        "-p",
        "8080",
    ])
    .ok();
    eventually("3/3 ready", 90, || {
        let out = k
            .run(&["-n", &ns, "get", "deploy", "web", "--no-headers"])
            .stdout;
        out.contains("3/3").then_some(())
    });
    let ips = k
        .run(&[
            "-n",
            &ns,
            "get",
            "pods",
            "-o",
            "jsonpath={.items[*].status.podIP}",
        ])
        .ok()
        .to_string();
    let mut ips: Vec<&str> = ips.split_whitespace().collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "{ips:?}");
    let ps = docker(&[
        "ps",
        "--filter",
        &format!("label=io.kubernetes.pod.namespace={ns}"),
        "--filter",
        "label=io.kubernetes.docker.type=container",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.lines().count(), 3, "{ps}");
    // Deleting a pod stops its containers and the ReplicaSet replaces it.
    let first = k
        .run(&[
            "-n",
            &ns,
            "get",
            "pods",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .ok()
        .to_string();
    k.run(&["-n", &ns, "delete", "pod", &first, "--wait=true"])
        .ok();
    let gone = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=io.kubernetes.pod.name={first}"),
        "--format",
        "{{.Names}}",
    ]);
    assert!(
        gone.trim().is_empty(),
        "containers of the deleted pod remain: {gone}"
    );
    eventually("3/3 again", 90, || {
        let out = k
            .run(&["-n", &ns, "get", "deploy", "web", "--no-headers"])
            .stdout;
        out.contains("3/3").then_some(())
    });
}

#[test]
fn pods_get_the_service_account_volume_unless_they_opt_out() {
    let k = shared().kubectl();
    let ns = namespace(&k, "sa");
    let sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"with"}},"spec":{{"restartPolicy":"Never",
            "containers":[{{"name":"c","image":"{BUSYBOX}","command":["sh","-c","cat {sa_dir}/namespace; echo; test -s {sa_dir}/token && echo token-present; grep -c 'BEGIN CERTIFICATE' {sa_dir}/ca.crt"]}}]}}}}
---
{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"without"}},"spec":{{"restartPolicy":"Never","automountServiceAccountToken":false,
            "containers":[{{"name":"c","image":"{BUSYBOX}","command":["sh","-c","ls {sa_dir} || echo no-token"]}}]}}}}
"#
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    let volume = pod_field(&k, &ns, "with", "{.spec.volumes[0].name}");
    assert!(volume.starts_with("kube-api-access-"), "{volume}");
    assert_eq!(
        pod_field(&k, &ns, "with", "{.spec.serviceAccountName}"),
        "default"
    );
    for pod in ["with", "without"] {
        eventually(&format!("{pod} Succeeded"), 60, || {
            (pod_field(&k, &ns, pod, "{.status.phase}") == "Succeeded").then_some(())
        });
    }
    let logs = k.run(&["-n", &ns, "logs", "with"]).ok().to_string();
    assert_eq!(
        logs.lines().collect::<Vec<_>>(),
        [ns.as_str(), "token-present", "1"],
        "{logs}"
    );
    let logs = k.run(&["-n", &ns, "logs", "without"]).ok().to_string();
    assert!(logs.contains("no-token"), "{logs}");
    // An account that does not exist is refused at once, as kube-apiserver does.
    let refused = k.run(&[
        "-n",
        &ns,
        "run",
        "ghost",
        &format!("--image={BUSYBOX}"),
        "--overrides={\"spec\":{\"serviceAccountName\":\"ghost\"}}",
    ]);
    assert!(
        refused.stderr.contains("error looking up service account")
            && refused
                .stderr
                .contains("serviceaccount \"ghost\" not found"),
        "{}",
        refused.stderr
    );
}

#[test]
fn in_cluster_kubectl_reaches_the_api_with_its_token() {
    crate::cluster::kubectl_image();
    let k = shared().kubectl();
    let ns = namespace(&k, "incluster");
    k.run(&[
        "-n",
        &ns,
        "create",
        "rolebinding",
        "view",
        "--clusterrole=view",
        &format!("--serviceaccount={ns}:default"),
    ])
    .ok();
    k.run(&[
        "-n",
        &ns,
        "run",
        "client",
        &format!("--image={}", crate::cluster::KUBECTL_IMAGE),
        "--restart=Never",
        "--",
        "sh",
        "-c",
        // In-cluster config: KUBERNETES_SERVICE_HOST/PORT, the projected token and CA.
        "kubectl get pods -o name; kubectl get nodes 2>&1 | tail -1",
    ])
    .ok();
    eventually("client Succeeded", 90, || {
        (pod_field(&k, &ns, "client", "{.status.phase}") == "Succeeded").then_some(())
    });
    let logs = k.run(&["-n", &ns, "logs", "client"]).ok().to_string();
    assert!(logs.contains("pod/client"), "{logs}");
    // The view role has no nodes: RBAC answers for the service account.
    assert!(
        logs.contains(&format!(
            "User \"system:serviceaccount:{ns}:default\" cannot list resource \"nodes\""
        )),
        "{logs}"
    );
}
