//! Server-side apply (`application/apply-patch+yaml`): merging a manager's full intent into
//! the live object, pruning what it stopped applying, and detecting ownership conflicts.

use serde_json::Value;

use super::fieldset::{path_string, FieldSet, PathElement};
use super::managed::{self, Entry, FieldOwner};
use super::schema::SchemaRef;
use super::typed;
use super::{ApplyConflict, PatchError};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The manager that owns everything an object had before its first tracked apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// Applies `applied` (the complete configuration `owner.manager` wants) to `live` (None to
/// create), maintaining `metadata.managedFields`. Without `force`, changing a field another
/// manager owns is a 409 conflict; with it, ownership moves to this manager.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    force: bool,
    schema: SchemaRef<'_>,
    owner: &FieldOwner<'_>,
) -> Result<Value, PatchError> {
    if !applied.is_object() {
        return Err(PatchError::BadRequest(format!(
            "error decoding YAML: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            super::json_type_name(applied)
        )));
    }
    let patch_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if patch_version != owner.api_version {
        return Err(PatchError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {patch_version}, expected: {}",
            owner.api_version
        )));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(PatchError::BadRequest(
            "metadata.managedFields must be nil".to_string(),
        ));
    }

    let config_set = typed::to_field_set(applied, schema).map_err(|e| {
        PatchError::Internal(format!(
            "failed to create typed patch object ({}): {e}",
            describe(applied)
        ))
    })?;
    let applied_set = managed::filter_ignored(&config_set, owner.reset_fields);

    let mut entries = live.map(managed::decode).unwrap_or_default();
    let live_plain = live.map(managed::without_managed_fields);
    if let (true, Some(l)) = (entries.is_empty(), &live_plain) {
        // Untracked objects are owned by a synthetic manager, so applying over values that
        // someone else set still conflicts.
        let before = FieldOwner {
            manager: BEFORE_FIRST_APPLY,
            ..*owner
        };
        entries = managed::decode(&managed::track_update(None, l, schema, &before));
    }
    let mut merged = typed::merge(live_plain.as_ref(), applied, schema);
    restore_reset_fields(&mut merged, live_plain.as_ref(), owner.reset_fields);

    let me = Entry {
        manager: owner.manager.to_string(),
        operation: "Apply".into(),
        api_version: owner.api_version.to_string(),
        time: None,
        subresource: owner.subresource.map(String::from),
        set: applied_set,
    };
    let previous = entries
        .iter()
        .position(|e| e.same_manager(&me))
        .map(|i| entries.remove(i));
    let last_set = previous.as_ref().map(|p| p.set.clone()).unwrap_or_default();
    let last_time = previous.and_then(|p| p.time);

    // Stop setting what this manager applied before and nobody owns any more.
    let mut owned = me.set.clone();
    for e in &entries {
        owned = owned.union(&e.set);
    }
    prune(&mut merged, &last_set, &owned, schema);

    let base = match &live_plain {
        Some(l) => l.clone(),
        None => managed::empty_like(&merged, schema),
    };
    let cmp = typed::compare(Some(&base), Some(&merged), schema);
    let ignored = managed::reset_set(owner.reset_fields);
    let changed = cmp
        .added
        .union(&cmp.modified)
        .recursive_difference(&ignored);
    let removed = cmp.removed.recursive_difference(&ignored);

    let mut conflicts = Vec::new();
    for e in &entries {
        for path in e.set.intersection(&changed).paths() {
            conflicts.push((e.display(), path));
        }
    }
    if !force && owner.manager == "kubectl" && !conflicts.is_empty() {
        // Migrating from client-side apply: fields whose live value is still what the last
        // client-side apply set may be taken over without --force-conflicts.
        if let Some(allowed) = live_plain
            .as_ref()
            .and_then(|l| allowed_from_last_applied(l, schema))
        {
            conflicts.retain(|(_, path)| !allowed.has(path));
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(conflicts));
    }
    for e in &mut entries {
        e.set = e.set.difference(&changed).difference(&removed);
    }

    let unchanged = live_plain.as_ref() == Some(&merged);
    let mut me = me;
    me.time = if unchanged {
        last_time
    } else {
        Some(owner.now.to_string())
    };
    entries.push(me);

    if owner.manager == "kubectl" {
        sync_last_applied(&mut merged, applied);
    }
    managed::encode(&mut merged, entries);
    Ok(merged)
}

