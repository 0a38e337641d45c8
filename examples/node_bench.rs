//! Benchmarks of `rkube start` on Docker, printing figures (not asserted): cold start with
//! the node image build, start with the image present, resume of a stopped cluster; pod
//! startup latency (create → Running) beside a bare `docker run` of the same image, and
//! beside two runs in series sharing a network namespace (the least a pod costs on Docker),
//! in the same run; idle CPU of the node and dockerd with no pods and with 60; node container
//! memory idle and with 110 pods; time for 110 pods to run beside as many bare `docker
//! run`s at once;
//! memory of the default addons' pods; claim create → Bound through the storage-provisioner
//! addon beside binding to a pre-made volume; `start --nodes 3` cold, warm and resumed
//! beside one node, and a worker node's memory.
//!
//! Run with `scripts/bench` (release build; needs Docker and Debian's busybox-static).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};

mod support;
use support::{bare_runs, build_busybox_image, docker, report, Error, Rkube};

const IMAGE: &str = "rkube-bench/busybox:1";
const PODS: usize = 30;
const CLAIMS: usize = 30;
const MAX_PODS: usize = 110;
/// Sleeping pods of the idle-CPU figure.
const IDLE_PODS: usize = 60;
/// Seconds each idle-CPU figure is averaged over.
const IDLE_SECS: u64 = 60;

/// Memory the node container uses now, in MiB (cgroup usage as `docker stats` shows it).
fn node_memory_mib(profile: &str) -> Result<f64, Error> {
    let s = docker(&["stats", "--no-stream", "--format", "{{.MemUsage}}", profile])?;
    let used = s.split('/').next().unwrap_or("").trim();
    let (num, unit) = used.split_at(used.find(|c: char| c.is_alphabetic()).unwrap_or(used.len()));
    let n: f64 = num.trim().parse()?;
    Ok(match unit {
        "GiB" => n * 1024.0,
        "KiB" => n / 1024.0,
        "B" => n / 1024.0 / 1024.0,
        _ => n,
    })
}

/// Memory of the containers of kube-system's pods (the addons), in MiB.
fn addon_memory_mib(profile: &str) -> Result<f64, Error> {
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=io.rkube.profile={profile}"),
        "--filter",
        "label=io.kubernetes.pod.namespace=kube-system",
    ])?;
    let mut total = 0.0;
    for id in ids.lines() {
        total += node_memory_mib(id)?;
    }
    Ok(total)
}

fn claim(name: &str, class: &str) -> Result<PersistentVolumeClaim, Error> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}
    }))?)
}

/// Create claim `name` of `class` and wait until it is Bound; the time that took.
async fn bind_claim(
    claims: &Api<PersistentVolumeClaim>,
    name: &str,
    class: &str,
) -> Result<Duration, Error> {
    let t = Instant::now();
    let created = claims
        .create(&PostParams::default(), &claim(name, class)?)
        .await?;
    let rv = created.metadata.resource_version.unwrap_or_default();
    let wp = WatchParams::default().fields(&format!("metadata.name={name}"));
    let mut stream = claims.watch(&wp, &rv).await?.boxed();
    while let Some(ev) = stream.try_next().await? {
        if let WatchEvent::Modified(c) = ev {
            if c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound") {
                return Ok(t.elapsed());
            }
        }
    }
    Err(format!("watch of claim {name} ended before it bound").into())
}

/// Claims bound through the provisioner beside claims bound to pre-made volumes.
async fn claims_bench(client: kube::Client) -> Result<(), Error> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let volumes: Api<PersistentVolume> = Api::all(client);
    let mut dynamic = Vec::new();
    let mut static_ = Vec::new();
    for i in 0..CLAIMS {
        dynamic.push(bind_claim(&claims, &format!("dyn-{i}"), "standard").await?);
        let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("bench-pv-{i}")},
            "spec": {"storageClassName": "bench-manual", "capacity": {"storage": "1Gi"},
                     "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
                     "hostPath": {"path": format!("/data/bench-{i}")}}
        }))?;
        volumes.create(&PostParams::default(), &pv).await?;
        static_.push(bind_claim(&claims, &format!("static-{i}"), "bench-manual").await?);
    }
    let ours = report(
        "claim create → Bound, provisioned (storage-provisioner)",
        dynamic,
    );
    let bare = report("claim create → Bound, pre-made volume (baseline)", static_);
    println!(
        "{:<52} {:>9.2}x",
        "provisioned / pre-made (p50)",
        ours.p50.as_secs_f64() / bare.p50.as_secs_f64()
    );
    claims
        .delete_collection(&DeleteParams::default(), &Default::default())
        .await?;
    Ok(())
}

