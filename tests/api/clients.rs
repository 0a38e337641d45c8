//! Real client libraries: the Python `kubernetes` package and kube-rs (`Api::watch` and
//! `kube::runtime::watcher`).

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;

use crate::support::{namespace, python_bin, root, shared};

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

async fn client() -> kube::Client {
    crate::support::kube_client(&shared().kubeconfig).await
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
    let rv = api
        .list(&Default::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
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
