//! Strict decoding of built-in objects, driven by their OpenAPI schemas: the fields the
//! types do not know, and the first value of the wrong type, worded as Go's
//! encoding/json words it. One walk over the schemas replaces a typed serde decode per
//! kind, whose monomorphised code was a fifth of the release binary's.

use serde_json::{Map, Value};

use super::{go_type, resolve, Definitions};
use crate::apiserver::patch::json_type_name;

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// One step from the object's root to a value.
enum Step<'v> {
    /// A struct field, with the Go struct that holds it (`DeploymentSpec`).
    Field(&'v str, &'v str),
    /// A map entry.
    Key(&'v str),
    /// A list item.
    Index(usize),
}

struct Walk<'d, 'v> {
    defs: &'d dyn Definitions,
    at: Vec<Step<'v>>,
    unknown: Vec<String>,
}

/// Unknown fields (Kubernetes paths such as `spec.containers[0].imagee`) of `obj` read as
/// the definition `root`, or the first type mismatch.
pub(super) fn decode(
    defs: &dyn Definitions,
    root: &str,
    obj: &Value,
) -> Result<Vec<String>, String> {
    let Some(schema) = defs.schema(root) else {
        return Ok(Vec::new());
    };
    let mut walk = Walk {
        defs,
        at: Vec::new(),
        unknown: Vec::new(),
    };
    // The root's own fields are held by the kind's struct (`Deployment.spec`).
    let holder = root.rsplit('.').next().unwrap_or(root);
    walk.value(schema, obj, holder)?;
    Ok(walk.unknown)
}

