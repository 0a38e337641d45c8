//! Stream benchmarks against a running rkube cluster (figures printed, not asserted):
//!
//! * port-forward throughput: a 64 MiB download through `kubectl port-forward` (tunnelled
//!   SPDY, the default) and through kube-rs' port-forward, beside the same download
//!   straight from the pod's address on the Docker network;
//! * exec latency: one line echoed by `cat` over an open exec session, and a whole
//!   `exec true`, beside the same through Docker's own exec on the pod's container.
//!
//! `scripts/bench` starts a throwaway cluster and runs this; by hand:
//! `RKUBE_BENCH_KUBECONFIG=... RKUBE_BENCH_CONTEXT=... cargo run --profile bench --example stream_bench`.
//! Needs the test image `rkube-test/busybox:1` (built by the e2e tests and scripts/bench).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::report;

use bollard::exec::StartExecResults;
use bollard::models::ExecConfig;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, AttachParams, DeleteParams, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "stream-bench";
const BLOB_MIB: usize = 64;
const IMAGE: &str = "rkube-test/busybox:1";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn report_rate(name: &str, bytes: usize, times: &[Duration]) {
    let best = times.iter().min().copied().unwrap_or_default();
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    let mbs = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "{name:<52} best={:>8.1} MB/s mean={:>8.1} MB/s ({} x {} MiB)",
        mbs(best),
        mbs(mean),
        times.len(),
        bytes >> 20
    );
}

/// GET /blob over HTTP/1.0 and return how long the whole body took.
fn download(addr: &str) -> Res<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "GET /blob HTTP/1.0\r\n\r\n")?;
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n;
    }
    if total < BLOB_MIB << 20 {
        return Err(format!("short download from {addr}: {total} bytes").into());
    }
    Ok(start.elapsed())
}

fn kubectl() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/kubectl")
}

async fn client(kubeconfig: &str, context: Option<String>) -> Res<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let opts = kube::config::KubeConfigOptions {
        context,
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts).await?;
    Ok(kube::Client::try_from(cfg)?)
}

