//! Creating and applying: generators, `create -f`, client- and server-side apply, dry runs.

use crate::support::{namespace, shared, write_file};

#[test]
fn create_generators() {
    let k = shared().kubectl();
    let ns = namespace(&k, "gen");
    let n = ns.as_str();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=1",
            "--from-literal=b=2"
        ])
        .ok(),
        "configmap/cfg created\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "secret",
            "generic",
            "sec",
            "--from-literal=password=hunter2"
        ])
        .ok(),
        "secret/sec created\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
            "--port=80"
        ])
        .ok(),
        "deployment.apps/web created\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80:8080"
        ])
        .ok(),
        "service/web created\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "job",
            "once",
            "--image=busybox",
            "--",
            "echo",
            "hi"
        ])
        .ok(),
        "job.batch/once created\n"
    );
    let secret = k.run(&[
        "-n",
        n,
        "get",
        "secret",
        "sec",
        "-o",
        "jsonpath={.data.password}",
    ]);
    assert_eq!(secret.ok(), "aHVudGVyMg==");
    let deploy = k.run(&[
        "-n",
        n,
        "get",
        "deploy",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let d: serde_json::Value = serde_json::from_str(deploy.ok()).unwrap();
    // Defaults the real server fills in.
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"],
        "TCP"
    );
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(d["metadata"]["managedFields"][0]["manager"] == "kubectl-create");
    let svc = k.run(&[
        "-n",
        n,
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.ports[0].targetPort}",
    ]);
    let out = svc.ok().to_string();
    let (ip, target) = out.split_once(' ').unwrap();
    assert!(
        ip.starts_with("10.9") || ip.starts_with("10.10"),
        "cluster IP allocated: {out}"
    );
    assert_eq!(target, "8080");
    let job = k.run(&["-n", n, "get", "job", "once", "-o", "json"]);
    let j: serde_json::Value = serde_json::from_str(job.ok()).unwrap();
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert!(
        j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"].is_string(),
        "{j}"
    );
    // Protobuf carries Go's inlined structs as fields of their own; JSON flattens them.
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "ingress",
            "web",
            "--class=nginx",
            "--rule=web.local/*=web:80"
        ])
        .ok(),
        "ingress.networking.k8s.io/web created\n"
    );
    let rule = k.run(&[
        "-n",
        n,
        "get",
        "ingress",
        "web",
        "-o",
        "jsonpath={.spec.rules[0].host} {.spec.rules[0].http.paths[0].backend.service.name}",
    ]);
    assert_eq!(rule.ok(), "web.local web");
    k.clone()
        .stdin(CRONJOB)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    assert_eq!(
        k.run(&["-n", n, "create", "job", "now", "--from=cronjob/backup"])
            .ok(),
        "job.batch/now created\n"
    );
    let pod = k.run(&[
        "-n",
        n,
        "get",
        "job",
        "now",
        "-o",
        "jsonpath={.spec.template.spec.volumes[0].emptyDir.medium} {.spec.template.spec.containers[0].readinessProbe.exec.command[0]}",
    ]);
    assert_eq!(pod.ok(), "Memory true");
}

const CRONJOB: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          volumes:
          - name: scratch
            emptyDir:
              medium: Memory
          containers:
          - name: backup
            image: registry.local/backup:1
            readinessProbe:
              exec:
                command: ["true"]
            volumeMounts:
            - name: scratch
              mountPath: /scratch
"#;

const MULTI: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  mode: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    app: app
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: app
        image: registry.local/app:1
        env:
        - name: MODE
          value: blue
---
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: app
  ports:
  - port: 80
    targetPort: 8080
"#;

#[test]
fn create_and_apply_multi_document_files() {
    let k = shared().kubectl();
    let ns = namespace(&k, "apply");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(dir.path(), "app.yaml", MULTI);
    let f = f.to_str().unwrap();
    assert_eq!(
        k.run(&["-n", n, "create", "-f", f]).ok(),
        "configmap/app-config created\ndeployment.apps/app created\nservice/app created\n"
    );
    k.run(&["-n", n, "delete", "-f", f]).ok();
    assert_eq!(
        k.run(&["-n", n, "apply", "-f", f]).ok(),
        "configmap/app-config created\ndeployment.apps/app created\nservice/app created\n"
    );
    assert_eq!(
        k.run(&["-n", n, "apply", "-f", f]).ok(),
        "configmap/app-config unchanged\ndeployment.apps/app unchanged\nservice/app unchanged\n"
    );
    let edited = MULTI
        .replace("mode: blue", "mode: green")
        .replace("replicas: 1", "replicas: 3")
        .replace("app:1", "app:2");
    write_file(dir.path(), "app.yaml", &edited);
    assert_eq!(
        k.run(&["-n", n, "apply", "-f", f]).ok(),
        "configmap/app-config configured\ndeployment.apps/app configured\nservice/app unchanged\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "app-config",
            "-o",
            "jsonpath={.data.mode}"
        ])
        .ok(),
        "green"
    );
    assert_eq!(
        k.run(&["-n", n, "get", "deploy", "app", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation}"]).ok(),
        "3 registry.local/app:2 2"
    );
    // Removing a field from the file removes it from the object (three-way merge).
    let without_env = edited.replace(
        "        env:\n        - name: MODE\n          value: blue\n",
        "",
    );
    write_file(dir.path(), "app.yaml", &without_env);
    k.run(&["-n", n, "apply", "-f", f]).ok();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "deploy",
            "app",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env}"
        ])
        .ok(),
        ""
    );
}

