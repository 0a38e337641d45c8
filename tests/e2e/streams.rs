//! Streams on a real node with real kubectl: logs, exec (plain, piped and on a terminal),
//! attach through `kubectl run -it --rm`, cp, port-forward, and kube-rs' exec, attach and
//! port-forward. Interactive sessions run under `script`, which gives kubectl a terminal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::{pod_field, shared, BUSYBOX};
use crate::support::{eventually, namespace, Kubectl};

/// A pod `web` serving `/www` with busybox httpd on 8080 (index.html says `hello`), and on
/// 8081 only on the pod's localhost.
fn web_pod(k: &Kubectl, ns: &str) {
    k.run(&[
        "-n",
        ns,
        "run",
        "web",
        "--labels=app=web",
        &format!("--image={BUSYBOX}"),
        "--",
        "sh",
        "-c",
        "mkdir -p /www && echo hello > /www/index.html && httpd -p 127.0.0.1:8081 -h /www && exec httpd -f -p 8080 -h /www",
    ])
    .ok();
    k.run(&[
        "-n",
        ns,
        "wait",
        "--for=condition=Ready",
        "pod/web",
        "--timeout=90s",
    ])
    .ok();
}

/// kubectl on a terminal (under `script`): what it prints, and input typed into it.
struct Terminal {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
}