async fn setup(client: &kube::Client) -> Res<Pod> {
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": NS}}))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{
            "name": "web", "image": IMAGE,
            "command": ["sh", "-c", format!("mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1048576 count={BLOB_MIB} 2>/dev/null && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www")],
            "readinessProbe": {"httpGet": {"path": "/index.html", "port": 8080}, "periodSeconds": 1},
        }]}
    }))?;
    // An earlier run's namespace may still be terminating: retry until it is gone.
    let mut created = false;
    for _ in 0..120 {
        let _ = nss.create(&PostParams::default(), &ns).await;
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => {
                created = true;
                break;
            }
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {
                tokio::time::sleep(Duration::from_secs(1)).await
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !created {
        return Err("could not create the benchmark pod".into());
    }
    for _ in 0..240 {
        let p = pods.get("web").await?;
        let ready = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready {
            return Ok(p);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err("pod web never became ready".into())
}

fn kubectl_port_forward(
    kubeconfig: &str,
    context: Option<&str>,
) -> Res<(std::process::Child, u16)> {
    let mut c = Command::new(kubectl());
    c.args(["--kubeconfig", kubeconfig]);
    if let Some(ctx) = context {
        c.args(["--context", ctx]);
    }
    c.args(["-n", NS, "port-forward", "pod/web", ":8080"]);
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    // Keep reading: kubectl dies of a closed pipe when it reports a connection.
    std::thread::spawn(move || for _ in out.lines() {});
    let port = line
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("unexpected port-forward output {line:?}"))?;
    Ok((child, port))
}

async fn kube_rs_download(pods: &Api<Pod>) -> Res<Duration> {
    let start = Instant::now();
    let mut pf = pods.portforward("web", &[8080]).await?;
    let mut s = pf.take_stream(8080).ok_or("no stream")?;
    s.write_all(b"GET /blob HTTP/1.0\r\n\r\n").await?;
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n;
    }
    pf.abort();
    if total < BLOB_MIB << 20 {
        return Err(format!("short kube-rs download: {total} bytes").into());
    }
    Ok(start.elapsed())
}

async fn throughput(
    pods: &Api<Pod>,
    pod: &Pod,
    kubeconfig: &str,
    context: Option<&str>,
) -> Res<()> {
    let bytes = BLOB_MIB << 20;
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .ok_or("pod has no IP")?;
    let direct = format!("{ip}:8080");
    let (mut child, port) = kubectl_port_forward(kubeconfig, context)?;
    let local = format!("127.0.0.1:{port}");
    let mut pf = Vec::new();
    let mut tcp = Vec::new();
    let mut krs = Vec::new();
    // Interleaved, so both see the same machine load.
    for _ in 0..3 {
        tcp.push(download(&direct).map_err(|e| format!("direct download: {e}"))?);
        pf.push(download(&local).map_err(|e| format!("kubectl port-forward download: {e}"))?);
        krs.push(
            kube_rs_download(pods)
                .await
                .map_err(|e| format!("kube-rs port-forward download: {e}"))?,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    report_rate(
        "baseline: direct TCP to the pod (host -> pod IP)",
        bytes,
        &tcp,
    );
    report_rate(
        "kubectl port-forward (WebSocket-tunnelled SPDY)",
        bytes,
        &pf,
    );
    report_rate("kube-rs port-forward (WebSocket channels)", bytes, &krs);
    Ok(())
}

async fn latency(pods: &Api<Pod>, pod: &Pod) -> Res<()> {
    // Round trips over one open session.
    let mut p = pods
        .exec(
            "web",
            ["cat"],
            &AttachParams::default().stdin(true).stderr(false),
        )
        .await?;
    let mut stdin = p.stdin().ok_or("no stdin")?;
    let mut stdout = p.stdout().ok_or("no stdout")?;
    let status = p.take_status().ok_or("no status")?;
    let mut samples = Vec::new();
    let mut buf = [0u8; 64];
    for i in 0..200 {
        let line = format!("ping-{i}\n");
        let start = Instant::now();
        stdin.write_all(line.as_bytes()).await?;
        let mut got = 0;
        while got < line.len() {
            let n = stdout.read(&mut buf[got..]).await?;
            if n == 0 {
                return Err("exec session ended".into());
            }
            got += n;
        }
        samples.push(start.elapsed());
    }
    // EOF on stdin (v5 half-close) ends `cat`, and the session with it.
    stdin.shutdown().await?;
    drop(stdout);
    status.await;
    p.join().await?;
    report("exec round trip: a line through `cat` (kube-rs)", samples);

    let docker = rkube::cluster::docker::connect().await?;
    let container = docker_container(&docker, pod).await?;
    let exec = docker
        .create_exec(
            &container,
            ExecConfig {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                cmd: Some(vec!["cat".into()]),
                ..Default::default()
            },
        )
        .await?;
    if let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker.start_exec(&exec.id, None).await?
    {
        let mut samples = Vec::new();
        for i in 0..200 {
            let line = format!("ping-{i}\n");
            let start = Instant::now();
            input.write_all(line.as_bytes()).await?;
            let mut got = 0;
            while got < line.len() {
                match output.next().await {
                    Some(Ok(o)) => got += o.into_bytes().len(),
                    _ => return Err("docker exec ended".into()),
                }
            }
            samples.push(start.elapsed());
        }
        let _ = input.shutdown().await;
        report("baseline: the same through Docker exec directly", samples);
    }

    let mut samples = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let mut p = pods
            .exec("web", ["true"], &AttachParams::default().stderr(false))
            .await?;
        let status = p.take_status().ok_or("no status")?;
        status.await;
        p.join().await?;
        samples.push(start.elapsed());
    }
    report("exec `true`, whole session (kube-rs)", samples);
    let mut samples = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let exec = docker
            .create_exec(
                &container,
                ExecConfig {
                    attach_stdout: Some(true),
                    cmd: Some(vec!["true".into()]),
                    ..Default::default()
                },
            )
            .await?;
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await?
        {
            while output.next().await.is_some() {}
        }
        docker.inspect_exec(&exec.id).await?;
        samples.push(start.elapsed());
    }
    report("baseline: Docker exec `true` directly", samples);
    Ok(())
}

/// The Docker container of the pod's `web` container.
async fn docker_container(docker: &bollard::Docker, pod: &Pod) -> Res<String> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut filters = std::collections::HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![
            format!("io.kubernetes.pod.uid={uid}"),
            "io.kubernetes.container.name=web".to_string(),
        ],
    );
    let list = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await?;
    list.into_iter()
        .find_map(|c| c.id)
        .ok_or_else(|| "the pod's container is not on Docker".into())
}

#[tokio::main]
async fn main() -> Res<()> {
    let kubeconfig = std::env::var("RKUBE_BENCH_KUBECONFIG")
        .map_err(|_| "set RKUBE_BENCH_KUBECONFIG (and RKUBE_BENCH_CONTEXT) to a running cluster")?;
    let context = std::env::var("RKUBE_BENCH_CONTEXT").ok();
    let client = client(&kubeconfig, context.clone()).await?;
    let pod = setup(&client).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    println!("== streams (pod {NS}/web, {BLOB_MIB} MiB blob) ==");
    let result = async {
        throughput(&pods, &pod, &kubeconfig, context.as_deref()).await?;
        latency(&pods, &pod).await
    }
    .await;
    let nss: Api<Namespace> = Api::all(client);
    let _ = nss.delete(NS, &DeleteParams::default()).await;
    result
}
