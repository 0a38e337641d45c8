//! API aggregation: an APIService backed by an in-cluster Service (here a Service without
//! selector whose EndpointSlice points at an HTTPS server of the test) is proxied with
//! the caller's identity, listed in discovery, and reported Available.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::support::{shared, Kubectl};

/// An HTTPS server on 127.0.0.1 with a self-signed certificate, answering every request
/// with the JSON `answer` gives: the tests' extension API servers.
pub fn extension_server<F>(rt: &tokio::runtime::Runtime, answer: F) -> u16
where
    F: Fn(&Request<hyper::body::Incoming>) -> serde_json::Value + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["ext.default.svc".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let certs = vec![cert.der().clone()];
    let key = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let body = answer(&req);
                    async move {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body.to_string())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    port
}

/// Register `<version>.<group>` as served by the extension server on `port`, through a
/// selector-less Service `service` in `default` and a hand-made EndpointSlice, and wait
/// until it is Available.
pub fn register_apiservice(k: &Kubectl, service: &str, group: &str, version: &str, port: u16) {
    let objects = format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: {service}, namespace: default}}
spec:
  ports: [{{name: https, port: 443, targetPort: {port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service}-manual
  namespace: default
  labels: {{kubernetes.io/service-name: {service}}}
addressType: IPv4
ports: [{{name: https, port: {port}, protocol: TCP}}]
endpoints: [{{addresses: ["127.0.0.1"], conditions: {{ready: true}}}}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {{name: {version}.{group}}}
spec:
  group: {group}
  version: {version}
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {{name: {service}, namespace: default, port: 443}}
"#
    );
    k.clone().stdin(&objects).run(&["apply", "-f", "-"]).ok();
    k.run(&[
        "wait",
        "--for=condition=Available",
        &format!("apiservice/{version}.{group}"),
        "--timeout=20s",
    ])
    .ok();
}

#[test]
fn apiservice_backed_by_a_service_is_proxied() {
    let k = shared().kubectl();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Lists what it saw of each request: path, identity headers, credentials.
    let port = extension_server(&rt, |req| {
        let header = |name: &str| -> Vec<String> {
            req.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect()
        };
        match req.uri().path() {
            "/apis/metrics.example.io/v1beta1" => serde_json::json!({
                "kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": "metrics.example.io/v1beta1",
                "resources": [{"name": "widgetmetrics", "singularName": "widgetmetric", "namespaced": true,
                               "kind": "WidgetMetrics", "verbs": ["get", "list"]}],
            }),
            p => serde_json::json!({
                "kind": "WidgetMetricsList", "apiVersion": "metrics.example.io/v1beta1",
                "metadata": {}, "items": [{"metadata": {"name": "seen"}, "path": p,
                    "user": header("x-remote-user").concat(), "groups": header("x-remote-group"),
                    "authorization": req.headers().contains_key("authorization")}],
            }),
        }
    });
    register_apiservice(&k, "ext", "metrics.example.io", "v1beta1", port);
    let listed = k.run(&["get", "apiservices"]).ok().to_string();
    let row: Vec<&str> = listed
        .lines()
        .find(|l| l.starts_with("v1beta1.metrics.example.io"))
        .unwrap_or_else(|| panic!("{listed}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[1..3], ["default/ext", "True"], "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("v1.apps ") && l.contains("Local")),
        "{listed}"
    );

    let raw = k
        .run(&[
            "get",
            "--raw",
            "/apis/metrics.example.io/v1beta1/namespaces/default/widgetmetrics",
        ])
        .ok()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let item = &v["items"][0];
    assert_eq!(item["user"], "rkube-user", "{raw}");
    assert_eq!(
        item["groups"],
        serde_json::json!(["system:masters", "system:authenticated"])
    );
    assert_eq!(
        item["authorization"], false,
        "credentials must not reach the backend"
    );
    assert_eq!(
        item["path"],
        "/apis/metrics.example.io/v1beta1/namespaces/default/widgetmetrics"
    );

    let start = Instant::now();
    loop {
        let r = k.run(&["api-resources", "--api-group=metrics.example.io"]);
        if r.stdout.contains("widgetmetrics") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{}", r.stdout);
        std::thread::sleep(Duration::from_millis(200));
    }

    // Without endpoints the APIService turns unavailable and says why.
    k.run(&["-n", "default", "delete", "endpointslice", "ext-manual"])
        .ok();
    let start = Instant::now();
    loop {
        let r = k.run(&["get", "apiservice", "v1beta1.metrics.example.io"]);
        if r.stdout.contains("False (MissingEndpoints)") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{}", r.stdout);
        std::thread::sleep(Duration::from_millis(200));
    }
    k.run(&["delete", "apiservice", "v1beta1.metrics.example.io"])
        .ok();
    k.run(&["-n", "default", "delete", "service", "ext"]).ok();
}
