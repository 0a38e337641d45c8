//! Tests of the store contract against [`SqliteStore`]: CRUD and its errors, ranges and
//! paging at a revision, concurrency, persistence; watch and compaction in submodules.

mod compaction;
mod fault_vfs;
mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::*;

fn fast() -> SqliteOptions {
    SqliteOptions {
        synchronous: Synchronous::Off,
        ..SqliteOptions::default()
    }
}

fn open_temp() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open_with(&dir.path().join("state.db"), fast()).expect("open");
    (dir, store)
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(watch: &mut WatchStream) -> Event {
    tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("watch timed out")
        .expect("watch ended")
        .expect("watch error")
}

fn keys(result: &RangeResult) -> Vec<&str> {
    result.kvs.iter().map(|kv| kv.key.as_str()).collect()
}

/// Writes a history of 12 revisions used by the compaction and persistence tests.
async fn history(store: &SqliteStore) {
    store.create("/h/a", b("a1")).await.unwrap(); // 1
    store.create("/h/b", b("b1")).await.unwrap(); // 2
    store.update("/h/a", b("a2"), None).await.unwrap(); // 3
    store.update("/h/a", b("a3"), None).await.unwrap(); // 4
    store.delete("/h/b", None).await.unwrap(); // 5
    store.create("/h/c", b("c1")).await.unwrap(); // 6
    store.update("/h/c", b("c2"), None).await.unwrap(); // 7
    store.create("/h/b", b("b2")).await.unwrap(); // 8
    store.delete("/h/c", None).await.unwrap(); // 9
    store.update("/h/a", b("a4"), None).await.unwrap(); // 10
    store.create("/h/d", b("d1")).await.unwrap(); // 11
    store.update("/h/b", b("b3"), None).await.unwrap(); // 12
}

#[tokio::test]
async fn create_then_get() {
    let (_dir, store) = open_temp();
    assert_eq!(store.current_revision(), 0);
    let kv = store
        .create("/registry/pods/default/a", b("1"))
        .await
        .unwrap();
    assert_eq!(kv.key, "/registry/pods/default/a");
    assert_eq!(kv.value, b("1"));
    assert_eq!((kv.create_revision, kv.mod_revision), (1, 1));
    assert_eq!(store.current_revision(), 1);
    assert_eq!(
        store.get("/registry/pods/default/a").await.unwrap(),
        Some(kv)
    );
    assert_eq!(store.get("/registry/pods/default/b").await.unwrap(), None);
}

#[tokio::test]
async fn create_existing_is_already_exists_and_uses_no_revision() {
    let (_dir, store) = open_temp();
    store.create("/k", b("1")).await.unwrap();
    let err = store.create("/k", b("2")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { ref key } if key == "/k"),
        "{err}"
    );
    assert_eq!(store.current_revision(), 1);
    assert_eq!(store.get("/k").await.unwrap().unwrap().value, b("1"));
}

#[tokio::test]
async fn empty_key_is_rejected() {
    let (_dir, store) = open_temp();
    assert!(matches!(
        store.create("", b("x")).await,
        Err(StoreError::InvalidKey { .. })
    ));
    assert!(matches!(
        store.get("").await,
        Err(StoreError::InvalidKey { .. })
    ));
    assert!(matches!(
        store.delete("", None).await,
        Err(StoreError::InvalidKey { .. })
    ));
    assert_eq!(store.current_revision(), 0);
}

#[tokio::test]
async fn update_with_and_without_cas() {
    let (_dir, store) = open_temp();
    let created = store.create("/k", b("1")).await.unwrap();
    store.create("/other", b("x")).await.unwrap();
    let updated = store.update("/k", b("2"), None).await.unwrap();
    assert_eq!((updated.create_revision, updated.mod_revision), (1, 3));
    assert_eq!(updated.value, b("2"));

    let err = store
        .update("/k", b("3"), Some(created.mod_revision))
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict { key, current } => {
            assert_eq!(key, "/k");
            assert_eq!(current, Some(updated.clone()));
        }
        other => panic!("expected conflict, got {other}"),
    }
    assert_eq!(store.current_revision(), 3);

    let cas = store.update("/k", b("3"), Some(3)).await.unwrap();
    assert_eq!((cas.create_revision, cas.mod_revision), (1, 4));
    assert_eq!(store.get("/k").await.unwrap(), Some(cas));
}