/// Fields of the last client-side applied configuration whose live values still match it.
fn allowed_from_last_applied(live: &Value, schema: SchemaRef<'_>) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    let last: Value = serde_json::from_str(text).ok()?;
    let set = typed::to_field_set(&last, schema).ok()?;
    let cmp = typed::compare(Some(&last), Some(live), schema);
    Some(set.difference(&cmp.modified).difference(&cmp.removed))
}

/// `namespace/name; apiVersion, Kind=kind` as the server names the object in apply errors.
fn describe(obj: &Value) -> String {
    let get = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let api_version = get("/apiVersion");
    let gv = if api_version.contains('/') {
        api_version.to_string()
    } else {
        format!("/{api_version}")
    };
    format!(
        "{}/{}; {gv}, Kind={}",
        get("/metadata/namespace"),
        get("/metadata/name"),
        get("/kind")
    )
}

/// Puts the reset fields back as they were live (or removes them on create), as the
/// resource's strategy does after the merge.
fn restore_reset_fields(merged: &mut Value, live: Option<&Value>, reset: &[&str]) {
    for dotted in reset {
        let parts: Vec<&str> = dotted.split('.').filter(|p| !p.is_empty()).collect();
        let Some((last, parents)) = parts.split_last() else {
            continue;
        };
        let before = live.and_then(|l| parts.iter().try_fold(l, |v, p| v.get(*p)).cloned());
        let Some(map) = parents
            .iter()
            .try_fold(&mut *merged, |v, p| v.get_mut(*p))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        match before {
            Some(v) => {
                map.insert((*last).to_string(), v);
            }
            None => {
                map.shift_remove(*last);
            }
        }
    }
}

/// Removes from `merged` the fields of `last` (the manager's previous apply) that no manager
/// owns now; named struct fields count as members, so an emptied struct goes too.
fn prune(merged: &mut Value, last: &FieldSet, owned: &FieldSet, schema: SchemaRef<'_>) {
    if last.is_empty() {
        return;
    }
    let candidates = typed::with_named_ancestors(last, schema);
    let owned_named = typed::with_named_ancestors(owned, schema);
    let mut remove = FieldSet::new();
    for path in candidates.paths() {
        let protected = path.len() == 1 && path[0] == PathElement::Field("metadata".into());
        let parent_removed = (1..path.len()).any(|n| remove.has(&path[..n]));
        if !protected && !parent_removed && !owned_named.has_prefix(&path) {
            remove.insert(&path);
        }
    }
    typed::remove_items(merged, &remove, schema);
}

fn conflict_error(mut conflicts: Vec<(String, Vec<PathElement>)>) -> PatchError {
    conflicts.sort();
    let list: Vec<ApplyConflict> = conflicts
        .iter()
        .map(|(manager, path)| ApplyConflict {
            manager: manager.clone(),
            field: path_string(path),
        })
        .collect();
    let message = if let [only] = list.as_slice() {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager, only.field
        )
    } else {
        let mut lines = Vec::new();
        let mut current: Option<&str> = None;
        for c in &list {
            if current != Some(c.manager.as_str()) {
                lines.push(format!("conflicts with {}", c.manager));
                current = Some(c.manager.as_str());
            }
            lines.push(format!("- {}", c.field));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            list.len(),
            lines.join("\n")
        )
    };
    PatchError::Conflict {
        message,
        conflicts: list,
    }
}

/// Keeps the client-side apply annotation in step when `kubectl` applies server-side, so a
/// later client-side apply computes its three-way patch from this configuration.
fn sync_last_applied(merged: &mut Value, applied: &Value) {
    let has_annotation = merged
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(LAST_APPLIED));
    if !has_annotation {
        return;
    }
    let mut config = applied.clone();
    if let Some(annotations) = config
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.shift_remove(LAST_APPLIED);
    }
    let text = format!("{config}\n");
    if let Some(annotations) = merged
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.insert(LAST_APPLIED.to_string(), Value::String(text));
    }
}
