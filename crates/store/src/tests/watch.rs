//! Watch tests: replay, live delivery, ordering under concurrent writes, progress, lag.

use super::*;

#[tokio::test]
async fn watch_live_events_with_prefix_and_prev() {
    let (_dir, store) = open_temp();
    store.create("/w/a", b("0")).await.unwrap();
    let mut watch = store.watch("/w/", store.current_revision()).await.unwrap();
    store.update("/w/a", b("1"), None).await.unwrap(); // 2
    store.create("/x/ignored", b("x")).await.unwrap(); // 3
    store.create("/w/b", b("b")).await.unwrap(); // 4
    store.delete("/w/a", None).await.unwrap(); // 5

    let e = next_event(&mut watch).await;
    assert_eq!(
        (e.kind, e.kv.mod_revision, e.kv.value.clone()),
        (EventKind::Updated, 2, b("1"))
    );
    let prev = e.prev.unwrap();
    assert_eq!((prev.mod_revision, prev.value), (1, b("0")));
    let e = next_event(&mut watch).await;
    assert_eq!(
        (e.kind, e.kv.key.as_str(), e.kv.mod_revision),
        (EventKind::Created, "/w/b", 4)
    );
    assert!(e.prev.is_none());
    let e = next_event(&mut watch).await;
    assert_eq!(
        (e.kind, e.kv.mod_revision, e.kv.create_revision),
        (EventKind::Deleted, 5, 1)
    );
    assert_eq!(e.kv.value, b("1"));
    assert_eq!(e.prev.map(|p| p.mod_revision), Some(2));
}

#[tokio::test]
async fn watch_from_old_revision_replays_then_follows() {
    let (_dir, store) = open_temp();
    store.create("/w/a", b("a1")).await.unwrap(); // 1
    store.update("/w/a", b("a2"), None).await.unwrap(); // 2
    store.create("/w/b", b("b1")).await.unwrap(); // 3
    store.delete("/w/a", None).await.unwrap(); // 4
    store.create("/w/a", b("a3")).await.unwrap(); // 5

    let mut watch = store.watch("/w/", 1).await.unwrap();
    store.update("/w/b", b("b2"), None).await.unwrap(); // 6, live

    let got: Vec<(EventKind, String, Revision, Bytes, Option<Revision>)> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            let e = next_event(&mut watch).await;
            v.push((
                e.kind,
                e.kv.key,
                e.kv.mod_revision,
                e.kv.value,
                e.prev.map(|p| p.mod_revision),
            ));
        }
        v
    };
    assert_eq!(
        got,
        [
            (EventKind::Updated, "/w/a".to_string(), 2, b("a2"), Some(1)),
            (EventKind::Created, "/w/b".to_string(), 3, b("b1"), None),
            (EventKind::Deleted, "/w/a".to_string(), 4, b("a2"), Some(2)),
            (EventKind::Created, "/w/a".to_string(), 5, b("a3"), None),
            (EventKind::Updated, "/w/b".to_string(), 6, b("b2"), Some(3)),
        ]
    );
    // Create after delete starts a new incarnation.
    let mut from4 = store.watch("/w/a", 4).await.unwrap();
    let e = next_event(&mut from4).await;
    assert_eq!((e.kind, e.kv.create_revision), (EventKind::Created, 5));
}

#[tokio::test]
async fn watch_replay_spans_many_pages() {
    let (_dir, store) = open_temp();
    for i in 0..1300 {
        let prefix = if i % 3 == 0 { "/other" } else { "/w" };
        store
            .create(&format!("{prefix}/{i}"), b("v"))
            .await
            .unwrap();
    }
    let mut watch = store.watch("/w/", 0).await.unwrap();
    let mut last = 0;
    let mut n = 0;
    while last < 1300 - 1 {
        let e = next_event(&mut watch).await;
        assert!(e.kv.mod_revision > last);
        assert!(e.kv.key.starts_with("/w/"));
        last = e.kv.mod_revision;
        n += 1;
        if last == 1299 {
            break;
        }
    }
    assert_eq!(n, (0..1300).filter(|i| i % 3 != 0).count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_started_during_writes_has_no_gap_or_duplicate() {
    let (_dir, store) = open_temp();
    let store: Arc<dyn Store> = Arc::new(store);
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 150;
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut log = Vec::new();
                for i in 0..PER_WRITER {
                    let key = format!("/w/{t}/{}", i % 10);
                    let kv = if i < 10 {
                        store.create(&key, b("c")).await
                    } else if i % 7 == 0 {
                        store.delete(&key, None).await
                    } else {
                        match store.update(&key, b("u"), None).await {
                            Err(StoreError::NotFound { .. }) => store.create(&key, b("c")).await,
                            other => other,
                        }
                    };
                    log.push(kv.unwrap().mod_revision);
                    tokio::task::yield_now().await;
                }
                log
            })
        })
        .collect();
    // Start watching while the writers are busy.
    while store.current_revision() < 100 {
        tokio::task::yield_now().await;
    }
    let start = store.current_revision() - 50;
    let mut watch = store.watch("/w/", start).await.unwrap();
    let mut expected = Vec::new();
    for writer in writers {
        expected.extend(writer.await.unwrap());
    }
    expected.retain(|&rev| rev > start);
    expected.sort_unstable();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(next_event(&mut watch).await.kv.mod_revision);
    }
    assert_eq!(got, expected);
    // Nothing extra afterwards.
    store.create("/w/end", b("e")).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv.key, "/w/end");
}

