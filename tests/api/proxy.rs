//! The service proxy against a live API server: a NodePort service whose EndpointSlice
//! points at loopback backends is forwarded over TCP and UDP, balanced, follows
//! readiness, and refuses connections once no endpoint is ready.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::support::{eventually, namespace, shared, write_file};

/// A TCP backend on `ip` that answers every connection with its own name.
fn tcp_backend(rt: &tokio::runtime::Runtime, ip: &str, port: u16, name: &'static str) {
    let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    rt.spawn(async move {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind backend");
        loop {
            let (mut c, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 64];
                let n = c.read(&mut buf).await.unwrap_or(0);
                let _ = c
                    .write_all(format!("{name}:{}", String::from_utf8_lossy(&buf[..n])).as_bytes())
                    .await;
            });
        }
    });
}

fn udp_backend(rt: &tokio::runtime::Runtime, ip: &str, port: u16, name: &'static str) {
    let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    rt.spawn(async move {
        let s = tokio::net::UdpSocket::bind(addr)
            .await
            .expect("bind udp backend");
        let mut buf = [0u8; 64];
        loop {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            let reply = format!("{name}:{}", String::from_utf8_lossy(&buf[..n]));
            let _ = s.send_to(reply.as_bytes(), from).await;
        }
    });
}

fn ask_tcp(port: u16) -> std::io::Result<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    c.write_all(b"hi")?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(out)
}

fn ask_udp(port: u16) -> Option<String> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.send_to(b"ping", ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 64];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn slice_yaml(ns: &str, port: u16, ready: (bool, bool)) -> String {
    format!(
        r#"apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-manual
  namespace: {ns}
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: {port}
  protocol: TCP
- name: dns
  port: {port}
  protocol: UDP
endpoints:
- addresses: ["127.0.0.2"]
  conditions: {{ready: {}}}
- addresses: ["127.0.0.3"]
  conditions: {{ready: {}}}
"#,
        ready.0, ready.1
    )
}

#[test]
fn nodeport_forwarding_follows_endpoints() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "proxy");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let svc = write_file(
        dir.path(),
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  ports:\n  - {name: http, port: 80, protocol: TCP}\n  - {name: dns, port: 53, protocol: UDP}\n",
    );
    k.run(&["-n", n, "apply", "-f", svc.to_str().unwrap()]).ok();
    let ports = k
        .run(&[
            "-n",
            n,
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.ports[*].nodePort}",
        ])
        .ok()
        .to_string();
    let ports: Vec<u16> = ports
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let (tcp_port, udp_port) = (ports[0], ports[1]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let backend = free_port();
    tcp_backend(&rt, "127.0.0.2", backend, "a");
    tcp_backend(&rt, "127.0.0.3", backend, "b");
    udp_backend(&rt, "127.0.0.2", backend, "a");
    udp_backend(&rt, "127.0.0.3", backend, "b");
    let kubeconfig = s.kubeconfig.clone();
    rt.spawn(async move {
        let client = crate::support::kube_client(&kubeconfig).await;
        rkube::proxy::run(
            rkube::informer::SharedCaches::new(client),
            rkube::proxy::Config {
                node_ips: vec!["127.0.0.1".parse().unwrap()],
                cluster_ips: false,
                // In user space: this test runs on the host, whose firewall is not ours.
                kernel: false,
            },
        )
        .await;
    });

    // No endpoints yet: refused at once.
    std::thread::sleep(Duration::from_millis(300));
    let refused = ask_tcp(tcp_port).unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{refused}"
    );

    let slice = write_file(
        dir.path(),
        "slice.yaml",
        &slice_yaml(n, backend, (true, true)),
    );
    k.run(&["apply", "-f", slice.to_str().unwrap()]).ok();
    eventually("forwarding", 15, || ask_tcp(tcp_port).ok());
    let answers: Vec<String> = (0..6).map(|_| ask_tcp(tcp_port).unwrap()).collect();
    assert!(answers.contains(&"a:hi".to_string()), "{answers:?}");
    assert!(answers.contains(&"b:hi".to_string()), "{answers:?}");
    let udp = eventually("udp forwarding", 15, || ask_udp(udp_port));
    assert!(udp == "a:ping" || udp == "b:ping", "{udp}");

    // An endpoint that is not ready gets no traffic.
    let slice = write_file(
        dir.path(),
        "slice.yaml",
        &slice_yaml(n, backend, (false, true)),
    );
    k.run(&["apply", "-f", slice.to_str().unwrap()]).ok();
    eventually("readiness to be followed", 15, || {
        (0..4)
            .map(|_| ask_tcp(tcp_port).unwrap_or_default())
            .all(|a| a == "b:hi")
            .then_some(())
    });

    // No ready endpoint left: refused again.
    k.run(&["-n", n, "delete", "endpointslice", "web-manual"])
        .ok();
    eventually("refusal", 15, || {
        ask_tcp(tcp_port)
            .err()
            .filter(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    });
}

/// NodePorts and ClusterIPs: a requested one is honoured, a taken or out-of-range one is
/// refused with kube-apiserver's message, and both return to the pool on delete and when
/// an update drops them (NodePort turned ClusterIP).
#[test]
fn service_addresses_and_node_ports_are_allocated_and_released() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "alloc");
    let port = 30000 + (std::process::id() % 2700) as u16;
    let np = |name: &str| {
        k.run(&[
            "-n",
            &ns,
            "create",
            "service",
            "nodeport",
            name,
            "--tcp=80:8080",
            &format!("--node-port={port}"),
        ])
    };
    np("first").ok();
    let err = np("second").fails().to_string();
    assert!(
        err.contains(&format!(
            "spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated"
        )),
        "{err}"
    );
    let out_of_range = k
        .run(&[
            "-n",
            &ns,
            "create",
            "service",
            "nodeport",
            "low",
            "--tcp=80:8080",
            "--node-port=80",
        ])
        .fails()
        .to_string();
    assert!(
        out_of_range.contains(
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        ),
        "{out_of_range}"
    );
    // Turned ClusterIP, it gives the port back.
    k.run(&[
        "-n",
        &ns,
        "patch",
        "service",
        "first",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"remove","path":"/spec/ports/0/nodePort"}]"#,
    ])
    .ok();
    np("second").ok();
    k.run(&["-n", &ns, "delete", "service", "second"]).ok();
    np("third").ok();

    // A requested ClusterIP: honoured, then refused while taken, free again after delete.
    let ip = k
        .run(&[
            "-n",
            &ns,
            "get",
            "service",
            "first",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .ok()
        .trim()
        .to_string();
    let taken = k
        .run(&[
            "-n",
            &ns,
            "create",
            "service",
            "clusterip",
            "copy",
            "--tcp=80",
            &format!("--clusterip={ip}"),
        ])
        .fails()
        .to_string();
    assert!(
        taken.contains("provided IP is already allocated"),
        "{taken}"
    );
    k.run(&["-n", &ns, "delete", "service", "first"]).ok();
    k.run(&[
        "-n",
        &ns,
        "create",
        "service",
        "clusterip",
        "copy",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ])
    .ok();
}
