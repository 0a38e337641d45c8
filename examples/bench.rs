//! Benchmarks that print figures (not asserted): API latency and throughput of create, get,
//! list (1,000 objects) and watch delivery against a real `rkube server` on loopback, its
//! memory, and the datastore's fsync'd write latency beside Debian's etcd in the same run.
//!
//! Run with `scripts/bench` (builds release binaries first).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use rkube::store::{SqliteStore, Store};

mod support;
use support::{report, Server};

fn payload(i: usize) -> String {
    format!("{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"cm-{i}\"}},\"data\":{{\"pad\":\"{}\"}}}}", "x".repeat(900))
}

async fn store_latency(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&dir.join("bench.db"))?;
    let mut samples = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        store
            .create(
                &format!("/registry/configmaps/bench/cm-{i:05}"),
                Bytes::from(payload(i)),
            )
            .await?;
        samples.push(t.elapsed());
    }
    report("store: create (fsync'd, sequential)", samples);
    Ok(())
}

/// Minimal HTTP/1.1 client for etcd's v3 JSON gateway (one keep-alive connection).
struct Etcd {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Etcd {
    fn post(&mut self, path: &str, body: &str) -> std::io::Result<()> {
        write!(self.w, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())?;
        let mut len = 0usize;
        let mut chunked = false;
        let mut line = String::new();
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            let l = line.to_ascii_lowercase();
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if l.starts_with("transfer-encoding:") && l.contains("chunked") {
                chunked = true;
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        if chunked {
            loop {
                line.clear();
                self.r.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut buf = vec![0; n + 2];
                self.r.read_exact(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
            }
        }
        let mut buf = vec![0; len];
        self.r.read_exact(&mut buf)
    }
}

fn etcd_latency(dir: &Path) {
    let Ok(etcd_bin) = which("etcd") else {
        println!("etcd: not installed (apt-get install etcd-server) - baseline skipped");
        return;
    };
    let data = dir.join("etcd");
    let mut child = match Command::new(etcd_bin)
        .args([
            "--data-dir",
            data.to_str().unwrap_or("etcd"),
            "--listen-client-urls",
            "http://127.0.0.1:23790",
            "--advertise-client-urls",
            "http://127.0.0.1:23790",
            "--listen-peer-urls",
            "http://127.0.0.1:23800",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:23800",
            "--initial-cluster",
            "default=http://127.0.0.1:23800",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("etcd: failed to start ({e}) - baseline skipped");
            return;
        }
    };
    let started = Instant::now();
    let conn = loop {
        match TcpStream::connect("127.0.0.1:23790") {
            Ok(s) => break Some(s),
            Err(_) if started.elapsed() < Duration::from_secs(15) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(_) => break None,
        }
    };
    if let Some(s) = conn {
        let _ = s.set_nodelay(true);
        if let Ok(r) = s.try_clone() {
            let mut c = Etcd {
                r: BufReader::new(r),
                w: s,
            };
            let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
            // Let etcd finish electing itself before timing.
            std::thread::sleep(Duration::from_secs(2));
            let mut samples = Vec::new();
            for i in 0..1000 {
                let body = format!(
                    "{{\"key\":\"{}\",\"value\":\"{}\"}}",
                    b64(&format!("/registry/configmaps/bench/cm-{i:05}")),
                    b64(&payload(i))
                );
                let t = Instant::now();
                if c.post("/v3/kv/put", &body).is_err() {
                    break;
                }
                samples.push(t.elapsed());
            }
            if !samples.is_empty() {
                report(
                    "etcd 3.4: put (JSON gateway over HTTP, sequential)",
                    samples,
                );
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.exists())
        })
        .ok_or(())
}

fn cm(name: String) -> ConfigMap {
    serde_json::from_value(
        serde_json::json!({"metadata": {"name": name}, "data": {"pad": "x".repeat(900)}}),
    )
    .expect("configmap")
}

async fn api_bench(server: &Server) -> Result<(), Box<dyn std::error::Error>> {
    let client = server.client().await?;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    println!(
        "rkube server RSS at start: {} KiB",
        server.rss_kib().unwrap_or(0)
    );

    let mut samples = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        api.create(&PostParams::default(), &cm(format!("cm-{i:05}")))
            .await?;
        samples.push(t.elapsed());
    }
    report("api: create configmap (sequential)", samples);

    let mut samples = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        api.get(&format!("cm-{i:05}")).await?;
        samples.push(t.elapsed());
    }
    report("api: get configmap", samples);

    let mut samples = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let l = api.list(&ListParams::default()).await?;
        samples.push(t.elapsed());
        assert!(l.items.len() >= 1000);
    }
    report("api: list 1,000 configmaps", samples);

    let api = Arc::new(api);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                api.create(&PostParams::default(), &cm(format!("c-{w}-{i}")))
                    .await?;
            }
            Ok::<_, kube::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!(
        "{:<48} {:.0} creates/s",
        "api: 16 concurrent creators, 800 creates",
        800.0 / t.elapsed().as_secs_f64()
    );

    let rv = support::current_rv(&api).await?;
    let mut stream = api
        .watch(&WatchParams::default().timeout(120), &rv)
        .await?
        .boxed();
    let mut samples = Vec::new();
    for i in 0..200 {
        let t = Instant::now();
        api.create(&PostParams::default(), &cm(format!("w-{i}")))
            .await?;
        loop {
            match stream.next().await {
                Some(Ok(WatchEvent::Added(_))) => break,
                Some(Ok(_)) => continue,
                other => return Err(format!("watch ended: {other:?}").into()),
            }
        }
        samples.push(t.elapsed());
    }
    report("api: create → watch event delivered", samples);
    println!(
        "rkube server RSS after ~3,000 objects: {} KiB",
        server.rss_kib().unwrap_or(0)
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    println!("== datastore write latency (same disk, same run)");
    store_latency(dir.path()).await?;
    etcd_latency(dir.path());
    println!("== API on loopback (kube-rs client, TLS, HTTP/2)");
    let server_dir = dir.path().join("server");
    std::fs::create_dir_all(&server_dir)?;
    let started = Instant::now();
    let server = Server::start(&server_dir)?;
    println!(
        "{:<48} {:.3?}",
        "rkube server: start to ready",
        started.elapsed()
    );
    api_bench(&server).await
}