#[test]
fn server_side_apply_conflicts_and_force() {
    let k = shared().kubectl();
    let ns = namespace(&k, "ssa");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  owner: alice\n";
    let f = write_file(dir.path(), "cm.yaml", cm);
    let f = f.to_str().unwrap();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "apply",
            "--server-side",
            "--field-manager=alice",
            "-f",
            f
        ])
        .ok(),
        "configmap/shared serverside-applied\n"
    );
    let g = write_file(dir.path(), "cm2.yaml", &cm.replace("alice", "bob"));
    let g = g.to_str().unwrap();
    let err = k.run(&[
        "-n",
        n,
        "apply",
        "--server-side",
        "--field-manager=bob",
        "-f",
        g,
    ]);
    let msg = err.fails();
    assert!(
        msg.contains("Apply failed with 1 conflict: conflict with \"alice\": .data.owner"),
        "{msg}"
    );
    assert!(msg.contains("--force-conflicts"), "{msg}");
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            g
        ])
        .ok(),
        "configmap/shared serverside-applied\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "shared",
            "-o",
            "jsonpath={.data.owner}"
        ])
        .ok(),
        "bob"
    );
    let managers = k.run(&[
        "-n",
        n,
        "get",
        "cm",
        "shared",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(managers.ok().contains("bob"), "{}", managers.stdout);
}

#[test]
fn server_dry_run_changes_nothing() {
    let k = shared().kubectl();
    let ns = namespace(&k, "dry");
    let n = ns.as_str();
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "create",
            "configmap",
            "dry",
            "--from-literal=a=1",
            "--dry-run=server"
        ])
        .ok(),
        "configmap/dry created (server dry run)\n"
    );
    let miss = k.run(&["-n", n, "get", "cm", "dry"]);
    assert!(miss.fails().contains("configmaps \"dry\" not found"));
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: real\ndata:\n  a: \"1\"\n",
    );
    k.run(&["-n", n, "apply", "-f", f.to_str().unwrap()]).ok();
    let rv = k
        .run(&[
            "-n",
            n,
            "get",
            "cm",
            "real",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .ok()
        .to_string();
    write_file(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: real\ndata:\n  a: \"2\"\n",
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "apply",
            "-f",
            f.to_str().unwrap(),
            "--dry-run=server"
        ])
        .ok(),
        "configmap/real configured (server dry run)\n"
    );
    assert_eq!(
        k.run(&[
            "-n",
            n,
            "get",
            "cm",
            "real",
            "-o",
            "jsonpath={.data.a} {.metadata.resourceVersion}"
        ])
        .ok(),
        format!("1 {rv}")
    );
    // A node port that a dry run or a refused update would have taken stays free.
    k.run(&["-n", n, "create", "service", "clusterip", "a", "--tcp=80"])
        .ok();
    let to_node_port = |port: u16, protocol: &str| {
        format!(
            r#"{{"spec":{{"type":"NodePort","ports":[{{"port":80,"nodePort":{port},"protocol":"{protocol}"}}]}}}}"#
        )
    };
    let dry = k.run(&[
        "-n",
        n,
        "patch",
        "svc",
        "a",
        "--type=merge",
        "--dry-run=server",
        "-p",
        &to_node_port(31877, "TCP"),
    ]);
    // kubectl's patch does not mark a dry run in what it prints.
    assert_eq!(dry.ok(), "service/a patched\n");
    let kept = k.run(&["-n", n, "get", "svc", "a", "-o", "jsonpath={.spec.type}"]);
    assert_eq!(kept.ok(), "ClusterIP");
    let refused = k.run(&[
        "-n",
        n,
        "patch",
        "svc",
        "a",
        "--type=merge",
        "-p",
        &to_node_port(31878, "QUIC"),
    ]);
    assert!(
        refused.fails().contains("Unsupported value: \"QUIC\""),
        "{refused:?}"
    );
    for port in ["31877", "31878"] {
        k.run(&[
            "-n",
            n,
            "create",
            "service",
            "nodeport",
            &format!("np-{port}"),
            "--tcp=80",
            &format!("--node-port={port}"),
        ])
        .ok();
    }
}
