//! Real client libraries: the Python `kubernetes` package, kube-rs (`Api::watch` and
//! `kube::runtime::watcher`) and helm 4.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;

use crate::support::{helm_bin, namespace, python_bin, root, shared, write_file, Server};

#[test]
fn python_client_crud_and_watch() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "python");
    let out = std::process::Command::new(python_bin())
        .arg(root().join("tests/api/python_client.py"))
        .arg(&s.kubeconfig)
        .arg(&ns)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "python client ok\n");
}

/// A chart with a ConfigMap and a Service, the ConfigMap's data from `greeting`.
const CHART: [(&str, &str); 4] = [
    ("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n"),
    ("values.yaml", "greeting: hello\n"),
    (
        "templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
    ),
    (
        "templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector: {app: demo}\n  ports: [{port: 80, targetPort: 8080}]\n",
    ),
];

#[test]
fn helm_installs_upgrades_and_uninstalls_a_chart() {
    let s = shared();
    let k = s.kubectl();
    let ns = namespace(&k, "helm");
    let home = tempfile::tempdir().unwrap();
    let chart = home.path().join("demo");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    for (name, text) in CHART {
        write_file(&chart, name, text);
    }
    let chart = chart.to_str().unwrap();
    let helm = |args: &[&str]| {
        let out = std::process::Command::new(helm_bin())
            .args(args)
            .args(["--namespace", &ns])
            .env("KUBECONFIG", &s.kubeconfig)
            .env("HELM_CACHE_HOME", home.path().join("cache"))
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .output()
            .expect("run helm");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "helm {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let greeting = || {
        k.run(&[
            "-n",
            &ns,
            "get",
            "configmap",
            "demo-config",
            "-o",
            "jsonpath={.data.greeting}",
        ])
        .ok()
        .to_string()
    };

    let out = helm(&["install", "demo", chart, "--wait", "--timeout", "60s"]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert_eq!(greeting(), "hello");
    let out = helm(&["upgrade", "demo", chart, "--set", "greeting=bye"]);
    assert!(out.contains("REVISION: 2"), "{out}");
    assert_eq!(greeting(), "bye");
    let listed: serde_json::Value =
        serde_json::from_str(&helm(&["list", "--output", "json"])).unwrap();
    assert_eq!(listed[0]["name"], "demo", "{listed}");
    assert_eq!(listed[0]["status"], "deployed", "{listed}");
    assert_eq!(listed[0]["revision"], "2", "{listed}");

    // helm purges its release records with protobuf DeleteOptions.
    let out = helm(&["uninstall", "demo"]);
    assert!(out.contains("release \"demo\" uninstalled"), "{out}");
    let left = k
        .run(&[
            "-n",
            &ns,
            "get",
            "configmaps,services,secrets",
            "-l",
            "owner=helm",
            "-o",
            "name",
        ])
        .ok()
        .to_string();
    assert_eq!(left, "");
    assert_ne!(
        k.run(&["-n", &ns, "get", "configmap", "demo-config"]).code,
        0
    );
    assert_eq!(helm(&["list", "--short"]).trim(), "");
}

async fn client() -> kube::Client {
    crate::support::kube_client(&shared().kubeconfig).await
}

/// The resourceVersion of a list of `api`'s objects, to watch from.
async fn list_revision(api: &Api<ConfigMap>) -> String {
    let list = api.list(&Default::default()).await.unwrap();
    list.metadata.resource_version.unwrap()
}

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"v": v}}))
        .unwrap()
}

