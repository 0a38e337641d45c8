//! Cluster DNS against a live API server: services, headless services with hostnames,
//! SRV, ExternalName chased upstream, PTR, NXDOMAIN inside the zone, and forwarding of
//! everything else — over UDP and TCP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::support::{namespace, shared, write_file};

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = s.local_addr().unwrap().port();
    // The TCP side must be free too.
    std::net::TcpListener::bind(("127.0.0.1", p))
        .map(|_| p)
        .unwrap_or_else(|_| free_udp_port())
}

fn ask(server: SocketAddr, name: &str, t: RecordType, tcp: bool) -> Message {
    try_ask(server, name, t, tcp).expect("no DNS answer")
}

fn try_ask(server: SocketAddr, name: &str, t: RecordType, tcp: bool) -> Option<Message> {
    let mut q = Message::query();
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    let bytes = q.to_vec().unwrap();
    let answer = if tcp {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(server).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(&(bytes.len() as u16).to_be_bytes()).ok()?;
        s.write_all(&bytes).ok()?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).ok()?;
        buf
    } else {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        s.send_to(&bytes, server).ok()?;
        let mut buf = vec![0u8; 4096];
        let (n, _) = s.recv_from(&mut buf).ok()?;
        buf.truncate(n);
        buf
    };
    Message::from_vec(&answer).ok()
}

fn addresses(m: &Message) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// An upstream resolver for the test: every A question gets 192.0.2.1.
fn fake_upstream(rt: &tokio::runtime::Runtime) -> SocketAddr {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    sock.set_nonblocking(true).unwrap();
    rt.spawn(async move {
        let sock = tokio::net::UdpSocket::from_std(sock).unwrap();
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.unwrap();
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            r.metadata.recursion_available = true;
            let query = q.queries[0].clone();
            r.add_query(query.clone());
            if query.query_type() == RecordType::A {
                r.add_answer(hickory_proto::rr::Record::from_rdata(
                    query.name().clone(),
                    60,
                    RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::new(192, 0, 2, 1))),
                ));
            }
            let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
        }
    });
    addr
}

#[test]
fn cluster_names_and_forwarding() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "dns");
    let n = ns.as_str();
    let dir = tempfile::tempdir().unwrap();
    let objects = write_file(
        dir.path(),
        "objects.yaml",
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: webserver, namespace: {n}}}
spec:
  ports: [{{name: http, port: 8080, protocol: TCP}}]
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: {n}}}
spec:
  clusterIP: None
  ports: [{{name: pg, port: 5432}}]
---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: {n}}}
spec:
  type: ExternalName
  externalName: example.test
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-manual
  namespace: {n}
  labels: {{kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{{name: pg, port: 5432, protocol: TCP}}]
endpoints:
- addresses: ["10.244.0.7"]
  hostname: db-0
  conditions: {{ready: true}}
- addresses: ["10.244.0.8"]
  hostname: db-1
  conditions: {{ready: true}}
"#
        ),
    );
    k.run(&["apply", "-f", objects.to_str().unwrap()]).ok();
    let cluster_ip: Ipv4Addr = k
        .run(&[
            "-n",
            n,
            "get",
            "svc",
            "webserver",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .ok()
        .parse()
        .unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let upstream = fake_upstream(&rt);
    let listen: SocketAddr = ([127, 0, 0, 1], free_udp_port()).into();
    let kubeconfig = s.kubeconfig.clone();
    rt.spawn(async move {
        let client = crate::support::kube_client(&kubeconfig).await;
        let cfg = rkube::dns::Config {
            listen,
            domain: "cluster.local".into(),
            upstreams: vec![upstream],
        };
        let caches = rkube::informer::SharedCaches::new(client);
        if let Err(e) = rkube::dns::run(caches, cfg).await {
            panic!("dns: {e}");
        }
    });

    let web = format!("webserver.{n}.svc.cluster.local.");
    let start = Instant::now();
    while try_ask(listen, &web, RecordType::A, false).map(|m| addresses(&m))
        != Some(vec![cluster_ip])
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "webserver never resolved"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let over_tcp = ask(listen, &web, RecordType::A, true);
    assert_eq!(addresses(&over_tcp), vec![cluster_ip]);
    assert!(over_tcp.metadata.authoritative);

    let db = ask(
        listen,
        &format!("db.{n}.svc.cluster.local."),
        RecordType::A,
        false,
    );
    assert_eq!(
        addresses(&db),
        vec![Ipv4Addr::new(10, 244, 0, 7), Ipv4Addr::new(10, 244, 0, 8)]
    );
    let db0 = ask(
        listen,
        &format!("db-0.db.{n}.svc.cluster.local."),
        RecordType::A,
        false,
    );
    assert_eq!(addresses(&db0), vec![Ipv4Addr::new(10, 244, 0, 7)]);

    let srv = ask(
        listen,
        &format!("_pg._tcp.db.{n}.svc.cluster.local."),
        RecordType::SRV,
        false,
    );
    let mut targets: Vec<String> = srv
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(format!("{}:{}", s.target, s.port)),
            _ => None,
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            format!("db-0.db.{n}.svc.cluster.local.:5432"),
            format!("db-1.db.{n}.svc.cluster.local.:5432")
        ]
    );

    let ext = ask(
        listen,
        &format!("ext.{n}.svc.cluster.local."),
        RecordType::A,
        false,
    );
    assert!(
        ext.answers
            .iter()
            .any(|r| matches!(&r.data, RData::CNAME(c) if c.0.to_ascii() == "example.test.")),
        "{ext:?}"
    );
    assert_eq!(addresses(&ext), vec![Ipv4Addr::new(192, 0, 2, 1)]);

    let o = cluster_ip.octets();
    let ptr = ask(
        listen,
        &format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]),
        RecordType::PTR,
        false,
    );
    assert!(
        ptr.answers
            .iter()
            .any(|r| matches!(&r.data, RData::PTR(p) if p.0.to_ascii() == web)),
        "{ptr:?}"
    );

    let missing = ask(
        listen,
        &format!("nope.{n}.svc.cluster.local."),
        RecordType::A,
        false,
    );
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(!missing.authorities.is_empty(), "SOA for negative caching");

    let outside = ask(listen, "kubernetes.io.", RecordType::A, false);
    assert_eq!(addresses(&outside), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    let outside_tcp = ask(listen, "kubernetes.io.", RecordType::A, true);
    assert_eq!(addresses(&outside_tcp), vec![Ipv4Addr::new(192, 0, 2, 1)]);
}
