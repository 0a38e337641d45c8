//! The metrics-server addon on Docker: `kubectl top` with real figures, and the HPA
//! walkthrough of kubernetes.io (a CPU-hungry server scaled out under load and back in).

use crate::cluster::{exclusive, rkube, Cluster, BUSYBOX};
use crate::support::{eventually, Kubectl};

/// Every figure in a `kubectl top` table's CPU and MEMORY columns, for rows matching `row`.
fn figures(table: &str, row: &str) -> Vec<(u64, u64)> {
    table
        .lines()
        .skip(1)
        .filter(|l| l.contains(row))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // The CPU column is the first ending in `m`, memory the first ending in `Mi`.
            let cpu = cols
                .iter()
                .find_map(|c| c.strip_suffix('m')?.parse().ok())?;
            let mem = cols
                .iter()
                .find_map(|c| c.strip_suffix("Mi")?.parse().ok())?;
            Some((cpu, mem))
        })
        .collect()
}

/// The burner: busybox httpd whose CGI script spins the CPU for each request, standing in
/// for the walkthrough's php-apache image.
fn server(k: &Kubectl, ns: &str) {
    let manifest = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: burn
data:
  burn: |
    #!/bin/sh
    echo Content-Type: text/plain
    echo
    i=0
    while [ $i -lt 20000 ]; do i=$((i+1)); done
    echo OK!
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: php-apache
spec:
  selector:
    matchLabels: {{run: php-apache}}
  template:
    metadata:
      labels: {{run: php-apache}}
    spec:
      containers:
      - name: php-apache
        image: {BUSYBOX}
        command: [httpd, -f, -p, "80", -h, /www]
        ports: [{{containerPort: 80}}]
        resources:
          limits: {{cpu: 500m}}
          requests: {{cpu: 100m}}
        volumeMounts: [{{name: cgi, mountPath: /www/cgi-bin}}]
      volumes:
      - name: cgi
        configMap: {{name: burn, defaultMode: 0755}}
---
apiVersion: v1
kind: Service
metadata:
  name: php-apache
spec:
  ports: [{{port: 80}}]
  selector: {{run: php-apache}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: php-apache
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: php-apache}}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {{type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 0
"#
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", ns, "apply", "-f", "-"])
        .ok();
}

fn replicas(k: &Kubectl, ns: &str) -> u32 {
    k.run(&[
        "-n",
        ns,
        "get",
        "deploy",
        "php-apache",
        "-o",
        "jsonpath={.status.readyReplicas}",
    ])
    .stdout
    .trim()
    .parse()
    .unwrap_or(0)
}

#[test]
fn top_answers_and_the_hpa_walkthrough_scales_out_and_in() {
    let _one = exclusive();
    let profile = "e2e-metrics";
    rkube(&["delete", "-p", profile]);
    crate::cluster::images();
    let r = rkube(&["start", "-p", profile, "--addons=metrics-server"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("metrics-server"), "{}", r.stdout);
    let c = Cluster {
        profile: profile.into(),
    };
    let k = c.kubectl();
    let list = rkube(&["addons", "list", "-p", profile]).stdout;
    let row = list
        .lines()
        .find(|l| l.contains("metrics-server"))
        .unwrap_or_default();
    assert!(row.contains("enabled"), "{list}");

    // Figures within a minute of enabling, as the issue and the tutorials expect.
    let nodes = eventually("kubectl top nodes", 60, || {
        let r = k.run(&["top", "nodes"]);
        (r.code == 0).then_some(r.stdout)
    });
    let node = figures(&nodes, profile);
    assert!(node.len() == 1 && node[0].0 > 0 && node[0].1 > 0, "{nodes}");
    let pods = eventually("kubectl top pods -A", 60, || {
        let r = k.run(&["top", "pods", "-A"]);
        (r.code == 0 && r.stdout.contains("metrics-server")).then_some(r.stdout)
    });
    assert!(
        figures(&pods, "metrics-server")
            .iter()
            .all(|(_, mem)| *mem > 0),
        "{pods}"
    );
    let containers = k
        .run(&["top", "pod", "--containers", "-n", "kube-system"])
        .ok()
        .to_string();
    assert!(
        containers.contains("storage-provisioner") && containers.starts_with("POD"),
        "{containers}"
    );

    // The walkthrough: load makes the autoscaler add replicas; no load takes them away.
    let ns = crate::support::namespace(&k, "hpa");
    let n = ns.as_str();
    server(&k, n);
    eventually("php-apache ready", 120, || {
        (replicas(&k, n) == 1).then_some(())
    });
    k.run(&[
        "-n",
        n,
        "run",
        "load-generator",
        &format!("--image={BUSYBOX}"),
        "--restart=Never",
        "--",
        "/bin/sh",
        "-c",
        "while sleep 0.01; do wget -q -O- http://php-apache/cgi-bin/burn; done",
    ])
    .ok();
    // CPU shows under load (`kubectl top pod` on the workload).
    eventually("php-apache busy in kubectl top", 120, || {
        let t = k
            .run(&["-n", n, "top", "pod", "-l", "run=php-apache"])
            .stdout;
        figures(&t, "php-apache")
            .iter()
            .any(|(cpu, _)| *cpu >= 50)
            .then_some(())
    });
    eventually("scaled out under load", 240, || {
        (replicas(&k, n) > 1).then_some(())
    });
    let hpa = k
        .run(&["-n", n, "get", "hpa", "php-apache"])
        .ok()
        .to_string();
    assert!(hpa.contains("cpu:"), "{hpa}");
    let events = k
        .run(&[
            "-n",
            n,
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=HorizontalPodAutoscaler",
        ])
        .ok()
        .to_string();
    assert!(events.contains("New size:"), "{events}");

    k.run(&[
        "-n",
        n,
        "delete",
        "pod",
        "load-generator",
        "--grace-period=0",
    ])
    .ok();
    eventually("scaled back in without load", 300, || {
        let spec = k
            .run(&[
                "-n",
                n,
                "get",
                "deploy",
                "php-apache",
                "-o",
                "jsonpath={.spec.replicas}",
            ])
            .stdout;
        (spec.trim() == "1").then_some(())
    });

    // Disabling removes the API: kubectl top says so, as on a cluster without it.
    let off = rkube(&["addons", "disable", "metrics-server", "-p", profile]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    eventually("metrics API gone", 60, || {
        let r = k.run(&["top", "nodes"]);
        (r.code != 0 && r.stderr.contains("Metrics API not available")).then_some(())
    });
    assert_eq!(rkube(&["delete", "-p", profile]).code, 0);
}
