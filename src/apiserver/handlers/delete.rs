//! DELETE and deletecollection: preconditions, grace periods, finalizers, propagation.

use bytes::Bytes;
use http::Response;
use serde_json::{json, Value};

use super::read::{list_objects, store_error, Selectors};
use super::Ctx;
use crate::apiserver::http::{decode_body, object_response, Body};
use crate::apiserver::object::{self, meta_mut};
use crate::apiserver::status::ApiError;
use crate::store::StoreError;

/// Parsed `DeleteOptions` (body or query parameters).
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// Requested grace period.
    pub grace_period: Option<i64>,
    /// Background, Foreground or Orphan.
    pub propagation: Option<String>,
    /// Precondition on the object's uid.
    pub uid: Option<String>,
    /// Precondition on the object's resourceVersion.
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// From the request body (if any) and query.
    pub fn parse(ctx: &Ctx, body: &Bytes) -> Result<Self, ApiError> {
        let mut o = DeleteOptions::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v = decode_body(&ctx.content_type, body)?;
            o.grace_period = v.get("gracePeriodSeconds").and_then(Value::as_i64);
            o.propagation = v
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string);
            if o.propagation.is_none() {
                if let Some(orphan) = v.get("orphanDependents").and_then(Value::as_bool) {
                    o.propagation = Some(if orphan { "Orphan" } else { "Background" }.into());
                }
            }
            o.uid = v
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            o.resource_version = v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(g) = ctx.query.get("gracePeriodSeconds") {
            o.grace_period = Some(g.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid value for gracePeriodSeconds: {g}"))
            })?);
        }
        if let Some(p) = ctx.query.get("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if let Some(p) = &o.propagation {
            if !matches!(p.as_str(), "Background" | "Foreground" | "Orphan") {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
                ));
            }
        }
        if o.grace_period.is_some_and(|g| g < 0) {
            o.grace_period = Some(0);
        }
        Ok(o)
    }
}

fn check_preconditions(ctx: &Ctx, obj: &Value, opts: &DeleteOptions) -> Result<(), ApiError> {
    let name = object::name(obj);
    if let Some(uid) = &opts.uid {
        let have = object::meta_str(obj, "uid").unwrap_or("");
        if uid != have {
            return Err(ApiError::conflict_msg(
                &ctx.res,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                ),
            ));
        }
    }
    if let Some(rv) = &opts.resource_version {
        let have = object::resource_version(obj).unwrap_or("");
        if rv != have {
            return Err(ApiError::conflict_msg(
                &ctx.res,
                name,
                &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"),
            ));
        }
    }
    Ok(())
}

/// Outcome of deleting one object.
pub enum Deleted {
    /// Gone from the store; the last state.
    Gone(Value),
    /// Marked for deletion (finalizers or grace period pending); the current state.
    Pending(Value),
}

