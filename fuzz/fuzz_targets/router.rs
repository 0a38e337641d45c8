//! The whole API router, called in process the way a client reaches it: one HTTP/1.1
//! exchange over an in-memory pipe to `apiserver::serve_stream`, as an admin
//! (`system:masters`), against a SQLite store in a temporary directory that persists
//! across inputs.
//!
//! Input (decoded with `arbitrary`): four bytes picking the method, a real path, the
//! Content-Type and the Accept header, then `tail\nquery\nbody`: the tail is appended to the
//! path, the query follows `?`, the rest is the body.
//! Properties: no panic, an answer within the budget, and every error answer is a `Status`
//! (kind Status, apiVersion v1, code equal to the HTTP status).
#![no_main]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, CONTROLS};
use rkube::apiserver::authn::UserInfo;
use rkube::apiserver::request::{self, Query};
use rkube::apiserver::{self, Allocators, State};
use rkube::resources::registry::Registry;
use rkube::store::{SqliteOptions, SqliteStore, Store, Synchronous};
use rkube_fuzz::BUDGET;
use serde_json::Value;
use tokio::runtime::Runtime;

const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
];

/// Paths a real cluster serves, addressing the objects `FIXTURES` creates.
const PATHS: &[&str] = &[
    "/",
    "/api",
    "/api/v1",
    "/apis",
    "/apis/apps",
    "/apis/apps/v1",
    "/version",
    "/healthz",
    "/readyz",
    "/livez",
    "/openapi/v2",
    "/openapi/v3",
    "/openapi/v3/api/v1",
    "/openapi/v3/apis/apps/v1",
    "/api/v1/namespaces",
    "/api/v1/namespaces/default",
    "/api/v1/namespaces/default/status",
    "/api/v1/namespaces/default/finalize",
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/cm",
    "/api/v1/configmaps",
    "/api/v1/namespaces/default/secrets",
    "/api/v1/namespaces/default/secrets/s",
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/pods/web-0",
    "/api/v1/namespaces/default/pods/web-0/status",
    "/api/v1/namespaces/default/pods/web-0/log",
    "/api/v1/namespaces/default/pods/web-0/exec",
    "/api/v1/namespaces/default/pods/web-0/eviction",
    "/api/v1/namespaces/default/pods/web-0/binding",
    "/api/v1/namespaces/default/pods/web-0/ephemeralcontainers",
    "/api/v1/namespaces/default/services",
    "/api/v1/namespaces/default/services/web",
    "/api/v1/namespaces/default/services/web/status",
    "/api/v1/namespaces/default/serviceaccounts",
    "/api/v1/namespaces/default/serviceaccounts/default/token",
    "/api/v1/namespaces/default/events",
    "/api/v1/namespaces/default/endpoints",
    "/api/v1/namespaces/default/persistentvolumeclaims",
    "/api/v1/namespaces/default/resourcequotas",
    "/api/v1/namespaces/default/limitranges",
    "/api/v1/namespaces/default/replicationcontrollers",
    "/api/v1/nodes",
    "/api/v1/nodes/n1",
    "/api/v1/nodes/n1/status",
    "/api/v1/persistentvolumes",
    "/api/v1/watch/namespaces/default/configmaps",
    "/apis/apps/v1/deployments",
    "/apis/apps/v1/namespaces/default/deployments",
    "/apis/apps/v1/namespaces/default/deployments/web",
    "/apis/apps/v1/namespaces/default/deployments/web/scale",
    "/apis/apps/v1/namespaces/default/deployments/web/status",
    "/apis/apps/v1/namespaces/default/replicasets",
    "/apis/apps/v1/namespaces/default/statefulsets",
    "/apis/apps/v1/namespaces/default/daemonsets",
    "/apis/batch/v1/namespaces/default/jobs",
    "/apis/batch/v1/namespaces/default/cronjobs",
    "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
    "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    "/apis/authentication.k8s.io/v1/tokenreviews",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    "/apis/example.com/v1/namespaces/default/widgets",
    "/apis/example.com/v1/namespaces/default/widgets/w1",
    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
    "/apis/storage.k8s.io/v1/storageclasses",
    "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
    "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
    "/apis/events.k8s.io/v1/namespaces/default/events",
    "/apis/apiregistration.k8s.io/v1/apiservices",
    "/apis/scheduling.k8s.io/v1/priorityclasses",
    "/apis/certificates.k8s.io/v1/certificatesigningrequests",
];

