//! The ingress addon on Docker: the kubernetes.io tutorial "Set up Ingress on Minikube with
//! the NGINX Ingress Controller" as written (hello-app built locally), then TLS, a rewrite,
//! a WebSocket, an unknown host, scaling under traffic, and disabling.

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::cluster::{exclusive, rkube, Cluster};
use crate::support::{eventually, Kubectl};

/// `curl ARGS` (silent, with the status code on the last line).
fn curl(args: &[&str]) -> (String, u16) {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (body.to_string(), code.trim().parse().unwrap_or(0))
}

fn apply(k: &Kubectl, manifest: &str) {
    k.clone().stdin(manifest).run(&["apply", "-f", "-"]).ok();
}

const INGRESS: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: example-ingress
spec:
  ingressClassName: nginx
  rules:
    - host: hello-world.example
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 8080
"#;

const V2: &str = r#"          - path: /v2
            pathType: Prefix
            backend:
              service:
                name: web2
                port:
                  number: 8080
"#;

fn ready(k: &Kubectl, deploy: &str, want: &str) {
    eventually(&format!("{deploy} {want}"), 120, || {
        let out = k.run(&["get", "deploy", deploy, "--no-headers"]).stdout;
        (out.split_whitespace().nth(1) == Some(want)).then_some(())
    });
}

