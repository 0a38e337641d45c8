//! What the benchmark examples share: percentile reports, a `rkube server` on loopback, its
//! memory, and the busybox image built from Debian's busybox-static.

// Each example uses its own part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

/// A boxed error, as every benchmark returns.
pub type Error = Box<dyn std::error::Error>;

/// The 50th and 99th percentiles of a sample.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Print n, p50, p99, max and mean of `samples` under `name`, and return the percentiles.
pub fn report(name: &str, mut samples: Vec<Duration>) -> Percentiles {
    if samples.is_empty() {
        println!("{name:<52} n=0");
        return Percentiles {
            p50: Duration::ZERO,
            p99: Duration::ZERO,
        };
    }
    samples.sort_unstable();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<52} n={:<6} p50={:>10.3?} p99={:>10.3?} max={:>10.3?} mean={:>10.3?}",
        samples.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0),
        mean
    );
    Percentiles {
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

/// The `rkube` binary next to the running example (target/<profile>/rkube), or the one
/// `RKUBE_BIN` names, to measure another build the same way.
pub fn rkube_bin() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os("RKUBE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("rkube"))
        .ok_or_else(|| "no binary dir".into())
}

/// A `rkube server` on a loopback port with its data under `dir`; it exits with our stdin.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// The admin kubeconfig it wrote.
    pub kubeconfig: PathBuf,
}

impl Server {
    /// Start `rkube server` and wait until it answers (it prints a line when ready).
    pub fn start(dir: &Path) -> Result<Server, Error> {
        Self::start_with(dir, &[], None)
    }

    /// Start `rkube server` with `extra` flags; with `log`, its log goes to that file at
    /// the `RKUBE_LOG` filter given.
    pub fn start_with(
        dir: &Path,
        extra: &[&str],
        log: Option<(&Path, &str)>,
    ) -> Result<Server, Error> {
        let bin = rkube_bin()?;
        let kubeconfig = dir.join("kubeconfig");
        let mut cmd = Command::new(&bin);
        cmd.args(["server", "--port", "0", "--exit-with-stdin"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some((file, filter)) = log {
            cmd.stderr(std::fs::File::create(file)?)
                .env("RKUBE_LOG", filter)
                .env("NO_COLOR", "1");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("stdout")?).read_line(&mut line)?;
        Ok(Server { child, kubeconfig })
    }

    /// A kube client with the server's admin kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        Ok(kube::Client::try_from(cfg)?)
    }

    /// The server's resident memory in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The collection's current resourceVersion, where a watch starts to see only what follows.
pub async fn current_rv<K>(api: &kube::Api<K>) -> Result<String, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list(&kube::api::ListParams::default().limit(1)).await?;
    Ok(list.metadata.resource_version.unwrap_or_default())
}

/// Resident memory of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Run `docker` and return its trimmed stdout, or its stderr as the error.
pub fn docker(args: &[&str]) -> Result<String, Error> {
    let out = Command::new("docker").args(args).output()?;
    if !out.status.success() {
        return Err(format!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `n` bare `docker run -d IMAGE sleep 3600`, launched `gap` apart (all at once for zero),
/// as the baseline of pods started the same way: how long each took, and the time until
/// the last one returned. The containers are removed afterwards.
pub fn bare_runs(image: &str, n: usize, gap: Duration) -> Result<(Vec<Duration>, Duration), Error> {
    let t = Instant::now();
    let mut runs = Vec::new();
    for _ in 0..n {
        let image = image.to_string();
        runs.push(std::thread::spawn(move || {
            let t = Instant::now();
            let id = docker(&["run", "-d", "--rm", &image, "sleep", "3600"])
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((t.elapsed(), id))
        }));
        std::thread::sleep(gap);
    }
    let (mut took, mut ids, mut failed) = (Vec::new(), Vec::new(), None);
    for run in runs {
        match run.join().map_err(|_| "a docker run thread panicked")? {
            Ok((d, id)) => {
                took.push(d);
                ids.push(id);
            }
            Err(e) => failed = Some(e),
        }
    }
    let all = t.elapsed();
    if !ids.is_empty() {
        let mut rm = vec!["rm", "-f"];
        rm.extend(ids.iter().map(String::as_str));
        docker(&rm)?;
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok((took, all)),
    }
}

/// Build `tag` from Debian's busybox-static in the build context `dir` (no registry here).
pub fn build_busybox_image(dir: &Path, tag: &str) -> Result<(), Error> {
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("busybox not found: apt-get install busybox-static")?;
    std::fs::create_dir_all(dir.join("rootfs/bin"))?;
    std::fs::copy(busybox, dir.join("rootfs/bin/busybox"))?;
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n",
    )?;
    docker(&["build", "-q", "-t", tag, dir.to_str().ok_or("path")?])?;
    Ok(())
}

/// `rkube` with the bench's own home and kubeconfig.
pub struct Rkube {
    /// The binary.
    pub bin: PathBuf,
    /// Its RKUBE_HOME.
    pub home: PathBuf,
    /// The profile (node container name).
    pub profile: String,
}

impl Rkube {
    /// Run `rkube ARGS -p PROFILE` and return how long it took.
    pub fn run(&self, args: &[&str]) -> Result<Duration, Error> {
        let t = Instant::now();
        let out = Command::new(&self.bin)
            .args(args)
            .args(["-p", &self.profile])
            .env("RKUBE_HOME", &self.home)
            .env("KUBECONFIG", self.kubeconfig())
            .output()?;
        if !out.status.success() {
            return Err(format!("rkube {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(t.elapsed())
    }

    /// The kubeconfig under the bench's home.
    pub fn kubeconfig(&self) -> PathBuf {
        self.home.join("kubeconfig")
    }

    /// A kube client for the profile's context.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        let kc = Kubeconfig::read_from(self.kubeconfig())?;
        let opts = KubeConfigOptions {
            context: Some(self.profile.clone()),
            ..Default::default()
        };
        let cfg = kube::Config::from_custom_kubeconfig(kc, &opts).await?;
        Ok(kube::Client::try_from(cfg)?)
    }
}
