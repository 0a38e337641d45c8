//! Shared test support: a running `rkube server` on a temp dir, and real kubectl against it.
#![allow(dead_code)]

pub mod crash_trial;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The project root (where `.tools/` holds kubectl and the Python venv).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `docker ARGS` and return stdout (panics on failure).
#[track_caller]
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kubectl binary: `$KUBECTL`, else the one the test command installed under `.tools`.
pub fn kubectl_bin() -> PathBuf {
    if let Ok(k) = std::env::var("KUBECTL") {
        return PathBuf::from(k);
    }
    let p = root().join(".tools/venv/bin/kubectl");
    assert!(
        p.exists(),
        "kubectl not found at {}: run the README's test command (scripts/test), which installs it",
        p.display()
    );
    p
}

/// The helm binary the test command installed under `.tools`.
pub fn helm_bin() -> PathBuf {
    let p = root().join(".tools/bin/helm");
    assert!(
        p.exists(),
        "helm not found at {}: run the README's test command (scripts/test), which installs it",
        p.display()
    );
    p
}

/// The Python interpreter of the test venv.
pub fn python_bin() -> PathBuf {
    if let Ok(p) = std::env::var("RKUBE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    root().join(".tools/venv/bin/python")
}

/// A running `rkube server` that exits when this handle (or the test process) goes away.
pub struct Server {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub url: String,
    pub port: u16,
    stdin: Option<ChildStdin>,
}

impl Server {
    /// Start a server on a fresh data dir.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir)
    }

    /// Start a server on an existing data dir (restart after a stop or a kill).
    pub fn start_in(dir: tempfile::TempDir) -> Server {
        Self::start_with(dir, &[])
    }

    /// Start a server with the simulated node (the kubelet test double) named `node`.
    pub fn start_with_node(node: &str) -> Server {
        Self::start_with(
            tempfile::tempdir().expect("temp dir"),
            &["--simulated-node", node],
        )
    }

    /// Start a server on a fresh data dir with extra `rkube server` flags.
    pub fn start_with_flags(extra: &[&str]) -> Server {
        Self::start_with(tempfile::tempdir().expect("temp dir"), extra)
    }

    /// Start a server on a fresh data dir with extra environment (failpoints).
    pub fn start_with_env(env: &[(&str, &str)]) -> Server {
        Self::start_with_all(tempfile::tempdir().expect("temp dir"), &[], env)
    }

    /// Start a server on an existing data dir with extra `rkube server` flags.
    pub fn start_with(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Self::start_with_all(dir, extra, &[])
    }

    fn start_with_all(dir: tempfile::TempDir, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
            .envs(env.iter().copied())
            .args(["server", "--port", "0", "--exit-with-stdin"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn rkube server");
        const READY_WITHIN: Duration = Duration::from_secs(120);
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready) = std::sync::mpsc::channel();
        // Read the ready line, then keep draining stdout so the server never blocks on a
        // full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = ready_tx.send(lines.next());
            for _ in lines {}
        });
        let line = match ready.recv_timeout(READY_WITHIN) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => panic!("rkube server printed nothing: it ended (its log is above)"),
            Err(_) => {
                let _ = child.kill();
                panic!("rkube server was not ready within {READY_WITHIN:?}");
            }
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no URL in ready line: {line}"))
            .to_string();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        let stdin = child.stdin.take();
        Server {
            child,
            dir,
            kubeconfig,
            url,
            port,
            stdin,
        }
    }

    /// kubectl with this server's kubeconfig and a private discovery cache.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl {
            kubeconfig: self.kubeconfig.clone(),
            cache: self.dir.path().join("kube-cache"),
            env: Vec::new(),
            stdin: None,
            context: None,
        }
    }

    /// kubectl that authenticates only with `token` (None: no credentials at all), trusting
    /// this server's CA, with its own kubeconfig beside the admin one.
    pub fn kubectl_as(&self, token: Option<&str>) -> Kubectl {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let admin: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig"))
                .expect("kubeconfig YAML");
        let cluster = admin["clusters"][0]["cluster"].clone();
        let user = match token {
            Some(t) => serde_json::json!({"token": t}),
            None => serde_json::json!({}),
        };
        let config = serde_json::json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        });
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = self.dir.path().join(format!("kubeconfig-token-{n}"));
        std::fs::write(&path, serde_yaml::to_string(&config).expect("yaml")).expect("write");
        Kubectl {
            kubeconfig: path,
            cache: self.dir.path().join(format!("kube-cache-{n}")),
            env: Vec::new(),
            stdin: None,
            context: None,
        }
    }

    /// Stop by closing stdin and wait, returning the data dir for a restart. A server
    /// that has not exited after `STOP_WITHIN` fails the test (and is killed) rather than
    /// hanging the whole run.
    pub fn stop(mut self) -> tempfile::TempDir {
        const STOP_WITHIN: Duration = Duration::from_secs(30);
        self.stdin.take();
        if wait_timeout(&mut self.child, STOP_WITHIN).is_none() {
            panic!("rkube server did not exit within {STOP_WITHIN:?} of its stdin closing");
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// Kill with SIGKILL, returning the data dir.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server with a simulated node `node-1`, shared by the workload tests.
pub fn shared_with_node() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start_with_node("node-1"))
}

