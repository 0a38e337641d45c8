//! The Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf, the encoding
//! client-go's discovery client asks `/openapi/v2` for. The JSON maps onto the messages
//! the way gnostic's `ParseDocument` maps it (kube-openapi's handler uses exactly that):
//! maps become lists of `Named*` pairs, `x-` keys become `vendor_extension` entries,
//! `$ref` becomes `_ref`, free-form values (`default`, `enum`, `example`, extensions)
//! become `Any` messages holding their YAML, and each `oneof` takes the shape the JSON has.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
};
use serde_json::Value;

/// gnostic's OpenAPIv2.proto, compiled by build.rs.
static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapiv2.fds"));

/// Why the document could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum GnosticError {
    /// The embedded descriptor set is unusable (a build problem).
    #[error("gnostic descriptors: {0}")]
    Descriptors(String),
    /// A value does not fit the message it maps to.
    #[error("{path}: {message}")]
    Shape {
        /// JSON path of the value.
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// The descriptor pool of the `openapi.v2` package.
pub fn pool() -> Result<&'static DescriptorPool, GnosticError> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| GnosticError::Descriptors(e.clone()))
}

fn message_desc(name: &str) -> Result<MessageDescriptor, GnosticError> {
    pool()?
        .get_message_by_name(&format!("openapi.v2.{name}"))
        .ok_or_else(|| GnosticError::Descriptors(format!("no message openapi.v2.{name}")))
}

/// Encode a Swagger 2.0 JSON document as an `openapi.v2.Document`.
pub fn encode(doc: &Value) -> Result<Vec<u8>, GnosticError> {
    let desc = message_desc("Document")?;
    Ok(to_message(&desc, doc, "$")?.encode_to_vec())
}

fn shape(path: &str, message: impl Into<String>) -> GnosticError {
    GnosticError::Shape {
        path: path.to_string(),
        message: message.into(),
    }
}

fn field(desc: &MessageDescriptor, name: &str) -> Result<FieldDescriptor, GnosticError> {
    desc.get_field_by_name(name).ok_or_else(|| {
        GnosticError::Descriptors(format!("{} has no field {name}", desc.full_name()))
    })
}

