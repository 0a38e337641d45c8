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

use crate::support::{shared, write_file};

/// An extension API server for `metrics.example.io/v1beta1` on 127.0.0.1.
fn extension_server(rt: &tokio::runtime::Runtime) -> u16 {
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
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let user = req
                        .headers()
                        .get("x-remote-user")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let groups: Vec<String> = req
                        .headers()
                        .get_all("x-remote-group")
                        .iter()
                        .filter_map(|v| v.to_str().ok().map(str::to_string))
                        .collect();
                    let body = match req.uri().path() {
                        "/apis/metrics.example.io/v1beta1" => serde_json::json!({
                            "kind": "APIResourceList", "apiVersion": "v1",
                            "groupVersion": "metrics.example.io/v1beta1",
                            "resources": [{"name": "widgetmetrics", "singularName": "widgetmetric", "namespaced": true,
                                           "kind": "WidgetMetrics", "verbs": ["get", "list"]}],
                        }),
                        p => serde_json::json!({
                            "kind": "WidgetMetricsList", "apiVersion": "metrics.example.io/v1beta1",
                            "metadata": {}, "items": [{"metadata": {"name": "seen"}, "path": p, "user": user, "groups": groups,
                                "authorization": req.headers().contains_key("authorization")}],
                        }),
                    };
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body.to_string())))
                            .unwrap(),
                    )
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    port
}

#[test]
fn apiservice_backed_by_a_service_is_proxied() {
    let k = shared().kubectl();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = extension_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let objects = write_file(
        dir.path(),
        "ext.yaml",
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: default}}
spec:
  ports: [{{name: https, port: 443, targetPort: {port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ext-manual
  namespace: default
  labels: {{kubernetes.io/service-name: ext}}
addressType: IPv4
ports: [{{name: https, port: {port}, protocol: TCP}}]
endpoints: [{{addresses: ["127.0.0.1"], conditions: {{ready: true}}}}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {{name: v1beta1.metrics.example.io}}
spec:
  group: metrics.example.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {{name: ext, namespace: default, port: 443}}
"#
        ),
    );
    k.run(&["apply", "-f", objects.to_str().unwrap()]).ok();
    k.run(&[
        "wait",
        "--for=condition=Available",
        "apiservice/v1beta1.metrics.example.io",
        "--timeout=20s",
    ])
    .ok();
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