#[tokio::test]
async fn update_missing_or_deleted_is_not_found() {
    let (_dir, store) = open_temp();
    assert!(matches!(
        store.update("/k", b("1"), None).await,
        Err(StoreError::NotFound { .. })
    ));
    store.create("/k", b("1")).await.unwrap();
    store.delete("/k", None).await.unwrap();
    assert!(matches!(
        store.update("/k", b("2"), Some(1)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.current_revision(), 2);
}

#[tokio::test]
async fn delete_returns_last_value_at_delete_revision() {
    let (_dir, store) = open_temp();
    store.create("/k", b("1")).await.unwrap();
    store.update("/k", b("2"), None).await.unwrap();
    let err = store.delete("/k", Some(1)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current: Some(ref kv), .. } if kv.mod_revision == 2)
    );
    let deleted = store.delete("/k", Some(2)).await.unwrap();
    assert_eq!(deleted.value, b("2"));
    assert_eq!((deleted.create_revision, deleted.mod_revision), (1, 3));
    assert_eq!(store.get("/k").await.unwrap(), None);
    assert!(matches!(
        store.delete("/k", None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.current_revision(), 3);
}

#[tokio::test]
async fn recreate_after_delete_resets_create_revision() {
    let (_dir, store) = open_temp();
    store.create("/k", b("old")).await.unwrap();
    store.delete("/k", None).await.unwrap();
    let again = store.create("/k", b("new")).await.unwrap();
    assert_eq!((again.create_revision, again.mod_revision), (3, 3));
    let updated = store.update("/k", b("newer"), Some(3)).await.unwrap();
    assert_eq!(updated.create_revision, 3);
    // History still answers for each era.
    let at1 = store.range("/k", None, None, Some(1)).await.unwrap();
    assert_eq!(at1.kvs[0].value, b("old"));
    assert_eq!(at1.kvs[0].create_revision, 1);
    assert!(store
        .range("/k", None, None, Some(2))
        .await
        .unwrap()
        .kvs
        .is_empty());
    let deleted = store.delete("/k", None).await.unwrap();
    assert_eq!((deleted.create_revision, deleted.mod_revision), (3, 5));
    assert_eq!(deleted.value, b("newer"));
}

#[tokio::test]
async fn range_by_prefix_limit_and_count() {
    let (_dir, store) = open_temp();
    for key in [
        "/registry/pods/ns1/b",
        "/registry/pods/ns1/a",
        "/registry/pods/ns2/c",
        "/registry/podsecurity/x",
        "/registry/services/ns1/s",
    ] {
        store.create(key, b(key)).await.unwrap();
    }
    let all = store
        .range("/registry/pods/", None, None, None)
        .await
        .unwrap();
    assert_eq!(
        keys(&all),
        [
            "/registry/pods/ns1/a",
            "/registry/pods/ns1/b",
            "/registry/pods/ns2/c"
        ]
    );
    assert_eq!((all.revision, all.more, all.count), (5, false, 3));
    assert_eq!(all.kvs[0].value, b("/registry/pods/ns1/a"));

    let page = store
        .range("/registry/pods/", None, Some(2), None)
        .await
        .unwrap();
    assert_eq!(
        keys(&page),
        ["/registry/pods/ns1/a", "/registry/pods/ns1/b"]
    );
    assert_eq!((page.more, page.count), (true, 3));

    let rest = store
        .range(
            "/registry/pods/",
            Some("/registry/pods/ns1/b"),
            Some(2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(keys(&rest), ["/registry/pods/ns2/c"]);
    assert_eq!((rest.more, rest.count), (false, 1));

    // A zero limit means no limit, as in etcd.
    assert_eq!(
        store
            .range("/registry/pods/", None, Some(0), None)
            .await
            .unwrap()
            .kvs
            .len(),
        3
    );
    // The empty prefix is every key.
    assert_eq!(store.range("", None, None, None).await.unwrap().count, 5);
    // A start key before the prefix does not widen the range.
    let before = store
        .range("/registry/pods/", Some("/a"), None, None)
        .await
        .unwrap();
    assert_eq!(before.count, 3);

    let exact = store
        .range("/registry/pods/ns1/a", None, None, None)
        .await
        .unwrap();
    assert_eq!(keys(&exact), ["/registry/pods/ns1/a"]);
}

#[tokio::test]
async fn range_at_old_revision_and_future_revision() {
    let (_dir, store) = open_temp();
    store.create("/p/a", b("a1")).await.unwrap(); // 1
    store.create("/p/b", b("b1")).await.unwrap(); // 2
    store.update("/p/a", b("a2"), None).await.unwrap(); // 3
    store.delete("/p/b", None).await.unwrap(); // 4
    store.create("/p/c", b("c1")).await.unwrap(); // 5

    let at2 = store.range("/p/", None, None, Some(2)).await.unwrap();
    assert_eq!(at2.revision, 2);
    assert_eq!(
        at2.kvs
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.clone(), kv.mod_revision))
            .collect::<Vec<_>>(),
        [("/p/a", b("a1"), 1), ("/p/b", b("b1"), 2)]
    );
    let at4 = store.range("/p/", None, None, Some(4)).await.unwrap();
    assert_eq!(keys(&at4), ["/p/a"]);
    assert_eq!(at4.kvs[0].value, b("a2"));
    let now = store.range("/p/", None, None, None).await.unwrap();
    assert_eq!(keys(&now), ["/p/a", "/p/c"]);
    assert!(store
        .range("/p/", None, None, Some(0))
        .await
        .unwrap()
        .kvs
        .is_empty());

    let err = store.range("/p/", None, None, Some(6)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::FutureRevision {
                requested: 6,
                current: 5
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn paging_at_fixed_revision_is_consistent_under_writes() {
    let (_dir, store) = open_temp();
    for i in 0..25 {
        store
            .create(&format!("/p/{i:02}"), b(&format!("v{i}")))
            .await
            .unwrap();
    }
    let first = store.range("/p/", None, Some(10), None).await.unwrap();
    let snapshot = first.revision;
    assert_eq!((first.more, first.count), (true, 25));
    let mut seen: Vec<KeyValue> = first.kvs.clone();

    // Writes between pages must not show up in later pages.
    store.delete("/p/15", None).await.unwrap();
    store.update("/p/20", b("changed"), None).await.unwrap();
    store.create("/p/12a", b("new")).await.unwrap();

    let mut cursor = seen.last().map(|kv| kv.key.clone());
    loop {
        let page = store
            .range("/p/", cursor.as_deref(), Some(10), Some(snapshot))
            .await
            .unwrap();
        assert_eq!(page.revision, snapshot);
        assert_eq!(page.count, 25 - i64::try_from(seen.len()).unwrap());
        seen.extend(page.kvs.iter().cloned());
        cursor = page.kvs.last().map(|kv| kv.key.clone());
        if !page.more {
            break;
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("/p/{i:02}")).collect();
    assert_eq!(
        seen.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>(),
        expected
    );
    let twenty = seen.iter().find(|kv| kv.key == "/p/20").unwrap();
    assert_eq!(twenty.value, b("v20"));

    let now = store.range("/p/", None, None, None).await.unwrap();
    assert_eq!(now.count, 25);
    assert!(keys(&now).contains(&"/p/12a") && !keys(&now).contains(&"/p/15"));
}

#[tokio::test]
async fn concurrent_cas_has_exactly_one_winner() {
    let (_dir, store) = open_temp();
    let store: Arc<dyn Store> = Arc::new(store);
    let base = store.create("/k", b("0")).await.unwrap().mod_revision;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.update("/k", b(&i.to_string()), Some(base)).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(kv) => {
                wins += 1;
                assert_eq!(kv.mod_revision, 2);
            }
            Err(StoreError::Conflict {
                current: Some(kv), ..
            }) => assert_eq!(kv.mod_revision, 2),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.current_revision(), 2);
}

#[tokio::test]
async fn concurrent_writers_get_distinct_dense_revisions() {
    let (_dir, store) = open_temp();
    let store: Arc<dyn Store> = Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..50 {
                    revs.push(
                        store
                            .create(&format!("/c/{t}/{i}"), b("x"))
                            .await
                            .unwrap()
                            .mod_revision,
                    );
                }
                revs
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let revs = task.await.unwrap();
        assert!(revs.windows(2).all(|w| w[0] < w[1]), "per-writer order");
        all.extend(revs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=400).collect::<Vec<_>>());
    assert_eq!(
        store.range("/c/", None, None, None).await.unwrap().count,
        400
    );
}

#[tokio::test]
async fn state_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("deeper").join("state.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        history(&store).await;
        store.compact(9).await.unwrap();
        store.delete("/h/d", None).await.unwrap(); // 13: newest row is a tombstone
    }
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            (store.current_revision(), store.compacted_revision()),
            (13, 9)
        );
        assert_eq!(store.get("/h/b").await.unwrap().unwrap().value, b("b3"));
        assert_eq!(store.get("/h/d").await.unwrap(), None);
        assert!(matches!(
            store.range("/h/", None, None, Some(8)).await,
            Err(StoreError::Compacted { .. })
        ));
        let mut watch = store.watch("/h/", 11).await.unwrap();
        assert_eq!(next_event(&mut watch).await.kv.mod_revision, 12);
        assert_eq!(next_event(&mut watch).await.kind, EventKind::Deleted);
        // Compacting away the newest tombstone must not rewind the revision.
        store.compact(13).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        (store.current_revision(), store.compacted_revision()),
        (13, 13)
    );
    assert_eq!(store.create("/h/e", b("e")).await.unwrap().mod_revision, 14);
}

/// Reads past the reader threads wait for one: they start no threads or connections of
/// their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_use_at_most_the_reader_threads() {
    let (_dir, store) = open_temp();
    for i in 0..20 {
        store.create(&format!("/r/{i:02}"), b("v")).await.unwrap();
    }
    let reads = (0..64).map(|_| store.range("/r/", None, None, None));
    for read in futures::future::join_all(reads).await {
        assert_eq!(read.expect("read").kvs.len(), 20);
    }
    let allowed = fast().read_connections;
    let started = store.reader_threads();
    assert!(
        (1..=allowed).contains(&started),
        "64 concurrent reads started {started} reader threads (at most {allowed})"
    );
}

