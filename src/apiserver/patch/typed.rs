//! Schema-aware walks over JSON objects for field ownership: the field set of an applied
//! configuration, the comparison of two versions, the apply merge, and item removal.

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Path, PathElement};
use super::schema::{ListKind, SchemaRef};

/// How a value at some position is treated, decided from the schema and the value.
enum Shape {
    Leaf,
    Map,
    List(ListKind),
}

fn shape(v: &Value, schema: &SchemaRef<'_>) -> Shape {
    match v {
        Value::Object(_) if schema.map_is_atomic() => Shape::Leaf,
        Value::Object(_) => Shape::Map,
        Value::Array(_) => match schema.list_kind() {
            ListKind::Atomic => Shape::Leaf,
            kind => Shape::List(kind),
        },
        _ => Shape::Leaf,
    }
}

/// The path element identifying `item` in a list of kind `kind`.
pub fn item_element(
    item: &Value,
    kind: &ListKind,
    item_schema: SchemaRef<'_>,
    index: usize,
) -> Result<PathElement, String> {
    match kind {
        ListKind::Map(keys) => {
            let Value::Object(m) = item else {
                return Err(format!(
                    "element {index}: associative list with keys can only hold objects"
                ));
            };
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                let value = m
                    .get(key)
                    .filter(|v| !v.is_null())
                    .or_else(|| item_schema.field(key).default_value());
                match value {
                    Some(v) => fields.push((key.clone(), v.clone())),
                    None => {
                        return Err(format!(
                            "element {index}: associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                        ))
                    }
                }
            }
            Ok(PathElement::key(fields))
        }
        ListKind::Set => match item {
            Value::Object(_) | Value::Array(_) => Err(format!(
                "element {index}: associative list without keys has an element that's a map type"
            )),
            v => Ok(PathElement::value(v)),
        },
        ListKind::Atomic => Ok(PathElement::Index(index)),
    }
}

/// Path elements of every item of a keyed list, refusing duplicates.
fn item_elements(
    items: &[Value],
    kind: &ListKind,
    item_schema: SchemaRef<'_>,
) -> Result<Vec<PathElement>, String> {
    let mut out: Vec<PathElement> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = item_element(item, kind, item_schema, i)?;
        if out.contains(&pe) {
            return Err(format!("duplicate entries for key {pe}"));
        }
        out.push(pe);
    }
    Ok(out)
}

fn prefixed(path: &Path, err: String) -> String {
    format!("{}: {err}", super::fieldset::path_string(path))
}

/// The fields an applied configuration sets (leaves and list items, not intermediate maps).
pub fn to_field_set(v: &Value, schema: SchemaRef<'_>) -> Result<FieldSet, String> {
    let mut out = FieldSet::new();
    let mut path = Vec::new();
    walk_set(v, schema, &mut path, &mut out)?;
    Ok(out)
}

fn walk_set(
    v: &Value,
    schema: SchemaRef<'_>,
    path: &mut Path,
    out: &mut FieldSet,
) -> Result<(), String> {
    match (shape(v, &schema), v) {
        (Shape::Map, Value::Object(m)) => {
            for (k, child) in m {
                path.push(PathElement::Field(k.clone()));
                walk_set(child, schema.field(k), path, out)?;
                path.pop();
            }
        }
        (Shape::List(kind), Value::Array(items)) => {
            let item_schema = schema.items();
            let pes = item_elements(items, &kind, item_schema).map_err(|e| prefixed(path, e))?;
            for (item, pe) in items.iter().zip(pes) {
                path.push(pe);
                walk_set(item, item_schema, path, out)?;
                out.insert(path);
                path.pop();
            }
        }
        _ => out.insert(path),
    }
    Ok(())
}

/// What changed between two versions of an object.
#[derive(Default, Debug)]
pub struct Comparison {
    /// Fields present only in the new version (including new maps and list items themselves).
    pub added: FieldSet,
    /// Leaf fields whose value changed.
    pub modified: FieldSet,
    /// Fields present only in the old version.
    pub removed: FieldSet,
}

