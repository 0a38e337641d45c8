//! Services as the minikube tutorials use them: hello-minikube with `rkube service` and
//! `rkube tunnel`, NodePorts from the host, load spread over replicas, pods deleted under
//! traffic, and cluster DNS from inside a pod (busybox's wget and nslookup).

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::{home, kubeconfig, rkube, shared, BUSYBOX};
use crate::support::{eventually, namespace, Kubectl};

/// `curl -s URL`: the body, or None when the request failed.
fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "-f", "-m", "10", url])
        .output()
        .expect("run curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pod named in an echo-server answer.
fn served_by(body: &str) -> Option<String> {
    body.lines()
        .next()?
        .strip_prefix("Request served by ")
        .map(str::to_string)
}

fn jsonpath(k: &Kubectl, ns: &str, what: &str, path: &str) -> String {
    k.run(&["-n", ns, "get", what, "-o", &format!("jsonpath={path}")])
        .stdout
        .trim()
        .to_string()
}

/// Wait until `svc` has `n` ready endpoints.
fn wait_ready_endpoints(k: &Kubectl, ns: &str, svc: &str, n: usize) {
    eventually(&format!("{n} ready endpoints of {ns}/{svc}"), 90, || {
        let ips = jsonpath(
            k,
            ns,
            &format!("endpoints/{svc}"),
            "{.subsets[*].addresses[*].ip}",
        );
        (ips.split_whitespace().count() == n).then_some(())
    });
}

fn external_ip_column(k: &Kubectl, ns: &str, svc: &str) -> String {
    let out = k
        .run(&["-n", ns, "get", "services", svc, "--no-headers"])
        .stdout;
    out.split_whitespace()
        .nth(3)
        .unwrap_or_default()
        .to_string()
}

/// Serializes the tests that run a tunnel: one tunnel per profile.
fn one_tunnel() -> std::sync::MutexGuard<'static, ()> {
    static TUNNEL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TUNNEL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `rkube tunnel -p PROFILE` in the background, as a user leaves it in a terminal.
fn spawn_tunnel(profile: &str) -> Child {
    spawn_tunnel_with(profile, &[])
}

fn spawn_tunnel_with(profile: &str, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["tunnel", "-p", profile])
        .envs(env.iter().copied())
        .env("RKUBE_HOME", home())
        .env("KUBECONFIG", kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rkube tunnel")
}

/// The services a tunnel's last status block lists (other tests' LoadBalancer services on
/// the shared cluster may be among them).
fn tunnelled(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("services: ["))
        .next_back()
        .and_then(|l| l.strip_suffix(']'))
        .map(|l| l.split(", ").map(str::to_string).collect())
        .unwrap_or_default()
}

/// Ctrl+C, then what the tunnel printed.
fn interrupt(mut child: Child) -> (i32, String) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait tunnel") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("rkube tunnel did not stop on Ctrl+C");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    (status.code().unwrap_or(-1), out)
}

