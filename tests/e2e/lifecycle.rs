//! The cluster lifecycle as users drive it: start, a second start, status, stop and start
//! with state kept, a killed node, delete leaving nothing behind, and refused flags.

use crate::cluster::{docker, exclusive, kubeconfig, rkube, shared, Cluster, BUSYBOX};
use crate::support::eventually;

fn labelled(kind: &[&str], profile: &str) -> String {
    let mut args = kind.to_vec();
    let filter = format!("label=io.rkube.profile={profile}");
    args.extend(["--filter", &filter, "-q"]);
    docker(&args)
}

#[test]
fn start_stop_start_kill_delete() {
    let _one = exclusive();
    let profile = format!("life-{}", std::process::id());
    let p = profile.as_str();
    let c = Cluster::start(p);
    let k = c.kubectl();

    let again = rkube(&["start", "-p", p]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("already running"), "{}", again.stdout);

    let status = rkube(&["status", "-p", p]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    for line in [
        "host: Running",
        "kubelet: Running",
        "apiserver: Running",
        "kubeconfig: Configured",
    ] {
        assert!(status.stdout.contains(line), "{}", status.stdout);
    }
    let json = rkube(&["status", "-p", p, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("status JSON");
    assert_eq!(v["Host"], "Running");
    let ip = rkube(&["ip", "-p", p]).ok().trim().to_string();
    assert!(ip.starts_with("192.168."), "{ip}");
    // Every supervised component of the node answers the health checks.
    let readyz = k.run(&["get", "--raw", "/readyz?verbose"]).ok().to_string();
    for check in [
        "[+]ping ok",
        "[+]kubelet ok",
        "[+]kubelet-server ok",
        "[+]proxy ok",
        "[+]dns ok",
        "[+]scheduler ok",
        "[+]controller/deployment ok",
        "readyz check passed",
    ] {
        assert!(readyz.contains(check), "{check}: {readyz}");
    }

    k.run(&[
        "create",
        "deployment",
        "keep",
        &format!("--image={BUSYBOX}"),
        "--replicas=2",
        "--",
        "sleep",
        "3600",
    ])
    .ok();
    k.run(&["create", "configmap", "kept", "--from-literal=a=1"])
        .ok();
    eventually("2/2 before stop", 90, || {
        k.run(&["get", "deploy", "keep", "--no-headers"])
            .stdout
            .contains("2/2")
            .then_some(())
    });
    // This profile's entries only: other tests' clusters share the kubeconfig.
    let entries = || {
        let kc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(kubeconfig()).expect("kubeconfig"))
                .expect("kubeconfig YAML");
        ["clusters", "users"].map(|list| {
            kc[list]
                .as_sequence()
                .and_then(|s| s.iter().find(|e| e["name"].as_str() == Some(p)))
                .cloned()
                .unwrap_or_else(|| panic!("no {list} entry for {p}"))
        })
    };
    let server = entries();

    let stop = rkube(&["stop", "-p", p]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert!(stop.stdout.contains("1 node stopped."), "{}", stop.stdout);
    let running = docker(&[
        "ps",
        "--filter",
        &format!("label=io.rkube.profile={p}"),
        "-q",
    ]);
    assert!(
        running.trim().is_empty(),
        "containers still running after stop: {running}"
    );
    let stopped = rkube(&["status", "-p", p]);
    assert_eq!(stopped.code, 7, "{}", stopped.stdout);
    assert!(
        stopped.stdout.contains("host: Stopped"),
        "{}",
        stopped.stdout
    );

    let resumed = rkube(&["start", "-p", p]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed
            .stdout
            .contains("Done! kubectl is now configured to use"),
        "{}",
        resumed.stdout
    );
    assert_eq!(entries(), server, "same server and credentials");
    k.run(&["get", "configmap", "kept"]).ok();
    eventually("2/2 after start", 90, || {
        let pods = k
            .run(&["get", "pods", "-l", "app=keep", "--no-headers"])
            .stdout;
        (pods
            .lines()
            .filter(|l| l.contains("Running") && l.contains("1/1"))
            .count()
            == 2)
            .then_some(())
    });

    // An acknowledged write survives the node being killed.
    k.run(&["create", "configmap", "acked", "--from-literal=b=2"])
        .ok();
    docker(&["kill", p]);
    let after_kill = rkube(&["start", "-p", p]);
    assert_eq!(
        after_kill.code, 0,
        "{}{}",
        after_kill.stdout, after_kill.stderr
    );
    k.run(&["get", "configmap", "acked", "kept"]).ok();

    let del = rkube(&["delete", "-p", p]);
    assert_eq!(del.code, 0, "{}", del.stderr);
    assert!(
        del.stdout
            .contains(&format!("Removed all traces of the \"{p}\" cluster")),
        "{}",
        del.stdout
    );
    for kind in [
        &["ps", "-a"][..],
        &["network", "ls"][..],
        &["volume", "ls"][..],
    ] {
        let left = labelled(kind, p);
        assert!(left.trim().is_empty(), "{kind:?} still lists {left}");
    }
    let kc = std::fs::read_to_string(kubeconfig()).unwrap_or_default();
    assert!(
        !kc.contains(&format!("name: {p}")),
        "kubeconfig still has {p}:\n{kc}"
    );
    let gone = rkube(&["status", "-p", p]);
    assert_eq!(gone.code, 85, "{}", gone.stderr);
    assert!(gone.stderr.contains("not found"), "{}", gone.stderr);
}

#[test]
fn bad_flags_fail_before_anything_is_created() {
    let p = format!("bad-{}", std::process::id());
    let cases: [(&[&str], &str); 7] = [
        (&["--wait=pods"], "unknown component"),
        (&["--memory=64m"], "less than the usable minimum"),
        (&["--kubernetes-version=v1.20.0"], "not supported"),
        (&["--ports=nonsense"], "invalid --ports value"),
        (&["--subnet=8.8.8.0/24"], "not a private range"),
        (
            &["--pod-security=strict"],
            "use privileged, baseline or restricted",
        ),
        (
            &["--extra-config=kubelet.max-pods=10"],
            "\"kubelet.max-pods\" is not supported",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["start", "-p", p.as_str()];
        args.extend_from_slice(flags);
        let r = rkube(&args);
        assert_eq!(r.code, 64, "{flags:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(message), "{flags:?}: {}", r.stderr);
    }
    for kind in [
        &["ps", "-a"][..],
        &["network", "ls"][..],
        &["volume", "ls"][..],
    ] {
        assert!(
            labelled(kind, &p).trim().is_empty(),
            "{kind:?} has leftovers of {p}"
        );
    }
    let bad_name = rkube(&["start", "-p", "Bad_Name"]);
    assert_eq!(bad_name.code, 64, "{}", bad_name.stderr);
}

#[test]
fn ssh_runs_commands_in_the_node() {
    let p = &shared().profile;
    let r = rkube(&["ssh", "-p", p, "--", "ls /usr/local/bin; echo hi; exit 3"]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("rkube") && r.stdout.contains("hi"),
        "{}",
        r.stdout
    );
    let ps = rkube(&["ssh", "-p", p, "--", "ps"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    assert!(ps.stdout.contains("rkube node"), "{}", ps.stdout);
    let missing = rkube(&["ssh", "-p", "no-such-profile", "--", "true"]);
    assert_eq!(missing.code, 85, "{}", missing.stderr);
}

#[test]
fn a_new_cluster_takes_pod_security_and_extra_config() {
    let p = "e2e-psa";
    rkube(&["delete", "-p", p]);
    let r = rkube(&[
        "start",
        "-p",
        p,
        "--pod-security=baseline",
        "--extra-config=apiserver.event-ttl=5m",
        "--extra-config=kube-proxy.mode=userspace",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let cmd = docker(&["inspect", "--format", "{{json .Config.Cmd}}", p]);
    assert!(
        cmd.contains("--pod-security=baseline")
            && cmd.contains("--extra-config=apiserver.event-ttl=5m"),
        "{cmd}"
    );
    let k = Cluster {
        profile: p.to_string(),
    }
    .kubectl();
    // The service proxy stays in user space, and serves there.
    let logs = rkube(&["logs", "-p", p]).stdout;
    assert!(
        logs.contains("service proxy: user space (--extra-config kube-proxy.mode=userspace)"),
        "{logs}"
    );
    let api_ip = k
        .run(&[
            "get",
            "service",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .ok()
        .to_string();
    let api: std::net::SocketAddr = format!("{api_ip}:443").parse().expect("ClusterIP");
    eventually("the kubernetes ClusterIP answers", 30, || {
        std::net::TcpStream::connect_timeout(&api, std::time::Duration::from_secs(2))
            .ok()
            .map(drop)
    });
    let out = k.run(&[
        "run",
        "priv",
        &format!("--image={BUSYBOX}"),
        "--overrides",
        r#"{"spec":{"containers":[{"name":"priv","image":"busybox","securityContext":{"privileged":true}}]}}"#,
    ]);
    assert!(
        out.fails()
            .contains(r#"violates PodSecurity "baseline:latest": privileged"#),
        "{}",
        out.stderr
    );
    // The cluster's own pods (kube-system) run as before.
    eventually("the storage provisioner runs", 90, || {
        k.run(&[
            "-n",
            "kube-system",
            "get",
            "deployment",
            "storage-provisioner",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .stdout
        .eq("1")
        .then_some(())
    });
    let again = rkube(&["start", "-p", p, "--pod-security=restricted"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("--pod-security applies when a cluster is created"),
        "{}",
        again.stdout
    );
    assert_eq!(rkube(&["delete", "-p", p]).code, 0);
}
