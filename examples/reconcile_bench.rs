//! API requests the controllers send, printed (not asserted): a real `rkube server` with a
//! simulated node (the API tier's kubelet double; pods are reported Running and Ready at
//! once), a 100-replica Deployment scaled up from nothing, then rolled out to a new
//! template. The requests are read from the server's request log, by the identity of the
//! controllers' client certificate (`system:kube-controller-manager`), and counted by
//! method and resource. `RKUBE_BIN` measures another build the same way.
//!
//! Run with `scripts/bench reconcile` (release build).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

mod support;
use support::{Error, Server};

const REPLICAS: i32 = 100;
const NAMESPACE: &str = "rollout";
const CONTROLLERS: &str = "system:kube-controller-manager";
/// How long after a phase completes its trailing requests still count to it.
const SETTLE: Duration = Duration::from_secs(1);

/// One logged request: method, path and who sent it.
struct Logged {
    method: String,
    path: String,
    user: String,
}

/// The requests logged in `log` from line `from` on, and the number of lines read.
fn requests(log: &Path, from: usize) -> Result<(Vec<Logged>, usize), Error> {
    let text = std::fs::read_to_string(log)?;
    let lines: Vec<&str> = text.lines().collect();
    let field = |line: &str, name: &str| {
        let key = format!(" {name}=");
        line.find(&key).map(|at| {
            let rest = &line[at + key.len()..];
            rest.split(' ').next().unwrap_or("").to_string()
        })
    };
    let found = lines
        .iter()
        .skip(from)
        .filter(|l| l.contains("rkube::apiserver::router") && l.contains(" request "))
        .filter_map(|l| {
            Some(Logged {
                method: field(l, "method")?,
                path: field(l, "path")?,
                user: field(l, "user").unwrap_or_default(),
            })
        })
        .collect();
    Ok((found, lines.len()))
}

/// The resource a request path addresses, with its subresource (`pods`, `replicasets/status`).
fn resource_of(path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return path.to_string(),
    };
    let rest = match rest {
        ["namespaces", _, more @ ..] if !more.is_empty() => more,
        other => other,
    };
    match rest {
        [res] | [res, _] => res.to_string(),
        [res, _, sub, ..] => format!("{res}/{sub}"),
        [] => String::new(),
    }
}

fn print_phase(name: &str, took: Duration, logged: &[Logged]) {
    let ours: Vec<&Logged> = logged.iter().filter(|l| l.user == CONTROLLERS).collect();
    let mut by: BTreeMap<(String, String), usize> = BTreeMap::new();
    for l in &ours {
        *by.entry((l.method.clone(), resource_of(&l.path)))
            .or_default() += 1;
    }
    println!(
        "{name}: {:.1} s, controller requests {} ({:.1} per replica); all requests {}",
        took.as_secs_f64(),
        ours.len(),
        ours.len() as f64 / f64::from(REPLICAS),
        logged.len(),
    );
    let mut rows: Vec<_> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((method, resource), n) in rows {
        println!("  {n:>6}  {method:<6} {resource}");
    }
}

/// Wait until the Deployment's rollout of its current generation is complete.
async fn rolled_out(api: &Api<Deployment>, limit: Duration) -> Result<Duration, Error> {
    let start = Instant::now();
    loop {
        let d = api.get("web").await?;
        let st = d.status.clone().unwrap_or_default();
        let done = st.observed_generation == d.metadata.generation
            && st.updated_replicas == Some(REPLICAS)
            && st.available_replicas == Some(REPLICAS)
            && st.replicas == Some(REPLICAS);
        if done {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(format!("rollout not complete after {limit:?}: {st:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("server.log");
    let server = Server::start_with(
        dir.path(),
        &["--simulated-node", "bench-node"],
        Some((&log, "warn,rkube::apiserver::router=debug")),
    )?;
    let client = server.client().await?;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    // Let start-up traffic (bootstrap, the node's registration) settle out of the figures.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "rkube-test/busybox:1"}]}
            }
        }
    }))?;

    let (_, mark) = requests(&log, 0)?;
    api.create(&PostParams::default(), &deployment).await?;
    let took = rolled_out(&api, Duration::from_secs(120)).await?;
    tokio::time::sleep(SETTLE).await;
    let (logged, mark2) = requests(&log, mark)?;
    print_phase(&format!("scale up 0 -> {REPLICAS}"), took, &logged);

    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "VERSION", "value": "2"}]}
    ]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let took = rolled_out(&api, Duration::from_secs(120)).await?;
    tokio::time::sleep(SETTLE).await;
    let (logged, _) = requests(&log, mark2)?;
    print_phase(&format!("rolling update of {REPLICAS}"), took, &logged);
    drop(server);
    Ok(())
}
