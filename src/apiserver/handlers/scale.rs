//! The `scale` subresource: an autoscaling/v1 Scale view of spec.replicas.

use bytes::Bytes;
use http::Response;
use serde_json::{json, Value};

use super::patch::{apply_patch, PatchType};
use super::read::get_object;
use super::write::{finish_update, guaranteed_update, Change};
use super::Ctx;
use crate::apiserver::http::{decode_body, object_response, Body};
use crate::apiserver::object;
use crate::apiserver::selectors::LabelSelector;
use crate::apiserver::status::ApiError;

/// `metav1.LabelSelector` rendered as the selector string Scale.status.selector carries.
fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else { return String::new() };
    // A replication controller's selector is a plain map.
    if sel.get("matchLabels").is_none() && sel.get("matchExpressions").is_none() {
        if let Some(m) = sel.as_object() {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            parts.sort();
            return parts.join(",");
        }
    }
    LabelSelector::from_label_selector_json(sel)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Where an object keeps its replica counts and selector: the built-in fields, or the
/// paths a CRD's scale subresource names (`.spec.replicas` style, as JSON pointers).
struct Paths {
    spec: String,
    status: String,
    selector: Option<String>,
    /// A custom resource's selector is already a string.
    selector_is_string: bool,
}

fn pointer(json_path: &str) -> String {
    json_path.replace('.', "/")
}

fn paths(ctx: &Ctx) -> Paths {
    match ctx.state.crds.version_of(&ctx.res).and_then(|v| v.scale) {
        Some(sc) => Paths {
            spec: pointer(&sc.spec_replicas),
            status: pointer(&sc.status_replicas),
            selector: sc.label_selector.as_deref().map(pointer),
            selector_is_string: true,
        },
        None => Paths {
            spec: "/spec/replicas".into(),
            status: "/status/replicas".into(),
            selector: Some("/spec/selector".into()),
            selector_is_string: false,
        },
    }
}

/// The Scale of an object.
fn scale_of(ctx: &Ctx, obj: &Value) -> Value {
    let p = paths(ctx);
    let selector = match (&p.selector, p.selector_is_string) {
        (Some(ptr), true) => obj
            .pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        (Some(ptr), false) => selector_string(obj.pointer(ptr)),
        (None, _) => String::new(),
    };
    let m = object::meta(obj).cloned().unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m.get("name"),
            "namespace": m.get("namespace"),
            "uid": m.get("uid"),
            "resourceVersion": m.get("resourceVersion"),
            "creationTimestamp": m.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer(&p.spec).cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer(&p.status).cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// GET .../scale.
pub async fn get(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let obj = get_object(ctx, &name).await?;
    Ok(object_response(200, &scale_of(ctx, &obj), &ctx.output))
}

fn replicas_of(scale: &Value, ctx: &Ctx, name: &str) -> Result<i64, ApiError> {
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Ok(n),
            Some(n) => Err(ApiError::new(
                422,
                "Invalid",
                format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {n}: must be greater than or equal to 0"),
            )),
            None => Err(ApiError::bad_request(format!(
                "unable to decode Scale for {}: spec.replicas must be an integer",
                ctx.res.qualified_resource()
            ))),
        },
    }
}

async fn write_replicas<F>(
    ctx: &Ctx,
    name: &str,
    precondition: Option<String>,
    mut scale_fn: F,
) -> Result<Response<Body>, ApiError>
where
    F: FnMut(&Value) -> Result<Value, ApiError>,
{
    let manager = ctx.field_manager()?;
    let updated = guaranteed_update(ctx, name, precondition, |current| {
        let new_scale = scale_fn(&scale_of(ctx, &current))?;
        let replicas = replicas_of(&new_scale, ctx, name)?;
        let mut next = current.clone();
        set_at(&mut next, &paths(ctx).spec, json!(replicas));
        match finish_update(ctx, &current, next, None, &manager, None)? {
            Some(v) => Ok(Change::Write(v)),
            None => Ok(Change::Unchanged),
        }
    })
    .await?;
    Ok(object_response(200, &scale_of(ctx, &updated), &ctx.output))
}

/// PUT .../scale.
pub async fn update(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let scale = decode_body(&ctx.content_type, &body)?;
    let precondition = object::resource_version(&scale).map(str::to_string);
    write_replicas(ctx, &name, precondition, |_| Ok(scale.clone())).await
}

/// PATCH .../scale (kubectl scale sends a merge patch).
pub async fn patch(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let pt = PatchType::from_content_type(&ctx.content_type)
        .filter(|p| *p != PatchType::Apply)
        .ok_or_else(|| ApiError::unsupported_media_type(&ctx.content_type))?;
    let doc = decode_body("application/json", &body)?;
    write_replicas(ctx, &name, None, |scale| {
        let patched = match pt {
            // Scale has no strategic metadata beyond a plain merge.
            PatchType::Strategic => apply_patch(ctx, PatchType::Merge, scale, &doc)?,
            other => apply_patch(ctx, other, scale, &doc)?,
        };
        if let (Some(want), Some(have)) = (
            object::resource_version(&patched),
            object::resource_version(scale),
        ) {
            if want != have {
                return Err(ApiError::conflict(&ctx.res, &name));
            }
        }
        Ok(patched)
    })
    .await
}

/// Set the value at a JSON pointer, creating objects along the way.
fn set_at(obj: &mut Value, ptr: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = ptr.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            map.insert(part.to_string(), value);
            return;
        }
        cur = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}