#[tokio::test]
async fn kube_rs_watch_and_watcher() {
    let k = shared().kubectl();
    let ns = namespace(&k, "kubers");
    let api: Api<ConfigMap> = Api::namespaced(client().await, &ns);

    // Raw watch: ADDED, MODIFIED, DELETED.
    let rv = list_revision(&api).await;
    let mut raw = api
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("raw", "1"))
        .await
        .unwrap();
    api.patch(
        "raw",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"v": "2"}})),
    )
    .await
    .unwrap();
    api.delete("raw", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), raw.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(o)))) => {
                seen.push(("ADDED", o.data.unwrap_or_default()["v"].clone()))
            }
            Ok(Ok(Some(WatchEvent::Modified(o)))) => {
                seen.push(("MODIFIED", o.data.unwrap_or_default()["v"].clone()))
            }
            Ok(Ok(Some(WatchEvent::Deleted(o)))) => {
                seen.push(("DELETED", o.data.unwrap_or_default()["v"].clone()))
            }
            Ok(Ok(Some(WatchEvent::Bookmark(_)))) => {}
            other => panic!("unexpected {other:?} after {seen:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            ("ADDED", "1".to_string()),
            ("MODIFIED", "2".to_string()),
            ("DELETED", "2".to_string())
        ]
    );

    // kube-runtime watcher, both with list+watch and with streaming lists (sendInitialEvents).
    for cfg in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let name = if cfg.initial_list_strategy == watcher::InitialListStrategy::StreamingList {
            "streamed"
        } else {
            "listed"
        };
        api.create(&PostParams::default(), &cm(&format!("{name}-pre"), "0"))
            .await
            .unwrap();
        let mut stream = watcher(api.clone(), cfg).boxed();
        let mut init_done = false;
        let mut applied = Vec::new();
        let mut deleted = Vec::new();
        let mut triggered = false;
        while deleted.is_empty() {
            let ev = tokio::time::timeout(Duration::from_secs(15), stream.try_next())
                .await
                .unwrap_or_else(|_| panic!("{name}: watcher stalled; applied {applied:?}"))
                .unwrap()
                .unwrap();
            match ev {
                watcher::Event::InitApply(o) => {
                    applied.push(format!("init:{}", o.metadata.name.unwrap()))
                }
                watcher::Event::InitDone => init_done = true,
                watcher::Event::Apply(o) => applied.push(format!(
                    "{}={}",
                    o.metadata.name.unwrap(),
                    o.data.unwrap_or_default()["v"]
                )),
                watcher::Event::Delete(o) => deleted.push(o.metadata.name.unwrap()),
                watcher::Event::Init => {}
            }
            if init_done && !triggered {
                triggered = true;
                api.create(&PostParams::default(), &cm(name, "1"))
                    .await
                    .unwrap();
                api.patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"data": {"v": "2"}})),
                )
                .await
                .unwrap();
                api.delete(name, &DeleteParams::default()).await.unwrap();
            }
        }
        assert!(
            applied.contains(&format!("init:{name}-pre")),
            "{name}: {applied:?}"
        );
        assert!(
            applied.contains(&format!("{name}=1")) || applied.contains(&format!("{name}=2")),
            "{name}: {applied:?}"
        );
        assert!(
            applied.contains(&format!("{name}=2")),
            "{name}: {applied:?}"
        );
        assert_eq!(deleted, [name.to_string()]);
    }
}

/// Established connections of this network namespace to `port` on the client's side.
fn connections_to(port: u16) -> usize {
    let tables: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    tables
        .iter()
        .flat_map(|t| t.lines().skip(1))
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let remote_port = cols
                .get(2)
                .and_then(|r| r.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && cols.get(3) == Some(&"01")
        })
        .count()
}

#[tokio::test]
async fn a_components_watches_share_one_connection() {
    use base64::Engine;
    // A server of its own: only this test and the server's own controllers connect to it.
    let s = Server::start();
    let ns = namespace(&s.kubectl(), "multiplexed");
    let kc: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&s.kubeconfig).expect("kubeconfig"))
            .expect("kubeconfig YAML");
    let pem = |pointer: &str| {
        let data = kc.pointer(pointer).and_then(|v| v.as_str()).expect(pointer);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64");
        String::from_utf8(decoded).expect("PEM")
    };
    let cert = rkube::pki::CertPair {
        cert_pem: pem("/users/0/user/client-certificate-data"),
        key_pem: pem("/users/0/user/client-key-data"),
    };
    let ca = pem("/clusters/0/cluster/certificate-authority-data");
    let client = rkube::controllers::client(&s.url, &ca, &cert).expect("component client");
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);

    // More watches than hyper's default of 200 streams per connection.
    let rv = list_revision(&api).await;
    // The server's own controllers hold connections to it too; ours is open from here on.
    let before = connections_to(s.port);
    let mut watches = Vec::new();
    for _ in 0..300 {
        let w = api
            .watch(&WatchParams::default().timeout(60), &rv)
            .await
            .expect("watch");
        watches.push(w.boxed());
    }
    api.create(&PostParams::default(), &cm("seen", "1"))
        .await
        .unwrap();
    for (i, w) in watches.iter_mut().enumerate() {
        match tokio::time::timeout(Duration::from_secs(30), w.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(o)))) => {
                assert_eq!(o.metadata.name.as_deref(), Some("seen"))
            }
            other => panic!("watch {i}: {other:?}"),
        }
    }
    assert_eq!(connections_to(s.port), before, "no connection per watch");
}
