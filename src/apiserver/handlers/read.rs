//! get and list, with selectors, paging and Table output.

use base64::Engine;
use http::Response;
use serde_json::{json, Value};

use super::fields::field_value;
use super::Ctx;
use crate::apiserver::http::{json_bytes_response, object_response, Body, Output};
use crate::apiserver::object;
use crate::apiserver::raw_list;
use crate::apiserver::selectors::{FieldSelector, LabelSelector};
use crate::apiserver::status::ApiError;
use crate::apiserver::table::{partial_metadata, table, IncludeObject};
use crate::store::{Revision, StoreError};

/// Render one object in the negotiated output.
pub fn render_one(ctx: &Ctx, code: u16, obj: &Value) -> Response<Body> {
    match &ctx.output {
        Output::Table(v) => {
            let t = table(
                &ctx.res,
                ctx.state.crds.version_of(&ctx.res).as_ref(),
                std::slice::from_ref(obj),
                IncludeObject::parse(ctx.query.get("includeObject")),
                v,
                json!({"resourceVersion": object::resource_version(obj).unwrap_or("")}),
                true,
            );
            object_response(code, &t, &ctx.output)
        }
        Output::PartialMetadata(v) => object_response(code, &partial_metadata(obj, v), &ctx.output),
        _ => object_response(code, obj, &ctx.output),
    }
}

/// Map a store error to the API error clients expect.
pub fn store_error(ctx: &Ctx, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => ApiError::not_found(&ctx.res, name),
        StoreError::AlreadyExists { .. } => ApiError::already_exists(&ctx.res, name),
        StoreError::Conflict { .. } => ApiError::conflict(&ctx.res, name),
        StoreError::Compacted {
            requested,
            compacted,
        } => ApiError::expired(requested, compacted),
        other => ApiError::internal(other),
    }
}

/// GET of one object (or its status subresource, which reads the same).
pub async fn get(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let obj = get_object(ctx, &name).await?;
    Ok(render_one(ctx, 200, &obj))
}

/// The current object, or 404.
pub async fn get_object(ctx: &Ctx, name: &str) -> Result<Value, ApiError> {
    let kv = ctx
        .state
        .store
        .get(&ctx.key(name))
        .await
        .map_err(|e| store_error(ctx, name, e))?
        .ok_or_else(|| ApiError::not_found(&ctx.res, name))?;
    ctx.decode(&kv)
}

/// Label and field selectors of a request.
pub struct Selectors {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Selectors {
    /// Parse `labelSelector` and `fieldSelector` (400 on syntax errors or unknown fields).
    pub fn from_query(ctx: &Ctx) -> Result<Self, ApiError> {
        let labels = LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(ctx.query.get("fieldSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        for (field, _, _) in fields.requirements() {
            if field_value(&ctx.res, &json!({}), field).is_err() {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
        }
        Ok(Selectors { labels, fields })
    }

    /// Whether the object matches both selectors.
    pub fn matches(&self, res: &crate::resources::registry::ResourceInfo, obj: &Value) -> bool {
        let labels = object::labels(obj);
        if !self.labels.matches(&labels) {
            return false;
        }
        self.fields
            .matches(|f| field_value(res, obj, f).ok().flatten())
    }

    /// Whether nothing is selected on.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.requirements().is_empty()
    }
}

/// The continue token: where the next page starts and at which revision.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, last_key: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: last_key.to_string(),
    };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| ApiError::bad_request("continue key is not valid: illegal base64 data"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))
}

/// One page of a list.
pub struct Page<T = Value> {
    /// Matching objects, decoded (or as `keep` made them).
    pub items: Vec<T>,
    /// Revision the page was read at.
    pub revision: Revision,
    /// Token for the next page, if any.
    pub continue_token: Option<String>,
    /// Estimate of remaining items when paged.
    pub remaining: Option<i64>,
}

/// Read matching objects, honouring `limit`, `continue` and `resourceVersion`.
pub async fn list_objects(ctx: &Ctx, sel: &Selectors) -> Result<Page, ApiError> {
    list_page(ctx, !sel.is_empty(), |kv| {
        let obj = ctx.decode(kv)?;
        Ok(sel.matches(&ctx.res, &obj).then_some(obj))
    })
    .await
}

