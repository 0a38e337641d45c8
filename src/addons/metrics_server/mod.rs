//! `rkube metrics-server`: the metrics-server addon's pod. Every `--metric-resolution` it
//! scrapes each node's kubelet (`/metrics/resource`, with its service-account token) and
//! serves the last window as `metrics.k8s.io/v1beta1` NodeMetrics and PodMetrics behind the
//! APIService `v1beta1.metrics.k8s.io`, for `kubectl top` and the HPA controller.
//!
//! Requests are trusted the way a real aggregated server trusts them: the aggregator's
//! client certificate (signed by the cluster CA, common name `front-proxy-client`) vouches
//! for the user in `X-Remote-User`/`X-Remote-Group`; any other caller must present a
//! token or certificate of its own. Either way a SubjectAccessReview decides.

pub mod api;
pub mod scrape;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::ResourceExt;
use tokio::sync::RwLock;

use scrape::{ContainerPoint, Point};

/// The service account's files in the pod.
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Why the server cannot run.
#[derive(Debug, thiserror::Error)]
pub enum MetricsServerError {
    /// No in-cluster client.
    #[error("cannot reach the API server from this pod: {0}")]
    Client(#[from] kube::Error),
    /// I/O (runtime, listener, service-account files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// TLS set-up.
    #[error("serving certificate: {0}")]
    Tls(String),
}

/// Flags, named as metrics-server's.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--secure-port`.
    pub secure_port: u16,
    /// `--metric-resolution`.
    pub resolution: Duration,
}

/// The last two readings of a node or container.
#[derive(Clone, Debug, Default)]
pub struct Series<T> {
    /// The reading before the last.
    pub prev: Option<T>,
    /// The last reading.
    pub last: Option<T>,
}

/// What the scrapes have gathered.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per node: its labels and readings.
    pub nodes: HashMap<String, (std::collections::BTreeMap<String, String>, Series<Point>)>,
    /// Per (namespace, pod, container).
    pub containers: HashMap<(String, String, String), Series<ContainerPoint>>,
    /// Whether a scrape round has finished.
    pub scraped: bool,
}

/// Shared state of the server.
pub struct Server {
    /// The gathered readings.
    pub metrics: RwLock<Metrics>,
    /// API client as the pod's service account.
    pub client: kube::Client,
}

/// Run until killed.
pub fn run(opts: Options) -> Result<(), MetricsServerError> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let client = kube::Client::try_default().await?;
        let ca_pem = std::fs::read_to_string(format!("{SA_DIR}/ca.crt"))?;
        let server = Arc::new(Server {
            metrics: RwLock::default(),
            client,
        });
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], opts.secure_port)))
                .await?;
        tracing::info!(port = opts.secure_port, resolution = ?opts.resolution, "metrics-server serving");
        tokio::spawn(scrape_loop(server.clone(), opts.resolution));
        api::serve(listener, server, &ca_pem)
            .await
            .map_err(MetricsServerError::Tls)
    })
}

fn internal_ip(n: &Node) -> Option<String> {
    n.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
}

async fn scrape_loop(server: Arc<Server>, every: Duration) {
    // Rates need two readings: take the second soon after the first, so `kubectl top`
    // answers seconds after the addon starts rather than a whole resolution later.
    if let Err(e) = scrape_once(&server).await {
        tracing::warn!(error = %e, "scrape round failed");
    }
    tokio::time::sleep(every.min(Duration::from_secs(5))).await;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = scrape_once(&server).await {
            tracing::warn!(error = %e, "scrape round failed");
        }
    }
}

async fn scrape_once(server: &Server) -> Result<(), String> {
    // The projected token rotates: read it each round.
    let token = std::fs::read_to_string(format!("{SA_DIR}/token")).map_err(|e| e.to_string())?;
    let nodes = Api::<Node>::all(server.client.clone())
        .list(&Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let fetches = nodes.items.iter().map(|n| {
        let token = token.trim().to_string();
        async move {
            let ip = internal_ip(n)?;
            let addr: SocketAddr = format!("{ip}:{}", crate::kubelet::server::PORT)
                .parse()
                .ok()?;
            match scrape::fetch(addr, &token).await {
                Ok(text) => Some((n, scrape::parse(&text))),
                Err(e) => {
                    tracing::warn!(node = %n.name_any(), error = %e, "scraping the kubelet");
                    None
                }
            }
        }
    });
    let results = futures::future::join_all(fetches).await;
    let mut m = server.metrics.write().await;
    let mut containers = HashMap::new();
    let mut nodes_seen = HashMap::new();
    for (node, got) in results.into_iter().flatten() {
        let name = node.name_any();
        let (_, old) = m.nodes.remove(&name).unwrap_or_default();
        let series = advance(old, got.node, |a, b| a.ms < b.ms);
        nodes_seen.insert(name, (node.labels().clone(), series));
        for (key, point) in got.containers {
            let old = m.containers.remove(&key).unwrap_or_default();
            // A restarted container's counter starts again: its old reading is no base.
            let old = match old.last {
                Some(l) if l.started != point.started => Series::default(),
                _ => old,
            };
            containers.insert(
                key,
                advance(old, Some(point), |a, b| a.point.ms < b.point.ms),
            );
        }
    }
    m.nodes = nodes_seen;
    m.containers = containers;
    m.scraped = true;
    Ok(())
}

/// Shift `new` in as the last reading when it is newer than the last.
fn advance<T: Copy>(old: Series<T>, new: Option<T>, newer: impl Fn(&T, &T) -> bool) -> Series<T> {
    match (old.last, new) {
        (Some(last), Some(n)) if newer(&last, &n) => Series {
            prev: Some(last),
            last: Some(n),
        },
        (Some(_), Some(_)) => old,
        (None, Some(n)) => Series {
            prev: None,
            last: Some(n),
        },
        (_, None) => Series {
            prev: None,
            last: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keep_the_last_two_newer_readings() {
        let p = |ms| Point {
            cpu: 1.0,
            memory: 1.0,
            ms,
        };
        let newer = |a: &Point, b: &Point| a.ms < b.ms;
        let s = advance(Series::default(), Some(p(1)), newer);
        assert_eq!((s.prev, s.last), (None, Some(p(1))));
        let s = advance(s, Some(p(2)), newer);
        assert_eq!((s.prev, s.last), (Some(p(1)), Some(p(2))));
        let s = advance(s, Some(p(2)), newer);
        assert_eq!((s.prev, s.last), (Some(p(1)), Some(p(2))));
        let s = advance(s, None, newer);
        assert_eq!((s.prev, s.last), (None, None));
    }
}