#[tokio::test]
async fn watch_progress_covers_other_keys_and_replay() {
    let (_dir, store) = open_temp();
    store.create("/a/1", b("1")).await.unwrap(); // 1
    store.create("/b/1", b("1")).await.unwrap(); // 2
    let mut watch = store.watch("/a/", 0).await.unwrap();
    assert_eq!(watch.progress_revision(), 0);
    assert_eq!(next_event(&mut watch).await.kv.mod_revision, 1);
    assert_eq!(watch.progress_revision(), 1);
    store.create("/b/2", b("2")).await.unwrap(); // 3
    store.create("/a/2", b("2")).await.unwrap(); // 4
    assert_eq!(next_event(&mut watch).await.kv.mod_revision, 4);
    assert_eq!(watch.progress_revision(), 4);
    // Nothing matches, but polling consumes the unrelated write and advances progress.
    store.create("/b/3", b("3")).await.unwrap(); // 5
    let idle = tokio::time::timeout(Duration::from_millis(50), watch.next()).await;
    assert!(idle.is_err(), "no event expected");
    assert_eq!(watch.progress_revision(), 5);
}

#[tokio::test]
async fn non_ascii_keys_range_and_watch_by_bytes() {
    let (_dir, store) = open_temp();
    store.create("/ü/1", b("1")).await.unwrap();
    store.create("/ü\u{10FFFF}", b("2")).await.unwrap();
    store.create("/ü/\u{10FFFF}x", b("3")).await.unwrap();
    store.create("/v", b("4")).await.unwrap();
    let got = store.range("/ü/", None, None, None).await.unwrap();
    assert_eq!(keys(&got), ["/ü/1", "/ü/\u{10FFFF}x"]);
    let mut watch = store.watch("/ü/", 0).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv.key, "/ü/1");
    assert_eq!(next_event(&mut watch).await.kv.key, "/ü/\u{10FFFF}x");
}

#[tokio::test]
async fn watch_from_the_future_starts_after_that_revision() {
    let (_dir, store) = open_temp();
    store.create("/k1", b("1")).await.unwrap();
    let mut watch = store.watch("/", 2).await.unwrap();
    store.create("/k2", b("2")).await.unwrap(); // 2, skipped
    store.create("/k3", b("3")).await.unwrap(); // 3
                                                // Also exercise the `Stream` impl.
    let first: Vec<_> = StreamExt::take(&mut watch, 1).collect().await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].as_ref().unwrap().kv.mod_revision, 3);
}

#[tokio::test]
async fn a_lagging_watcher_catches_up_from_disk_without_blocking_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(
        &dir.path().join("db"),
        SqliteOptions {
            watch_buffer: 4,
            ..fast()
        },
    )
    .unwrap();
    let mut watch = store.watch("/", 0).await.unwrap();
    for i in 0..20 {
        store.create(&format!("/k{i}"), b("v")).await.unwrap();
    }
    // The ring holds 4; all 20 still come, once each and in order, then live ones again.
    for rev in 1..=20 {
        assert_eq!(next_event(&mut watch).await.kv.mod_revision, rev);
    }
    store.create("/late", b("v")).await.unwrap();
    let late = next_event(&mut watch).await;
    assert_eq!((late.kv.key.as_str(), late.kv.mod_revision), ("/late", 21));
    // Lagging again mid-stream resumes after the last event handed out.
    for i in 0..10 {
        store.create(&format!("/m{i}"), b("v")).await.unwrap();
    }
    for rev in 22..=31 {
        assert_eq!(next_event(&mut watch).await.kv.mod_revision, rev);
    }
}

#[tokio::test]
async fn closing_the_store_ends_watches() {
    let (_dir, store) = open_temp();
    let mut watch = store.watch("/", 0).await.unwrap();
    store.create("/k", b("v")).await.unwrap();
    drop(store);
    assert_eq!(next_event(&mut watch).await.kv.key, "/k");
    assert!(matches!(watch.next().await, Some(Err(StoreError::Closed))));
    assert!(watch.next().await.is_none());
}
