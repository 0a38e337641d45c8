//! create and update: the common write pipeline (type checks, field validation, metadata
//! rules, defaulting, admission, validation, managed fields, optimistic concurrency).

use bytes::Bytes;
use http::Response;
use serde_json::{json, Value};

use super::read::{render_one, store_error};
use super::{admission, pod_security_admission, sa_admission, Ctx};
use crate::apiserver::crd;
use crate::apiserver::http::{add_warning, decode_body, Body};
use crate::apiserver::object::{self, meta_mut};
use crate::apiserver::openapi::{self, Definitions};
use crate::apiserver::patch;
use crate::apiserver::status::{ApiError, Cause};
use crate::resources::{convert, validation};
use crate::store::{KeyValue, StoreError};

/// How unknown fields are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop silently.
    Ignore,
    /// Drop and warn (the server default).
    Warn,
    /// Reject with 400.
    Strict,
}

impl FieldValidation {
    /// From the query parameter.
    pub fn from_query(ctx: &Ctx) -> Result<Self, ApiError> {
        match ctx.query.get("fieldValidation") {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}, must be one of: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Warnings to return in `Warning` headers.
pub type Warnings = Vec<String>;

/// Build the response of a write: the object, plus warnings.
pub fn respond(ctx: &Ctx, code: u16, obj: &Value, warnings: &Warnings) -> Response<Body> {
    let mut resp = render_one(ctx, code, obj);
    for w in warnings {
        add_warning(&mut resp, w);
    }
    resp
}

/// Check apiVersion/kind against the endpoint (filling them when absent, as the decoder's
/// defaults do) and handle unknown fields according to `fieldValidation`.
pub fn check_body(
    ctx: &Ctx,
    obj: &mut Value,
    kind: &str,
    api_version: &str,
) -> Result<Warnings, ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON object",
        ));
    }
    let body_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    match body_version.as_deref() {
        None | Some("") => obj["apiVersion"] = json!(api_version),
        Some(v) if v == api_version => {}
        Some(v) => {
            // Other served versions of the same kind are converted; anything else is wrong.
            let (g, ver) = v.rsplit_once('/').unwrap_or(("", v));
            if g == ctx.res.group && ctx.state.registry.lookup_kind(g, ver, kind).is_some() {
                convert::between(obj, kind, v, api_version);
            } else {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )));
            }
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = json!(kind),
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind})"
            )))
        }
    }
    let mode = FieldValidation::from_query(ctx)?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let unknown = match openapi::unknown_fields(group, version, kind, obj) {
        None => crd::admission::unknown_fields(ctx, obj).unwrap_or_default(),
        Some(Ok(u)) => u,
        Some(Err(msg)) => {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {msg}"
            )))
        }
    };
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match mode {
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            texts.join(", ")
        ))),
        FieldValidation::Warn => {
            prune(obj, &unknown);
            Ok(texts)
        }
        FieldValidation::Ignore => {
            prune(obj, &unknown);
            Ok(Vec::new())
        }
    }
}

/// Remove fields named by paths like `spec.template.spec.containers[0].imagee`.
fn prune(obj: &mut Value, paths: &[String]) {
    for p in paths {
        let mut segs: Vec<Seg> = Vec::new();
        for part in p.split('.') {
            let (key, rest) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() {
                segs.push(Seg::Key(key.to_string()));
            }
            for idx in rest.split('[') {
                if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                    segs.push(Seg::Index(i));
                }
            }
        }
        remove_at(obj, &segs);
    }
}