#[tokio::test]
async fn second_open_of_the_same_file_is_locked() {
    let (dir, _store) = open_temp();
    let err = SqliteStore::open_with(&dir.path().join("state.db"), fast()).err();
    assert!(matches!(err, Some(StoreError::Locked { .. })), "{err:?}");
}

#[tokio::test]
async fn compactor_keeps_the_newest_revisions() {
    let (_dir, store) = open_temp();
    let store: Arc<dyn Store> = Arc::new(store);
    for i in 0..20 {
        store.create(&format!("/k{i}"), b("v")).await.unwrap();
    }
    let handle = spawn_compactor(Arc::clone(&store), Duration::from_millis(20), 5);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.compacted_revision() != 15 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.abort();
    assert_eq!(store.compacted_revision(), 15);
    assert_eq!(
        store.range("/", None, None, Some(15)).await.unwrap().count,
        15
    );
}

#[test]
fn prefix_end_increments_the_last_byte() {
    assert_eq!(prefix_end(b"/a/"), Some(b"/a0".to_vec()));
    assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_end(b"\xff\xff"), None);
    assert_eq!(prefix_end(b""), None);
}

#[test]
fn store_is_object_safe() {
    fn takes(_: Option<Arc<dyn Store>>) {}
    takes(None);
}
