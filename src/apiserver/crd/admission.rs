//! Where custom resources and CRDs join the common write path: schema pruning, defaults
//! and validation for custom objects; validation and the cleanup finalizer for CRDs.

use serde_json::{json, Value};

use super::definition::Definition;
use super::schema;
use crate::apiserver::handlers::Ctx;
use crate::resources::validation::FieldError;

/// The finalizer that holds a CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn is_crd(ctx: &Ctx) -> bool {
    ctx.res.group == "apiextensions.k8s.io" && ctx.res.kind == "CustomResourceDefinition"
}

fn version_schema(ctx: &Ctx) -> Option<Value> {
    ctx.state.crds.version_of(&ctx.res)?.schema
}

/// Fields a custom object's schema does not know (None for other resources).
pub fn unknown_fields(ctx: &Ctx, obj: &Value) -> Option<Vec<String>> {
    let s = version_schema(ctx)?;
    Some(schema::unknown_fields(&s, obj))
}

/// Apply schema defaults to a custom object.
pub fn apply_defaults(ctx: &Ctx, obj: &mut Value) {
    if let Some(s) = version_schema(ctx) {
        schema::apply_defaults(&s, obj);
    }
}

/// Schema errors of a custom object, or the problems of a CRD.
pub fn validate(ctx: &Ctx, obj: &Value) -> Vec<FieldError> {
    if is_crd(ctx) {
        return Definition::from_object(obj).errors();
    }
    match version_schema(ctx) {
        Some(s) => schema::validate(&s, obj),
        None => Vec::new(),
    }
}

/// A new CRD gets the cleanup finalizer, so deleting it first deletes its objects.
pub fn prepare_create(ctx: &Ctx, obj: &mut Value) {
    if !is_crd(ctx) {
        return;
    }
    let meta = crate::apiserver::object::meta_mut(obj);
    let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(list) = finalizers.as_array_mut() {
        if !list.iter().any(|f| f == CLEANUP_FINALIZER) {
            list.push(json!(CLEANUP_FINALIZER));
        }
    }
}
