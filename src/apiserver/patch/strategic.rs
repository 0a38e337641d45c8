//! Strategic merge patch (`application/strategic-merge-patch+json`) as the API server applies
//! it: maps merge, lists merge by key or as sets where the schema says so, and the `$patch`,
//! `$retainKeys`, `$setElementOrder/` and `$deleteFromPrimitiveList/` directives.

use serde_json::{Map, Value};

use super::schema::SchemaRef;
use super::{go_format, json_type_name, PatchError};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_PRIMITIVE_LIST_FORMAT: &str = "invalid patch format of primitive list";
const ERR_RETAIN_KEYS_FORMAT: &str = "invalid patch format of retainKeys";
const ERR_SET_ORDER_FORMAT: &str = "invalid patch format of setElementOrder list";
const ERR_RETAIN_KEYS_MISMATCH: &str = "patch content doesn't match retainKeys list";

type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge patch to `original` using the patch metadata found in `schema`.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    schema: SchemaRef<'_>,
) -> Result<Value> {
    let patch = match patch {
        Value::Object(p) => p.clone(),
        // `null` decodes into an empty patch map.
        Value::Null => return Ok(original.clone()),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_type_name(other)
            )))
        }
    };
    let Value::Object(original) = original else {
        return Err(PatchError::BadRequest("invalid JSON document".to_string()));
    };
    merge_map(original.clone(), patch, schema).map(Value::Object)
}

fn bad_type(expected: &str, got: &Value) -> PatchError {
    PatchError::Internal(format!(
        "expected a {expected}, but received a {}",
        json_type_name(got)
    ))
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_format(&Value::Object(m.clone()))
    ))
}

fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_format(directive),
        go_format(&Value::Object(m.clone()))
    ))
}

/// The non-`retainKeys` strategy of a field (`merge`, `replace` or none).
fn strategy<'a>(schema: &SchemaRef<'a>) -> Option<&'a str> {
    schema
        .patch_strategies()
        .into_iter()
        .find(|s| *s != "retainKeys")
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: SchemaRef<'_>,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, schema)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => match rest.strip_prefix('/') {
                Some(field) => (field.to_string(), true),
                None => {
                    return Err(PatchError::BadRequest(
                        ERR_PRIMITIVE_LIST_FORMAT.to_string(),
                    ))
                }
            },
            None => (key, false),
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let sub = schema.field(&key);
        let Some(current) = original.get_mut(&key) else {
            if !is_delete_list {
                let cleaned = clean(patch_value, sub)?;
                original.insert(key, cleaned);
            }
            continue;
        };
        match (current, patch_value) {
            (Value::Object(cur), Value::Object(p)) => {
                let merged = if strategy(&sub) == Some("replace") {
                    p
                } else {
                    merge_map(std::mem::take(cur), p, sub)?
                };
                *cur = merged;
            }
            (Value::Array(cur), Value::Array(p)) => {
                let merged = merge_slice_handler(std::mem::take(cur), p, sub, is_delete_list)?;
                *cur = merged;
            }
            (current, patch_value) => {
                if !is_delete_list {
                    *current = clean(patch_value, sub)?;
                }
            }
        }
    }
    Ok(original)
}