impl Terminal {
    /// Start `kubectl ARGS` on a terminal of `cols`x`rows`.
    fn start(k: &Kubectl, args: &[&str], cols: u16, rows: u16) -> Terminal {
        let (line, env) = k.command_line(args);
        let quoted: Vec<String> = line
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let script = format!("stty cols {cols} rows {rows}; exec {}", quoted.join(" "));
        let mut c = Command::new("script");
        c.args(["-qfec", &script, "/dev/null"]);
        c.envs(env);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn script (util-linux)");
        let out = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().expect("stdout");
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Terminal {
            stdin: child.stdin.take(),
            child,
            out,
        }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Wait until the output shows `text`.
    #[track_caller]
    fn expect(&self, text: &str, secs: u64) {
        let start = Instant::now();
        while !self.output().contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "no {text:?} after {secs} s; the terminal shows:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_line(&mut self, line: &str) {
        let w = self.stdin.as_mut().expect("terminal input");
        w.write_all(line.as_bytes()).expect("type");
        w.write_all(b"\r").expect("type");
        w.flush().expect("type");
    }

    /// Wait for kubectl to exit: its exit code and everything it printed.
    fn finish(mut self, secs: u64) -> (i32, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader drain the last bytes.
                std::thread::sleep(Duration::from_millis(200));
                return (status.code().unwrap_or(-1), self.output());
            }
            if start.elapsed() > Duration::from_secs(secs) {
                let _ = self.child.kill();
                panic!("kubectl still running after {secs} s:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn exec_returns_output_and_the_exit_code() {
    let k = shared().kubectl();
    let ns = namespace(&k, "exec");
    web_pod(&k, &ns);
    for websockets in ["true", "false"] {
        let k = k
            .clone()
            .env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", websockets);
        let r = k.run(&[
            "-n",
            &ns,
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo hi; echo oops >&2; exit 3",
        ]);
        assert_eq!(r.code, 3, "websockets={websockets}: {r:?}");
        assert_eq!(r.stdout, "hi\n", "websockets={websockets}");
        assert!(r.stderr.contains("oops"), "{r:?}");
        // stdin is half-closed at its end: `cat` sees EOF and the command goes on.
        let r = k.clone().stdin("line one\nline two\n").run(&[
            "-n",
            &ns,
            "exec",
            "-i",
            "web",
            "--",
            "sh",
            "-c",
            "cat; echo done",
        ]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.stdout, "line one\nline two\ndone\n");
    }
    let err = k
        .run(&["-n", &ns, "exec", "web", "-c", "nope", "--", "true"])
        .fails()
        .to_string();
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
}

#[test]
fn exec_on_a_terminal_is_interactive_and_resizes() {
    let k = shared().kubectl();
    let ns = namespace(&k, "exectty");
    web_pod(&k, &ns);
    for websockets in ["true", "false"] {
        let k = k
            .clone()
            .env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", websockets);
        let mut t = Terminal::start(&k, &["-n", &ns, "exec", "-it", "web", "--", "sh"], 123, 45);
        t.expect("/ #", 30);
        // The client's terminal size reached the shell's terminal.
        t.type_line("stty size");
        t.expect("45 123", 10);
        t.type_line("echo typed-$((6*7))");
        t.expect("typed-42", 10);
        t.type_line("exit 5");
        let (code, out) = t.finish(30);
        assert_eq!(code, 5, "websockets={websockets}:\n{out}");
    }
}

#[test]
fn run_it_rm_attaches_and_cleans_up() {
    let k = shared().kubectl();
    let ns = namespace(&k, "runit");
    let t = Terminal::start(
        &k,
        &[
            "-n",
            &ns,
            "run",
            "tmp",
            "-it",
            "--rm",
            "--restart=Never",
            &format!("--image={BUSYBOX}"),
            "--",
            "sh",
            "-c",
            "echo ok",
        ],
        80,
        24,
    );
    let (code, out) = t.finish(90);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok"), "{out}");
    assert!(out.contains("pod \"tmp\" deleted"), "{out}");
    eventually("pod tmp gone", 30, || {
        (k.run(&["-n", &ns, "get", "pod", "tmp"]).code != 0).then_some(())
    });

    // An interactive shell: the pod's container keeps stdin open on a terminal, kubectl
    // attaches to it, and the shell's exit code comes back.
    let mut t = Terminal::start(
        &k,
        &[
            "-n",
            &ns,
            "run",
            "shell",
            "-it",
            "--rm",
            "--restart=Never",
            &format!("--image={BUSYBOX}"),
            "--",
            "sh",
        ],
        100,
        30,
    );
    t.expect("If you don't see a command prompt", 90);
    let spec = |p: &str| pod_field(&k, &ns, "shell", p);
    assert_eq!(
        spec("{.spec.containers[0].stdin} {.spec.containers[0].tty}"),
        "true true"
    );
    t.type_line("echo in-shell-$((2+3))");
    t.expect("in-shell-5", 20);
    t.type_line("stty size");
    t.expect("30 100", 20);
    t.type_line("exit 4");
    let (code, out) = t.finish(60);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("pod \"shell\" deleted"), "{out}");
    eventually("pod shell gone", 30, || {
        (k.run(&["-n", &ns, "get", "pod", "shell"]).code != 0).then_some(())
    });
}

/// 10 MB that compress badly, from a small xorshift generator.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn cp_copies_ten_megabytes_both_ways() {
    let k = shared().kubectl();
    let ns = namespace(&k, "cp");
    web_pod(&k, &ns);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = noise(10 * 1024 * 1024);
    let src = dir.path().join("big.bin");
    std::fs::write(&src, &data).expect("write");
    k.run(&["-n", &ns, "cp", src.to_str().unwrap(), "web:/www/big.bin"])
        .ok();
    let inside = k
        .run(&["-n", &ns, "exec", "web", "--", "md5sum", "/www/big.bin"])
        .ok()
        .to_string();
    let local = Command::new("md5sum").arg(&src).output().expect("md5sum");
    let local = String::from_utf8_lossy(&local.stdout).to_string();
    assert_eq!(
        inside.split_whitespace().next(),
        local.split_whitespace().next(),
        "checksums differ: {inside} vs {local}"
    );
    let back = dir.path().join("back.bin");
    k.run(&["-n", &ns, "cp", "web:/www/big.bin", back.to_str().unwrap()])
        .ok();
    assert!(
        std::fs::read(&back).expect("copied back") == data,
        "copy differs"
    );
}

/// Start `kubectl port-forward ARGS` and return it with the local port it listens on.
fn port_forward(k: &Kubectl, args: &[&str]) -> (Child, u16, Arc<Mutex<String>>) {
    let mut child = k.spawn(args);
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let errors = Arc::new(Mutex::new(String::new()));
    let sink = errors.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("port-forward printed nothing: {}", errors.lock().unwrap()));
    // "Forwarding from 127.0.0.1:41234 -> 8080"
    let port = first
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected port-forward output {first:?}"));
    std::thread::spawn(move || for _ in lines {});
    (child, port, errors)
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: web\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    Ok(resp)
}

