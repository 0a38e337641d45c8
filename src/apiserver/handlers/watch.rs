//! WATCH: newline-delimited WatchEvents from a revision, initial events, bookmarks
//! (including the `k8s.io/initial-events-end` one that WatchList clients wait for),
//! selector transitions, Table rendering and 410 Expired.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::read::{list_objects, Selectors};
use super::Ctx;
use crate::apiserver::http::{Body, Output};
use crate::apiserver::object;
use crate::apiserver::status::ApiError;
use crate::apiserver::table::{partial_metadata, table, IncludeObject};
use crate::store::{EventKind, Revision, StoreError};

/// How often an idle watch with bookmarks gets one, so clients can resume cheaply.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

struct Encoder {
    output: Output,
    include: IncludeObject,
    sent_columns: bool,
}

impl Encoder {
    fn line(&mut self, ctx: &Ctx, kind: &str, obj: &Value) -> Bytes {
        let rendered = match (&self.output, kind) {
            (_, "ERROR") | (_, "BOOKMARK") => obj.clone(),
            (Output::Table(v), _) => {
                let with_columns = !self.sent_columns;
                self.sent_columns = true;
                table(
                    &ctx.res,
                    ctx.state.crds.version_of(&ctx.res).as_ref(),
                    std::slice::from_ref(obj),
                    self.include,
                    v,
                    json!({"resourceVersion": object::resource_version(obj).unwrap_or("")}),
                    with_columns,
                )
            }
            (Output::PartialMetadata(v), _) => partial_metadata(obj, v),
            _ => obj.clone(),
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": rendered})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn bookmark(ctx: &Ctx, rev: Revision, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rev.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": ctx.res.kind, "apiVersion": ctx.res.api_version(), "metadata": meta})
}

fn parse_timeout(ctx: &Ctx) -> Result<Duration, ApiError> {
    match ctx.query.get("timeoutSeconds").filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ApiError::bad_request(format!("invalid value for timeoutSeconds: {s}"))),
        // Like kube-apiserver's min-request-timeout: 30-60 minutes, spread so clients
        // do not all re-watch at once.
        None => Ok(Duration::from_secs(rand::rng().random_range(1800..3600))),
    }
}