fn remove_at(v: &mut Value, segs: &[Seg]) {
    match segs {
        [] => {}
        [Seg::Key(k)] => {
            if let Some(m) = v.as_object_mut() {
                m.remove(k);
            }
        }
        [first, rest @ ..] => {
            let next = match first {
                Seg::Key(k) => v.get_mut(k.as_str()),
                Seg::Index(i) => v.get_mut(*i),
            };
            if let Some(n) = next {
                remove_at(n, rest);
            }
        }
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

/// The OpenAPI schema root of this resource's kind, for patches and managed fields.
pub fn schema(ctx: &Ctx) -> patch::SchemaRef<'static> {
    match openapi::definition_name(&ctx.res.group, &ctx.res.version, &ctx.res.kind)
        .and_then(|n| openapi::definitions().schema(n))
    {
        Some(root) => patch::SchemaRef::new(openapi::definitions(), root),
        None => patch::SchemaRef::unknown(),
    }
}

/// Who a write's fields belong to, with the fields the resource's strategy resets.
pub fn owner<'a>(
    ctx: &Ctx,
    manager: &'a str,
    api_version: &'a str,
    subresource: Option<&'a str>,
    now: &'a str,
) -> patch::FieldOwner<'a> {
    let reset_fields: &'static [&'static str] = match subresource {
        Some("status") => &["spec", "metadata"],
        _ if ctx.res.has_status_subresource() => &["status"],
        _ => &[],
    };
    patch::FieldOwner {
        manager,
        api_version,
        subresource,
        now,
        reset_fields,
    }
}

/// Normalize an object to the shape Go's encoding gives it (see `normalize`).
fn shape(ctx: &Ctx, obj: &mut Value) {
    let defs = openapi::definitions();
    let root = openapi::definition_name(&ctx.res.group, &ctx.res.version, &ctx.res.kind)
        .and_then(|n| defs.schema(n));
    crate::apiserver::normalize::normalize(defs, root, obj);
}

/// Field errors as a 422 Status.
pub fn invalid(ctx: &Ctx, name: &str, errs: Vec<validation::FieldError>) -> ApiError {
    let causes = errs
        .iter()
        .map(|e| {
            (
                Cause {
                    reason: e.cause_reason().to_string(),
                    message: e.cause_message(),
                    field: e.field.clone(),
                },
                e.message(),
            )
        })
        .collect();
    ApiError::invalid(&ctx.res, name, causes)
}

/// Encode an object for the store (no resourceVersion; the revision is the version).
pub fn encode(ctx: &Ctx, obj: &Value) -> Result<Bytes, ApiError> {
    let mut v = obj.clone();
    object::meta_mut(&mut v).remove("resourceVersion");
    convert::to_storage(&ctx.res, &mut v);
    // Custom resources are stored at their CRD's storage version (conversion "None").
    if let Some(def) = ctx.state.crds.get(&ctx.res.group, &ctx.res.plural) {
        if let Some(sv) = def.storage_version() {
            v["apiVersion"] = json!(format!("{}/{sv}", def.group));
        }
    }
    // A patch or the managedFields of a deep object can nest deeper than any body may: such
    // an object could be written but not read back.
    if object::too_deep(&v) {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "{} \"{}\" is invalid: the object nests deeper than {} levels",
                ctx.res.qualified_kind(),
                object::name(&v),
                object::MAX_DEPTH
            ),
        ));
    }
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("encoding object: {e}")))
}

/// PodSecurity admission's check of a namespace's labels (422 naming the bad ones).
fn check_pod_security_labels(ctx: &Ctx, name: &str, obj: &Value) -> Result<(), ApiError> {
    if !(ctx.res.group.is_empty() && ctx.res.kind == "Namespace") {
        return Ok(());
    }
    let errs = pod_security_admission::label_errors(&object::labels(obj));
    if errs.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(&ctx.res, name, errs))
}

/// POST: create an object.
pub async fn create(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let mut obj = decode_body(&ctx.content_type, &body)?;
    let mut warnings = check_body(ctx, &mut obj, &ctx.res.kind.clone(), &ctx.res.api_version())?;
    warnings.extend(pod_security_admission::warnings(ctx, &obj).await);
    let manager = ctx.field_manager()?;
    let created = create_object(ctx, obj, &manager, None).await?;
    Ok(respond(ctx, 201, &created, &warnings))
}

fn is_core_kind(ctx: &Ctx, kind: &str) -> bool {
    ctx.res.group.is_empty() && ctx.res.kind == kind
}

