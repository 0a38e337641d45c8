//! Resource usage for `/metrics/resource` and `/stats/summary`: one sample of every running
//! container and of the node, taken from the runtime at most once a second however many
//! scrapers ask.
//!
//! The node is the node container plus the pods' containers: pods run beside the node on
//! the user's Docker rather than inside it, so its own cgroup alone would leave them out.
//! Its CPU counter must never go backwards (metrics-server discards a sample that does),
//! so the CPU of containers that have gone is kept in a running total.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::runtime::{ContainerRuntime, State, Usage};

/// How long a sample serves repeated scrapes.
const FRESH: Duration = Duration::from_secs(1);

/// One container's usage.
#[derive(Clone, Debug)]
pub struct ContainerSample {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Pod uid.
    pub pod_uid: String,
    /// Container name.
    pub container: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Its usage.
    pub usage: Usage,
}

/// Usage of the node and its containers at one instant.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When it was taken.
    pub time: jiff::Timestamp,
    /// The node as a whole.
    pub node: Usage,
    /// When the node started (RFC 3339), if known.
    pub node_started: Option<jiff::Timestamp>,
    /// Pod containers (sandboxes excluded, as the kubelet reports them).
    pub containers: Vec<ContainerSample>,
}

#[derive(Default)]
struct Ledger {
    /// Last CPU seen per container id.
    last: HashMap<String, u64>,
    /// CPU of containers no longer running.
    gone: u64,
}

/// Takes and caches snapshots.
#[derive(Default)]
pub struct Collector {
    cached: Mutex<Option<(Instant, Arc<Snapshot>)>>,
    ledger: Mutex<Ledger>,
    started: std::sync::OnceLock<jiff::Timestamp>,
}

impl Collector {
    /// A snapshot no older than a second.
    pub async fn snapshot<R: ContainerRuntime>(
        &self,
        runtime: &R,
        node_container: &str,
    ) -> Result<Arc<Snapshot>, super::runtime::RuntimeError> {
        // Holding the lock while sampling makes concurrent scrapes share one sample.
        let mut cached = self.cached.lock().await;
        if let Some((at, snap)) = cached.as_ref() {
            if at.elapsed() < FRESH {
                return Ok(snap.clone());
            }
        }
        let snap = Arc::new(self.take(runtime, node_container).await?);
        *cached = Some((Instant::now(), snap.clone()));
        Ok(snap)
    }