/// One server shared by the tests of this binary; each test works in its own namespace.
pub fn shared() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(Server::start)
}

/// A kubectl invocation builder.
#[derive(Clone)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    context: Option<String>,
}

/// Output of one kubectl run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "kubectl failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Assert failure and return stderr.
    #[track_caller]
    pub fn fails(&self) -> &str {
        assert_ne!(
            self.code, 0,
            "kubectl unexpectedly succeeded:\nstdout: {}",
            self.stdout
        );
        &self.stderr
    }
}

impl Kubectl {
    /// kubectl with `kubeconfig` and a private discovery cache in `cache`.
    pub fn new(kubeconfig: PathBuf, cache: PathBuf) -> Kubectl {
        Kubectl {
            kubeconfig,
            cache,
            env: Vec::new(),
            stdin: None,
            context: None,
        }
    }

    /// Use this kubeconfig context.
    pub fn context(mut self, name: &str) -> Self {
        self.context = Some(name.into());
        self
    }

    /// Add an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Feed this to stdin.
    pub fn stdin(mut self, s: &str) -> Self {
        self.stdin = Some(s.into());
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(kubectl_bin());
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        c.arg("--cache-dir").arg(&self.cache);
        if let Some(ctx) = &self.context {
            c.arg("--context").arg(ctx);
        }
        c.args(args);
        c.env_remove("KUBECONFIG");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// The full command line (kubectl, its global flags, then `args`), for running it
    /// under another program such as `script`; also the environment it needs.
    pub fn command_line(&self, args: &[&str]) -> (Vec<String>, Vec<(String, String)>) {
        let c = self.command(args);
        let mut line = vec![c.get_program().to_string_lossy().into_owned()];
        line.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        (line, self.env.clone())
    }

    /// Run to completion (timeout 60 s).
    pub fn run(&self, args: &[&str]) -> Run {
        run_within(
            self.command(args),
            self.stdin.clone(),
            Duration::from_secs(60),
        )
    }

    /// Start without waiting (for `get -w`).
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut c = self.command(args);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().expect("spawn kubectl")
    }
}

/// Run `command` to completion with `stdin` fed to it; past `limit` it is killed and the
/// test fails with what it printed, so a hung command cannot hang the whole run.
#[track_caller]
pub fn run_within(mut command: Command, stdin: Option<String>, limit: Duration) -> Run {
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    // Feed stdin and drain the output on threads of their own: a pipe holds 64 KiB, and
    // the command blocks writing a bigger answer until someone reads it.
    if let Some(input) = stdin {
        let mut sin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            let _ = sin.write_all(input.as_bytes());
        });
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait_timeout(&mut child, limit);
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    let Some(status) = status else {
        panic!(
            "{:?} {:?} timed out after {limit:?}\nstdout: {stdout}\nstderr: {stderr}",
            command.get_program(),
            command.get_args().collect::<Vec<_>>()
        );
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// Wait for `child` up to `limit`; kill it and return `None` past that.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for a child process: {e}"),
        }
    }
}

/// A fresh namespace on the shared server, once its controllers have filled it in (the
/// `default` service account and `kube-root-ca.crt`), so tests see a settled namespace.
pub fn namespace(k: &Kubectl, name: &str) -> String {
    let ns = format!("{name}-{}", std::process::id());
    k.run(&["create", "namespace", &ns]).ok();
    let start = Instant::now();
    while k
        .run(&[
            "-n",
            &ns,
            "get",
            "configmap/kube-root-ca.crt",
            "serviceaccount/default",
        ])
        .code
        != 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "namespace {ns} never got its defaults"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ns
}

/// Write a file in a temp dir and return its path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write file");
    p
}

/// Poll `f` every 50 ms until it gives a value, failing the test after `secs` seconds
/// (for state that controllers and watches settle asynchronously).
#[track_caller]
pub fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A kube-rs client from a kubeconfig file (the admin context the server wrote).
pub async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("client config");
    kube::Client::try_from(cfg).expect("client")
}