/// Compares two versions field by field.
pub fn compare(old: Option<&Value>, new: Option<&Value>, schema: SchemaRef<'_>) -> Comparison {
    let mut out = Comparison::default();
    let mut path = Vec::new();
    walk_compare(old, new, schema, &mut path, &mut out);
    out
}

fn is_empty_container(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

fn compare_leaf(old: Option<&Value>, new: Option<&Value>, path: &Path, out: &mut Comparison) {
    match (old, new) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        (Some(a), Some(b)) if a != b => out.modified.insert(path),
        _ => {}
    }
}

fn walk_compare(
    old: Option<&Value>,
    new: Option<&Value>,
    schema: SchemaRef<'_>,
    path: &mut Path,
    out: &mut Comparison,
) {
    // A null stands for an empty map or list that exists (a nil slice in a typed object).
    let Some(sample) = [new, old]
        .into_iter()
        .flatten()
        .find(|v| !v.is_null())
        .or(new.or(old))
    else {
        return;
    };
    let same_kind = match (old, new) {
        (Some(a), Some(b)) => {
            a.is_null() || b.is_null() || std::mem::discriminant(a) == std::mem::discriminant(b)
        }
        _ => true,
    };
    // Empty on both sides is compared as a value, keeping `{}` distinct from absent.
    let both_empty = is_empty_container(old) && is_empty_container(new);
    let descended = match (shape(sample, &schema), same_kind && !both_empty) {
        (Shape::Map, true) => {
            let empty = Map::new();
            let om = old.and_then(Value::as_object).unwrap_or(&empty);
            let nm = new.and_then(Value::as_object).unwrap_or(&empty);
            let keys = nm.keys().chain(om.keys().filter(|k| !nm.contains_key(*k)));
            for k in keys {
                path.push(PathElement::Field(k.clone()));
                walk_compare(om.get(k), nm.get(k), schema.field(k), path, out);
                path.pop();
            }
            true
        }
        (Shape::List(kind), true) => compare_lists(old, new, &kind, schema.items(), path, out),
        _ => false,
    };
    if !descended {
        compare_leaf(old, new, path, out);
    } else if old.is_none() {
        out.added.insert(path);
    } else if new.is_none() {
        out.removed.insert(path);
    }
}

/// Compares keyed lists item by item; lists whose items cannot be keyed are compared whole.
fn compare_lists(
    old: Option<&Value>,
    new: Option<&Value>,
    kind: &ListKind,
    item_schema: SchemaRef<'_>,
    path: &mut Path,
    out: &mut Comparison,
) -> bool {
    let empty = Vec::new();
    let ol = old.and_then(Value::as_array).unwrap_or(&empty);
    let nl = new.and_then(Value::as_array).unwrap_or(&empty);
    let (Ok(ope), Ok(npe)) = (
        item_elements(ol, kind, item_schema),
        item_elements(nl, kind, item_schema),
    ) else {
        return false;
    };
    for (pe, item) in npe.iter().zip(nl) {
        let before = ope.iter().position(|p| p == pe).and_then(|i| ol.get(i));
        path.push(pe.clone());
        walk_compare(before, Some(item), item_schema, path, out);
        path.pop();
    }
    for (pe, item) in ope.iter().zip(ol) {
        if !npe.contains(pe) {
            path.push(pe.clone());
            walk_compare(Some(item), None, item_schema, path, out);
            path.pop();
        }
    }
    true
}

