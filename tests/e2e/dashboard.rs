//! `rkube dashboard` on Docker: the command's errors, its proxy's Host and Origin checks,
//! the page in a real headless Chromium and Firefox (tests/e2e/browser/dashboard.py), and
//! the same URL through `kubectl proxy`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cluster::{exclusive, home, kubeconfig, rkube, Cluster, BUSYBOX};
use crate::support::{kubectl_bin, python_bin, root};

const PATH: &str =
    "/api/v1/namespaces/kubernetes-dashboard/services/http:kubernetes-dashboard:/proxy/";

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `cmd` and return it with the first stdout line that satisfies `pick`.
fn spawn_until(
    mut cmd: Command,
    within: Duration,
    pick: fn(&str) -> Option<String>,
) -> (Running, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(v) = pick(&line) {
                let _ = tx.send(v);
            }
        }
    });
    // Both pipes are read for as long as the child lives: a Go program (kubectl proxy) that
    // writes to a closed stderr dies of SIGPIPE, and a full pipe would block it.
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        let _ = err_tx.send(err);
    });
    match rx.recv_timeout(within) {
        Ok(v) => (running, v),
        Err(_) => {
            drop(running);
            let err = err_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_default();
            panic!("no line within {within:?}; stderr:\n{err}");
        }
    }
}

fn dashboard(profile: &str) -> (Running, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rkube"));
    cmd.args(["dashboard", "--url", "-p", profile])
        .env("RKUBE_HOME", home())
        .env("KUBECONFIG", kubeconfig());
    spawn_until(cmd, Duration::from_secs(300), |l| {
        l.starts_with("http://").then(|| l.trim().to_string())
    })
}

/// One HTTP/1.1 exchange with the proxy; returns the status code and the whole response.
fn http(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

fn port_of(url: &str) -> u16 {
    url.trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in URL")
}

fn browser(args: &[&str]) {
    let out = Command::new(python_bin())
        .arg(root().join("tests/e2e/browser/dashboard.py"))
        .args(args)
        .output()
        .expect("run the browser test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser steps failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dashboard_in_a_browser_through_both_proxies() {
    let _one = exclusive();
    let r = rkube(&["dashboard", "--url", "-p", "e2e-no-such-profile"]);
    assert_eq!(r.code, 85, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);

    let c = Cluster::start("e2e-dashboard");
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = busy.local_addr().expect("addr").port().to_string();
    let r = rkube(&["dashboard", "--url", "--port", &taken, "-p", &c.profile]);
    assert_eq!(r.code, 96, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--port"), "{}", r.stderr);

    let (first, url) = dashboard(&c.profile);
    assert!(url.ends_with(PATH), "{url}");
    drop(first);
    // With the addon on, the URL comes at once; the benchmark times it.
    let started = Instant::now();
    let (_proxy, url) = dashboard(&c.profile);
    println!(
        "URL printed {:?} after the command started",
        started.elapsed()
    );
    let port = port_of(&url);

    let (code, page) = http(
        port,
        &format!("GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<title>rkube dashboard</title>"), "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("content-security-policy: default-src 'self'"),
        "{page}"
    );
    let (code, _) = http(
        port,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 307);

    // DNS rebinding: a name that resolves to 127.0.0.1 but is not ours.
    let (code, body) = http(
        port,
        &format!("GET {PATH} HTTP/1.1\r\nHost: rebind.example:{port}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Host not allowed"), "{body}");
    // A write sent by a page of another origin.
    let csrf = format!("csrf-{}", std::process::id());
    let cm = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{csrf}"}}}}"#);
    let (code, body) = http(port, &format!(
        "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{cm}",
        cm.len()
    ));
    assert_eq!(code, 403, "{body}");
    let k = c.kubectl();
    assert!(
        k.run(&["get", "configmap", &csrf]).code != 0,
        "the cross-origin write happened"
    );
    // The same write from the page's own origin goes through, as the user.
    let (code, body) = http(port, &format!(
        "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{cm}",
        cm.len()
    ));
    assert_eq!(code, 201, "{body}");
    // Only the API paths and the dashboard are served.
    let (code, _) = http(
        port,
        &format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(code, 404);

    let shots = root().join("target/dashboard-screenshots");
    browser(&[
        "full",
        &url,
        kubectl_bin().to_str().expect("path"),
        kubeconfig().to_str().expect("path"),
        &c.profile,
        BUSYBOX,
        shots.to_str().expect("path"),
    ]);

    // The same page in Firefox.
    browser(&["firefox", &url]);

    // The same URL through `kubectl proxy`.
    let mut cmd = Command::new(kubectl_bin());
    cmd.args([
        "--kubeconfig",
        kubeconfig().to_str().expect("path"),
        "--context",
        &c.profile,
        "proxy",
        "--port=0",
    ]);
    let (_kproxy, served) = spawn_until(cmd, Duration::from_secs(30), |l| {
        l.strip_prefix("Starting to serve on ")
            .map(|a| a.trim().to_string())
    });
    browser(&["smoke", &format!("http://{served}{PATH}")]);

    drop(_proxy);
    let r = rkube(&["stop", "-p", &c.profile]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = rkube(&["dashboard", "--url", "-p", &c.profile]);
    assert_eq!(r.code, 95, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not running"), "{}", r.stderr);
    let r = rkube(&["delete", "-p", &c.profile]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