const CONTENT_TYPES: [&str; 10] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/strategic-merge-patch+json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/cbor",
    "text/plain",
    "",
];

const ACCEPTS: [&str; 9] = [
    "",
    "application/json",
    "application/yaml",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json",
    "application/vnd.kubernetes.protobuf, */*",
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "text/html",
];

/// Objects the paths above name, created before fuzzing and put back now and then (inputs
/// delete them).
const FIXTURES: &[(&str, &str)] = &[
    (
        "/api/v1/namespaces/default/configmaps",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","labels":{"app":"web"}},"data":{"a":"1"}}"#,
    ),
    (
        "/api/v1/namespaces/default/secrets",
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"k":"v"}}"#,
    ),
    (
        "/api/v1/namespaces/default/serviceaccounts",
        r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}"#,
    ),
    (
        "/api/v1/namespaces/default/pods",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}"#,
    ),
    (
        "/api/v1/namespaces/default/services",
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}}"#,
    ),
    (
        "/api/v1/nodes",
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}"#,
    ),
    (
        "/apis/apps/v1/namespaces/default/deployments",
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}"#,
    ),
    (
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},"spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget"},"versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}"#,
    ),
    (
        "/apis/example.com/v1/namespaces/default/widgets",
        r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":1}}"#,
    ),
];

/// Put the fixtures back after this many inputs.
const REFRESH_EVERY: u64 = 2_000;

/// The fuzz input's shape.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    path: u8,
    content_type: u8,
    accept: u8,
    /// `tail\nquery\nbody`.
    rest: &'a [u8],
}

/// Bytes escaped in the path tail; `%` stays so inputs can write their own escapes.
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');
/// Bytes escaped in the query; `&`, `=` and `%` keep their meaning.
const QUERY_ESCAPES: &AsciiSet = &PATH_ESCAPES.remove(b'?');

struct Harness {
    rt: Runtime,
    state: Arc<State>,
    inputs: AtomicU64,
}

fn admin() -> UserInfo {
    UserInfo {
        name: "fuzz-admin".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
        uid: String::new(),
    }
}

/// Removes the state directories of fuzz processes that are gone (statics are never
/// dropped, so each process leaves its directory behind).
fn sweep_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("rkube-fuzz-router-") else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// One request and its answer. A watch that started streams until the client leaves, so
/// for a successful `watch` only the head is awaited.
async fn exchange(
    state: Arc<State>,
    req: Request<Full<Bytes>>,
    watch: bool,
) -> Result<(StatusCode, Bytes), String> {
    let (client, server) = tokio::io::duplex(1 << 20);
    tokio::spawn(apiserver::serve_stream(server, Some(admin()), state));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = if !(watch && status.is_success()) {
        resp.into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
    } else {
        Bytes::new()
    };
    Ok((status, body))
}

fn post(path: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("a fixture request")
}

async fn create_fixtures(state: &Arc<State>) {
    for (path, body) in FIXTURES {
        // The CRD's resource is served once its controller has seen it: retry briefly.
        for _ in 0..50 {
            match exchange(state.clone(), post(path, body), false).await {
                Ok((s, _)) if s == StatusCode::NOT_FOUND => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                _ => break,
            }
        }
    }
}

async fn setup() -> Arc<State> {
    let tmp = std::env::temp_dir();
    sweep_stale(&tmp);
    let dir = tmp.join(format!("rkube-fuzz-router-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Durability is not under test here; unsynced commits keep each input fast.
    let options = SqliteOptions {
        synchronous: Synchronous::Off,
        ..SqliteOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_with(&dir.join("state.db"), options).expect("opening the store"),
    );
    let allocators = Allocators::new("10.96.0.0/12").expect("the service CIDR");
    allocators
        .load(store.as_ref())
        .await
        .expect("loading allocators");
    let tokens = Arc::new(
        apiserver::tokens::TokenIssuer::load_or_create(&dir.join("pki")).expect("token keys"),
    );
    let state = Arc::new(State::new(
        store,
        Registry::builtin(),
        allocators,
        "127.0.0.1:6443".into(),
        tokens,
    ));
    apiserver::bootstrap(&state)
        .await
        .expect("bootstrap objects");
    // Served CRDs follow the store, so inputs that create one can then use it.
    let _crds = apiserver::crd::controller::start(state.clone())
        .await
        .expect("the CRD controller");
    create_fixtures(&state).await;
    // Build the cached documents once: their first build is not what a request costs.
    for path in [
        "/openapi/v2",
        "/openapi/v3",
        "/openapi/v3/api/v1",
        "/openapi/v3/apis/apps/v1",
        "/apis",
        "/api/v1",
    ] {
        let req = Request::get(path)
            .body(Full::new(Bytes::new()))
            .expect("a warm-up request");
        let _ = exchange(state.clone(), req, false).await;
    }
    state
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let state = rt.block_on(setup());
        Harness {
            rt,
            state,
            inputs: AtomicU64::new(0),
        }
    })
}

