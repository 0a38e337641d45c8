//! Scraping kubelets' `/metrics/resource` and turning two samples of the cumulative CPU
//! counters into rates, as metrics-server does.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use rustls_pki_types::ServerName;

/// One reading of a counter and a gauge.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Cumulative CPU, core-seconds.
    pub cpu: f64,
    /// Working set, bytes.
    pub memory: f64,
    /// When the kubelet took it, milliseconds since the epoch.
    pub ms: i64,
}

/// A container's readings and when it started (a restart resets its counter).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContainerPoint {
    /// The reading.
    pub point: Point,
    /// Start time, seconds since the epoch.
    pub started: f64,
}

/// What one scrape of one kubelet gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeScrape {
    /// The node's reading.
    pub node: Option<Point>,
    /// Per (namespace, pod, container).
    pub containers: HashMap<(String, String, String), ContainerPoint>,
}

fn labels(s: &str) -> HashMap<&str, String> {
    let mut out = HashMap::new();
    let mut rest = s;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim_start_matches(',').trim();
        let after = &rest[eq + 2..];
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key, value);
        rest = &after[end.min(after.len())..];
    }
    out
}

/// Parse the kubelet's Prometheus text (the families metrics-server reads).
pub fn parse(text: &str) -> NodeScrape {
    let mut out = NodeScrape::default();
    let mut node = Point::default();
    let mut have_node = (false, false);
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (head, tail) = match line.find('}') {
            Some(close) => (&line[..=close], &line[close + 1..]),
            None => match line.split_once(' ') {
                Some((h, t)) => (h, t),
                None => continue,
            },
        };
        let mut fields = tail.split_whitespace();
        let Some(value) = fields.next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let ms = fields
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0);
        let (name, label_text) = match head.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (head, ""),
        };
        match name {
            "node_cpu_usage_seconds_total" => {
                node.cpu = value;
                node.ms = ms;
                have_node.0 = true;
            }
            "node_memory_working_set_bytes" => {
                node.memory = value;
                have_node.1 = true;
            }
            "container_cpu_usage_seconds_total"
            | "container_memory_working_set_bytes"
            | "container_start_time_seconds" => {
                let l = labels(label_text);
                let key = (
                    l.get("namespace").cloned().unwrap_or_default(),
                    l.get("pod").cloned().unwrap_or_default(),
                    l.get("container").cloned().unwrap_or_default(),
                );
                let c = out.containers.entry(key).or_default();
                match name {
                    "container_cpu_usage_seconds_total" => {
                        c.point.cpu = value;
                        c.point.ms = ms;
                    }
                    "container_memory_working_set_bytes" => c.point.memory = value,
                    _ => c.started = value,
                }
            }
            _ => {}
        }
    }
    if have_node.0 && have_node.1 {
        out.node = Some(node);
    }
    out
}

/// Usage over the window between two readings: cores and bytes, the window in seconds,
/// and the newer reading's time. `None` when the counter went back or time did not move.
pub fn rate(older: &Point, newer: &Point) -> Option<(f64, f64, f64, i64)> {
    let secs = (newer.ms - older.ms) as f64 / 1000.0;
    let used = newer.cpu - older.cpu;
    if secs <= 0.0 || used < 0.0 {
        return None;
    }
    Some((used / secs, newer.memory, secs, newer.ms))
}

/// GET `https://addr/metrics/resource` with `token`, not checking the kubelet's
/// certificate (minikube runs metrics-server with `--kubelet-insecure-tls`).
pub async fn fetch(addr: std::net::SocketAddr, token: &str) -> Result<String, String> {
    let cfg =
        crate::apiserver::aggregator::backend::accept_any_config().map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let exchange = async {
        let name = ServerName::IpAddress(addr.ip().into());
        let mut sender =
            crate::apiserver::aggregator::backend::http1_over_tls(&connector, addr, name).await?;
        let req = http::Request::get("/metrics/resource")
            .header(http::header::HOST, addr.to_string())
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        if status.is_success() {
            Ok(text)
        } else {
            Err(format!("{status}: {}", text.trim()))
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::runtime::Usage;
    use crate::kubelet::stats::{prometheus, ContainerSample, Snapshot};

    #[test]
    fn reads_what_the_kubelet_writes() {
        let snap = Snapshot {
            time: "2026-12-04T12:00:00Z".parse().unwrap(),
            node: Usage {
                cpu_ns: 7_250_000_000,
                working_set: 4096,
                memory: 5000,
                rss: 1,
            },
            node_started: None,
            containers: vec![ContainerSample {
                namespace: "default".into(),
                pod: "we\"b".into(),
                pod_uid: "u".into(),
                container: "app".into(),
                started_at: "2026-12-04T11:00:00Z".into(),
                usage: Usage {
                    cpu_ns: 1_000_000_000,
                    working_set: 2048,
                    memory: 3000,
                    rss: 1,
                },
            }],
        };
        let s = parse(&prometheus(&snap));
        let node = s.node.unwrap();
        assert_eq!(
            (node.cpu, node.memory, node.ms),
            (7.25, 4096.0, 1796385600000)
        );
        let c = s.containers[&("default".into(), "we\"b".into(), "app".into())];
        assert_eq!(
            (c.point.cpu, c.point.memory, c.started),
            (1.0, 2048.0, 1796382000.0)
        );
    }

    #[test]
    fn rates_need_time_to_pass_and_counters_to_grow() {
        let a = Point {
            cpu: 10.0,
            memory: 1.0,
            ms: 1000,
        };
        let b = Point {
            cpu: 10.5,
            memory: 2.0,
            ms: 2000,
        };
        assert_eq!(rate(&a, &b), Some((0.5, 2.0, 1.0, 2000)));
        assert_eq!(rate(&b, &a), None);
        assert_eq!(rate(&a, &a), None);
    }
}