/// `addons enable metrics-server` → the first NodeMetrics the API serves (what `kubectl
/// top nodes` needs), and the addon pod's memory.
async fn metrics_bench(r: &Rkube, client: kube::Client) -> Result<(), Error> {
    let t = Instant::now();
    r.run(&["addons", "enable", "metrics-server"])?;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let req = http::Request::get("/apis/metrics.k8s.io/v1beta1/nodes").body(Vec::new())?;
        if let Ok(v) = client.request::<serde_json::Value>(req).await {
            if v["items"].as_array().is_some_and(|i| !i.is_empty()) {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err("no node metrics within 180 s of enabling metrics-server".into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "{:<52} {:>9.1?}",
        "addons enable metrics-server → first node metrics (goal ≤ 20 s)",
        t.elapsed()
    );
    let total = addon_memory_mib(&r.profile)?;
    println!(
        "{:<52} {total:>9.1} MiB",
        "kube-system pods with metrics-server, idle"
    );
    r.run(&["addons", "disable", "metrics-server"])?;
    Ok(())
}

fn sleeper(name: &str) -> Result<Pod, Error> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "pod"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "c", "image": IMAGE, "command": ["sleep", "3600"],
            "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}
    }))?)
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// Create `name` and wait for it to run; the time from the create call to Running.
async fn start_pod(pods: &Api<Pod>, name: &str) -> Result<Duration, Error> {
    let t = Instant::now();
    let created = pods.create(&PostParams::default(), &sleeper(name)?).await?;
    let rv = created.metadata.resource_version.unwrap_or_default();
    let wp = WatchParams::default().fields(&format!("metadata.name={name}"));
    let mut stream = pods.watch(&wp, &rv).await?.boxed();
    while let Some(ev) = stream.try_next().await? {
        if let WatchEvent::Modified(p) = ev {
            if running(&p) {
                return Ok(t.elapsed());
            }
        }
    }
    Err(format!("watch of {name} ended before it ran").into())
}