/// hello-minikube word for word, then `rkube service` and `rkube tunnel` (with the welcome
/// app on port 80, which needs root as the tests run here).
#[test]
fn hello_minikube_service_and_tunnel() {
    let c = shared();
    let k = c.kubectl();
    k.run(&[
        "create",
        "deployment",
        "hello-node",
        "--image=kicbase/echo-server:1.0",
    ])
    .ok();
    let exposed = k
        .run(&[
            "expose",
            "deployment",
            "hello-node",
            "--type=LoadBalancer",
            "--port=8080",
        ])
        .ok()
        .to_string();
    assert_eq!(exposed.trim(), "service/hello-node exposed");
    let line = k.run(&["get", "services"]).ok().to_string();
    let row: Vec<&str> = line
        .lines()
        .find(|l| l.starts_with("hello-node "))
        .expect("hello-node listed")
        .split_whitespace()
        .collect();
    assert_eq!(row[1], "LoadBalancer", "{line}");
    assert_eq!(row[3], "<pending>", "{line}");
    assert!(
        row[4].starts_with("8080:3") && row[4].ends_with("/TCP"),
        "{line}"
    );
    wait_ready_endpoints(&k, "default", "hello-node", 1);

    // rkube service --url: http://<node-ip>:<nodePort>, answering over HTTP.
    let r = rkube(&["service", "hello-node", "--url", "-p", &c.profile]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let url = r.stdout.trim().to_string();
    let ip = rkube(&["ip", "-p", &c.profile]).stdout.trim().to_string();
    let node_port = jsonpath(
        &k,
        "default",
        "service/hello-node",
        "{.spec.ports[0].nodePort}",
    );
    assert_eq!(url, format!("http://{ip}:{node_port}"));
    let body = eventually("hello-node answers at its URL", 30, || curl(&url));
    assert!(
        served_by(&body).is_some_and(|p| p.starts_with("hello-node-")),
        "{body}"
    );
    assert!(body.contains("\nGET / HTTP/1.1\n"), "{body}");

    // The table, and minikube's messages for a missing service and one without node port.
    let table = rkube(&["service", "hello-node", "-p", &c.profile]);
    assert_eq!(table.code, 0, "{}{}", table.stdout, table.stderr);
    assert!(table.stdout.contains("| NAMESPACE |"), "{}", table.stdout);
    assert!(
        table.stdout.contains(&format!("| {url} |")),
        "{}",
        table.stdout
    );
    let missing = rkube(&["service", "nope", "-p", &c.profile]);
    assert_ne!(missing.code, 0);
    assert!(
        missing
            .stderr
            .contains("Service 'nope' was not found in 'default' namespace."),
        "{}",
        missing.stderr
    );
    let internal = rkube(&["service", "kubernetes", "--url", "-p", &c.profile]);
    assert_ne!(internal.code, 0);
    assert!(
        internal
            .stderr
            .contains("service default/kubernetes has no node port"),
        "{}",
        internal.stderr
    );
    let list = rkube(&["service", "list", "-p", &c.profile]);
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("| kube-system ") && l.contains(" kube-dns ")),
        "{}",
        list.stdout
    );

    // The welcome app on port 80.
    k.run(&[
        "run",
        "welcome-pod",
        "--image=kicbase/echo-server:1.0",
        "--env=PORT=80",
        "--port=80",
    ])
    .ok();
    k.run(&[
        "expose",
        "pod",
        "welcome-pod",
        "--type=LoadBalancer",
        "--port=80",
    ])
    .ok();
    wait_ready_endpoints(&k, "default", "welcome-pod", 1);

    // With the tunnel: EXTERNAL-IP 127.0.0.1 and localhost answers.
    let _one = one_tunnel();
    let tunnel = spawn_tunnel(&c.profile);
    eventually("EXTERNAL-IP 127.0.0.1 for both services", 30, || {
        (external_ip_column(&k, "default", "hello-node") == "127.0.0.1"
            && external_ip_column(&k, "default", "welcome-pod") == "127.0.0.1")
            .then_some(())
    });
    let body = eventually("curl http://127.0.0.1:8080/", 20, || {
        curl("http://127.0.0.1:8080/")
    });
    assert!(
        served_by(&body).is_some_and(|p| p.starts_with("hello-node-")),
        "{body}"
    );
    let body = eventually("curl http://localhost/", 20, || curl("http://localhost/"));
    assert_eq!(served_by(&body).as_deref(), Some("welcome-pod"), "{body}");
    // One tunnel per profile.
    let second = rkube(&["tunnel", "-p", &c.profile]);
    assert_ne!(second.code, 0);
    assert!(
        second.stderr.contains(&format!("(pid {})", tunnel.id())),
        "{}",
        second.stderr
    );
    let (code, out) = interrupt(tunnel);
    assert_eq!(code, 0, "{out}");
    let listed = tunnelled(&out);
    assert!(
        ["hello-node", "welcome-pod"]
            .iter()
            .all(|s| listed.iter().any(|l| l == s)),
        "{out}"
    );
    assert_eq!(external_ip_column(&k, "default", "hello-node"), "<pending>");
    assert_eq!(
        external_ip_column(&k, "default", "welcome-pod"),
        "<pending>"
    );
    assert!(
        curl("http://127.0.0.1:8080/").is_none(),
        "port closed after Ctrl+C"
    );

    k.run(&["delete", "service", "hello-node", "welcome-pod"])
        .ok();
    k.run(&["delete", "deployment", "hello-node"]).ok();
    k.run(&["delete", "pod", "welcome-pod", "--wait=false"])
        .ok();
}

/// A deployment `echo` of the echo server exposed as NodePort service `echo` on 8080.
fn echo_node_port_service(k: &Kubectl, ns: &str) {
    echo_service(k, ns, "echo", &["--type=NodePort", "--port=8080"]);
}

