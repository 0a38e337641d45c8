//! Reaching an APIService's backend: the Service's ready endpoint for the APIService port,
//! and an HTTPS request to it carrying the caller's identity in the request headers
//! (kube-aggregator's proxy with `--requestheader-*`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;
use tokio::net::TcpStream;

use crate::apiserver::authn::UserInfo;
use crate::apiserver::State;

/// Where an APIService sends its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Service namespace.
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// Service port.
    pub port: u16,
    /// Skip verifying the backend's certificate.
    pub insecure: bool,
    /// PEM CA bundle for the backend's certificate.
    pub ca_bundle: Option<Vec<u8>>,
}

/// Why a backend cannot be reached, with the APIService condition reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// `ServiceNotFound`, `MissingEndpoints` or `FailedDiscoveryCheck`.
    pub reason: &'static str,
    /// Human text.
    pub message: String,
}

async fn load(state: &State, plural: &str, ns: &str, name: &str) -> Option<Value> {
    let res = state.registry.lookup("", "v1", plural)?;
    let kv = state.store.get(&res.key(Some(ns), name)).await.ok()??;
    serde_json::from_slice(&kv.value).ok()
}

/// The address of a ready endpoint of the target's Service port.
pub async fn resolve(state: &State, t: &Target) -> Result<SocketAddr, Unavailable> {
    let svc = load(state, "services", &t.namespace, &t.name)
        .await
        .ok_or_else(|| Unavailable {
            reason: "ServiceNotFound",
            message: format!("service/{} in \"{}\" is not present", t.name, t.namespace),
        })?;
    let port = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("port").and_then(Value::as_u64) == Some(t.port as u64))
        })
        .cloned()
        .ok_or_else(|| Unavailable {
            reason: "ServiceNotFound",
            message: format!(
                "service/{} in \"{}\" is not listening on port {}",
                t.name, t.namespace, t.port
            ),
        })?;
    let port_name = port.get("name").and_then(Value::as_str).unwrap_or("");
    let missing = || Unavailable {
        reason: "MissingEndpoints",
        message: format!(
            "endpoints for service/{} in \"{}\" have no addresses with port name \"{port_name}\"",
            t.name, t.namespace
        ),
    };
    let slices = state
        .registry
        .lookup("discovery.k8s.io", "v1", "endpointslices")
        .ok_or_else(missing)?;
    let listed = state
        .store
        .range(&slices.prefix(Some(&t.namespace)), None, None, None)
        .await
        .map_err(|_| missing())?;
    for kv in listed.kvs {
        let Ok(slice) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        if slice.pointer("/metadata/labels/kubernetes.io~1service-name")
            != Some(&Value::from(t.name.as_str()))
        {
            continue;
        }
        let Some(number) = slice
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
            })
            .and_then(|p| p.get("port"))
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for ep in slice
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if ep.pointer("/conditions/ready") == Some(&Value::Bool(false)) {
                continue;
            }
            let ip = ep
                .get("addresses")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .and_then(|a| a.parse().ok());
            if let Some(ip) = ip {
                return Ok(SocketAddr::new(ip, number));
            }
        }
    }
    Err(missing())
}

/// A verifier that accepts any server certificate (`insecureSkipTLSVerify`).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

/// A TLS client that accepts any server certificate, for peers whose certificates name
/// nothing the caller dials: metrics-server's `--kubelet-insecure-tls`, the kubelet's
/// HTTPS probes.
pub fn accept_any_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth(),
    )
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(
    t: &Target,
    proxy: Option<&crate::pki::CertPair>,
) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    let builder = server_verifier(t)?;
    match proxy {
        Some(c) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
            let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes())
                .map_err(|e| e.to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The client config builder with the backend's certificate check chosen.
fn server_verifier(
    t: &Target,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let cfg = if t.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(t.ca_bundle.as_deref().unwrap_or_default()) {
            roots
                .add(cert.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        }
        builder.with_root_certificates(roots)
    };
    Ok(cfg)
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP/1.1 connection over TLS to `addr`, its driver spawned.
pub async fn http1_over_tls<B>(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: ServerName<'static>,
) -> Result<hyper::client::conn::http1::SendRequest<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Send one request to the backend as `user`; hop-by-hop and credential headers stay here.
pub async fn send(
    state: &State,
    t: &Target,
    user: Option<&UserInfo>,
    method: http::Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Bytes>, Unavailable> {
    let addr = resolve(state, t).await?;
    let failed = |e: String| Unavailable {
        reason: "FailedDiscoveryCheck",
        message: format!("failing or missing response from https://{addr}{path_and_query}: {e}"),
    };
    let cfg = tls_config(t, state.proxy_client.get()).map_err(failed)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let host = format!("{}.{}.svc", t.name, t.namespace);
    let server_name = ServerName::try_from(host.clone()).map_err(|e| failed(e.to_string()))?;
    let exchange = async {
        let mut sender = http1_over_tls(&connector, addr, server_name).await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, host.as_str());
        for (k, v) in headers {
            let name = k.as_str();
            if matches!(
                name,
                "authorization" | "connection" | "host" | "transfer-encoding"
            ) || name.starts_with("impersonate-")
                || name.starts_with("x-remote-")
            {
                continue;
            }
            req = req.header(k, v);
        }
        if let Some(u) = user {
            if let Ok(v) = HeaderValue::from_str(&u.name) {
                req = req.header("X-Remote-User", v);
            }
            for g in &u.groups {
                if let Ok(v) = HeaderValue::from_str(g) {
                    req = req.header("X-Remote-Group", v);
                }
            }
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let (parts, incoming) = resp.into_parts();
        let bytes = incoming
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>(Response::from_parts(parts, bytes))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(failed)
}