async fn wait_all_running(pods: &Api<Pod>, n: usize, limit: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + limit;
    loop {
        let list = pods.list(&Default::default()).await?;
        if list.items.iter().filter(|p| running(p)).count() >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{n} pods not Running within {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn delete_all(pods: &Api<Pod>) -> Result<(), Error> {
    pods.delete_collection(
        &DeleteParams::default().grace_period(0),
        &Default::default(),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !pods.list(&Default::default()).await?.items.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Remove the images this binary made (those no container uses) and its root digest cache,
/// so the next start makes everything again.
fn forget_images(r: &Rkube) -> Result<(), Error> {
    for tag in docker(&[
        "images",
        "--filter",
        "label=io.rkube.image=true",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ])?
    .lines()
    {
        // An image another cluster on this engine uses stays; that is docker's refusal.
        let _ = docker(&["rmi", tag]);
    }
    let _ = std::fs::remove_dir_all(r.home.join("cache"));
    Ok(())
}

/// Median of `n` timings of `f`.
fn median(n: usize, mut f: impl FnMut() -> Result<Duration, Error>) -> Result<Duration, Error> {
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(f()?);
    }
    all.sort_unstable();
    Ok(all[all.len() / 2])
}

/// `docker build` of an empty base holding the same binary: the floor of a cold start.
fn bare_build(r: &Rkube) -> Result<Duration, Error> {
    let ctx = r.home.join("bare-build");
    std::fs::create_dir_all(&ctx)?;
    std::fs::copy(&r.bin, ctx.join("rkube"))?;
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY rkube /rkube\n")?;
    let t = Instant::now();
    docker(&[
        "build",
        "-q",
        "-t",
        "rkube-bench/bare:1",
        ctx.to_str().ok_or("path")?,
    ])?;
    let took = t.elapsed();
    docker(&["rmi", "rkube-bench/bare:1"])?;
    Ok(took)
}

/// The node process's resident memory, from its /proc/1/status inside the node.
fn node_rss_mib(profile: &str) -> Result<f64, Error> {
    let status = docker(&["exec", profile, "cat", "/proc/1/status"])?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or("no VmRSS in /proc/1/status")?;
    Ok(kb / 1024.0)
}

/// Cold start, resume of a stopped cluster beside a bare `docker start`, and a new cluster
/// with the image present; the last leaves the cluster running. Returns the three times.
fn starts(r: &Rkube) -> Result<(Duration, Duration, Duration), Error> {
    // Cold: no image of this binary on the engine, and its root not yet read.
    let first = r.run(&["start"])?;
    r.run(&["delete"])?;
    forget_images(r)?;
    let cold = r.run(&["start"])?;
    let bare = bare_build(r)?;
    println!(
        "{:<52} {cold:>9.1?}  (first run: {first:.1?}; bare `docker build` of the binary: {bare:.1?})",
        "start, cold (images made)"
    );
    let node_image = docker(&["inspect", "-f", "{{.Config.Image}}", &r.profile])?;
    let size: f64 = docker(&["image", "inspect", "-f", "{{.Size}}", &node_image])?.parse()?;
    println!(
        "{:<52} {:>9.1} MB  (binary: {:.1} MB; every rkube image shares this one layer)",
        "node image size",
        size / 1e6,
        std::fs::metadata(&r.bin)?.len() as f64 / 1e6
    );
    let resume = median(5, || {
        r.run(&["stop"])?;
        r.run(&["start"])
    })?;
    let baseline = docker(&["create", IMAGE, "sleep", "3600"])?;
    let docker_start = median(5, || {
        let t = Instant::now();
        docker(&["start", &baseline])?;
        let took = t.elapsed();
        docker(&["stop", "-t", "0", &baseline])?;
        Ok(took)
    })?;
    docker(&["rm", "-f", &baseline])?;
    println!(
        "{:<52} {resume:>9.1?}  (bare `docker start`: {docker_start:.1?}; goal ≤ 0.5 s)",
        "start, resume of a stopped cluster (median of 5)"
    );
    r.run(&["delete"])?;
    let warm = r.run(&["start"])?;
    println!(
        "{:<52} {warm:>9.1?}",
        "start, new cluster with the image present"
    );
    Ok((cold, resume, warm))
}

/// Clock ticks a host process has run (user and system), from `/proc/<pid>/stat`.
fn cpu_ticks(pid: &str) -> Result<u64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it start at the last ')'. utime
    // and stime are fields 14 and 15, so the 12th and 13th after the name.
    let rest = stat.rsplit_once(')').ok_or("malformed /proc/<pid>/stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field =
        |i: usize| -> Result<u64, Error> { Ok(f.get(i).ok_or("short /proc/<pid>/stat")?.parse()?) };
    Ok(field(11)? + field(12)?)
}

/// Process ids of every host process named `name`.
fn pids_of(name: &str) -> Vec<String> {
    std::process::Command::new("pidof")
        .arg(name)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// CPU over `secs`, in percent of one core, of the node process, dockerd, containerd and
/// the containers' shims together.
fn cpu_use(profile: &str, secs: u64) -> Result<[f64; 4], Error> {
    let node = docker(&["inspect", "-f", "{{.State.Pid}}", profile])?;
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(100.0)
        })
        .unwrap_or(100.0);
    let groups = [
        vec![node],
        pids_of("dockerd"),
        pids_of("containerd"),
        pids_of("containerd-shim-runc-v2"),
    ];
    // A shim that exits in between drops out of both readings.
    let read = |pids: &[String]| -> Vec<(String, u64)> {
        pids.iter()
            .filter_map(|p| Some((p.clone(), cpu_ticks(p).ok()?)))
            .collect()
    };
    let before: Vec<_> = groups.iter().map(|g| read(g)).collect();
    std::thread::sleep(Duration::from_secs(secs));
    let mut out = [0.0; 4];
    for (i, g) in groups.iter().enumerate() {
        let after = read(g);
        let ticks: u64 = after
            .iter()
            .filter_map(|(p, t)| {
                let (_, t0) = before[i].iter().find(|(q, _)| q == p)?;
                Some(t - t0)
            })
            .sum();
        out[i] = ticks as f64 / hz / secs as f64 * 100.0;
    }
    Ok(out)
}

/// Idle CPU of a running cluster: with no pods of ours, then with `IDLE_PODS` sleeping
/// pods, each averaged over `IDLE_SECS`.
async fn idle(r: &Rkube) -> Result<(), Error> {
    let client = r.client().await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let show = |what: &str, c: [f64; 4]| {
        println!(
            "{:<52} {:>8.2} %  (node {:.2} %, dockerd {:.2} %; containerd {:.2} %, shims {:.2} %; goal node + dockerd ≤ 2 %)",
            what,
            c[0] + c[1],
            c[0],
            c[1],
            c[2],
            c[3]
        )
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    show(
        &format!("idle CPU, node + dockerd, no pods, {IDLE_SECS} s"),
        cpu_use(&r.profile, IDLE_SECS)?,
    );
    for i in 0..IDLE_PODS {
        pods.create(&PostParams::default(), &sleeper(&format!("idle-{i}"))?)
            .await?;
    }
    wait_all_running(&pods, IDLE_PODS, Duration::from_secs(600)).await?;
    // Let the start-up settle: probes of the new pods, status writes, events.
    tokio::time::sleep(Duration::from_secs(15)).await;
    show(
        &format!("idle CPU, node + dockerd, {IDLE_PODS} pods, {IDLE_SECS} s"),
        cpu_use(&r.profile, IDLE_SECS)?,
    );
    delete_all(&pods).await
}

/// A pod's least cost on Docker: a container on the cluster's network, then a second one
/// joining its network namespace, which Docker starts only once the first runs. Both are
/// removed afterwards; the time is until the second `docker run` returns.
fn bare_pod(network: &str) -> Result<Duration, Error> {
    let run = |network: &str| {
        docker(&[
            "run",
            "-d",
            "--rm",
            "--network",
            network,
            IMAGE,
            "sleep",
            "3600",
        ])
    };
    let t = Instant::now();
    let sandbox = run(network)?;
    let app = run(&format!("container:{sandbox}"));
    let took = t.elapsed();
    let mut rm = vec!["rm", "-f", sandbox.as_str()];
    if let Ok(id) = &app {
        rm.push(id);
    }
    docker(&rm)?;
    app.map(|_| took)
}

/// Pod startup, one at a time, beside `docker run -d` of the same image and command, and
/// beside the two `docker run`s a pod needs at least ([`bare_pod`]).
async fn pod_latency(profile: &str, pods: &Api<Pod>) -> Result<(), Error> {
    let network = rkube::cluster::profile::network_name(profile);
    let (mut rkube_lat, mut docker_lat, mut pod_floor) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..PODS {
        rkube_lat.push(start_pod(pods, &format!("lat-{i}")).await?);
        let t = Instant::now();
        let id = docker(&["run", "-d", "--rm", IMAGE, "sleep", "3600"])?;
        docker_lat.push(t.elapsed());
        docker(&["rm", "-f", &id])?;
        pod_floor.push(bare_pod(&network)?);
    }
    let ours = report("pod startup, create → Running (rkube)", rkube_lat);
    let bare = report(
        "container startup, bare `docker run -d` (baseline)",
        docker_lat,
    );
    let floor = report("two `docker run`s sharing a netns (baseline)", pod_floor);
    for (name, base) in [
        ("pod startup / docker run (p50)", &bare),
        ("pod startup / two docker runs (p50)", &floor),
    ] {
        println!(
            "{name:<52} {:>9.2}x",
            ours.p50.as_secs_f64() / base.p50.as_secs_f64()
        );
    }
    delete_all(pods).await
}

async fn bench(r: &Rkube) -> Result<(), Error> {
    let (cold, resume, warm) = starts(r)?;
    idle(r).await?;

    // The node gives back what the burst of pods read in once a CPU sample finds it quiet.
    tokio::time::sleep(2 * rkube::node::reclaim::SAMPLE + Duration::from_secs(5)).await;
    let idle = node_memory_mib(&r.profile)?;
    println!("{:<52} {idle:>9.1} MiB", "node container memory, idle");
    println!(
        "{:<52} {:>9.1} MiB  (goal ≤ 24 MiB)",
        "node process RSS, idle, default addons on",
        node_rss_mib(&r.profile)?
    );
    let addons = addon_memory_mib(&r.profile)?;
    println!(
        "{:<52} {addons:>9.1} MiB",
        "default addons' pod containers, idle"
    );
    println!(
        "{:<52} {:>9.1} MiB",
        "node + default addons, idle (goal ≤ 32 MiB)",
        idle + addons
    );

    let client = r.client().await?;
    claims_bench(client.clone()).await?;
    metrics_bench(r, client.clone()).await?;
    pod_latency(&r.profile, &Api::namespaced(client.clone(), "default")).await?;

    full_node(&r.profile, client).await?;
    several_nodes(r, cold, resume, warm).await
}

/// How many pods the cluster runs once the default addons' are all up: the count, all
/// Running, unchanged over three polls (right after `start` the addons' pods may not exist
/// yet, and a node filled past 110 leaves pods Pending).
async fn settled_pods(all: &Api<Pod>) -> Result<usize, Error> {
    let (mut last, mut steady) = (usize::MAX, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let items = all.list(&Default::default()).await?.items;
        if items.iter().all(running) && items.len() == last {
            steady += 1;
            if steady == 3 {
                return Ok(last);
            }
        } else {
            steady = 0;
        }
        last = items.len();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err("the cluster's pods did not settle within 120 s".into())
}

/// A full node: 110 pods at once, less those already there (the default addons'), beside
/// as many bare `docker run`s at once; and the node's memory while full.
async fn full_node(profile: &str, client: kube::Client) -> Result<(), Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let room = MAX_PODS.saturating_sub(settled_pods(&Api::all(client)).await?);
    let t = Instant::now();
    for i in 0..room {
        pods.create(&PostParams::default(), &sleeper(&format!("full-{i}"))?)
            .await?;
    }
    wait_all_running(&pods, room, Duration::from_secs(900)).await?;
    let ours = t.elapsed();
    println!(
        "{:<52} {ours:>9.1?}",
        &format!("{room} pods created → all Running (node full at 110)"),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let full = node_memory_mib(profile)?;
    println!("{:<52} {full:>9.1} MiB", "node container memory, 110 pods");
    delete_all(&pods).await?;
    let (_, bare) = bare_runs(IMAGE, room, Duration::ZERO)?;
    println!(
        "{:<52} {bare:>9.1?}",
        &format!("{room} bare `docker run -d` at once (baseline)"),
    );
    println!(
        "{:<52} {:>9.2}x  (goal ≤ 1.3x)",
        "full node / bare runs",
        ours.as_secs_f64() / bare.as_secs_f64()
    );
    Ok(())
}

/// `start --nodes 3` beside the one-node starts measured above, and a worker's memory.
async fn several_nodes(
    r: &Rkube,
    cold: Duration,
    resume: Duration,
    warm: Duration,
) -> Result<(), Error> {
    r.run(&["delete"])?;
    let warm3 = r.run(&["start", "--nodes", "3"])?;
    println!(
        "{:<52} {warm3:>9.1?}  (1 node: {warm:.1?})",
        "start --nodes 3, new cluster with the image present"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let control_plane = node_memory_mib(&r.profile)?;
    let worker = node_memory_mib(&format!("{}-m02", r.profile))?;
    println!(
        "{:<52} {worker:>9.1} MiB  (control-plane node: {control_plane:.1} MiB)",
        "worker node container memory, idle (per extra node)"
    );
    r.run(&["stop"])?;
    let resume3 = r.run(&["start"])?;
    println!(
        "{:<52} {resume3:>9.1?}  (1 node: {resume:.1?})",
        "start --nodes 3, resume of a stopped cluster"
    );
    r.run(&["delete"])?;
    forget_images(r)?;
    let cold3 = r.run(&["start", "--nodes", "3"])?;
    println!(
        "{:<52} {cold3:>9.1?}  (1 node: {cold:.1?})",
        "start --nodes 3, cold (images made)"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // RKUBE_BIN measures another build (a debug binary, say) the same way.
    let bin = std::env::var_os("RKUBE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/rkube"));
    if !bin.exists() {
        return Err(format!("{} missing: run scripts/bench", bin.display()).into());
    }
    build_busybox_image(&root.join("target/bench-images/busybox"), IMAGE)?;
    let r = Rkube {
        bin,
        home: root.join("target/bench-home"),
        profile: format!("bench-{}", std::process::id()),
    };
    // `start`, `idle`, `pods` and `full` run one part; anything else, or nothing, runs them all.
    let result = match std::env::args().nth(1).as_deref() {
        Some("start") => starts(&r).map(|_| ()),
        Some("idle") => match r.run(&["start"]) {
            Ok(_) => idle(&r).await,
            Err(e) => Err(e),
        },
        Some("pods") => match r.run(&["start"]) {
            Ok(_) => pod_latency(&r.profile, &Api::namespaced(r.client().await?, "default")).await,
            Err(e) => Err(e),
        },
        Some("full") => match r.run(&["start"]) {
            Ok(_) => full_node(&r.profile, r.client().await?).await,
            Err(e) => Err(e),
        },
        _ => bench(&r).await,
    };
    let _ = r.run(&["delete"]);
    result
}