    async fn take<R: ContainerRuntime>(
        &self,
        runtime: &R,
        node_container: &str,
    ) -> Result<Snapshot, super::runtime::RuntimeError> {
        let running: Vec<_> = runtime
            .list(None)
            .await?
            .into_iter()
            .filter(|c| c.running())
            .collect();
        let samples = futures::future::join_all(running.iter().map(|c| runtime.stats(&c.id))).await;
        let own = runtime.stats(node_container).await.ok().flatten();
        let time = jiff::Timestamp::now();
        let mut containers = Vec::new();
        let mut seen = HashMap::new();
        let mut node = own.unwrap_or_default();
        for (c, sample) in running.iter().zip(samples) {
            let Ok(Some(usage)) = sample else { continue };
            seen.insert(c.id.clone(), usage.cpu_ns);
            node.working_set += usage.working_set;
            node.memory += usage.memory;
            node.rss += usage.rss;
            if c.sandbox {
                continue;
            }
            let started_at = match &c.state {
                State::Running { started_at } => started_at.clone(),
                _ => String::new(),
            };
            containers.push(ContainerSample {
                namespace: c.pod_namespace.clone(),
                pod: c.pod_name.clone(),
                pod_uid: c.pod_uid.clone(),
                container: c.name.clone(),
                started_at,
                usage,
            });
        }
        let mut ledger = self.ledger.lock().await;
        let gone: u64 = ledger
            .last
            .iter()
            .filter(|(id, _)| !seen.contains_key(*id))
            .map(|(_, cpu)| *cpu)
            .sum();
        ledger.gone += gone;
        ledger.last = seen;
        node.cpu_ns += ledger.gone + ledger.last.values().sum::<u64>();
        let node_started = *self.started.get_or_init(jiff::Timestamp::now);
        Ok(Snapshot {
            time,
            node,
            node_started: Some(node_started),
            containers,
        })
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `# HELP`/`# TYPE` lines of a stable metric family.
fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP {name} [STABLE] {help}\n# TYPE {name} {kind}");
}

/// One sample per container of `name`, for the containers `value` gives a value for.
fn per_container(
    out: &mut String,
    s: &Snapshot,
    name: &str,
    value: impl Fn(&ContainerSample) -> Option<String>,
) {
    use std::fmt::Write;
    let ms = s.time.as_millisecond();
    for c in &s.containers {
        if let Some(v) = value(c) {
            let _ = writeln!(
                out,
                "{name}{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {v} {ms}",
                escape(&c.container),
                escape(&c.namespace),
                escape(&c.pod),
            );
        }
    }
}

/// The Prometheus text of `/metrics/resource`, with the kubelet's metric names.
pub fn prometheus(s: &Snapshot) -> String {
    use std::fmt::Write;
    let ms = s.time.as_millisecond();
    let mut out = String::new();
    let cpu = "container_cpu_usage_seconds_total";
    family(
        &mut out,
        cpu,
        "Cumulative cpu time consumed by the container in core-seconds",
        "counter",
    );
    per_container(&mut out, s, cpu, |c| Some(secs(c.usage.cpu_ns).to_string()));
    let mem = "container_memory_working_set_bytes";
    family(
        &mut out,
        mem,
        "Current working set of the container in bytes",
        "gauge",
    );
    per_container(&mut out, s, mem, |c| Some(c.usage.working_set.to_string()));
    let start = "container_start_time_seconds";
    family(
        &mut out,
        start,
        "Start time of the container since unix epoch in seconds",
        "gauge",
    );
    per_container(&mut out, s, start, |c| {
        let t = c.started_at.parse::<jiff::Timestamp>().ok()?;
        Some((t.as_millisecond() as f64 / 1000.0).to_string())
    });
    let _ = writeln!(
        out,
        "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total {} {ms}",
        secs(s.node.cpu_ns)
    );
    let _ = writeln!(
        out,
        "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes {} {ms}",
        s.node.working_set
    );
    let mut pods: Vec<(&str, &str, Usage)> = Vec::new();
    for c in &s.containers {
        match pods
            .iter_mut()
            .find(|(ns, p, _)| *ns == c.namespace && *p == c.pod)
        {
            Some((_, _, u)) => {
                u.cpu_ns += c.usage.cpu_ns;
                u.working_set += c.usage.working_set;
            }
            None => pods.push((&c.namespace, &c.pod, c.usage)),
        }
    }
    out.push_str("# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds\n# TYPE pod_cpu_usage_seconds_total counter\n");
    for (ns, pod, u) in &pods {
        let _ = writeln!(
            out,
            "pod_cpu_usage_seconds_total{{namespace=\"{}\",pod=\"{}\"}} {} {ms}",
            escape(ns),
            escape(pod),
            secs(u.cpu_ns)
        );
    }
    out.push_str("# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n# TYPE pod_memory_working_set_bytes gauge\n");
    for (ns, pod, u) in &pods {
        let _ = writeln!(
            out,
            "pod_memory_working_set_bytes{{namespace=\"{}\",pod=\"{}\"}} {} {ms}",
            escape(ns),
            escape(pod),
            u.working_set
        );
    }
    out.push_str("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n");
    // The name before 1.29, still read by older scrapers.
    out.push_str("# HELP scrape_error [ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 0\n");
    out
}

/// The kubelet's `/stats/summary` document (the fields metrics pipelines read).
pub fn summary(s: &Snapshot, node_name: &str) -> serde_json::Value {
    use serde_json::json;
    let time = s.time.to_string();
    let cpu = |u: &Usage| json!({"time": time, "usageCoreNanoSeconds": u.cpu_ns});
    let memory = |u: &Usage| json!({"time": time, "usageBytes": u.memory, "workingSetBytes": u.working_set, "rssBytes": u.rss});
    let mut pods: Vec<serde_json::Value> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for c in &s.containers {
        let i = *index
            .entry((c.namespace.as_str(), c.pod.as_str()))
            .or_insert_with(|| {
                pods.push(json!({
                    "podRef": {"name": c.pod, "namespace": c.namespace, "uid": c.pod_uid},
                    "startTime": c.started_at,
                    "containers": [],
                    "cpu": {"time": time, "usageCoreNanoSeconds": 0},
                    "memory": {"time": time, "usageBytes": 0, "workingSetBytes": 0, "rssBytes": 0},
                }));
                pods.len() - 1
            });
        let p = &mut pods[i];
        if let Some(list) = p["containers"].as_array_mut() {
            list.push(json!({
                "name": c.container, "startTime": c.started_at,
                "cpu": cpu(&c.usage), "memory": memory(&c.usage),
            }));
        }
        for (section, field, add) in [
            ("cpu", "usageCoreNanoSeconds", c.usage.cpu_ns),
            ("memory", "usageBytes", c.usage.memory),
            ("memory", "workingSetBytes", c.usage.working_set),
            ("memory", "rssBytes", c.usage.rss),
        ] {
            let v = p[section][field].as_u64().unwrap_or(0) + add;
            p[section][field] = json!(v);
        }
    }
    json!({
        "node": {
            "nodeName": node_name,
            "startTime": s.node_started.map(|t| t.to_string()),
            "cpu": cpu(&s.node),
            "memory": memory(&s.node),
        },
        "pods": pods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        let usage = |cpu_ns, ws| Usage {
            cpu_ns,
            working_set: ws,
            memory: ws + 10,
            rss: ws / 2,
        };
        Snapshot {
            time: "2026-12-04T12:00:00Z".parse().unwrap(),
            node: usage(5_000_000_000, 300),
            node_started: None,
            containers: vec![
                ContainerSample {
                    namespace: "default".into(),
                    pod: "web".into(),
                    pod_uid: "u1".into(),
                    container: "app".into(),
                    started_at: "2026-12-04T11:00:00Z".into(),
                    usage: usage(1_500_000_000, 100),
                },
                ContainerSample {
                    namespace: "default".into(),
                    pod: "web".into(),
                    pod_uid: "u1".into(),
                    container: "side".into(),
                    started_at: "2026-12-04T11:00:00Z".into(),
                    usage: usage(500_000_000, 50),
                },
            ],
        }
    }

    #[test]
    fn prometheus_text_has_the_kubelet_names_and_sums_pods() {
        let text = prometheus(&snap());
        let ms = "1796385600000";
        for line in [
            format!("container_cpu_usage_seconds_total{{container=\"app\",namespace=\"default\",pod=\"web\"}} 1.5 {ms}"),
            format!("container_memory_working_set_bytes{{container=\"side\",namespace=\"default\",pod=\"web\"}} 50 {ms}"),
            format!("container_start_time_seconds{{container=\"app\",namespace=\"default\",pod=\"web\"}} 1796382000 {ms}"),
            format!("node_cpu_usage_seconds_total 5 {ms}"),
            format!("node_memory_working_set_bytes 300 {ms}"),
            format!("pod_cpu_usage_seconds_total{{namespace=\"default\",pod=\"web\"}} 2 {ms}"),
            format!("pod_memory_working_set_bytes{{namespace=\"default\",pod=\"web\"}} 150 {ms}"),
            "scrape_error 0".to_string(),
            "resource_scrape_error 0".to_string(),
            "# TYPE node_cpu_usage_seconds_total counter".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn summary_groups_containers_by_pod() {
        let v = summary(&snap(), "rkube");
        assert_eq!(v["node"]["nodeName"], "rkube");
        assert_eq!(v["node"]["memory"]["workingSetBytes"], 300);
        let pod = &v["pods"][0];
        assert_eq!(pod["podRef"]["uid"], "u1");
        assert_eq!(pod["containers"].as_array().unwrap().len(), 2);
        assert_eq!(pod["cpu"]["usageCoreNanoSeconds"], 2_000_000_000u64);
        assert_eq!(pod["memory"]["workingSetBytes"], 150);
    }
}