#[test]
fn the_ingress_tutorial_works_as_written() {
    let _one = exclusive();
    let profile = "e2e-ingress";
    rkube(&["delete", "-p", profile]);
    let c = Cluster::start(profile);
    let k = c.kubectl();
    let ip = rkube(&["ip", "-p", profile]).stdout.trim().to_string();

    // 1–2: enable the addon; the controller pod runs.
    let on = rkube(&["addons", "enable", "ingress", "-p", profile]);
    assert_eq!(on.code, 0, "{}\n{}", on.stdout, on.stderr);
    assert!(
        on.stdout.contains("Verifying ingress addon...")
            && on.stdout.contains("The 'ingress' addon is enabled"),
        "{}",
        on.stdout
    );
    let pods = k
        .run(&["get", "pods", "-n", "ingress-nginx"])
        .ok()
        .to_string();
    assert!(
        pods.contains("ingress-nginx-controller-")
            && pods.contains("1/1")
            && pods.contains("Running"),
        "{pods}"
    );
    let class = k
        .run(&[
            "get",
            "ingressclass",
            "nginx",
            "-o",
            "jsonpath={.spec.controller}",
        ])
        .ok()
        .to_string();
    assert_eq!(class, "k8s.io/ingress-nginx");

    // 3–7: the web deployment and its NodePort service.
    k.run(&[
        "create",
        "deployment",
        "web",
        "--image=gcr.io/google-samples/hello-app:1.0",
    ])
    .ok();
    ready(&k, "web", "1/1");
    k.run(&[
        "expose",
        "deployment",
        "web",
        "--type=NodePort",
        "--port=8080",
    ])
    .ok();
    let r = rkube(&["service", "web", "--url", "-p", profile]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let url = r.stdout.trim().to_string();
    // The node's service proxy programs a new NodePort from its watch: moments, not zero.
    let body = eventually(&format!("{url} answers 200"), 30, || {
        let (body, code) = curl(&[&url]);
        (code == 200).then_some(body)
    });
    assert!(
        body.starts_with("Hello, world!\nVersion: 1.0.0\nHostname: web-"),
        "{body}"
    );

    // 8–10: the Ingress gets the node's address and routes the host.
    apply(&k, INGRESS);
    eventually("ingress address", 60, || {
        let out = k
            .run(&["get", "ingress", "example-ingress", "--no-headers"])
            .stdout;
        (out.contains("nginx") && out.contains("hello-world.example") && out.contains(&ip))
            .then_some(())
    });
    let resolve = format!("hello-world.example:80:{ip}");
    let (body, _) = eventually("ingress routes", 30, || {
        let r = curl(&["--resolve", &resolve, "-i", "http://hello-world.example"]);
        (r.1 == 200).then_some(r)
    });
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("Hello, world!\nVersion: 1.0.0\nHostname: web-"),
        "{body}"
    );

    // 12–16: web2 on /v2.
    k.run(&[
        "create",
        "deployment",
        "web2",
        "--image=gcr.io/google-samples/hello-app:2.0",
    ])
    .ok();
    ready(&k, "web2", "1/1");
    k.run(&[
        "expose",
        "deployment",
        "web2",
        "--port=8080",
        "--type=NodePort",
    ])
    .ok();
    let configured = k
        .clone()
        .stdin(&format!("{INGRESS}{V2}"))
        .run(&["apply", "-f", "-"]);
    assert!(configured
        .ok()
        .contains("ingress.networking.k8s.io/example-ingress configured"));
    let (body, _) = eventually("/v2 routed to web2", 30, || {
        let r = curl(&["--resolve", &resolve, "http://hello-world.example/v2"]);
        (r.1 == 200 && r.0.contains("Version: 2.0.0")).then_some(r)
    });
    assert!(body.contains("Hostname: web2-"), "{body}");
    let (body, _) = curl(&["--resolve", &resolve, "http://hello-world.example"]);
    assert!(body.contains("Version: 1.0.0"), "{body}");

    // The macOS/Docker Desktop path of the tutorial: `rkube tunnel` puts the ingress on
    // 127.0.0.1:80 while an Ingress exists.
    let tunnel = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["tunnel", "-p", profile])
        .env("RKUBE_HOME", crate::cluster::home())
        .env("KUBECONFIG", crate::cluster::kubeconfig())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rkube tunnel");
    let local = "hello-world.example:80:127.0.0.1";
    let through_tunnel = eventually("the ingress on 127.0.0.1 through the tunnel", 30, || {
        let r = curl(&["--resolve", local, "http://hello-world.example/v2"]);
        (r.1 == 200).then_some(r.0)
    });
    let pid = nix::unistd::Pid::from_raw(tunnel.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let mut tunnel = tunnel;
    let _ = tunnel.wait();
    assert!(
        through_tunnel.contains("Version: 2.0.0"),
        "{through_tunnel}"
    );

    // A missing service gives 503 for its path only, and an Event says why.
    apply(&k, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: broken\nspec:\n  rules:\n  - host: broken.example\n    http:\n      paths:\n      - path: /gone\n        pathType: Prefix\n        backend:\n          service:\n            name: nosuch\n            port:\n              number: 80\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 8080\n");
    let broken = format!("broken.example:80:{ip}");
    eventually("503 for the missing service's path", 30, || {
        (curl(&["--resolve", &broken, "http://broken.example/gone"]).1 == 503).then_some(())
    });
    assert_eq!(
        curl(&["--resolve", &broken, "http://broken.example/"]).1,
        200
    );
    eventually("an Event on the Ingress", 30, || {
        let d = k.run(&["describe", "ingress", "broken"]).stdout;
        d.contains("service \"default/nosuch\" not found")
            .then_some(())
    });

    // An unknown host gets the controller's 404.
    let (_, code) = curl(&[
        "--resolve",
        &format!("nobody.example:80:{ip}"),
        "http://nobody.example/",
    ]);
    assert_eq!(code, 404);

    // TLS from a kubernetes.io/tls secret, chosen by SNI; HTTP redirected to HTTPS.
    let dir = tempfile::tempdir().expect("tempdir");
    let (crt, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let gen = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-days",
            "1",
            "-subj",
            "/CN=secure.example",
            "-addext",
            "subjectAltName=DNS:secure.example",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl");
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    k.run(&[
        "create",
        "secret",
        "tls",
        "secure-tls",
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ])
    .ok();
    apply(&k, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: secure\nspec:\n  tls:\n  - hosts: [secure.example]\n    secretName: secure-tls\n  rules:\n  - host: secure.example\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 8080\n");
    let tls_resolve = format!("secure.example:443:{ip}");
    let crt_arg = crt.display().to_string();
    let (body, _) = eventually("TLS with the secret's certificate", 30, || {
        let r = curl(&[
            "--cacert",
            &crt_arg,
            "--resolve",
            &tls_resolve,
            "https://secure.example/",
        ]);
        (r.1 == 200).then_some(r)
    });
    assert!(body.contains("Hello, world!"), "{body}");
    // HTTP/2 from the client (ALPN) is served too.
    let h2 = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "--http2",
        ])
        .args([
            "--cacert",
            &crt_arg,
            "--resolve",
            &tls_resolve,
            "https://secure.example/",
        ])
        .output()
        .expect("curl --http2");
    assert_eq!(String::from_utf8_lossy(&h2.stdout), "2 200");
    let (head, code) = curl(&[
        "-I",
        "--resolve",
        &format!("secure.example:80:{ip}"),
        "http://secure.example/x?y=1",
    ]);
    assert_eq!(code, 308, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("location: https://secure.example/x?y=1"),
        "{head}"
    );

    // A rewrite-target rule with captures, on the echo server (which shows the path it got).
    k.run(&[
        "create",
        "deployment",
        "echo",
        "--image=kicbase/echo-server:1.0",
    ])
    .ok();
    ready(&k, "echo", "1/1");
    k.run(&["expose", "deployment", "echo", "--port=8080"]).ok();
    apply(&k, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: rewrite\n  annotations:\n    nginx.ingress.kubernetes.io/rewrite-target: /$2\nspec:\n  rules:\n  - host: rewrite.example\n    http:\n      paths:\n      - path: /something(/|$)(.*)\n        pathType: ImplementationSpecific\n        backend:\n          service:\n            name: echo\n            port:\n              number: 8080\n");
    let rw = format!("rewrite.example:80:{ip}");
    let (body, _) = eventually("rewritten path", 30, || {
        let r = curl(&[
            "--resolve",
            &rw,
            "http://rewrite.example/something/new/path",
        ]);
        (r.1 == 200).then_some(r)
    });
    assert!(body.contains("GET /new/path HTTP/1.1"), "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("x-forwarded-host: rewrite.example"),
        "{body}"
    );
    assert!(body.to_ascii_lowercase().contains("x-real-ip:"), "{body}");

    // A WebSocket through the ingress: the echo server greets, then echoes.
    let ws = std::net::TcpStream::connect((ip.as_str(), 80)).expect("connect :80");
    ws.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let (mut socket, resp) =
        tokio_tungstenite::tungstenite::client::client("ws://rewrite.example/something/ws", ws)
            .expect("websocket handshake through the ingress");
    assert_eq!(resp.status(), 101);
    let hello = socket
        .read()
        .expect("greeting")
        .into_text()
        .expect("text")
        .to_string();
    assert!(hello.starts_with("Request served by echo-"), "{hello}");
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            "ping through ingress",
        ))
        .expect("send");
    let echo = socket
        .read()
        .expect("echo")
        .into_text()
        .expect("text")
        .to_string();
    assert_eq!(echo, "ping through ingress");
    let _ = socket.close(None);

    // Scaling the backend under traffic fails no request.
    k.run(&["scale", "deployment", "web", "--replicas=3"]).ok();
    ready(&k, "web", "3/3");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let stop = stop.clone();
        let resolve = resolve.clone();
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (body, code) = curl(&["--resolve", &resolve, "http://hello-world.example/"]);
                n += 1;
                if code != 200 {
                    failures.push(format!("{code}: {body}"));
                }
            }
            (n, failures)
        })
    };
    k.run(&["scale", "deployment", "web", "--replicas=1"]).ok();
    ready(&k, "web", "1/1");
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, failures) = traffic.join().expect("traffic");
    assert!(
        n > 5 && failures.is_empty(),
        "{n} requests, failed: {failures:?}"
    );

    // Disabling removes the namespace, the class and the listeners.
    let off = rkube(&["addons", "disable", "ingress", "-p", profile]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    assert!(k.run(&["get", "namespace", "ingress-nginx"]).code != 0);
    assert!(k.run(&["get", "ingressclass", "nginx"]).code != 0);
    eventually("port 80 closed", 60, || {
        TcpStream::connect_timeout(
            &format!("{ip}:80").parse().expect("addr"),
            Duration::from_secs(1),
        )
        .is_err()
        .then_some(())
    });
    assert_eq!(rkube(&["delete", "-p", profile]).code, 0);
}