/// Merges an applied configuration into the live object: granular maps merge, keyed lists
/// merge by key (live order kept, new items placed where the configuration puts them),
/// everything else is replaced. Nulls in the configuration clear the field.
pub fn merge(live: Option<&Value>, config: &Value, schema: SchemaRef<'_>) -> Value {
    match (live, shape(config, &schema), config) {
        (Some(Value::Object(lm)), Shape::Map, Value::Object(cm)) => {
            let mut out = lm.clone();
            for (k, cv) in cm {
                if cv.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = merge(lm.get(k), cv, schema.field(k));
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Some(Value::Array(la)), Shape::List(kind), Value::Array(ca)) => {
            merge_lists(la, ca, &kind, schema.items()).unwrap_or_else(|| config.clone())
        }
        (_, _, Value::Object(cm)) => {
            let cleaned: Map<String, Value> = cm
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), merge(None, v, schema.field(k))))
                .collect();
            Value::Object(cleaned)
        }
        _ => config.clone(),
    }
}

fn merge_lists(
    live: &[Value],
    config: &[Value],
    kind: &ListKind,
    item_schema: SchemaRef<'_>,
) -> Option<Value> {
    let lpe = item_elements(live, kind, item_schema).ok()?;
    let cpe = item_elements(config, kind, item_schema).ok()?;
    let mut used = vec![false; live.len()];
    let mut out = Vec::with_capacity(live.len() + config.len());
    let (mut i, mut j) = (0, 0);
    while i < live.len() || j < config.len() {
        if i < live.len() && (used[i] || !cpe.contains(&lpe[i])) {
            if !used[i] {
                out.push(live[i].clone());
            }
            i += 1;
            continue;
        }
        if j < config.len() {
            match lpe.iter().position(|p| *p == cpe[j]) {
                Some(li) => {
                    used[li] = true;
                    out.push(merge(Some(&live[li]), &config[j], item_schema));
                }
                None => out.push(merge(None, &config[j], item_schema)),
            }
            j += 1;
        } else {
            i += 1;
        }
    }
    Some(Value::Array(out))
}

/// Removes every member path of `set` from `v` (a removed map entry or list item takes its
/// whole subtree with it).
pub fn remove_items(v: &mut Value, set: &FieldSet, schema: SchemaRef<'_>) {
    for path in set.paths() {
        remove_path(v, &path, schema);
    }
}