/// Start a watch and stream its events.
pub async fn watch(ctx: Ctx) -> Result<Response<Body>, ApiError> {
    tracing::debug!(user = %ctx.user.name, group = %ctx.res.group, resource = %ctx.res.plural, "watch");
    let sel = Selectors::from_query(&ctx)?;
    let send_initial = match ctx.query.get("sendInitialEvents") {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "invalid value for sendInitialEvents: {v}"
            )))
        }
    };
    let rv_match = ctx
        .query
        .get("resourceVersionMatch")
        .filter(|s| !s.is_empty());
    if send_initial.is_some() && rv_match != Some("NotOlderThan") {
        return Err(ApiError::new(
            422,
            "Invalid",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if send_initial.is_none() && rv_match.is_some() {
        return Err(ApiError::new(
            422,
            "Invalid",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    let rv = ctx.query.get("resourceVersion").unwrap_or("").to_string();
    let initial = send_initial.unwrap_or(rv.is_empty() || rv == "0");
    let allow_bookmarks = ctx.query.flag("allowWatchBookmarks");
    let timeout = parse_timeout(&ctx)?;
    // A named watch (`/pods/x?watch=true`) is a watch with a name selector.
    let only_name = ctx.req.name.clone();

    let requested: Option<Revision> = if rv.is_empty() || rv == "0" {
        None
    } else {
        Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        )
    };

    let (initial_items, start) = if initial {
        let page = list_objects(&ctx, &sel).await?;
        let items: Vec<Value> = page
            .items
            .into_iter()
            .filter(|o| only_name.as_deref().is_none_or(|n| object::name(o) == n))
            .collect();
        (items, page.revision)
    } else {
        (
            Vec::new(),
            requested.unwrap_or_else(|| ctx.state.store.current_revision()),
        )
    };

    let prefix = ctx.res.prefix(ctx.namespace());
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut enc = Encoder {
        output: ctx.output.clone(),
        include: IncludeObject::parse(ctx.query.get("includeObject")),
        sent_columns: false,
    };
    let stream = match ctx.state.store.watch(&prefix, start).await {
        Ok(s) => Some(s),
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            let err = ApiError::expired(requested, compacted);
            let _ = tx.try_send(enc.line(&ctx, "ERROR", &err.to_status()));
            None
        }
        Err(e) => return Err(ApiError::internal(e)),
    };

    // Lines of plain objects without selectors depend only on the event and the resource
    // version served, so watchers share them.
    let shared_as = (sel.is_empty()
        && only_name.is_none()
        && matches!(ctx.output, Output::Json | Output::Yaml))
    .then(|| {
        std::sync::Arc::<str>::from(format!(
            "{}/{}/{}",
            ctx.res.group, ctx.res.version, ctx.res.plural
        ))
    });
    if let Some(mut stream) = stream {
        tokio::spawn(async move {
            for obj in &initial_items {
                if tx.send(enc.line(&ctx, "ADDED", obj)).await.is_err() {
                    return;
                }
            }
            if send_initial == Some(true) {
                let b = bookmark(&ctx, start, true);
                if tx.send(enc.line(&ctx, "BOOKMARK", &b)).await.is_err() {
                    return;
                }
            }
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
            ticker.tick().await;
            let mut last_rev = start;
            loop {
                tokio::select! {
                    _ = &mut deadline => return,
                    _ = tx.closed() => return,
                    _ = ticker.tick(), if allow_bookmarks => {
                        let b = bookmark(&ctx, last_rev, false);
                        if tx.send(enc.line(&ctx, "BOOKMARK", &b)).await.is_err() {
                            return;
                        }
                    }
                    ev = stream.next() => {
                        let ev = match ev {
                            Some(Ok(ev)) => ev,
                            Some(Err(StoreError::Compacted { requested, compacted })) => {
                                let err = ApiError::expired(requested, compacted);
                                let _ = tx.send(enc.line(&ctx, "ERROR", &err.to_status())).await;
                                return;
                            }
                            // A lagging or closed feed ends the watch; the client re-watches.
                            Some(Err(_)) | None => return,
                        };
                        last_rev = ev.kv.mod_revision;
                        let mut encode = || {
                            let (kind, obj) = translate(&ctx, &sel, only_name.as_deref(), &ev)?;
                            Some(enc.line(&ctx, kind, &obj))
                        };
                        let line = match &shared_as {
                            // Every unfiltered watcher of this resource sends the same bytes.
                            Some(resource) => {
                                let key = (ev.kv.mod_revision, unfiltered_type(&ev), resource.clone());
                                ctx.state.watch_lines.get_or_encode(key, encode)
                            }
                            None => encode(),
                        };
                        let Some(line) = line else {
                            continue;
                        };
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }

    let body = StreamBody::new(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(Frame::data(b)), rx))
    }));
    let mut resp = Response::new(BodyExt::boxed(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The watch event type of `ev` for a watcher without selectors.
fn unfiltered_type(ev: &crate::store::Event) -> &'static str {
    match (&ev.kind, &ev.prev) {
        (EventKind::Created, _) | (EventKind::Updated, None) => "ADDED",
        (EventKind::Updated, Some(_)) => "MODIFIED",
        (EventKind::Deleted, _) => "DELETED",
    }
}

/// Turn a store event into a watch event, with selector transitions: an object that
/// starts matching is ADDED, one that stops matching is DELETED.
fn translate(
    ctx: &Ctx,
    sel: &Selectors,
    only_name: Option<&str>,
    ev: &crate::store::Event,
) -> Option<(&'static str, Value)> {
    let matches =
        |o: &Value| sel.matches(&ctx.res, o) && only_name.is_none_or(|n| object::name(o) == n);
    let decode = |kv: &crate::store::KeyValue| ctx.decode(kv).ok();
    match ev.kind {
        EventKind::Created => {
            let obj = decode(&ev.kv)?;
            matches(&obj).then_some(("ADDED", obj))
        }
        EventKind::Updated => {
            let obj = decode(&ev.kv)?;
            // The name cannot change, so without selectors the previous version matched
            // whenever there was one; decoding it for every watcher would be wasted.
            let was = match &ev.prev {
                Some(_) if sel.is_empty() => matches(&obj),
                prev => prev.as_ref().and_then(decode).is_some_and(|p| matches(&p)),
            };
            match (was, matches(&obj)) {
                (true, true) => Some(("MODIFIED", obj)),
                (false, true) => Some(("ADDED", obj)),
                (true, false) => Some(("DELETED", obj)),
                (false, false) => None,
            }
        }
        EventKind::Deleted => {
            let obj = decode(&ev.kv)?;
            matches(&obj).then_some(("DELETED", obj))
        }
    }
}

/// A watch over WebSocket, as kube-apiserver serves it to browsers: the same events, one
/// JSON text message each. Browsers hold at most six HTTP/1.1 streams per host, but many
/// WebSockets, so a page can keep a watch per kind open.
pub fn over_websocket(
    resp: Response<Body>,
    on: hyper::upgrade::OnUpgrade,
    accept: Response<()>,
) -> Response<Body> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut events = resp.into_body();
    tokio::spawn(async move {
        let Ok(upgraded) = on.await else { return };
        let (mut sink, mut from_client) = crate::streams::ws::server(upgraded).await.split();
        loop {
            tokio::select! {
                frame = events.frame() => {
                    let Some(Ok(frame)) = frame else { break };
                    let Ok(line) = frame.into_data() else { continue };
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    if sink.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                msg = from_client.next() => match msg {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let (parts, ()) = accept.into_parts();
    Response::from_parts(parts, crate::apiserver::http::full(""))
}