fn hundred_requests(port: u16) {
    requests(port, 100);
}

/// `n` concurrent requests for `/index.html` through `port`, each answered `hello`.
fn requests(port: u16, n: usize) {
    let handles: Vec<_> = (0..n)
        .map(|_| std::thread::spawn(move || http_get(port, "/index.html")))
        .collect();
    let mut ok = 0;
    for h in handles {
        let r = h.join().expect("request thread").expect("request");
        assert!(r.starts_with("HTTP/1.") && r.ends_with("hello\n"), "{r}");
        ok += 1;
    }
    assert_eq!(ok, n);
}

#[test]
fn port_forward_carries_concurrent_connections() {
    let k = shared().kubectl();
    let ns = namespace(&k, "pf");
    web_pod(&k, &ns);
    k.run(&[
        "-n",
        &ns,
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
    ])
    .ok();
    for (websockets, target) in [
        ("true", "pod/web"),
        ("false", "pod/web"),
        ("true", "svc/web"),
    ] {
        let k = k.clone().env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets);
        let remote = if target == "svc/web" { ":80" } else { ":8080" };
        let (mut child, port, errors) =
            port_forward(&k, &["-n", &ns, "port-forward", target, remote]);
        hundred_requests(port);
        let _ = child.kill();
        let _ = child.wait();
        let errors = errors.lock().unwrap().clone();
        assert!(!errors.contains("error"), "{websockets} {target}: {errors}");
    }

    // A server on the pod's localhost only is reached as the kubelet reaches it, inside
    // the pod's network namespace.
    for websockets in ["true", "false"] {
        let k = k.clone().env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets);
        let (mut child, port, errors) =
            port_forward(&k, &["-n", &ns, "port-forward", "pod/web", ":8081"]);
        requests(port, 10);
        let _ = child.kill();
        let _ = child.wait();
        let errors = errors.lock().unwrap().clone();
        assert!(
            !errors.contains("error"),
            "{websockets} localhost: {errors}"
        );
    }

    // A port nothing listens on: kubectl reports the refused connection (and, as
    // kubectl does, gives up on that session); another session is unaffected.
    let (mut good, good_port, _) =
        port_forward(&k, &["-n", &ns, "port-forward", "pod/web", ":8080"]);
    let (mut bad, bad_port, bad_errors) =
        port_forward(&k, &["-n", &ns, "port-forward", "pod/web", ":9999"]);
    let _ = http_get(bad_port, "/");
    let msg = eventually("kubectl's forwarding error", 20, || {
        let e = bad_errors.lock().unwrap().clone();
        e.contains("connection refused").then_some(e)
    });
    assert!(msg.contains("error forwarding port 9999 to pod"), "{msg}");
    let _ = bad.kill();
    let _ = bad.wait();
    hundred_requests(good_port);
    let _ = good.kill();
    let _ = good.wait();
}