/// A patch value that lands where the original has nothing: directives and nulls inside it
/// are resolved against an empty original, which is what decoding into the typed object
/// leaves of them in the real server.
fn clean(value: Value, schema: SchemaRef<'_>) -> Result<Value> {
    match value {
        Value::Object(m) => merge_map(Map::new(), m, schema).map(Value::Object),
        Value::Array(items) => {
            let item_schema = schema.items();
            items
                .into_iter()
                .filter(|v| !v.is_null())
                .map(|v| clean(v, item_schema))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array)
        }
        other => Ok(other),
    }
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRequest(ERR_RETAIN_KEYS_FORMAT.to_string()));
    };
    let retained = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::Unprocessable {
                detail: ERR_RETAIN_KEYS_MISMATCH.to_string(),
            });
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: SchemaRef<'_>,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if strategy(&schema) == Some("merge") {
        merge_slice(original, patch, schema, is_delete_list)
    } else {
        match clean(Value::Array(patch), schema)? {
            Value::Array(items) => Ok(items),
            _ => Ok(Vec::new()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    Map,
    Scalar,
}

/// The common element kind of two lists; lists of lists are refused like the server does.
fn element_kind(a: &[Value], b: &[Value]) -> Result<ElementKind> {
    let mut kind = None;
    for v in a.iter().chain(b) {
        let k = match v {
            Value::Array(_) => {
                return Err(PatchError::Unprocessable {
                    detail: ERR_NO_LIST_OF_LISTS.to_string(),
                })
            }
            Value::Object(_) => ElementKind::Map,
            Value::Null => continue,
            _ => ElementKind::Scalar,
        };
        match kind {
            None => kind = Some(k),
            Some(prev) if prev != k => return Err(bad_type("consistent list element type", v)),
            Some(_) => {}
        }
    }
    Ok(kind.unwrap_or(ElementKind::Scalar))
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: SchemaRef<'_>,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&original, &patch)?;
    if kind == ElementKind::Scalar {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let (in_patch, server_only) = merged.into_iter().partition(|v| patch.contains(v));
        return normalize_element_order(in_patch, server_only, &patch, &original, None);
    }
    let Some(key) = schema.patch_merge_key() else {
        return Err(PatchError::Internal(
            "cannot merge lists without merge key".to_string(),
        ));
    };
    let (original, patch) = merge_special_elements(original, patch, key)?;
    let merged = merge_by_key(original.clone(), patch.clone(), key, schema.items())?;
    let (in_patch, server_only) = partition_maps(merged, &patch, key)?;
    normalize_element_order(in_patch, server_only, &patch, &original, Some(key))
}

/// Applies `$patch` elements of a merge list: `delete` removes by key, `replace` makes the
/// rest of the patch the whole list.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(bad_type("map", &v));
        };
        let Some(directive) = m.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(kv) = m.get(key) else {
                    return Err(no_merge_key(m, key));
                };
                original.retain(|e| e.get(key) != Some(kv));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ))
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

fn merge_by_key(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    item_schema: SchemaRef<'_>,
) -> Result<Vec<Value>> {
    for v in patch {
        let Value::Object(m) = v else {
            return Err(bad_type("map", &v));
        };
        let Some(kv) = m.get(key).cloned() else {
            return Err(no_merge_key(&m, key));
        };
        let mut found = None;
        for (i, e) in original.iter().enumerate() {
            let Value::Object(em) = e else {
                return Err(bad_type("map", e));
            };
            if em.get(key) == Some(&kv) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let current = match original.get_mut(i) {
                    Some(Value::Object(em)) => std::mem::take(em),
                    _ => Map::new(),
                };
                let merged = merge_map(current, m, item_schema)?;
                if let Some(slot) = original.get_mut(i) {
                    *slot = Value::Object(merged);
                }
            }
            None => original.push(merge_map(Map::new(), m, item_schema).map(Value::Object)?),
        }
    }
    Ok(original)
}