fn flag(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A `type: object` schema that lists nothing: a free-form value (RawExtension, JSON,
/// FieldsV1), which the types hold as any JSON.
fn free_form(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("object")
        && s.get("properties").is_none()
        && s.get("additionalProperties").is_none()
}

fn type_matches(s: &Value, v: &Value) -> bool {
    matches!(
        (s.get("type").and_then(Value::as_str), v),
        (Some("object"), Value::Object(_))
            | (Some("array"), Value::Array(_))
            | (Some("string"), Value::String(_))
            | (Some("boolean"), Value::Bool(_))
            | (Some("integer" | "number"), Value::Number(_))
    )
}

fn fits_integer(n: &serde_json::Number, format: Option<&str>) -> bool {
    let (min, max) = match format {
        Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => (min..=max).contains(&i),
        (None, Some(u)) => i64::try_from(u).is_ok_and(|u| u <= max),
        _ => false,
    }
}

// The struct names that steps borrow come from the schemas, so the schemas outlive the steps.
impl<'d: 'v, 'v> Walk<'d, 'v> {
    fn value(&mut self, schema: &'d Value, v: &'v Value, holder: &'v str) -> Result<(), String> {
        let (name, s) = resolve(self.defs, schema);
        let holder = name.map_or(holder, |n| n.rsplit('.').next().unwrap_or(n));
        if flag(s, "x-kubernetes-int-or-string") {
            return match v {
                Value::String(_) => Ok(()),
                Value::Number(n) if name == Some(QUANTITY) || fits_integer(n, Some("int32")) => {
                    Ok(())
                }
                _ => Err(self.mismatch(schema, v)),
            };
        }
        if let Some(alternatives) = s.get("oneOf").and_then(Value::as_array) {
            let chosen = alternatives
                .iter()
                .find(|a| type_matches(resolve(self.defs, a).1, v));
            return match chosen {
                Some(a) => self.value(a, v, holder),
                None => Err(self.mismatch(schema, v)),
            };
        }
        if free_form(s) {
            return Ok(());
        }
        if !type_matches(s, v) && s.get("type").is_some() {
            return Err(self.mismatch(schema, v));
        }
        match v {
            Value::Object(m) => self.object(s, m, holder),
            Value::Array(items) => {
                let Some(item) = s.get("items") else {
                    return Ok(());
                };
                for (i, x) in items.iter().enumerate() {
                    self.at.push(Step::Index(i));
                    self.element(item, x, holder)?;
                    self.at.pop();
                }
                Ok(())
            }
            Value::Number(n) => {
                let format = s.get("format").and_then(Value::as_str);
                if s.get("type").and_then(Value::as_str) == Some("integer")
                    && !fits_integer(n, format)
                {
                    return Err(self.mismatch_text(&format!("number {n}"), schema));
                }
                Ok(())
            }
            Value::String(text) => match s.get("format").and_then(Value::as_str) {
                Some("byte") => base64_error(text).map_or(Ok(()), Err),
                Some("date-time") => match text.parse::<jiff::Timestamp>() {
                    Ok(_) => Ok(()),
                    Err(e) => Err(format!("parsing time {text:?}: {e}")),
                },
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn object(
        &mut self,
        s: &'d Value,
        m: &'v Map<String, Value>,
        holder: &'v str,
    ) -> Result<(), String> {
        let props = s.get("properties").and_then(Value::as_object);
        let extra = s.get("additionalProperties").filter(|a| a.is_object());
        for (k, x) in m {
            if let Some(p) = props.and_then(|p| p.get(k)) {
                // A struct field may always be null: it decodes as absent.
                if !x.is_null() {
                    self.at.push(Step::Field(k, holder));
                    self.value(p, x, holder)?;
                    self.at.pop();
                }
            } else if let Some(e) = extra {
                self.at.push(Step::Key(k));
                self.element(e, x, holder)?;
                self.at.pop();
            } else {
                self.at.push(Step::Key(k));
                self.unknown.push(self.kube_path());
                self.at.pop();
            }
        }
        // encoding/json takes a missing required field as its zero value, and so do the
        // k8s-openapi types we decode stored objects into, except timestamps, which have
        // none: an object without one would be stored but unreadable to the controllers.
        let required = s.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            let Some(p) = props.and_then(|p| p.get(name)) else {
                continue;
            };
            let is_time = resolve(self.defs, p)
                .1
                .get("format")
                .and_then(Value::as_str)
                == Some("date-time");
            if is_time && m.get(name).is_none_or(Value::is_null) {
                self.at.push(Step::Key(name));
                let path = self.kube_path();
                self.at.pop();
                return Err(format!("{path}: Required value"));
            }
        }
        Ok(())
    }

    /// A list item or map value: null only where the element type takes it.
    fn element(&mut self, schema: &'d Value, x: &'v Value, holder: &'v str) -> Result<(), String> {
        if x.is_null() {
            let s = resolve(self.defs, schema).1;
            let takes_null =
                free_form(s) || s.get("format").and_then(Value::as_str) == Some("byte");
            return if takes_null {
                Ok(())
            } else {
                Err(self.mismatch(schema, x))
            };
        }
        self.value(schema, x, holder)
    }

    /// `spec.template.spec.containers[0].imagee`.
    fn kube_path(&self) -> String {
        let mut out = String::new();
        for step in &self.at {
            match step {
                Step::Field(k, _) | Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn mismatch(&self, schema: &Value, v: &Value) -> String {
        self.mismatch_text(json_type_name(v), schema)
    }

    /// `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of
    /// type int32`: the struct fields from the root, the struct holding the last of them,
    /// and the Go type of the value the schema wants here.
    fn mismatch_text(&self, what: &str, schema: &Value) -> String {
        let fields: Vec<&str> = self
            .at
            .iter()
            .filter_map(|s| match s {
                Step::Field(k, _) => Some(*k),
                _ => None,
            })
            .collect();
        let holder = self.at.iter().rev().find_map(|s| match s {
            Step::Field(_, h) => Some(*h),
            _ => None,
        });
        let ty = go_type(self.defs, schema);
        match holder {
            Some(h) => format!(
                "json: cannot unmarshal {what} into Go struct field {h}.{} of type {ty}",
                fields.join(".")
            ),
            None => format!("json: cannot unmarshal {what} into Go value of type {ty}"),
        }
    }
}

/// encoding/json's error for a `[]byte` field that is not standard base64.
fn base64_error(text: &str) -> Option<String> {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD
        .decode(text)
        .err()?;
    let at = match e {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            at
        }
        base64::DecodeError::InvalidLength(len) => len,
        base64::DecodeError::InvalidPadding => text.len(),
    };
    Some(format!("illegal base64 data at input byte {at}"))
}
