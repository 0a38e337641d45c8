//! Requests from the API server to a node's kubelet (`pods/log`), over HTTPS with the
//! API server's kubelet-client certificate, the way kube-apiserver reaches kubelets.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
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

/// GET `path_and_query` from the kubelet of `node` and stream its answer back; a kubelet
/// error becomes a Status with the kubelet's text.
pub async fn get_stream(
    state: &State,
    node: &str,
    path_and_query: &str,
) -> Result<Response<Body>, ApiError> {
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
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::get(path_and_query)
            .header(http::header::HOST, format!("{ip}:{port}"))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        sender.send_request(req).await.map_err(|e| e.to_string())
    };
    let resp = tokio::time::timeout(Duration::from_secs(30), connect)
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(failed)?;
    let (parts, incoming) = resp.into_parts();
    if !parts.status.is_success() {
        let text = incoming
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let msg = String::from_utf8_lossy(&text).trim().to_string();
        return Err(match parts.status.as_u16() {
            400 => ApiError::bad_request(msg),
            404 => ApiError::new(404, "NotFound", msg),
            403 => ApiError::forbidden(msg),
            _ => ApiError::internal(msg),
        });
    }
    let frames = futures::stream::unfold(incoming, |mut body| async move {
        loop {
            match body.frame().await {
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) => return Some((Ok::<_, Infallible>(Frame::data(d)), body)),
                    Err(_) => continue,
                },
                _ => return None,
            }
        }
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .unwrap_or_default())
}
