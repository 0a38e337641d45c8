//! PATCH: JSON patch, merge patch, strategic merge patch and server-side apply.

use bytes::Bytes;
use http::Response;
use serde_json::Value;

use super::read::store_error;
use super::write::{
    check_body, create_object, finish_update, guaranteed_update, guaranteed_update_from, owner,
    respond, schema, Change,
};
use super::{pod_security_admission, Ctx};
use crate::apiserver::http::{decode_body, Body};
use crate::apiserver::object;
use crate::apiserver::patch as p;
use crate::apiserver::status::ApiError;

/// The patch flavours kube-apiserver accepts, by content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902.
    Json,
    /// RFC 7386.
    Merge,
    /// Kubernetes strategic merge patch.
    Strategic,
    /// Server-side apply.
    Apply,
}

impl PatchType {
    /// From the request's content type.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

fn patch_error(e: p::PatchError) -> ApiError {
    let causes = e.causes();
    let mut err = ApiError::new(e.code(), e.reason(), e.to_string());
    if !causes.is_empty() {
        err.details = Some(serde_json::json!({
            "causes": causes
                .iter()
                .map(|c| serde_json::json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect::<Vec<_>>()
        }));
    }
    err
}

/// Apply a non-apply patch document to an object.
pub fn apply_patch(
    ctx: &Ctx,
    pt: PatchType,
    current: &Value,
    patch: &Value,
) -> Result<Value, ApiError> {
    match pt {
        PatchType::Json => p::json_patch(current, patch).map_err(patch_error),
        PatchType::Merge => p::merge_patch(current, patch).map_err(patch_error),
        PatchType::Strategic => {
            let s = schema(ctx);
            p::strategic_merge_patch(current, patch, s).map_err(patch_error)
        }
        PatchType::Apply => Err(ApiError::internal("apply handled separately")),
    }
}

/// PATCH of an object or its status.
pub async fn patch(ctx: &Ctx, body: Bytes, sub: Option<&str>) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let pt = PatchType::from_content_type(&ctx.content_type).ok_or_else(|| {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {:?})", ctx.content_type),
        )
    })?;
    if pt == PatchType::Strategic && schema(ctx).is_unknown() {
        return Err(patch_error(p::PatchError::strategic_merge_unsupported()));
    }
    let patch_doc = decode_body(
        if pt == PatchType::Apply {
            "application/apply-patch+yaml"
        } else {
            "application/json"
        },
        &body,
    )?;
    let manager = ctx.field_manager()?;
    let force = ctx.query.flag("force");
    if pt != PatchType::Apply && ctx.query.get("force").is_some() {
        return Err(ApiError::bad_request(
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    if pt == PatchType::Apply {
        if ctx.query.get("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::new(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        return apply(ctx, &name, patch_doc, &manager, force, sub).await;
    }
    let mut warnings = Vec::new();
    let mut before = None;
    let result = guaranteed_update(ctx, &name, None, |current| {
        let mut patched = apply_patch(ctx, pt, &current, &patch_doc)?;
        if !patched.is_object() {
            return Err(ApiError::bad_request(
                "the patched object must be a JSON object",
            ));
        }
        // A resourceVersion in the patch is a precondition.
        if let (Some(want), Some(have)) = (
            object::resource_version(&patched),
            object::resource_version(&current),
        ) {
            if want != have {
                return Err(ApiError::conflict(&ctx.res, &name));
            }
        }
        warnings = check_body(
            ctx,
            &mut patched,
            &ctx.res.kind.clone(),
            &ctx.res.api_version(),
        )?;
        let updated = finish_update(ctx, &current, patched, sub, &manager, None)?;
        before = Some(current);
        match updated {
            Some(v) => Ok(Change::Write(v)),
            None => Ok(Change::Unchanged),
        }
    })
    .await?;
    if sub.is_none() {
        warnings.extend(pod_security_admission::warnings(ctx, &result).await);
    }
    warnings
        .extend(pod_security_admission::namespace_warnings(ctx, before.as_ref(), &result).await);
    Ok(respond(ctx, 200, &result, &warnings))
}

/// Server-side apply: create when absent, otherwise merge with managed-field ownership.
async fn apply(
    ctx: &Ctx,
    name: &str,
    mut applied: Value,
    manager: &str,
    force: bool,
    sub: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let mut warnings = check_body(
        ctx,
        &mut applied,
        &ctx.res.kind.clone(),
        &ctx.res.api_version(),
    )?;
    if sub.is_none() {
        warnings.extend(pod_security_admission::warnings(ctx, &applied).await);
    }
    let body_name = object::name(&applied).to_string();
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let now = object::now_rfc3339();
    let api_version = ctx.res.api_version();
    let ssa = |live: Option<&Value>| {
        p::server_side_apply(
            live,
            &applied,
            force,
            schema(ctx),
            &owner(ctx, manager, &api_version, sub, &now),
        )
        .map_err(patch_error)
    };
    let stored = ctx
        .state
        .store
        .get(&ctx.key(name))
        .await
        .map_err(|e| store_error(ctx, name, e))?;
    if stored.is_none() {
        if sub.is_some() {
            return Err(ApiError::not_found(&ctx.res, name));
        }
        let merged = ssa(None)?;
        let managed = merged.pointer("/metadata/managedFields").cloned();
        let created = create_object(ctx, merged, manager, managed).await?;
        return Ok(respond(ctx, 201, &created, &warnings));
    }
    let precondition = object::resource_version(&applied).map(str::to_string);
    let mut before = None;
    let result = guaranteed_update_from(ctx, name, stored, precondition, |current| {
        let merged = ssa(Some(&current))?;
        let managed = merged.pointer("/metadata/managedFields").cloned();
        if managed.as_ref() == current.pointer("/metadata/managedFields")
            && object::comparable(&merged) == object::comparable(&current)
        {
            return Ok(Change::Unchanged);
        }
        let updated = finish_update(ctx, &current, merged, sub, manager, managed)?;
        before = Some(current);
        match updated {
            Some(v) => Ok(Change::Write(v)),
            None => Ok(Change::Unchanged),
        }
    })
    .await?;
    warnings
        .extend(pod_security_admission::namespace_warnings(ctx, before.as_ref(), &result).await);
    Ok(respond(ctx, 200, &result, &warnings))
}
