//! `metadata.managedFields`: decoding and encoding the entries, and recording the fields each
//! non-apply write (create, update, patch, status writes) takes over.

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, PathElement};
use super::schema::SchemaRef;
use super::typed;

/// Who is writing, as the field manager needs it.
#[derive(Clone, Copy, Debug)]
pub struct FieldOwner<'a> {
    /// The field manager name (`fieldManager` query parameter, or derived from the user agent).
    pub manager: &'a str,
    /// The group/version the request used (`apps/v1`, `v1`).
    pub api_version: &'a str,
    /// The subresource written (`status`, `scale`), if any.
    pub subresource: Option<&'a str>,
    /// The write time, RFC 3339 with second precision (`2026-11-22T11:00:00Z`).
    pub now: &'a str,
    /// Dotted paths the resource's strategy resets on this endpoint (e.g. `["status"]` on the
    /// main resource of a type with a status subresource, `["spec", "metadata"]` on its
    /// status subresource); they are never owned, and apply leaves them as they were.
    pub reset_fields: &'a [&'a str],
}

/// One decoded `managedFields` entry.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub set: FieldSet,
}

impl Entry {
    /// Whether two entries are the same manager: appliers are one manager whatever version
    /// they used, updaters are distinguished by version.
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == "Apply" || self.api_version == other.api_version)
    }

    /// The manager as conflict messages print it.
    pub fn display(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s = format!("{s} with subresource {sub:?}");
        }
        if self.operation == "Update" {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::String(self.manager.clone()));
        }
        if !self.operation.is_empty() {
            m.insert("operation".into(), Value::String(self.operation.clone()));
        }
        if !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if let Some(t) = &self.time {
            m.insert("time".into(), Value::String(t.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), self.set.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), Value::String(s.clone()));
        }
        Value::Object(m)
    }
}

fn str_field(m: &Map<String, Value>, key: &str) -> String {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Decodes `metadata.managedFields` (entries that are not objects are dropped; an entry
/// repeated for the same manager is merged).
pub(super) fn decode(obj: &Value) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return out;
    };
    for e in list {
        let Some(m) = e.as_object() else { continue };
        let entry = Entry {
            manager: str_field(m, "manager"),
            operation: str_field(m, "operation"),
            api_version: str_field(m, "apiVersion"),
            time: m.get("time").and_then(Value::as_str).map(String::from),
            subresource: m
                .get("subresource")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from),
            set: m
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        };
        match out.iter_mut().find(|o| o.same_manager(&entry)) {
            Some(existing) => existing.set = existing.set.union(&entry.set),
            None => out.push(entry),
        }
    }
    out
}

/// Writes `entries` (without empty ones, sorted like the server) into `obj`.
pub(super) fn encode(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| {
                p.time
                    .clone()
                    .unwrap_or_default()
                    .cmp(&q.time.clone().unwrap_or_default())
            })
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        let list = entries.iter().map(Entry::to_json).collect();
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Removes `metadata.managedFields` from a copy used for comparisons.
pub(super) fn without_managed_fields(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    copy
}

/// Fields no manager ever owns (the server's strip set; removed path by path, not below).
const STRIPPED: [&[&str]; 12] = [
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

fn field_path(parts: &[&str]) -> Vec<PathElement> {
    parts
        .iter()
        .map(|p| PathElement::Field((*p).to_string()))
        .collect()
}

/// Drops the fields the server never tracks and the endpoint's reset fields from `set`.
pub(super) fn filter_ignored(set: &FieldSet, reset: &[&str]) -> FieldSet {
    let mut stripped = FieldSet::new();
    for parts in STRIPPED {
        stripped.insert(&field_path(parts));
    }
    set.difference(&stripped)
        .recursive_difference(&reset_set(reset))
}

/// The reset fields as a set of subtrees.
pub(super) fn reset_set(reset: &[&str]) -> FieldSet {
    let mut out = FieldSet::new();
    for dotted in reset {
        let parts: Vec<&str> = dotted.split('.').filter(|p| !p.is_empty()).collect();
        if !parts.is_empty() {
            out.insert(&field_path(&parts));
        }
    }
    out
}

/// The empty object a create starts from, as a freshly allocated typed object serializes:
/// nested structs exist and required lists are `null`, optional maps and lists are absent,
/// so only those own their own path (`.`) once created.
pub(super) fn empty_like(new: &Value, schema: SchemaRef<'_>) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = new {
        for (k, v) in m {
            let sub = schema.field(k);
            if v.is_object() && sub.is_struct() && !sub.map_is_atomic() {
                out.insert(k.clone(), empty_like(v, sub));
            } else if v.is_array() && schema.is_required(k) {
                out.insert(k.clone(), Value::Null);
            }
        }
    }
    Value::Object(out)
}