/// A deployment `name` of the echo server, exposed as service `name` with `expose_flags`.
fn echo_service(k: &Kubectl, ns: &str, name: &str, expose_flags: &[&str]) {
    k.run(&[
        "-n",
        ns,
        "create",
        "deployment",
        name,
        "--image=kicbase/echo-server:1.0",
    ])
    .ok();
    let mut expose = vec!["-n", ns, "expose", "deployment", name];
    expose.extend_from_slice(expose_flags);
    k.run(&expose).ok();
}

/// Three replicas share the requests; deleting one under traffic fails no request. TCP
/// takes the kernel path (nftables DNAT), as the node's log says; ClientIP affinity and an
/// empty service's refusal are checked on it too.
#[test]
fn replicas_share_requests_and_deletion_fails_none() {
    let c = shared();
    let k = c.kubectl();
    let logs = rkube(&["logs", "-p", &c.profile]).stdout;
    assert!(
        logs.contains("service proxy: kernel (nftables DNAT)"),
        "the node chose the kernel service path:\n{logs}"
    );
    let ns = namespace(&k, "spread");
    echo_node_port_service(&k, &ns);
    k.run(&["-n", &ns, "scale", "deployment", "echo", "--replicas=3"])
        .ok();
    wait_ready_endpoints(&k, &ns, "echo", 3);
    let ip = rkube(&["ip", "-p", &c.profile]).stdout.trim().to_string();
    let node_port = jsonpath(&k, &ns, "service/echo", "{.spec.ports[0].nodePort}");
    let url = format!("http://{ip}:{node_port}/");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..30 {
        let body = curl(&url).expect("NodePort answers");
        *seen
            .entry(served_by(&body).expect("echo body"))
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 3, "requests spread over the 3 pods: {seen:?}");

    // Traffic while a pod is deleted: every request is answered.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, url) = (stop.clone(), ok.clone(), failed.clone(), url.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match curl(&url) {
                    Some(_) => ok.fetch_add(1, Ordering::Relaxed),
                    None => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let victim = seen.keys().next().expect("a pod").clone();
    k.run(&["-n", &ns, "delete", "pod", &victim]).ok();
    wait_ready_endpoints(&k, &ns, "echo", 3);
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load thread");
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 10, "{ok} requests answered");
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);

    // sessionAffinity: ClientIP keeps this host on one pod.
    k.run(&[
        "-n",
        &ns,
        "patch",
        "service",
        "echo",
        "-p",
        r#"{"spec":{"sessionAffinity":"ClientIP"}}"#,
    ])
    .ok();
    eventually("one pod answers every request", 30, || {
        let pods: std::collections::BTreeSet<String> = (0..10)
            .filter_map(|_| curl(&url).and_then(|b| served_by(&b)))
            .collect();
        (pods.len() == 1).then_some(())
    });

    // A service without ready endpoints refuses at once, on its ClusterIP and NodePort.
    k.run(&[
        "-n",
        &ns,
        "create",
        "service",
        "nodeport",
        "empty",
        "--tcp=80:8080",
    ])
    .ok();
    let empty_ip = jsonpath(&k, &ns, "service/empty", "{.spec.clusterIP}");
    let empty_np = jsonpath(&k, &ns, "service/empty", "{.spec.ports[0].nodePort}");
    for addr in [format!("{empty_ip}:80"), format!("{ip}:{empty_np}")] {
        let addr: std::net::SocketAddr = addr.parse().expect("address");
        let start = Instant::now();
        let refused =
            eventually(
                &format!("{addr} refuses"),
                20,
                || match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        Some(start.elapsed())
                    }
                    _ => None,
                },
            );
        assert!(refused < Duration::from_secs(5), "{addr}: {refused:?}");
    }
    k.run(&["delete", "namespace", &ns, "--wait=false"]).ok();
}

