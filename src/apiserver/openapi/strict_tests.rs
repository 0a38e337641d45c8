//! The schema walk of `strict` against the typed serde decode it replaced: k8s-openapi's
//! `Deserialize` impls, with serde_ignored naming the fields they skip and
//! serde_path_to_error locating the first failure. Objects generated from every built-in
//! kind's schema, then broken in one place, must get the same answer from both.

use serde_json::{json, Map, Value};

use super::kinds::{kind_table, serde_decode as oracle};
use super::{definition_name, definitions, go_type, resolve, unknown_fields, Definitions};

/// A value of the wrong type: where (JSON field names from the root) and serde's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// Field names from the object's root, without list indexes.
    pub path: Vec<String>,
    /// serde's message, e.g. `invalid type: string "x", expected i32`.
    pub message: String,
}

/// Decode `v` as `T`, collecting the fields `T` ignores.
pub fn serde_decode<T: serde::de::DeserializeOwned>(v: &Value) -> Result<Vec<String>, TypeError> {
    let mut unknown = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| unknown.push(kube_path(&path.to_string()));
    let de = serde_ignored::Deserializer::new(v.clone(), &mut record);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    match result {
        Ok(_) => Ok(unknown),
        Err(e) => {
            let path = e
                .path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                    _ => None,
                })
                .collect();
            Err(TypeError {
                path,
                message: e.into_inner().to_string(),
            })
        }
    }
}

/// serde_ignored writes `spec.containers.0.imagee`; Kubernetes writes `spec.containers[0].imagee`.
fn kube_path(p: &str) -> String {
    let mut out = String::new();
    for seg in p.split('.').filter(|s| !s.is_empty() && *s != "?") {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// A type mismatch as encoding/json words it: `json: cannot unmarshal string into Go
/// struct field DeploymentSpec.spec.replicas of type int32`.
fn go_type_error(root: Option<&str>, te: &TypeError) -> String {
    let defs = definitions();
    let found = te
        .message
        .strip_prefix("invalid type: ")
        .map(|rest| match rest.split([' ', ',']).next().unwrap_or("") {
            "string" => "string",
            "integer" | "floating" => "number",
            "boolean" => "bool",
            "map" => "object",
            "sequence" => "array",
            _ => "",
        })
        .filter(|k| !k.is_empty());
    let (Some(found), Some(root)) = (found, root.and_then(|r| defs.schema(r))) else {
        return te.message.clone();
    };
    // Walk to the field, remembering the struct that holds it.
    let mut cur = root;
    let mut holder = root_name(root);
    for (i, seg) in te.path.iter().enumerate() {
        let (mut name, mut s) = resolve(defs, cur);
        // A list's fields are its items' fields.
        if s.get("type").and_then(Value::as_str) == Some("array") {
            if let Some(items) = s.get("items") {
                (name, s) = resolve(defs, items);
            }
        }
        if let Some(n) = name {
            holder = n.rsplit('.').next().unwrap_or(n).to_string();
        }
        let Some(next) = s.get("properties").and_then(|p| p.get(seg)) else {
            return te.message.clone();
        };
        if i + 1 == te.path.len() {
            return format!(
                "json: cannot unmarshal {found} into Go struct field {holder}.{} of type {}",
                te.path.join("."),
                go_type(defs, next)
            );
        }
        cur = next;
    }
    te.message.clone()
}

fn root_name(s: &Value) -> String {
    s.get("x-kubernetes-group-version-kind")
        .and_then(|g| g.get(0))
        .and_then(|g| g.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A deterministic pseudo-random source, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }
}

/// A valid value for `schema`, filling about half of each struct's fields.
fn sample(defs: &dyn Definitions, schema: &Value, depth: usize, rng: &mut Rng) -> Value {
    let s = resolve(defs, schema).1;
    if s.get("x-kubernetes-int-or-string").is_some() {
        return if rng.below(2) == 0 {
            json!(3)
        } else {
            json!("50%")
        };
    }
    if let Some(first) = s.get("oneOf").and_then(|o| o.get(0)) {
        return sample(defs, first, depth, rng);
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut m = Map::new();
            if depth == 0 {
                return Value::Object(m);
            }
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, p) in props {
                    if rng.below(2) == 0 && k != "apiVersion" && k != "kind" {
                        m.insert(k.clone(), sample(defs, p, depth - 1, rng));
                    }
                }
            } else if let Some(extra) = s.get("additionalProperties").filter(|a| a.is_object()) {
                m.insert("key".into(), sample(defs, extra, depth - 1, rng));
            } else {
                m.insert("free".into(), json!([1, {"form": true}]));
            }
            Value::Object(m)
        }
        Some("array") if depth > 0 => match s.get("items") {
            Some(items) => json!([sample(defs, items, depth - 1, rng)]),
            None => json!([]),
        },
        Some("array") => json!([]),
        Some("string") => match s.get("format").and_then(Value::as_str) {
            Some("byte") => json!("aGVsbG8="),
            Some("date-time") => json!("2026-12-06T07:30:00Z"),
            _ => json!("text"),
        },
        Some("integer") => json!(7),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        _ => json!({"any": "thing"}),
    }
}

