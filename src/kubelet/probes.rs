//! Liveness, readiness and startup probes: exec, httpGet and tcpSocket, with the
//! thresholds, periods and initial delays of the pod spec.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::runtime::ContainerRuntime;

/// The outcome of one probe run.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It passed.
    Success,
    /// It failed, with the reason for the `Unhealthy` event.
    Failure(String),
}

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// startupProbe.
    Startup,
    /// livenessProbe.
    Liveness,
    /// readinessProbe.
    Readiness,
}

impl Kind {
    /// "Liveness" etc., for event messages.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }
}

/// The running tally of one probe of one container instance.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    last_run: Option<Instant>,
    successes: i32,
    failures: i32,
    /// The probe's verdict so far: `None` until a threshold is reached.
    pub passing: Option<bool>,
}

impl Tally {
    /// Whether the probe is due, given when the container started.
    pub fn due(&self, probe: &Probe, started: Instant, now: Instant) -> bool {
        let initial = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        if now < started + initial {
            return false;
        }
        let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
        self.last_run.is_none_or(|t| now >= t + period)
    }

    /// Count a result; returns true when the verdict flips.
    pub fn record(&mut self, probe: &Probe, outcome: &Outcome, now: Instant) -> bool {
        self.last_run = Some(now);
        let before = self.passing;
        match outcome {
            Outcome::Success => {
                self.failures = 0;
                self.successes += 1;
                if self.successes >= probe.success_threshold.unwrap_or(1).max(1) {
                    self.passing = Some(true);
                }
            }
            Outcome::Failure(_) => {
                self.successes = 0;
                self.failures += 1;
                if self.failures >= probe.failure_threshold.unwrap_or(3).max(1) {
                    self.passing = Some(false);
                }
            }
        }
        before != self.passing
    }
}

fn port_number(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).map_err(|_| format!("invalid port {p}")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("couldn't find port {name:?} in the container")),
    }
}

/// Send `req` and read up to the status line.
async fn exchange<S>(mut stream: S, req: &str) -> std::io::Result<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(req.as_bytes()).await?;
    let mut buf = vec![0u8; 1024];
    let mut got = 0;
    while got < buf.len() {
        let n = stream.read(&mut buf[got..]).await?;
        if n == 0 || buf[..got + n].windows(2).any(|w| w == b"\r\n") {
            got += n;
            break;
        }
        got += n;
    }
    Ok(String::from_utf8_lossy(&buf[..got]).to_string())
}

/// TLS without certificate checks: the kubelet's HTTPS probes skip verification, since
/// pods serve self-signed certificates for names the kubelet does not dial.
async fn tls(
    tcp: TcpStream,
    host: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let cfg = crate::apiserver::aggregator::backend::accept_any_config()
        .map_err(std::io::Error::other)?;
    let name =
        rustls_pki_types::ServerName::try_from(host.to_string()).map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
}

async fn http_get(
    scheme: &str,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Outcome {
    let url_scheme = scheme.to_ascii_lowercase();
    let run = async {
        let stream = TcpStream::connect((host, port)).await?;
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/{}.{}\r\nAccept: */*\r\nConnection: close\r\n",
            crate::apiserver::KUBE_MAJOR,
            crate::apiserver::KUBE_MINOR
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        if url_scheme == "https" {
            exchange(tls(stream, host).await?, &req).await
        } else {
            exchange(stream, &req).await
        }
    };
    match tokio::time::timeout(timeout, run).await {
        Err(_) => Outcome::Failure(format!(
            "Get \"{url_scheme}://{host}:{port}{path}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(e)) => Outcome::Failure(format!("Get \"{url_scheme}://{host}:{port}{path}\": dial tcp {host}:{port}: {e}")),
        Ok(Ok(head)) => {
            let code: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            if (200..400).contains(&code) {
                Outcome::Success
            } else {
                Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
            }
        }
    }
}

/// Run `probe` against a container whose pod has `pod_ip`.
pub async fn run<R: ContainerRuntime>(
    runtime: &R,
    probe: &Probe,
    container: &Container,
    container_id: &str,
    pod_ip: &str,
) -> Outcome {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        return match runtime.exec(container_id, &cmd, timeout).await {
            Ok(r) if r.exit_code == 0 => Outcome::Success,
            Ok(r) => Outcome::Failure(r.output.trim_end().to_string()),
            Err(e) => Outcome::Failure(e.to_string()),
        };
    }
    if let Some(h) = &probe.http_get {
        let port = match port_number(&h.port, container) {
            Ok(p) => p,
            Err(e) => return Outcome::Failure(e),
        };
        let host = h
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        let headers: Vec<(String, String)> = h
            .http_headers
            .iter()
            .flatten()
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect();
        let path = h
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let scheme = h.scheme.as_deref().unwrap_or("HTTP");
        return http_get(scheme, &host, port, &path, &headers, timeout).await;
    }
    if let Some(t) = &probe.tcp_socket {
        let port = match port_number(&t.port, container) {
            Ok(p) => p,
            Err(e) => return Outcome::Failure(e),
        };
        let host = t
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        return match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await
        {
            Ok(Ok(_)) => Outcome::Success,
            Ok(Err(e)) => Outcome::Failure(format!("dial tcp {host}:{port}: {e}")),
            Err(_) => Outcome::Failure(format!("dial tcp {host}:{port}: i/o timeout")),
        };
    }
    Outcome::Failure(
        "the probe has no handler this node supports (exec, httpGet, tcpSocket)".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(success: i32, failure: i32) -> Probe {
        Probe {
            success_threshold: Some(success),
            failure_threshold: Some(failure),
            period_seconds: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn thresholds() {
        let p = probe(1, 2);
        let mut t = Tally::default();
        let now = Instant::now();
        assert!(t.record(&p, &Outcome::Success, now));
        assert_eq!(t.passing, Some(true));
        assert!(!t.record(&p, &Outcome::Failure("x".into()), now));
        assert!(t.record(&p, &Outcome::Failure("x".into()), now));
        assert_eq!(t.passing, Some(false));
    }

    #[test]
    fn due_after_delay_and_period() {
        let p = Probe {
            initial_delay_seconds: Some(5),
            period_seconds: Some(2),
            ..Default::default()
        };
        let mut t = Tally::default();
        let start = Instant::now();
        assert!(!t.due(&p, start, start + Duration::from_secs(1)));
        assert!(t.due(&p, start, start + Duration::from_secs(5)));
        t.record(&p, &Outcome::Success, start + Duration::from_secs(5));
        assert!(!t.due(&p, start, start + Duration::from_secs(6)));
        assert!(t.due(&p, start, start + Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn http_probe_reads_the_status() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            for code in [200, 500] {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 512];
                let _ = s.read(&mut b).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {code} X\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let t = Duration::from_secs(2);
        assert_eq!(
            http_get("HTTP", "127.0.0.1", port, "/", &[], t).await,
            Outcome::Success
        );
        assert_eq!(
            http_get("HTTP", "127.0.0.1", port, "/", &[], t).await,
            Outcome::Failure("HTTP probe failed with statuscode: 500".into())
        );
    }
}