/// Health checks answer in plain text, like kube-apiserver's.
fn is_health(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn check_status(status: StatusCode, body: &[u8], what: &str) {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{what}: error {status} is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    assert_eq!(v["kind"], "Status", "{what}: error {status} body {v}");
    assert_eq!(v["apiVersion"], "v1", "{what}: error {status} body {v}");
    assert_eq!(
        v["code"].as_u64(),
        Some(u64::from(status.as_u16())),
        "{what}: error {status} body {v}"
    );
}

fuzz_target!(
    init: {
        let _ = harness();
    },
    |data: &[u8]| {
        let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
            return;
        };
        let method = METHODS[usize::from(input.method) % METHODS.len()].clone();
        let base = PATHS[usize::from(input.path) % PATHS.len()];
        let content_type = CONTENT_TYPES[usize::from(input.content_type) % CONTENT_TYPES.len()];
        let accept = ACCEPTS[usize::from(input.accept) % ACCEPTS.len()];
        let mut parts = input.rest.splitn(3, |b| *b == b'\n');
        let tail = parts.next().unwrap_or_default();
        let query = parts.next().unwrap_or_default();
        let body = parts.next().unwrap_or_default();

        let mut uri = format!("{base}{}", percent_encode(tail, PATH_ESCAPES));
        let mut query = percent_encode(query, QUERY_ESCAPES).to_string();
        // A changed CRD rebuilds the OpenAPI documents on their next request (over a second
        // in this instrumented debug build: not the input's doing) and changes what later
        // inputs are served. Its writes are validated and admitted but not persisted.
        let method_writes = !matches!(method, Method::GET | Method::HEAD);
        let probe = percent_decode_str(&uri).decode_utf8_lossy().into_owned();
        if method_writes && probe.contains("/customresourcedefinitions") {
            query.push_str(if query.is_empty() { "dryRun=All" } else { "&dryRun=All" });
        }
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query);
        }
        let mut builder = Request::builder().method(method.clone()).uri(&uri);
        if !content_type.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if !accept.is_empty() {
            builder = builder.header(header::ACCEPT, accept);
        }
        // What no client can send (an unparsable URI) never reaches the server.
        let Ok(req) = builder.body(Full::new(Bytes::copy_from_slice(body))) else {
            return;
        };
        let path = percent_decode_str(req.uri().path()).decode_utf8_lossy().into_owned();
        let info = request::parse(&method, &path, &Query::parse(req.uri().query()));
        // Proxies dial addresses objects name: their time is the network's, not ours.
        if path.split('/').any(|s| s == "proxy") {
            return;
        }
        // A deleted namespace stays Terminating (no namespace controller runs here) and
        // would turn most later inputs into 403s.
        if info.resource == "namespaces" && method == Method::DELETE {
            return;
        }
        let h = harness();
        let n = h.inputs.fetch_add(1, Ordering::Relaxed);
        h.rt.block_on(async {
            if n > 0 && n.is_multiple_of(REFRESH_EVERY) {
                create_fixtures(&h.state).await;
            }
            let watch = info.verb == "watch";
            let answer = tokio::time::timeout(BUDGET, exchange(h.state.clone(), req, watch))
                .await
                .unwrap_or_else(|_| panic!("{method} {uri}: no answer within {BUDGET:?}"));
            let (status, body) = match answer {
                Ok(a) => a,
                Err(e) => panic!("{method} {uri}: the exchange failed: {e}"),
            };
            let what = format!("{method} {uri}");
            if status.as_u16() >= 400 && method != Method::HEAD && !is_health(&path) {
                check_status(status, &body, &what);
            }
        });
    }
);