/// JSON pointers of every value below the root, except the root's apiVersion and kind
/// (which the typed decode checks against the kind, and the handler before it).
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if at.is_empty() && (k == "apiVersion" || k == "kind") {
                    continue;
                }
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, &p, out);
            }
        }
        _ => {}
    }
}

const WRONG: &[fn() -> Value] = &[
    || json!("text"),
    || json!(7),
    || json!(2.5),
    || json!(3_000_000_000_i64),
    || json!(true),
    || json!([1]),
    || json!({"zz": 1}),
    || Value::Null,
];

/// Compare both decoders on `obj`; `wrong` is the value that broke it, and whether it sits
/// in a list.
fn compare(group: &str, version: &str, kind: &str, obj: &Value, wrong: Option<(&Value, bool)>) {
    let ours = unknown_fields(group, version, kind, obj).expect("a built-in kind");
    let root = definition_name(group, version, kind);
    let theirs = oracle(group, version, kind, obj)
        .expect("a built-in kind")
        .map_err(|te| go_type_error(root, &te));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let context = format!("{group}/{version} {kind}: {obj}");
    match (ours, theirs) {
        (Ok(a), Ok(b)) => assert_eq!(sorted(a), sorted(b), "{context}"),
        (Err(a), Err(b)) => {
            // The typed decode says `number` where Go names the number it refused, the
            // list's type where Go names the item's, and its own words (not
            // encoding/json's) wherever its walk could not follow.
            let worded_apart =
                wrong.is_some_and(|(w, in_list)| w.is_number() || w.is_array() || in_list);
            if b.starts_with("json: ") && !worded_apart {
                assert_eq!(a, b, "{context}");
            }
        }
        (a, b) => panic!("{context}\nschema walk: {a:?}\ntyped decode: {b:?}"),
    }
}

#[test]
fn agrees_with_the_typed_decode_on_every_kind() {
    let defs = definitions();
    let mut rng = Rng(20261206);
    let mut checked = 0;
    for e in kind_table() {
        let root = definition_name(e.group, e.version, e.kind).expect("named");
        let api_version = if e.group.is_empty() {
            e.version.to_string()
        } else {
            format!("{}/{}", e.group, e.version)
        };
        for _ in 0..60 {
            let mut obj = sample(defs, defs.schema(root).expect("defined"), 7, &mut rng);
            obj["apiVersion"] = json!(api_version);
            obj["kind"] = json!(e.kind);
            compare(e.group, e.version, e.kind, &obj, None);
            let mut at = Vec::new();
            pointers(&obj, "", &mut at);
            if at.is_empty() {
                continue;
            }
            let p = &at[rng.below(at.len())];
            let wrong = WRONG[rng.below(WRONG.len())]();
            let mut broken = obj.clone();
            *broken.pointer_mut(p).expect("a pointer just listed") = wrong.clone();
            let in_list = p
                .rsplit('/')
                .next()
                .is_some_and(|s| s.parse::<usize>().is_ok());
            compare(e.group, e.version, e.kind, &broken, Some((&wrong, in_list)));
            let mut extra = obj.clone();
            if let Some(Value::Object(m)) = extra.pointer_mut(p) {
                m.insert("zzUnknown".into(), json!({"a": 1}));
                compare(e.group, e.version, e.kind, &extra, None);
            }
            checked += 3;
        }
    }
    assert!(checked > 1000, "only {checked} objects checked");
}

#[test]
fn words_errors_as_encoding_json_does() {
    let cases = [
        (
            json!({"spec": {"replicas": 2.5}}),
            "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            json!({"spec": {"replicas": 3_000_000_000_i64}}),
            "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            json!({"metadata": {"labels": {"app": 1}}}),
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        ),
        (
            json!({"spec": {"template": {"spec": {"containers": ["web"]}}}}),
            "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.containers of type v1.Container",
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(
            unknown_fields("apps", "v1", "Deployment", &obj).unwrap(),
            Err(want.to_string()),
            "{obj}"
        );
    }
    let secret = json!({"data": {"k": "not base64!"}});
    assert_eq!(
        unknown_fields("", "v1", "Secret", &secret).unwrap(),
        Err("illegal base64 data at input byte 3".to_string())
    );
    let quantity = json!({"spec": {"hard": {"cpu": 1.5, "pods": "10"}}});
    assert_eq!(
        unknown_fields("", "v1", "ResourceQuota", &quantity).unwrap(),
        Ok(vec![])
    );
}