/// From inside a pod: services by short, namespaced and full names, their ClusterIP, a
/// headless service and a StatefulSet pod's name, SRV, an ExternalName alias, reverse
/// lookups, a name only Docker's resolver knows, and the API server through `kubernetes`.
#[test]
fn pods_reach_services_through_cluster_dns() {
    let c = shared();
    let k = c.kubectl();
    let ns = namespace(&k, "dns");
    let manifest = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: webserver}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: webserver}}}}
  template:
    metadata: {{labels: {{app: webserver}}}}
    spec:
      containers: [{{name: echo, image: "kicbase/echo-server:1.0", ports: [{{name: http, containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: webserver}}
spec:
  selector: {{app: webserver}}
  ports: [{{name: http, port: 8080, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-headless}}
spec:
  clusterIP: None
  selector: {{app: db}}
  ports: [{{name: http, port: 8080}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  serviceName: web-headless
  replicas: 1
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers: [{{name: echo, image: "kicbase/echo-server:1.0"}}]
---
apiVersion: v1
kind: Service
metadata: {{name: alias}}
spec:
  type: ExternalName
  externalName: webserver.{ns}.svc.cluster.local
"#
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    wait_ready_endpoints(&k, &ns, "webserver", 2);
    wait_ready_endpoints(&k, &ns, "web-headless", 1);
    let cluster_ip = jsonpath(&k, &ns, "service/webserver", "{.spec.clusterIP}");
    let db_ip = jsonpath(&k, &ns, "pod/db-0", "{.status.podIP}");
    let dns_ip = jsonpath(&k, "kube-system", "service/kube-dns", "{.spec.clusterIP}");
    let script = format!(
        r#"cat /etc/resolv.conf
echo "== short"; wget -qO- webserver:8080 | head -1
echo "== namespaced"; wget -qO- webserver.{ns}:8080 | head -1
echo "== full"; wget -qO- webserver.{ns}.svc.cluster.local:8080 | head -1
echo "== clusterip"; wget -qO- {cluster_ip}:8080 | head -1
echo "== alias"; wget -qO- alias:8080 | head -1
echo "== headless"; nslookup web-headless.{ns}.svc.cluster.local.
echo "== statefulset"; nslookup db-0.web-headless.{ns}.svc.cluster.local.
echo "== srv"; nslookup -type=SRV _http._tcp.webserver.{ns}.svc.cluster.local.
echo "== ptr"; nslookup {cluster_ip}
echo "== upstream"; nslookup {profile}.
echo "== done"
"#,
        profile = c.profile
    );
    k.run(&[
        "-n",
        &ns,
        "run",
        "checker",
        &format!("--image={BUSYBOX}"),
        "--restart=Never",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .ok();
    let logs = eventually("checker finished", 90, || {
        let phase = jsonpath(&k, &ns, "pod/checker", "{.status.phase}");
        (phase == "Succeeded" || phase == "Failed")
            .then(|| k.run(&["-n", &ns, "logs", "checker"]).stdout)
    });
    let section = |name: &str| -> String {
        logs.split(&format!("== {name}\n"))
            .nth(1)
            .and_then(|s| s.split("\n== ").next())
            .unwrap_or_default()
            .to_string()
    };
    assert!(logs.contains(&format!("nameserver {dns_ip}\n")), "{logs}");
    assert!(
        logs.contains(&format!(
            "search {ns}.svc.cluster.local svc.cluster.local cluster.local\n"
        )),
        "{logs}"
    );
    for s in ["short", "namespaced", "full", "clusterip", "alias"] {
        assert!(
            section(s).starts_with("Request served by webserver-"),
            "{s}: {logs}"
        );
    }
    assert!(
        section("headless").contains(&format!("Address: {db_ip}")),
        "{logs}"
    );
    assert!(
        section("statefulset").contains(&format!("Address: {db_ip}")),
        "{logs}"
    );
    assert!(
        section("srv").contains(&format!("8080 webserver.{ns}.svc.cluster.local")),
        "{logs}"
    );
    assert!(
        section("ptr").contains(&format!("name = webserver.{ns}.svc.cluster.local")),
        "{logs}"
    );
    let node_ip = rkube(&["ip", "-p", &c.profile]).stdout.trim().to_string();
    assert!(
        section("upstream").contains(&format!("Address: {node_ip}")),
        "{logs}"
    );
    // The `kubernetes` Service is the API server: real kubectl through its ClusterIP (the
    // host reaches the service range too), with the serving certificate verified.
    let api_ip = jsonpath(&k, "default", "service/kubernetes", "{.spec.clusterIP}");
    let version = k
        .run(&[
            &format!("--server=https://{api_ip}:443"),
            "get",
            "--raw",
            "/version",
        ])
        .ok()
        .to_string();
    assert!(version.contains("\"gitVersion\""), "{version}");
    k.run(&["delete", "namespace", &ns, "--wait=false"]).ok();
}

/// Where the host cannot reach the node (Docker Desktop), `rkube service --url` forwards
/// a localhost port through the API server and stays in the foreground; forced here.
#[test]
fn service_url_through_the_api_server() {
    let c = shared();
    let k = c.kubectl();
    let ns = namespace(&k, "viaapi");
    echo_node_port_service(&k, &ns);
    wait_ready_endpoints(&k, &ns, "echo", 1);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["service", "echo", "--url", "-n", &ns, "-p", &c.profile])
        .env("RKUBE_HOME", home())
        .env("KUBECONFIG", kubeconfig())
        .env("RKUBE_FORWARD_VIA_API", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rkube service");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read URL");
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    for _ in 0..5 {
        let body = eventually("echo answers through the API server", 30, || curl(&url));
        assert!(
            served_by(&body).is_some_and(|p| p.starts_with("echo-")),
            "{body}"
        );
    }
    let (code, out) = interrupt(child);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Forwarding through the API server"), "{out}");
    assert!(curl(&url).is_none(), "the port closes with the command");
}

/// The tunnel through the API server's port-forward (Docker Desktop's path), forced.
#[test]
fn tunnel_through_the_api_server() {
    let c = shared();
    let k = c.kubectl();
    let ns = namespace(&k, "tunnelapi");
    echo_service(
        &k,
        &ns,
        "lb",
        &["--type=LoadBalancer", "--port=18090", "--target-port=8080"],
    );
    // A UDP port too, which the API server's port-forward cannot carry.
    k.run(&[
        "-n",
        &ns,
        "patch",
        "service",
        "lb",
        "--type=merge",
        "-p",
        r#"{"spec":{"ports":[{"name":"http","port":18090,"targetPort":8080,"protocol":"TCP"},{"name":"dgram","port":18091,"targetPort":8080,"protocol":"UDP"}]}}"#,
    ])
    .ok();
    wait_ready_endpoints(&k, &ns, "lb", 1);
    let _one = one_tunnel();
    let tunnel = spawn_tunnel_with(&c.profile, &[("RKUBE_FORWARD_VIA_API", "1")]);
    eventually("EXTERNAL-IP 127.0.0.1", 30, || {
        (external_ip_column(&k, &ns, "lb") == "127.0.0.1").then_some(())
    });
    let body = eventually("curl http://127.0.0.1:18090/", 30, || {
        curl("http://127.0.0.1:18090/")
    });
    assert!(
        served_by(&body).is_some_and(|p| p.starts_with("lb-")),
        "{body}"
    );
    let (code, out) = interrupt(tunnel);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Forwarding through the API server"), "{out}");
    assert!(
        out.contains(&format!(
            "UDP port 18091 of service {ns}/lb cannot be forwarded"
        )),
        "{out}"
    );
    eventually("<pending> again", 20, || {
        (external_ip_column(&k, &ns, "lb") == "<pending>").then_some(())
    });
    k.run(&["delete", "namespace", &ns, "--wait=false"]).ok();
}

/// A LoadBalancer service's UDP port through the tunnel: each datagram sent to 127.0.0.1
/// comes back from the echo server's pod.
#[test]
fn tunnel_forwards_udp_datagrams() {
    let c = shared();
    let k = c.kubectl();
    let ns = namespace(&k, "tunneludp");
    echo_service(
        &k,
        &ns,
        "dgram",
        &[
            "--type=LoadBalancer",
            "--protocol=UDP",
            "--port=18095",
            "--target-port=8080",
        ],
    );
    wait_ready_endpoints(&k, &ns, "dgram", 1);
    let _one = one_tunnel();
    let tunnel = spawn_tunnel(&c.profile);
    eventually("EXTERNAL-IP 127.0.0.1", 30, || {
        (external_ip_column(&k, &ns, "dgram") == "127.0.0.1").then_some(())
    });
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let reply = eventually("a datagram back from 127.0.0.1:18095", 30, || {
        socket.send_to(b"ping", "127.0.0.1:18095").ok()?;
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    });
    assert!(
        reply.starts_with("Datagram served by dgram-") && reply.ends_with("\n\nping"),
        "{reply}"
    );
    let (code, out) = interrupt(tunnel);
    assert_eq!(code, 0, "{out}");
    assert!(tunnelled(&out).iter().any(|s| s == "dgram"), "{out}");
    k.run(&["delete", "namespace", &ns, "--wait=false"]).ok();
}