/// Validate, admit and store a new object; `managed` carries managedFields already computed
/// (server-side apply), otherwise the field manager records an Update.
pub async fn create_object(
    ctx: &Ctx,
    mut obj: Value,
    manager: &str,
    managed: Option<Value>,
) -> Result<Value, ApiError> {
    let dry_run = ctx.dry_run()?;
    // Namespace: from the URL; a different one in the body is an error.
    let url_ns = ctx.namespace().map(str::to_string);
    {
        let m = meta_mut(&mut obj);
        match (&url_ns, m.get("namespace").and_then(Value::as_str)) {
            (Some(u), Some(b)) if !b.is_empty() && b != u => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            (Some(u), _) => {
                m.insert("namespace".into(), json!(u));
            }
            (None, _) => {
                m.remove("namespace");
            }
        }
    }
    if ctx.res.namespaced && url_ns.is_none() {
        return Err(ApiError::not_found_path());
    }
    let namespace = match &url_ns {
        Some(ns) => Some(admission::check_namespace_open(ctx, ns).await?),
        None => None,
    };
    let generate = object::meta_str(&obj, "generateName").map(str::to_string);
    let given_name = object::name(&obj).to_string();
    {
        let now = object::now_rfc3339();
        let m = meta_mut(&mut obj);
        for k in [
            "resourceVersion",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
        ] {
            m.remove(k);
        }
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now));
        if ctx.res.has_generation() {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
    }
    object::drop_null_metadata(&mut obj);
    if ctx.res.has_status_subresource() {
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
    }
    let attempts = if given_name.is_empty() && generate.is_some() {
        8
    } else {
        1
    };
    let base = obj;
    let mut last_name = given_name.clone();
    for attempt in 0..attempts {
        let mut obj = base.clone();
        // The name comes first: defaulting and admission may derive from it (job labels).
        if given_name.is_empty() {
            if let Some(prefix) = &generate {
                meta_mut(&mut obj).insert(
                    "name".into(),
                    json!(format!("{prefix}{}", object::random_suffix())),
                );
            }
        }
        (ctx.res.strategy.defaults)(&mut obj);
        crd::admission::apply_defaults(ctx, &mut obj);
        crd::admission::prepare_create(ctx, &mut obj);
        admission::prepare_create(ctx, &mut obj)?;
        if let (Some(ns), true) = (&url_ns, is_core_kind(ctx, "Pod")) {
            sa_admission::admit_pod(ctx, ns, &mut obj).await?;
        }
        if is_core_kind(ctx, "PersistentVolumeClaim") {
            admission::default_storage_class(ctx, &mut obj).await?;
        }
        if ctx.res.group == "networking.k8s.io" && ctx.res.kind == "Ingress" {
            admission::default_ingress_class(ctx, &mut obj).await?;
        }
        shape(ctx, &mut obj);
        let name = object::name(&obj).to_string();
        last_name = name.clone();
        let mut errs = validation::validate_create(&ctx.res.strategy, &obj, ctx.res.namespaced);
        errs.extend(crd::admission::validate(ctx, &obj));
        if !errs.is_empty() {
            return Err(invalid(ctx, &name, errs));
        }
        check_pod_security_labels(ctx, &name, &obj)?;
        if let Some(namespace) = &namespace {
            pod_security_admission::enforce(ctx, namespace, &obj)?;
        }
        let reservation = admission::allocate(ctx, &mut obj, None)?;
        let now = object::now_rfc3339();
        let mut stored = match &managed {
            Some(mf) => {
                let mut o = obj.clone();
                meta_mut(&mut o).insert("managedFields".into(), mf.clone());
                o
            }
            None => {
                let api_version = ctx.res.api_version();
                patch::track_update(
                    None,
                    &obj,
                    schema(ctx),
                    &owner(ctx, manager, &api_version, None, &now),
                )
            }
        };
        if dry_run {
            return Ok(stored);
        }
        match ctx
            .state
            .store
            .create(&ctx.key(&name), encode(ctx, &stored)?)
            .await
        {
            Ok(kv) => {
                reservation.commit();
                object::set_resource_version(&mut stored, kv.mod_revision);
                return Ok(stored);
            }
            Err(StoreError::AlreadyExists { .. }) if attempt + 1 < attempts => continue,
            Err(e) => return Err(store_error(ctx, &name, e)),
        }
    }
    Err(ApiError::already_exists(&ctx.res, &last_name))
}

/// What an update callback wants done.
#[derive(Debug)]
pub enum Change {
    /// Nothing changed: answer with the current object.
    Unchanged,
    /// Store this object.
    Write(Value),
}