/// `basePath` → `base_path`, `$ref` → `_ref`.
fn field_name(key: &str) -> String {
    if key == "$ref" {
        return "_ref".into();
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The YAML gnostic stores in an `Any`.
fn yaml(v: &Value, path: &str) -> Result<String, GnosticError> {
    serde_yaml::to_string(v).map_err(|e| shape(path, e.to_string()))
}

fn set(msg: &mut DynamicMessage, name: &str, v: &Value, path: &str) -> Result<(), GnosticError> {
    let f = field(&msg.descriptor(), name)?;
    let value = field_value(&f, v, path)?;
    msg.set_field(&f, value);
    Ok(())
}

/// A message from a JSON value, following gnostic's mapping for its type.
fn to_message(
    desc: &MessageDescriptor,
    v: &Value,
    path: &str,
) -> Result<DynamicMessage, GnosticError> {
    let mut msg = DynamicMessage::new(desc.clone());
    let obj = || {
        v.as_object()
            .ok_or_else(|| shape(path, format!("{} must be an object", desc.name())))
    };
    match desc.name() {
        "Any" => {
            set(&mut msg, "yaml", &Value::String(yaml(v, path)?), path)?;
        }
        "TypeItem" => {
            let list = match v {
                Value::Array(_) => v.clone(),
                other => Value::Array(vec![other.clone()]),
            };
            set(&mut msg, "value", &list, path)?;
        }
        "ItemsItem" => {
            let list = match v {
                Value::Array(_) => v.clone(),
                other => Value::Array(vec![other.clone()]),
            };
            set(&mut msg, "schema", &list, path)?;
        }
        "StringArray" => set(&mut msg, "value", v, path)?,
        "AdditionalPropertiesItem" => match v {
            Value::Bool(_) => set(&mut msg, "boolean", v, path)?,
            _ => set(&mut msg, "schema", v, path)?,
        },
        "ParametersItem" | "ResponseValue" => {
            let variant = if v.get("$ref").is_some() {
                "json_reference"
            } else if desc.name() == "ParametersItem" {
                "parameter"
            } else {
                "response"
            };
            set(&mut msg, variant, v, path)?;
        }
        "Parameter" => {
            let variant = if v.get("in").and_then(Value::as_str) == Some("body") {
                "body_parameter"
            } else {
                "non_body_parameter"
            };
            set(&mut msg, variant, v, path)?;
        }
        "NonBodyParameter" => {
            let variant = match v.get("in").and_then(Value::as_str) {
                Some("header") => "header_parameter_sub_schema",
                Some("formData") => "form_data_parameter_sub_schema",
                Some("query") => "query_parameter_sub_schema",
                Some("path") => "path_parameter_sub_schema",
                other => return Err(shape(path, format!("parameter in {other:?}"))),
            };
            set(&mut msg, variant, v, path)?;
        }
        "SchemaItem" => {
            let variant = if v.get("type").and_then(Value::as_str) == Some("file") {
                "file_schema"
            } else {
                "schema"
            };
            set(&mut msg, variant, v, path)?;
        }
        "SecurityDefinitionsItem" => {
            let variant = match (
                v.get("type").and_then(Value::as_str),
                v.get("flow").and_then(Value::as_str),
            ) {
                (Some("basic"), _) => "basic_authentication_security",
                (Some("apiKey"), _) => "api_key_security",
                (Some("oauth2"), Some("implicit")) => "oauth2_implicit_security",
                (Some("oauth2"), Some("password")) => "oauth2_password_security",
                (Some("oauth2"), Some("application")) => "oauth2_application_security",
                (Some("oauth2"), Some("accessCode")) => "oauth2_access_code_security",
                other => return Err(shape(path, format!("security definition {other:?}"))),
            };
            set(&mut msg, variant, v, path)?;
        }
        // Objects with fixed keys plus a map of the rest.
        "Paths" | "Responses" => {
            let rest = if desc.name() == "Paths" {
                "path"
            } else {
                "response_code"
            };
            let (ext, named) = (field(desc, "vendor_extension")?, field(desc, rest)?);
            let (mut exts, mut items) = (Vec::new(), Vec::new());
            for (k, x) in obj()? {
                let p = format!("{path}.{k}");
                if k.starts_with("x-") {
                    exts.push(named_pair(&ext, k, x, &p)?);
                } else {
                    items.push(named_pair(&named, k, x, &p)?);
                }
            }
            msg.set_field(&ext, prost_reflect::Value::List(exts));
            msg.set_field(&named, prost_reflect::Value::List(items));
        }
        _ if is_map(desc) => {
            let f = field(desc, "additional_properties")?;
            let mut items = Vec::new();
            for (k, x) in obj()? {
                items.push(named_pair(&f, k, x, &format!("{path}.{k}"))?);
            }
            msg.set_field(&f, prost_reflect::Value::List(items));
        }
        _ => {
            let ext = desc.get_field_by_name("vendor_extension");
            let mut exts = Vec::new();
            for (k, x) in obj()? {
                let p = format!("{path}.{k}");
                match (&ext, k.starts_with("x-")) {
                    (Some(ext), true) => exts.push(named_pair(ext, k, x, &p)?),
                    _ => {
                        let name = field_name(k);
                        if desc.get_field_by_name(&name).is_none() {
                            return Err(shape(&p, format!("{} has no {k}", desc.name())));
                        }
                        set(&mut msg, &name, x, &p)?;
                    }
                }
            }
            if let Some(ext) = ext {
                if !exts.is_empty() {
                    msg.set_field(&ext, prost_reflect::Value::List(exts));
                }
            }
        }
    }
    Ok(msg)
}

/// Messages that stand for a JSON map: one repeated `Named*` field.
fn is_map(desc: &MessageDescriptor) -> bool {
    let mut fields = desc.fields();
    fields.len() == 1
        && fields
            .next()
            .is_some_and(|f| f.name() == "additional_properties")
}

/// One `Named*` pair (name, value) for a repeated pair field.
fn named_pair(
    f: &FieldDescriptor,
    name: &str,
    v: &Value,
    path: &str,
) -> Result<prost_reflect::Value, GnosticError> {
    let Kind::Message(pair) = f.kind() else {
        return Err(GnosticError::Descriptors(format!(
            "{} is not a message",
            f.full_name()
        )));
    };
    let mut msg = DynamicMessage::new(pair.clone());
    set(&mut msg, "name", &Value::String(name.to_string()), path)?;
    let value_field = field(&pair, "value")?;
    let value = single_value(&value_field, v, path)?;
    msg.set_field(&value_field, value);
    Ok(prost_reflect::Value::Message(msg))
}

fn field_value(
    f: &FieldDescriptor,
    v: &Value,
    path: &str,
) -> Result<prost_reflect::Value, GnosticError> {
    if f.is_list() {
        let items = v
            .as_array()
            .ok_or_else(|| shape(path, format!("{} must be a list", f.name())))?;
        let mut out = Vec::with_capacity(items.len());
        for (i, x) in items.iter().enumerate() {
            out.push(single_value(f, x, &format!("{path}[{i}]"))?);
        }
        return Ok(prost_reflect::Value::List(out));
    }
    single_value(f, v, path)
}

fn single_value(
    f: &FieldDescriptor,
    v: &Value,
    path: &str,
) -> Result<prost_reflect::Value, GnosticError> {
    use prost_reflect::Value as P;
    let wrong = || shape(path, format!("unexpected value for {}: {v}", f.name()));
    Ok(match f.kind() {
        Kind::Message(m) => P::Message(to_message(&m, v, path)?),
        Kind::String => P::String(v.as_str().ok_or_else(wrong)?.to_string()),
        Kind::Bool => P::Bool(v.as_bool().ok_or_else(wrong)?),
        Kind::Double => P::F64(v.as_f64().ok_or_else(wrong)?),
        Kind::Int64 => P::I64(
            v.as_i64()
                .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
                .ok_or_else(wrong)?,
        ),
        _ => return Err(wrong()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of<'a>(
        msg: &'a DynamicMessage,
        name: &str,
    ) -> std::borrow::Cow<'a, prost_reflect::Value> {
        msg.get_field_by_name(name).expect(name)
    }

    #[test]
    fn maps_json_onto_gnostic_messages() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.37.0"},
            "paths": {"/api/v1/pods": {"get": {
                "operationId": "listCoreV1PodForAllNamespaces",
                "parameters": [{"name": "limit", "in": "query", "type": "integer", "uniqueItems": true}],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.PodList"}}},
                "x-kubernetes-action": "list",
            }}},
            "definitions": {"io.k8s.api.core.v1.Pod": {
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec", "default": {}},
                    "policy": {"type": "string", "enum": ["Always", "Never"]},
                    "data": {"type": "object", "additionalProperties": {"type": "string"}},
                    "any": {"additionalProperties": true},
                },
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
            }},
            "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}},
            "security": [{"BearerToken": []}],
        });
        let bytes = encode(&doc).unwrap();
        let back =
            DynamicMessage::decode(message_desc("Document").unwrap(), bytes.as_slice()).unwrap();
        assert_eq!(field_of(&back, "swagger").as_str(), Some("2.0"));
        let defs = field_of(&back, "definitions");
        let defs = defs.as_message().unwrap();
        let list = field_of(defs, "additional_properties");
        let pod = &list.as_list().unwrap()[0];
        let pod = pod.as_message().unwrap();
        assert_eq!(
            field_of(pod, "name").as_str(),
            Some("io.k8s.api.core.v1.Pod")
        );
        let schema = field_of(pod, "value");
        let schema = schema.as_message().unwrap();
        let ext = field_of(schema, "vendor_extension");
        let ext = ext.as_list().unwrap()[0].as_message().unwrap().clone();
        assert_eq!(
            field_of(&ext, "name").as_str(),
            Some("x-kubernetes-group-version-kind")
        );
        let any = field_of(&ext, "value");
        let yaml_text = field_of(any.as_message().unwrap(), "yaml")
            .as_str()
            .unwrap()
            .to_string();
        let gvk: serde_yaml::Value = serde_yaml::from_str(&yaml_text).unwrap();
        assert_eq!(gvk[0]["kind"].as_str(), Some("Pod"));
        assert_eq!(gvk[0]["group"].as_str(), Some(""));
        let ty = field_of(schema, "type");
        assert_eq!(
            field_of(ty.as_message().unwrap(), "value")
                .as_list()
                .unwrap()[0]
                .as_str(),
            Some("object")
        );
        let props = field_of(schema, "properties");
        let props = field_of(props.as_message().unwrap(), "additional_properties");
        let spec = props.as_list().unwrap()[0].as_message().unwrap().clone();
        let spec_schema = field_of(&spec, "value");
        assert_eq!(
            field_of(spec_schema.as_message().unwrap(), "_ref").as_str(),
            Some("#/definitions/io.k8s.api.core.v1.PodSpec")
        );
        // The operation's query parameter landed in the query sub-schema.
        let paths = field_of(&back, "paths");
        let item = field_of(paths.as_message().unwrap(), "path");
        let item = item.as_list().unwrap()[0].as_message().unwrap().clone();
        let get = field_of(field_of(&item, "value").as_message().unwrap(), "get").into_owned();
        let params = field_of(get.as_message().unwrap(), "parameters").into_owned();
        let q = params.as_list().unwrap()[0].as_message().unwrap().clone();
        let q = field_of(&q, "parameter").into_owned();
        let q = field_of(q.as_message().unwrap(), "non_body_parameter").into_owned();
        let q = field_of(q.as_message().unwrap(), "query_parameter_sub_schema").into_owned();
        assert_eq!(
            field_of(q.as_message().unwrap(), "name").as_str(),
            Some("limit")
        );
    }

    #[test]
    fn rejects_keys_swagger_lacks() {
        let doc = json!({"swagger": "2.0", "definitions": {"x": {"nullable": true}}});
        assert!(matches!(encode(&doc), Err(GnosticError::Shape { .. })));
    }
}