#[test]
fn logs_follow_tail_and_previous() {
    let k = shared().kubectl();
    let ns = namespace(&k, "logsf");
    k.run(&[
        "-n",
        &ns,
        "run",
        "ticker",
        "--restart=Never",
        &format!("--image={BUSYBOX}"),
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 1; done",
    ])
    .ok();
    eventually("ticker Running", 60, || {
        (pod_field(&k, &ns, "ticker", "{.status.phase}") == "Running").then_some(())
    });
    let mut follow = k.spawn(&["-n", &ns, "logs", "-f", "ticker"]);
    let mut lines = BufReader::new(follow.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.starts_with("tick-"), "{first:?}");
    // New lines arrive while the container still runs.
    assert_eq!(pod_field(&k, &ns, "ticker", "{.status.phase}"), "Running");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    // The stream ended by itself, when the container stopped.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = follow.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "logs -f did not end"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert_eq!(rest.last().map(String::as_str), Some("tick-8"), "{rest:?}");
    let tail = k
        .run(&["-n", &ns, "logs", "ticker", "--tail=5"])
        .ok()
        .to_string();
    assert_eq!(tail, "tick-4\ntick-5\ntick-6\ntick-7\ntick-8\n");

    // --previous shows the crashed container's output.
    k.run(&[
        "-n",
        &ns,
        "run",
        "crash",
        &format!("--image={BUSYBOX}"),
        "--",
        "sh",
        "-c",
        "echo run-$(date +%s%N); exit 1",
    ])
    .ok();
    eventually("a restart", 60, || {
        (pod_field(
            &k,
            &ns,
            "crash",
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse::<u32>()
        .unwrap_or(0)
            >= 1)
            .then_some(())
    });
    let prev = k
        .run(&["-n", &ns, "logs", "crash", "--previous"])
        .ok()
        .to_string();
    assert!(prev.starts_with("run-"), "{prev}");
}

#[tokio::test]
async fn kube_rs_exec_attach_and_port_forward() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, AttachParams};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let k = shared().kubectl();
    let ns = namespace(&k, "kubers");
    web_pod(&k, &ns);
    // A process reading its stdin, which stays open for attaching (`stdin: true`).
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: reader\nspec:\n  containers:\n  - name: reader\n    image: {BUSYBOX}\n    stdin: true\n    command: [sh, -c, 'while read line; do echo got-$line; done']\n"
    );
    k.clone()
        .stdin(&manifest)
        .run(&["-n", &ns, "apply", "-f", "-"])
        .ok();
    k.run(&[
        "-n",
        &ns,
        "wait",
        "--for=condition=Ready",
        "pod/reader",
        "--timeout=90s",
    ])
    .ok();
    // The shared cluster's context, whichever is current in the kubeconfig.
    let client = shared().client().await;
    let pods: Api<Pod> = Api::namespaced(client, &ns);

    // exec: output, stdin and the exit code.
    let mut p = pods
        .exec(
            "web",
            ["sh", "-c", "read x; echo got-$x; echo err >&2; exit 7"],
            &AttachParams::default().stdin(true).stderr(true),
        )
        .await
        .expect("exec");
    let mut stdin = p.stdin().expect("stdin");
    stdin.write_all(b"abc\n").await.expect("write");
    let mut out = String::new();
    p.stdout()
        .expect("stdout")
        .read_to_string(&mut out)
        .await
        .expect("read");
    assert_eq!(out, "got-abc\n");
    let status = p.take_status().expect("status").await.expect("a status");
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let code = status
        .details
        .and_then(|d| d.causes)
        .and_then(|c| {
            c.into_iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
        })
        .and_then(|c| c.message);
    assert_eq!(code.as_deref(), Some("7"));
    p.join().await.expect("join");

    // attach to the running process's stdin and stdout.
    let mut a = pods
        .attach("reader", &AttachParams::default().stdin(true).stderr(false))
        .await
        .expect("attach");
    let mut stdin = a.stdin().expect("stdin");
    let mut stdout = a.stdout().expect("stdout");
    stdin.write_all(b"hello\n").await.expect("write");
    let mut buf = vec![0u8; 64];
    let mut got = String::new();
    while !got.contains("got-hello") {
        let n = tokio::time::timeout(Duration::from_secs(20), stdout.read(&mut buf))
            .await
            .expect("attach output in time")
            .expect("read");
        assert!(n > 0, "attach ended early: {got:?}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(stdin);
    a.abort();

    // port-forward over kube-rs' WebSocket channel protocol.
    let mut pf = pods.portforward("web", &[8080]).await.expect("portforward");
    let mut s = pf.take_stream(8080).expect("stream");
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.expect("read");
    assert!(
        resp.starts_with("HTTP/1.") && resp.ends_with("hello\n"),
        "{resp}"
    );
    drop(s);
    pf.abort();
}