fn partition_maps(merged: Vec<Value>, by: &[Value], key: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for v in merged {
        let Value::Object(m) = &v else {
            return Err(bad_type("map", &v));
        };
        let Some(kv) = m.get(key) else {
            return Err(no_merge_key(m, key));
        };
        if by.iter().any(|b| b.get(key) == Some(kv)) {
            in_patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((in_patch, server_only))
}

/// Position of `item` in `order`, by merge key for maps and by value for scalars.
fn index_in(order: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(k) => {
            let wanted = item.get(k);
            order.iter().position(|o| o.get(k) == wanted)
        }
        None => order.iter().position(|o| o == item),
    }
}

fn validate_merge_key(list: &[Value], key: &str) -> Result<()> {
    for v in list {
        let Value::Object(m) = v else {
            return Err(bad_type("map", v));
        };
        if !m.contains_key(key) {
            return Err(no_merge_key(m, key));
        }
    }
    Ok(())
}

fn is_delete_element(v: &Value) -> bool {
    v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

/// Sorts `items` by their position in `order`, keeping the server's quirk that items missing
/// from `order` sort before everything (insertion sort with the same comparison).
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>> {
    let (mut items, to_delete) = match key {
        Some(k) => {
            validate_merge_key(&items, k)?;
            validate_merge_key(order, k)?;
            items.into_iter().partition(|v| !is_delete_element(v))
        }
        None => (items, Vec::new()),
    };
    let mut idx: Vec<Option<usize>> = items.iter().map(|v| index_in(order, v, key)).collect();
    let less = |a: Option<usize>, b: Option<usize>| match (a, b) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(idx[j], idx[j - 1]) {
            items.swap(j, j - 1);
            idx.swap(j, j - 1);
            j -= 1;
        }
    }
    items.extend(to_delete);
    Ok(items)
}

/// Interleaves server-only items into the patch items following the live order; when the
/// live order cannot decide, patch items come first (as the API server does).
fn normalize_element_order(
    in_patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>> {
    let right = normalize_slice_order(in_patch, patch_order, key)?;
    let left = normalize_slice_order(server_only, server_order, key)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (index_in(server_order, l, key), index_in(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    Ok(out)
}

/// Handles every `$setElementOrder/<field>` of `patch`: merges that field's list and orders
/// it as the directive says.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: SchemaRef<'_>,
) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive_key in keys {
        let Some(order) = patch.remove(&directive_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_type("list", &order));
        };
        let field = match directive_key.split_once('/') {
            Some((SET_ELEMENT_ORDER, field)) => field.to_string(),
            _ => return Err(PatchError::BadRequest(ERR_SET_ORDER_FORMAT.to_string())),
        };
        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(bad_type("list", other)),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(bad_type("list", other)),
        };
        let sub = schema.field(&field);
        let kind = element_kind(
            original_list.as_deref().unwrap_or_default(),
            patch_list.as_deref().unwrap_or_default(),
        )?;
        let key = match kind {
            ElementKind::Map => sub.patch_merge_key(),
            ElementKind::Scalar => None,
        };
        validate_with_order(patch_list.as_deref().unwrap_or_default(), &order, key)?;
        let merged = match (original_list.clone(), patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => match clean(Value::Array(p), sub)? {
                Value::Array(a) => a,
                _ => Vec::new(),
            },
            (Some(o), Some(p)) => merge_slice_handler(o, p, sub, false)?,
            (None, None) => continue,
        };
        let (in_order, server_only) = match key {
            Some(k) => partition_maps(merged, &order, k)?,
            None => merged.into_iter().partition(|v| order.contains(v)),
        };
        let ordered = normalize_element_order(
            in_order,
            server_only,
            &order,
            original_list.as_deref().unwrap_or_default(),
            key,
        )?;
        original.insert(field.clone(), Value::Array(ordered));
        patch.remove(&field);
    }
    Ok(())
}

/// Checks that the patch list is in the relative order `$setElementOrder` gives.
fn validate_with_order(patch_list: &[Value], order: &[Value], key: Option<&str>) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let same = |a: &Value, b: &Value| -> Result<bool> {
        match key {
            None => Ok(a == b),
            Some(k) => {
                let (Value::Object(am), Value::Object(bm)) = (a, b) else {
                    return Err(bad_type("map", if a.is_object() { b } else { a }));
                };
                let Some(av) = am.get(k) else {
                    return Err(no_merge_key(am, k));
                };
                let Some(bv) = bm.get(k) else {
                    return Err(no_merge_key(bm, k));
                };
                Ok(av == bv)
            }
        }
    };
    let items: Vec<&Value> = patch_list
        .iter()
        .filter(|v| key.is_none() || !is_delete_element(v))
        .collect();
    let (mut p, mut s) = (0, 0);
    while p < items.len() && s < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if same(items[p], &order[s])? {
            p += 1;
        }
        s += 1;
    }
    if p < items.len() && s >= order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_format(&Value::Array(patch_list.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}