fn remove_path(v: &mut Value, path: &[PathElement], schema: SchemaRef<'_>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match (first, v) {
        (PathElement::Field(name), Value::Object(m)) => {
            if rest.is_empty() {
                m.shift_remove(name);
            } else if let Some(child) = m.get_mut(name) {
                remove_path(child, rest, schema.field(name));
            }
        }
        (pe, Value::Array(items)) => {
            let kind = schema.list_kind();
            let item_schema = schema.items();
            let pos = items.iter().enumerate().position(|(i, item)| {
                item_element(item, &kind, item_schema, i).is_ok_and(|p| p == *pe)
            });
            if let Some(pos) = pos {
                if rest.is_empty() {
                    items.remove(pos);
                } else if let Some(item) = items.get_mut(pos) {
                    remove_path(item, rest, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// The schema position reached by following `path` from `schema`.
pub fn schema_at<'a>(schema: SchemaRef<'a>, path: &[PathElement]) -> SchemaRef<'a> {
    path.iter().fold(schema, |s, pe| match pe {
        PathElement::Field(name) => s.field(name),
        _ => s.items(),
    })
}

/// Adds, for every member of `set`, its ancestors that are named fields of a struct, the way
/// structured-merge-diff treats named fields as members when pruning.
pub fn with_named_ancestors(set: &FieldSet, schema: SchemaRef<'_>) -> FieldSet {
    let mut out = set.clone();
    for path in set.paths() {
        for len in 1..path.len() {
            let prefix = &path[..len];
            let parent = schema_at(schema, &prefix[..len - 1]);
            if matches!(prefix[len - 1], PathElement::Field(_)) && parent.is_struct() {
                out.insert(prefix);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Map<String, Value> {
        match json!({
            "Obj": {"properties": {
                "tags": {"type": "array", "x-kubernetes-list-type": "set"},
                "items": {"type": "array", "items": {"properties": {"k": {}, "v": {}}},
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]},
                "sel": {"type": "object", "x-kubernetes-map-type": "atomic"}
            }}
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    #[test]
    fn field_sets_of_sets_maps_and_atomics() {
        let d = defs();
        let s = SchemaRef::new(&d, &d["Obj"]);
        let v = json!({"tags": ["a"], "items": [{"k": 1, "v": 2}], "sel": {"x": 1}, "empty": {}});
        let set = to_field_set(&v, s).expect("typed");
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:items": {"k:{\"k\":1}": {".": {}, "f:k": {}, "f:v": {}}},
                   "f:sel": {}, "f:tags": {"v:\"a\"": {}}})
        );
        let err = to_field_set(&json!({"tags": [{"x": 1}]}), s).expect_err("set of maps");
        assert!(err.starts_with(".tags: element 0"), "{err}");
    }

    #[test]
    fn comparison_marks_new_containers_and_changed_leaves() {
        let d = defs();
        let s = SchemaRef::new(&d, &d["Obj"]);
        let old =
            json!({"items": [{"k": 1, "v": 1}, {"k": 2}], "sel": {"x": 1}, "gone": 1, "nul": null});
        let new = json!({"items": [{"k": 1, "v": 2}, {"k": 3}], "sel": {"x": 2}, "m": {"a": 1}, "nul": [1]});
        let cmp = compare(Some(&old), Some(&new), s);
        let k = |n: i64| PathElement::key(vec![("k".into(), json!(n))]);
        assert!(cmp.modified.has(&[f("items"), k(1), f("v")]));
        assert!(cmp.modified.has(&[f("sel")]));
        assert!(cmp.added.has(&[f("items"), k(3)]));
        assert!(cmp.added.has(&[f("m")]) && cmp.added.has(&[f("m"), f("a")]));
        assert!(cmp.removed.has(&[f("items"), k(2)]));
        assert!(cmp.removed.has(&[f("gone")]));
        // `null` to a list is a changed value, not a new container.
        assert!(cmp.modified.has(&[f("nul")]));
    }

    #[test]
    fn merge_keeps_live_order_and_places_new_items() {
        let d = defs();
        let s = SchemaRef::new(&d, &d["Obj"]);
        let live = json!({"items": [{"k": 1}, {"k": 2}, {"k": 3}], "tags": ["x"], "keep": true});
        let config = json!({"items": [{"k": 3, "v": 9}, {"k": 4}], "tags": ["y"], "keep": null});
        let out = merge(Some(&live), &config, s);
        assert_eq!(
            out,
            json!({"items": [{"k": 1}, {"k": 2}, {"k": 3, "v": 9}, {"k": 4}], "tags": ["x", "y"]})
        );
        let swapped = merge(
            Some(&json!({"items": [{"k": 1}, {"k": 2}]})),
            &json!({"items": [{"k": 2}, {"k": 1}]}),
            s,
        );
        assert_eq!(swapped, json!({"items": [{"k": 2}, {"k": 1}]}));
    }

    #[test]
    fn remove_items_by_key_and_field() {
        let d = defs();
        let s = SchemaRef::new(&d, &d["Obj"]);
        let mut v = json!({"items": [{"k": 1, "v": 1}, {"k": 2}], "tags": ["a", "b"], "x": 1});
        let mut set = FieldSet::new();
        set.insert(&[
            f("items"),
            PathElement::key(vec![("k".into(), json!(1))]),
            f("v"),
        ]);
        set.insert(&[f("items"), PathElement::key(vec![("k".into(), json!(2))])]);
        set.insert(&[f("tags"), PathElement::value(&json!("a"))]);
        set.insert(&[f("x")]);
        set.insert(&[f("absent"), f("deep")]);
        remove_items(&mut v, &set, s);
        assert_eq!(v, json!({"items": [{"k": 1}], "tags": ["b"]}));
    }
}