/// Read one page of what `keep` makes of each stored object (`None` skips it, which only
/// a `filtering` keep does), honouring `limit`, `continue` and `resourceVersion`.
async fn list_page<T>(
    ctx: &Ctx,
    filtering: bool,
    mut keep: impl FnMut(&crate::store::KeyValue) -> Result<Option<T>, ApiError>,
) -> Result<Page<T>, ApiError> {
    let limit: Option<usize> = match ctx.query.get("limit") {
        Some(l) if !l.is_empty() => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "invalid value for limit: {l}"
                )))
            }
        },
        _ => None,
    };
    let prefix = ctx.res.prefix(ctx.namespace());
    let (mut start, mut at): (Option<String>, Option<Revision>) = (None, None);
    if let Some(token) = ctx.query.get("continue").filter(|t| !t.is_empty()) {
        let t = decode_continue(token)?;
        if !t.start.starts_with(&prefix) {
            return Err(ApiError::bad_request(
                "continue key is not valid: key does not match the request",
            ));
        }
        start = Some(t.start);
        at = Some(t.rv);
    } else if let (Some(rv), Some("Exact")) = (
        ctx.query.get("resourceVersion").filter(|v| !v.is_empty()),
        ctx.query.get("resourceVersionMatch"),
    ) {
        at = Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        );
    }
    let mut items = Vec::new();
    let mut revision = None;
    loop {
        let want = limit.map(|l| l.saturating_sub(items.len()).max(1));
        // Read ahead a little when filtering so one page is not many store round-trips.
        let batch = want.map(|w| if filtering { w.max(256) } else { w });
        let r = ctx
            .state
            .store
            .range(&prefix, start.as_deref(), batch, at)
            .await
            .map_err(|e| match e {
                StoreError::Compacted { .. } if ctx.query.get("continue").is_some() => ApiError::new(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ),
                e => store_error(ctx, "", e),
            })?;
        revision.get_or_insert(r.revision);
        at = Some(r.revision);
        let mut last_key = None;
        let mut stopped_early = false;
        for kv in &r.kvs {
            last_key = Some(kv.key.clone());
            if let Some(item) = keep(kv)? {
                items.push(item);
                if limit.is_some_and(|l| items.len() >= l) {
                    stopped_early = true;
                    break;
                }
            }
        }
        let more = r.more
            || (stopped_early && last_key.as_deref() != r.kvs.last().map(|k| k.key.as_str()));
        let full = limit.is_some_and(|l| items.len() >= l);
        match (more, last_key) {
            (true, Some(k)) if full => {
                let rev = revision.unwrap_or(r.revision);
                return Ok(Page {
                    items,
                    revision: rev,
                    continue_token: Some(encode_continue(rev, &k)),
                    remaining: None,
                });
            }
            (true, Some(k)) => start = Some(k),
            _ => break,
        }
    }
    Ok(Page {
        items,
        revision: revision.unwrap_or_else(|| ctx.state.store.current_revision()),
        continue_token: None,
        remaining: None,
    })
}

fn list_metadata<T>(page: &Page<T>) -> Value {
    let mut list_meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(c) = &page.continue_token {
        list_meta["continue"] = json!(c);
    }
    if let Some(r) = page.remaining {
        list_meta["remainingItemCount"] = json!(r);
    }
    list_meta
}

/// An item of a typed list: it carries kind and apiVersion too, as kube-apiserver's do.
fn typed_item(ctx: &Ctx, mut obj: Value) -> Value {
    obj["apiVersion"] = json!(ctx.res.api_version());
    obj["kind"] = json!(ctx.res.kind);
    obj
}

/// A plain JSON LIST without selectors, built from the stored bytes (see `raw_list`).
async fn list_raw(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let api_version = ctx.res.api_version();
    let header = raw_list::ItemHeader::new(&api_version, &ctx.res.kind);
    let page = list_page(ctx, false, |kv| {
        if let Some(raw) = raw_list::item(&kv.value, kv.mod_revision, &header) {
            return Ok(Some(raw));
        }
        // Stored at another version: converted through the full parse.
        serde_json::to_vec(&typed_item(ctx, ctx.decode(kv)?))
            .map(Some)
            .map_err(|e| ApiError::internal(format!("encoding {}: {e}", kv.key)))
    })
    .await?;
    let body = raw_list::list(
        &ctx.res.list_kind(),
        &api_version,
        &list_metadata(&page),
        &page.items,
    );
    Ok(json_bytes_response(200, body))
}

/// LIST of a collection.
pub async fn list(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    if ctx.query.flag("sendInitialEvents") {
        return Err(ApiError::new(
            422,
            "Invalid",
            "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
        ));
    }
    let sel = Selectors::from_query(ctx)?;
    if sel.is_empty() && ctx.output == Output::Json {
        return list_raw(ctx).await;
    }
    let page = list_objects(ctx, &sel).await?;
    let list_meta = list_metadata(&page);
    let body = match &ctx.output {
        Output::Table(v) => table(
            &ctx.res,
            ctx.state.crds.version_of(&ctx.res).as_ref(),
            &page.items,
            IncludeObject::parse(ctx.query.get("includeObject")),
            v,
            list_meta,
            true,
        ),
        Output::PartialMetadata(v) => {
            let items: Vec<Value> = page.items.iter().map(|o| partial_metadata(o, v)).collect();
            json!({"kind": "PartialObjectMetadataList", "apiVersion": format!("meta.k8s.io/{v}"), "metadata": list_meta, "items": items})
        }
        _ => {
            let items: Vec<Value> = page.items.into_iter().map(|o| typed_item(ctx, o)).collect();
            json!({
                "kind": ctx.res.list_kind(),
                "apiVersion": ctx.res.api_version(),
                "metadata": list_meta,
                "items": items,
            })
        }
    };
    Ok(object_response(200, &body, &ctx.output))
}