/// Records that `owner` (operation Update) now owns the fields it set or changed between
/// `old` (None for a create) and `new`, removing them (and fields it deleted) from the other
/// managers; returns `new` with `metadata.managedFields` rewritten.
pub fn track_update(
    old: Option<&Value>,
    new: &Value,
    schema: SchemaRef<'_>,
    owner: &FieldOwner<'_>,
) -> Value {
    // Clients may rewrite managedFields on the main resource; an empty list keeps the old ones.
    let sent = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());
    let mut entries = if sent && owner.subresource.is_none() {
        decode(new)
    } else {
        old.map(decode).unwrap_or_default()
    };
    let new_plain = without_managed_fields(new);
    let old_plain = match old {
        Some(o) => without_managed_fields(o),
        None => empty_like(&new_plain, schema),
    };
    let cmp = typed::compare(Some(&old_plain), Some(&new_plain), schema);
    let ignored = reset_set(owner.reset_fields);
    let changed = cmp
        .added
        .union(&cmp.modified)
        .recursive_difference(&ignored);
    let removed = cmp.removed.recursive_difference(&ignored);
    for e in &mut entries {
        e.set = e.set.difference(&changed).difference(&removed);
    }
    let taken = filter_ignored(&changed, owner.reset_fields);
    if !taken.is_empty() {
        let me = Entry {
            manager: owner.manager.to_string(),
            operation: "Update".into(),
            api_version: owner.api_version.to_string(),
            time: Some(owner.now.to_string()),
            subresource: owner.subresource.map(String::from),
            set: taken,
        };
        match entries.iter_mut().find(|e| e.same_manager(&me)) {
            Some(existing) => {
                existing.set = existing.set.union(&me.set);
                existing.time = me.time;
            }
            None => entries.push(me),
        }
    }
    cap_update_managers(&mut entries);
    let mut out = new.clone();
    encode(&mut out, entries);
    out
}

/// The server keeps at most this many Update entries.
const MAX_UPDATE_MANAGERS: usize = 10;
/// Where the oldest Update entries are folded, one bucket per API version.
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Folds the oldest Update entries into `ancient-changes` buckets until at most
/// [`MAX_UPDATE_MANAGERS`] remain, as the server does to bound managedFields.
fn cap_update_managers(entries: &mut Vec<Entry>) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation != "Apply")
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|&a, &b| {
        let (ea, eb) = (&entries[a], &entries[b]);
        ea.time
            .clone()
            .unwrap_or_default()
            .cmp(&eb.time.clone().unwrap_or_default())
            .then_with(|| ea.manager.cmp(&eb.manager))
    });
    let mut remaining = updaters.len();
    let mut first_by_version: Vec<(String, usize)> = Vec::new();
    let mut drop = vec![false; entries.len()];
    for &i in &updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[i].api_version.clone();
        let existing_bucket = entries.iter().position(|e| {
            e.manager == ANCIENT_CHANGES
                && e.operation == "Update"
                && e.api_version == version
                && e.subresource.is_none()
        });
        let bucket = match existing_bucket {
            Some(b) if b != i && !drop[b] => Some(b),
            _ => first_by_version
                .iter()
                .find(|(v, _)| *v == version)
                .map(|&(_, b)| b),
        };
        match bucket {
            Some(bucket) => {
                let merged = entries[bucket].set.union(&entries[i].set);
                let time = entries[i].time.clone();
                let target = &mut entries[bucket];
                target.manager = ANCIENT_CHANGES.to_string();
                target.subresource = None;
                target.set = merged;
                target.time = time;
                drop[i] = true;
                remaining -= 1;
            }
            None => first_by_version.push((version, i)),
        }
    }
    let mut index = 0;
    entries.retain(|_| {
        let keep = !drop[index];
        index += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, time: &str, field: &str) -> Entry {
        let mut set = FieldSet::new();
        set.insert(&[PathElement::Field(field.to_string())]);
        Entry {
            manager: manager.to_string(),
            operation: "Update".into(),
            api_version: "v1".into(),
            time: Some(time.to_string()),
            subresource: None,
            set,
        }
    }

    #[test]
    fn oldest_update_managers_fold_into_ancient_changes() {
        let mut entries: Vec<Entry> = (0..12)
            .map(|i| {
                entry(
                    &format!("m{i:02}"),
                    &format!("2026-11-22T11:00:{i:02}Z"),
                    &format!("f{i}"),
                )
            })
            .collect();
        cap_update_managers(&mut entries);
        assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
        let bucket = entries
            .iter()
            .find(|e| e.manager == ANCIENT_CHANGES)
            .expect("bucket");
        assert_eq!(bucket.set.paths().len(), 3);
        assert_eq!(bucket.time.as_deref(), Some("2026-11-22T11:00:02Z"));
        assert!(entries
            .iter()
            .all(|e| e.manager != "m01" && e.manager != "m02"));
    }

    #[test]
    fn decode_skips_garbage_and_merges_duplicates() {
        let obj = serde_json::json!({"metadata": {"managedFields": [
            5,
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsV1": {"f:x": {}}},
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsV1": {"f:y": {}}},
            {"manager": "a", "operation": "Update", "apiVersion": "v2", "fieldsV1": {"f:z": {}}}
        ]}});
        let entries = decode(&obj);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].set.paths().len(), 2);
        assert_eq!(entries[0].display(), "\"a\" using v1");
    }
}
