//! Compaction tests: errors, preserved reads, purged rows, watchers racing compaction.

use super::*;

fn row_count(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn compaction_errors_and_preserved_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = SqliteStore::open_with(&path, fast()).unwrap();
    history(&store).await;
    let before: BTreeMap<Revision, Vec<KeyValue>> = {
        let mut m = BTreeMap::new();
        for rev in 7..=12 {
            m.insert(
                rev,
                store.range("/h/", None, None, Some(rev)).await.unwrap().kvs,
            );
        }
        m
    };
    let mut old_watch = store.watch("/h/", 7).await.unwrap();

    store.compact(7).await.unwrap();
    assert_eq!(store.compacted_revision(), 7);
    // Rows: superseded at or before 7 (a1, a2, b1, c1) and the tombstone at 5 are gone.
    assert_eq!(row_count(&path), 12 - 5);

    for (rev, kvs) in &before {
        assert_eq!(
            &store
                .range("/h/", None, None, Some(*rev))
                .await
                .unwrap()
                .kvs,
            kvs,
            "at {rev}"
        );
    }
    let err = store.range("/h/", None, None, Some(6)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Compacted {
                requested: 6,
                compacted: 7
            }
        ),
        "{err}"
    );
    assert!(matches!(
        store.watch("/h/", 6).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.compact(7).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.compact(5).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(
        store.compact(13).await,
        Err(StoreError::FutureRevision { .. })
    ));

    // Watching from exactly the compacted revision replays everything after it, with prevs.
    let mut watch = store.watch("/h/", 7).await.unwrap();
    let e = next_event(&mut watch).await;
    assert_eq!(
        (e.kind, e.kv.mod_revision, e.kv.key.as_str()),
        (EventKind::Created, 8, "/h/b")
    );
    let e = next_event(&mut watch).await;
    assert_eq!(
        (e.kind, e.kv.mod_revision, e.kv.value.clone()),
        (EventKind::Deleted, 9, b("c2"))
    );
    assert_eq!(e.prev.map(|p| p.mod_revision), Some(7));
    let e = next_event(&mut watch).await;
    assert_eq!(
        (e.kv.mod_revision, e.prev.map(|p| p.value)),
        (10, Some(b("a3")))
    );
    // A watch opened before the compaction, not yet replayed, still reads rows above 7.
    assert_eq!(next_event(&mut old_watch).await.kv.mod_revision, 8);

    assert_eq!(store.get("/h/a").await.unwrap().unwrap().value, b("a4"));
    store.compact(12).await.unwrap();
    // Only the live versions remain: a4, b3, d1.
    assert_eq!(row_count(&path), 3);
    let now = store.range("/h/", None, None, None).await.unwrap();
    assert_eq!(keys(&now), ["/h/a", "/h/b", "/h/d"]);
    assert_eq!(now.kvs[1].create_revision, 8);
}

#[tokio::test]
async fn compaction_waits_out_old_watchers_mid_replay() {
    let (_dir, store) = open_temp();
    store.create("/k", b("v")).await.unwrap();
    for i in 0..1200 {
        store.update("/k", b(&i.to_string()), None).await.unwrap();
    }
    let mut watch = store.watch("/", 0).await.unwrap();
    // Consume part of the first replay page, then compact far past it.
    next_event(&mut watch).await;
    store.compact(store.current_revision()).await.unwrap();
    let mut saw_error = false;
    while let Some(item) = watch.next().await {
        if let Err(err) = item {
            assert!(matches!(err, StoreError::Compacted { .. }), "{err}");
            saw_error = true;
            break;
        }
    }
    assert!(saw_error, "a replay that lost rows must fail, not skip");
}

/// The database file's pages in use and free, as SQLite counts them.
fn pages(path: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let count = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let free = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    (count, free)
}

#[tokio::test]
async fn compaction_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = SqliteStore::open_with(&path, fast()).unwrap();
    // 4 MiB of values, each overwritten once and then deleted.
    let value = Bytes::from(vec![b'x'; 64 << 10]);
    for i in 0..64 {
        let key = format!("/big/{i}");
        store.create(&key, value.clone()).await.unwrap();
        store.update(&key, value.clone(), None).await.unwrap();
        store.delete(&key, None).await.unwrap();
    }
    let (full, _) = pages(&path);
    store.compact(store.current_revision()).await.unwrap();
    let (after, free) = pages(&path);
    assert_eq!(free, 0, "pages left on the free list");
    assert!(after * 10 < full, "{after} pages of {full} remain");
}