/// Read-modify-write with compare-and-swap, retried on races unless the client gave a
/// resourceVersion precondition (then a race is the client's 409).
pub async fn guaranteed_update<F>(
    ctx: &Ctx,
    name: &str,
    precondition: Option<String>,
    f: F,
) -> Result<Value, ApiError>
where
    F: FnMut(Value) -> Result<Change, ApiError>,
{
    guaranteed_update_from(ctx, name, None, precondition, f).await
}

/// [`guaranteed_update`] whose first attempt starts from `read`, the stored object the
/// caller has just read, so that attempt costs no second read.
pub async fn guaranteed_update_from<F>(
    ctx: &Ctx,
    name: &str,
    mut read: Option<KeyValue>,
    precondition: Option<String>,
    mut f: F,
) -> Result<Value, ApiError>
where
    F: FnMut(Value) -> Result<Change, ApiError>,
{
    let key = ctx.key(name);
    for _ in 0..16 {
        let kv = match read.take() {
            Some(kv) => kv,
            None => ctx
                .state
                .store
                .get(&key)
                .await
                .map_err(|e| store_error(ctx, name, e))?
                .ok_or_else(|| ApiError::not_found(&ctx.res, name))?,
        };
        if let Some(rv) = &precondition {
            if *rv != kv.mod_revision.to_string() {
                return Err(ApiError::conflict(&ctx.res, name));
            }
        }
        let current = ctx.decode(&kv)?;
        let mut new = match f(current.clone())? {
            Change::Unchanged => return Ok(current),
            Change::Write(v) => v,
        };
        // `f` allocated what `new` holds beyond `current`; a write that does not land
        // gives it back.
        let unwind = |new: &Value| admission::release_dropped(ctx, new, &current);
        if ctx.dry_run()? {
            unwind(&new);
            object::set_resource_version(&mut new, kv.mod_revision);
            return Ok(new);
        }
        // Finalizers gone from an object being deleted: the deletion completes now.
        if object::is_deleting(&new)
            && object::finalizers(&new).is_empty()
            && !namespace_has_spec_finalizers(&new)
        {
            return match ctx.state.store.delete(&key, Some(kv.mod_revision)).await {
                Ok(kv) => {
                    object::set_resource_version(&mut new, kv.mod_revision);
                    Ok(new)
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(e) => Err(store_error(ctx, name, e)),
            };
        }
        match ctx
            .state
            .store
            .update(&key, encode(ctx, &new)?, Some(kv.mod_revision))
            .await
        {
            Ok(kv) => {
                object::set_resource_version(&mut new, kv.mod_revision);
                admission::release_dropped(ctx, &current, &new);
                return Ok(new);
            }
            Err(StoreError::Conflict { .. }) if precondition.is_none() => unwind(&new),
            Err(e) => {
                unwind(&new);
                return Err(store_error(ctx, name, e));
            }
        }
    }
    Err(ApiError::conflict(&ctx.res, name))
}

fn namespace_has_spec_finalizers(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Namespace")
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
}

/// Apply the update rules to `new` given the stored `old`: identity fields kept, status or
/// spec isolated by subresource, defaults, validation, generation, managed fields.
/// Returns None for a no-op.
pub fn finish_update(
    ctx: &Ctx,
    old: &Value,
    new: Value,
    sub: Option<&str>,
    manager: &str,
    managed: Option<Value>,
) -> Result<Option<Value>, ApiError> {
    let name = object::name(old).to_string();
    let mut new = match sub {
        Some("status") => {
            let mut v = old.clone();
            v["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if v["status"].is_null() {
                if let Some(m) = v.as_object_mut() {
                    m.remove("status");
                }
            }
            v
        }
        Some("finalize") => {
            let mut v = old.clone();
            v["spec"]["finalizers"] = new
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            v
        }
        _ => {
            let mut v = new;
            if ctx.res.has_status_subresource() {
                match old.get("status") {
                    Some(s) => v["status"] = s.clone(),
                    None => {
                        if let Some(m) = v.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            v
        }
    };
    if !new.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    let old_meta = object::meta(old).cloned().unwrap_or_default();
    {
        let m = meta_mut(&mut new);
        if let Some(n) = m.get("name").and_then(Value::as_str) {
            if !n.is_empty() && n != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
        }
        for k in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
        m.remove("selfLink");
        m.remove("resourceVersion");
    }
    object::drop_null_metadata(&mut new);
    shape(ctx, &mut new);
    if sub.is_none() {
        (ctx.res.strategy.defaults)(&mut new);
        crd::admission::apply_defaults(ctx, &mut new);
        admission::prepare_update(ctx, old, &mut new)?;
    }
    // Released here if the update is invalid; past validation the caller gives back what a
    // write that does not land allocated.
    let reservation = match sub {
        None => Some(admission::allocate(ctx, &mut new, Some(old))?),
        Some(_) => None,
    };
    let mut errs = validation::validate_update(&ctx.res.strategy, &new, old, ctx.res.namespaced);
    errs.extend(crd::admission::validate(ctx, &new));
    if !errs.is_empty() {
        return Err(invalid(ctx, &name, errs));
    }
    check_pod_security_labels(ctx, &name, &new)?;
    if let Some(r) = reservation {
        r.commit();
    }
    if ctx.res.has_generation() && object::spec_part(&new) != object::spec_part(old) {
        let gen = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta_mut(&mut new).insert("generation".into(), json!(gen + 1));
    }
    let mut old_cmp = object::comparable(old);
    object::meta_mut(&mut old_cmp).remove("resourceVersion");
    // Managed fields that only the apply path computed may differ; compare without them.
    if object::comparable(&new) == old_cmp && managed.is_none() {
        return Ok(None);
    }
    let now = object::now_rfc3339();
    let new = match managed {
        Some(mf) => {
            let mut v = new;
            meta_mut(&mut v).insert("managedFields".into(), mf);
            v
        }
        None => {
            let api_version = ctx.res.api_version();
            patch::track_update(
                Some(old),
                &new,
                schema(ctx),
                &owner(
                    ctx,
                    manager,
                    &api_version,
                    sub.filter(|s| *s == "status"),
                    &now,
                ),
            )
        }
    };
    if object::comparable(&new) == old_cmp
        && new.pointer("/metadata/managedFields") == old.pointer("/metadata/managedFields")
    {
        return Ok(None);
    }
    Ok(Some(new))
}

/// PUT: replace an object (or its status / namespace finalizers).
pub async fn update(ctx: &Ctx, body: Bytes, sub: Option<&str>) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let mut obj = decode_body(&ctx.content_type, &body)?;
    let mut warnings = check_body(ctx, &mut obj, &ctx.res.kind.clone(), &ctx.res.api_version())?;
    if sub.is_none() {
        warnings.extend(pod_security_admission::warnings(ctx, &obj).await);
    }
    let manager = ctx.field_manager()?;
    let body_name = object::name(&obj).to_string();
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(u), Some(b)) = (ctx.namespace(), object::namespace(&obj)) {
        if u != b {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let precondition = object::resource_version(&obj).map(str::to_string);
    if let Some(rv) = &precondition {
        if rv.parse::<i64>().is_err() {
            return Err(ApiError::bad_request(format!(
                "invalid resource version: {rv}"
            )));
        }
    }
    let stored = ctx
        .state
        .store
        .get(&ctx.key(&name))
        .await
        .map_err(|e| store_error(ctx, &name, e))?;
    if stored.is_none() {
        if sub.is_none() && admission::allow_create_on_update(&ctx.res) && precondition.is_none() {
            let created = create_object(ctx, obj, &manager, None).await?;
            return Ok(respond(ctx, 201, &created, &warnings));
        }
        return Err(ApiError::not_found(&ctx.res, &name));
    }
    let mut before = None;
    let result = guaranteed_update_from(ctx, &name, stored, precondition, |old| {
        let updated = finish_update(ctx, &old, obj.clone(), sub, &manager, None)?;
        before = Some(old);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_removes_nested_paths() {
        let mut o = json!({"spec": {"foo": 1, "containers": [{"name": "a", "imagee": "x"}]}});
        prune(
            &mut o,
            &["spec.foo".into(), "spec.containers[0].imagee".into()],
        );
        assert_eq!(o, json!({"spec": {"containers": [{"name": "a"}]}}));
    }
}
