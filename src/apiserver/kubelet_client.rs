//! Requests from the API server to a node's kubelet (`pods/log`), over HTTPS with the
//! API server's kubelet-client certificate, the way kube-apiserver reaches kubelets.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;

use super::http::Body;
use super::status::ApiError;
use super::State;
use crate::pki::CertPair;

/// The API server's credentials toward kubelets.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// CA the kubelets' serving certificates are signed by.
    pub ca_pem: String,
    /// Client certificate presented to kubelets.
    pub cert: CertPair,
}

fn tls_config(c: &Credentials) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(c.ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(c.cert.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
    let key =
        PrivateKeyDer::from_pem_slice(c.cert.key_pem.as_bytes()).map_err(|e| e.to_string())?;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())
}

/// Where a node's kubelet listens: its InternalIP and kubelet port.
pub async fn endpoint(state: &State, node: &str) -> Result<(String, u16), ApiError> {
    let nodes = state
        .registry
        .lookup("", "v1", "nodes")
        .ok_or_else(|| ApiError::internal("nodes are not served"))?;
    let kv = state
        .store
        .get(&nodes.key(None, node))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::new(404, "NotFound", format!("nodes \"{node}\" not found")))?;
    let obj: Value =
        serde_json::from_slice(&kv.value).map_err(|e| ApiError::internal(e.to_string()))?;
    let ip = obj["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| a["address"].as_str())
        .ok_or_else(|| ApiError::internal(format!("node {node} has no InternalIP address")))?;
    let port = obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .unwrap_or(crate::kubelet::server::PORT as u64) as u16;
    Ok((ip.to_string(), port))
}

/// An HTTP/1.1 connection to the kubelet of `node` (TLS with the kubelet-client
/// certificate), able to switch protocols; also returns the kubelet's `ip:port`.
async fn connect(
    state: &State,
    node: &str,
    path_and_query: &str,
) -> Result<
    (
        hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
        String,
    ),
    ApiError,
> {
    let creds = state
        .kubelet_client
        .get()
        .ok_or_else(|| ApiError::unavailable("this API server has no kubelet credentials"))?
        .clone();
    let (ip, port) = endpoint(state, node).await?;
    let failed =
        |e: String| ApiError::internal(format!("Get \"https://{ip}:{port}{path_and_query}\": {e}"));
    let cfg = tls_config(&creds).map_err(failed)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let server_name = ServerName::try_from(ip.clone()).map_err(|e| failed(e.to_string()))?;
    let connect = async {
        let tcp = TcpStream::connect((ip.as_str(), port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok::<_, String>(sender)
    };
    let sender = tokio::time::timeout(Duration::from_secs(30), connect)
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(failed)?;
    Ok((sender, format!("{ip}:{port}")))
}

/// A kubelet's refusal as a Status with the kubelet's text.
async fn kubelet_error(code: u16, body: hyper::body::Incoming) -> ApiError {
    let text = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let msg = String::from_utf8_lossy(&text).trim().to_string();
    match code {
        400 => ApiError::bad_request(msg),
        404 => ApiError::new(404, "NotFound", msg),
        403 => ApiError::forbidden(msg),
        _ => ApiError::internal(msg),
    }
}

/// GET `path_and_query` from the kubelet of `node` and stream its answer back; a kubelet
/// error becomes a Status with the kubelet's text.
pub async fn get_stream(
    state: &State,
    node: &str,
    path_and_query: &str,
) -> Result<Response<Body>, ApiError> {
    let (mut sender, addr) = connect(state, node, path_and_query).await?;
    let req = Request::get(path_and_query)
        .header(http::header::HOST, addr.clone())
        .body(Empty::<Bytes>::new())
        .map_err(ApiError::internal)?;
    let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .map_err(|_| {
            ApiError::internal(format!("Get \"https://{addr}{path_and_query}\": timed out"))
        })?
        .map_err(|e| ApiError::internal(format!("Get \"https://{addr}{path_and_query}\": {e}")))?;
    let (parts, incoming) = resp.into_parts();
    if !parts.status.is_success() {
        return Err(kubelet_error(parts.status.as_u16(), incoming).await);
    }
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(crate::apiserver::http::relay(incoming))
        .unwrap_or_default())
}

/// The request headers of a protocol upgrade that the kubelet must see.
const UPGRADE_HEADERS: &[&str] = &[
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
];

/// Pass a protocol upgrade (WebSocket or SPDY) through to the kubelet of `node`, the way
/// kube-apiserver's upgrade-aware proxy does: the kubelet's `101` goes back to the client
/// and the two connections are spliced; any other kubelet answer becomes a Status.
pub async fn upgrade(
    state: &State,
    node: &str,
    path_and_query: &str,
    client: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, ApiError> {
    let (mut sender, addr) = connect(state, node, path_and_query).await?;
    let mut req = Request::builder()
        .method(client.method().clone())
        .uri(path_and_query)
        .header(http::header::HOST, addr.clone());
    for name in UPGRADE_HEADERS {
        for v in client.headers().get_all(*name) {
            req = req.header(*name, v.clone());
        }
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(ApiError::internal)?;
    let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .map_err(|_| ApiError::internal(format!("dialing the kubelet at {addr}: timed out")))?
        .map_err(|e| ApiError::internal(format!("dialing the kubelet at {addr}: {e}")))?;
    if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        let code = resp.status().as_u16();
        return Err(kubelet_error(code, resp.into_body()).await);
    }
    let mut answer = Response::builder().status(http::StatusCode::SWITCHING_PROTOCOLS);
    for (name, v) in resp.headers() {
        answer = answer.header(name, v.clone());
    }
    let answer = answer
        .body(BodyExt::boxed(
            Empty::<Bytes>::new().map_err(|n| match n {}),
        ))
        .map_err(ApiError::internal)?;
    tokio::spawn(async move {
        let (client_up, kubelet_up) =
            match tokio::join!(hyper::upgrade::on(client), hyper::upgrade::on(resp)) {
                (Ok(c), Ok(k)) => (c, k),
                (c, k) => {
                    tracing::debug!(
                        client = c.is_ok(),
                        kubelet = k.is_ok(),
                        "stream upgrade failed"
                    );
                    return;
                }
            };
        let mut c = hyper_util::rt::TokioIo::new(client_up);
        let mut k = hyper_util::rt::TokioIo::new(kubelet_up);
        if let Err(e) =
            tokio::io::copy_bidirectional_with_sizes(&mut c, &mut k, 64 * 1024, 64 * 1024).await
        {
            tracing::debug!(error = %e, "stream to the kubelet ended");
        }
    });
    Ok(answer)
}