/// Delete one object by name, following the real server's rules.
pub async fn delete_object(
    ctx: &Ctx,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Deleted, ApiError> {
    let key = ctx.key(name);
    let dry_run = ctx.dry_run()?;
    for _ in 0..16 {
        let kv = ctx
            .state
            .store
            .get(&key)
            .await
            .map_err(|e| store_error(ctx, name, e))?
            .ok_or_else(|| ApiError::not_found(&ctx.res, name))?;
        let current = ctx.decode(&kv)?;
        check_preconditions(ctx, &current, opts)?;
        let mut next = current.clone();
        let now = object::now_rfc3339();
        let mut pending = false;
        let propagation = opts.propagation.as_deref().unwrap_or("Background");
        // Foreground and Orphan deletion are carried out by the garbage collector; it
        // removes these finalizers once the dependents are handled.
        let extra_finalizer = match propagation {
            "Foreground" => Some("foregroundDeletion"),
            "Orphan" => Some("orphan"),
            _ => None,
        };
        if ctx.res.kind == "Namespace" && ctx.res.group.is_empty() {
            if matches!(name, "default" | "kube-system" | "kube-public") {
                return Err(ApiError::forbidden(format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                )));
            }
            let has_spec_finalizers = current
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if has_spec_finalizers || !object::finalizers(&current).is_empty() {
                if object::is_deleting(&current) {
                    return Ok(Deleted::Pending(current));
                }
                let m = meta_mut(&mut next);
                m.insert("deletionTimestamp".into(), json!(now));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                next["status"]["phase"] = json!("Terminating");
                pending = true;
            }
        } else {
            let grace = (ctx.res.strategy.grace_period)(&current, opts.grace_period);
            let mut finalizers = object::finalizers(&current);
            if let Some(f) = extra_finalizer {
                if !finalizers.iter().any(|x| x == f) && !object::is_deleting(&current) {
                    finalizers.push(f.to_string());
                }
            }
            if grace > 0 || !finalizers.is_empty() {
                if object::is_deleting(&current) {
                    // Already going: a shorter grace period may still shorten it.
                    let cur_grace = object::meta(&current)
                        .and_then(|m| m.get("deletionGracePeriodSeconds"))
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    if grace >= cur_grace || grace > 0 && !finalizers.is_empty() {
                        return Ok(Deleted::Pending(current));
                    }
                }
                let deadline = jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_secs(grace))
                    .map(|t| {
                        jiff::Timestamp::from_second(t.as_second())
                            .unwrap_or(t)
                            .to_string()
                    })
                    .unwrap_or_else(|_| now.clone());
                let m = meta_mut(&mut next);
                m.insert("deletionTimestamp".into(), json!(deadline));
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
                if ctx.res.has_generation() {
                    let g = m.get("generation").and_then(Value::as_i64).unwrap_or(0);
                    m.insert("generation".into(), json!(g + 1));
                }
                pending = grace > 0 || !object::finalizers(&next).is_empty();
            }
        }
        if dry_run {
            return Ok(if pending {
                Deleted::Pending(next)
            } else {
                Deleted::Gone(current)
            });
        }
        if pending {
            let bytes = super::write::encode(ctx, &next)?;
            match ctx
                .state
                .store
                .update(&key, bytes, Some(kv.mod_revision))
                .await
            {
                Ok(kv) => {
                    object::set_resource_version(&mut next, kv.mod_revision);
                    return Ok(Deleted::Pending(next));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(ctx, name, e)),
            }
        }
        match ctx.state.store.delete(&key, Some(kv.mod_revision)).await {
            Ok(kv) => {
                let mut gone = current;
                object::set_resource_version(&mut gone, kv.mod_revision);
                if ctx.res.group.is_empty() && ctx.res.kind == "Service" {
                    ctx.state.allocators.release(
                        &super::admission::cluster_ips(&gone),
                        &super::admission::node_ports(&gone),
                    );
                }
                return Ok(Deleted::Gone(gone));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(ctx, name, e)),
        }
    }
    Err(ApiError::conflict(&ctx.res, name))
}

/// DELETE of one object.
pub async fn delete(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let opts = DeleteOptions::parse(ctx, &body)?;
    match delete_object(ctx, &name, &opts).await? {
        Deleted::Gone(obj) => Ok(object_response(200, &obj, &ctx.output)),
        Deleted::Pending(obj) => Ok(object_response(202, &obj, &ctx.output)),
    }
}

/// DELETE of a collection: every matching object, each by the single-delete rules.
pub async fn delete_collection(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let opts = DeleteOptions::parse(ctx, &body)?;
    let sel = Selectors::from_query(ctx)?;
    let page = list_objects(ctx, &sel).await?;
    let mut items = Vec::new();
    for obj in page.items {
        let name = object::name(&obj).to_string();
        match delete_object(ctx, &name, &opts).await {
            Ok(Deleted::Gone(o)) | Ok(Deleted::Pending(o)) => items.push(o),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let body = json!({
        "kind": ctx.res.list_kind(),
        "apiVersion": ctx.res.api_version(),
        "metadata": {"resourceVersion": ctx.state.store.current_revision().to_string()},
        "items": items,
    });
    Ok(object_response(200, &body, &ctx.output))
}
