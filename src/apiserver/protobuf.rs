//! Decoding Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into
//! JSON objects. kubectl's typed clients (`create deployment`, `create configmap`, `auth
//! can-i`, ...) send this encoding; everything else in the server works on JSON.
//!
//! The wire format is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` envelope
//! whose `raw` field holds the object's own message. Messages are decoded by reflection
//! over the descriptors k8s-rs-pb embeds, then mapped to Kubernetes' JSON form, including
//! the types whose JSON differs from their protobuf shape (Time, IntOrString, Quantity, ...).

use std::sync::OnceLock;

use base64::Engine;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage, Value as PValue,
};
use serde_json::{json, Map, Value};

/// The magic prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// The Kubernetes schemas, compiled by build.rs from the protos k8s-rs-pb packages.
static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kubernetes.fds"));

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    /// The body does not start with the magic prefix.
    #[error(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )]
    NoMagic,
    /// The envelope or the object could not be parsed.
    #[error("unable to decode protobuf body: {0}")]
    Malformed(String),
    /// The kind is not one we can decode.
    #[error("no kind \"{kind}\" is registered for version \"{api_version}\" in protobuf")]
    UnknownKind {
        /// apiVersion of the envelope.
        api_version: String,
        /// kind of the envelope.
        kind: String,
    },
}

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).ok())
        .as_ref()
}

/// The protobuf package of an API group version (`apps/v1` → `api.apps.v1`).
fn package(api_version: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    match group {
        "" => format!("api.core.{version}"),
        "apiextensions.k8s.io" => {
            format!("apiextensions_apiserver.pkg.apis.apiextensions.{version}")
        }
        "meta.k8s.io" => format!("apimachinery.pkg.apis.meta.{version}"),
        g => {
            let short = g.strip_suffix(".k8s.io").unwrap_or(g);
            let short = short.split('.').next().unwrap_or(short);
            format!("api.{short}.{version}")
        }
    }
}

/// The meta/v1 kinds every group version carries: client-go encodes a request's options
/// with the group version of the resource it calls (`DeleteOptions` in `v1` for a Secret).
const OPTION_KINDS: [&str; 7] = [
    "DeleteOptions",
    "ListOptions",
    "GetOptions",
    "CreateOptions",
    "PatchOptions",
    "UpdateOptions",
    "WatchEvent",
];

fn message_descriptor(api_version: &str, kind: &str) -> Option<MessageDescriptor> {
    let package = if OPTION_KINDS.contains(&kind) {
        "apimachinery.pkg.apis.meta.v1".to_string()
    } else {
        package(api_version)
    };
    pool()?.get_message_by_name(&format!("{package}.{kind}"))
}

fn field<'a>(msg: &'a DynamicMessage, name: &str) -> Option<std::borrow::Cow<'a, PValue>> {
    let f = msg.descriptor().get_field_by_name(name)?;
    msg.has_field(&f).then(|| msg.get_field(&f))
}

/// Decode a Kubernetes protobuf body into the JSON form of the object it carries.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoMagic)?;
    let envelope_desc = pool()
        .and_then(|p| p.get_message_by_name("apimachinery.pkg.runtime.Unknown"))
        .ok_or_else(|| ProtobufError::Malformed("protobuf schemas unavailable".into()))?;
    let envelope = DynamicMessage::decode(envelope_desc, rest)
        .map_err(|e| ProtobufError::Malformed(e.to_string()))?;
    let (mut api_version, mut kind) = (String::new(), String::new());
    if let Some(tm) = field(&envelope, "typeMeta") {
        if let PValue::Message(tm) = tm.as_ref() {
            if let Some(PValue::String(v)) = field(tm, "apiVersion").as_deref() {
                api_version = v.clone();
            }
            if let Some(PValue::String(k)) = field(tm, "kind").as_deref() {
                kind = k.clone();
            }
        }
    }
    let raw = match field(&envelope, "raw").as_deref() {
        Some(PValue::Bytes(b)) => b.clone(),
        _ => Default::default(),
    };
    let desc =
        message_descriptor(&api_version, &kind).ok_or_else(|| ProtobufError::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let msg =
        DynamicMessage::decode(desc, raw).map_err(|e| ProtobufError::Malformed(e.to_string()))?;
    let mut obj = message_to_json(&msg);
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

fn rfc3339(seconds: i64, nanos: i64, micros: bool) -> Value {
    let nanos = if micros { nanos - nanos % 1000 } else { 0 };
    match jiff::Timestamp::new(seconds, i32::try_from(nanos).unwrap_or(0)) {
        Ok(t) if micros => json!(t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
        Ok(t) => json!(t.to_string()),
        Err(_) => Value::Null,
    }
}

/// Kubernetes types whose JSON is not the plain mapping of their message.
fn special(msg: &DynamicMessage) -> Option<Value> {
    let int = |n: &str| match field(msg, n).as_deref() {
        Some(PValue::I64(v)) => *v,
        Some(PValue::I32(v)) => *v as i64,
        _ => 0,
    };
    let string = |n: &str| match field(msg, n).as_deref() {
        Some(PValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let raw_json = |n: &str| match field(msg, n).as_deref() {
        Some(PValue::Bytes(b)) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Some(match msg.descriptor().full_name() {
        // The zero time is `null` in JSON, as Go's metav1.Time marshals it.
        "apimachinery.pkg.apis.meta.v1.Time" if int("seconds") == 0 && int("nanos") == 0 => {
            Value::Null
        }
        "apimachinery.pkg.apis.meta.v1.Time" => rfc3339(int("seconds"), int("nanos"), false),
        "apimachinery.pkg.apis.meta.v1.MicroTime" => rfc3339(int("seconds"), int("nanos"), true),
        "apimachinery.pkg.util.intstr.IntOrString" => {
            if int("type") == 1 {
                json!(string("strVal"))
            } else {
                json!(int("intVal"))
            }
        }
        "apimachinery.pkg.api.resource.Quantity" => json!(string("string")),
        "apimachinery.pkg.runtime.RawExtension"
        | "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON" => raw_json("raw"),
        "apimachinery.pkg.apis.meta.v1.FieldsV1" => match raw_json("Raw") {
            Value::Null => json!({}),
            v => v,
        },
        "apimachinery.pkg.apis.meta.v1.Duration" => json!(go_duration(int("duration"))),
        _ => return None,
    })
}

/// Go's time.Duration String() for whole numbers of nanoseconds.
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let total = ns.unsigned_abs();
    let (h, rem) = (total / 3_600_000_000_000, total % 3_600_000_000_000);
    let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
    let secs = rem as f64 / 1e9;
    let mut out = String::new();
    if ns < 0 {
        out.push('-');
    }
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{secs}s"));
    out
}

fn value_to_json(v: &PValue) -> Value {
    match v {
        PValue::Bool(x) => json!(x),
        PValue::I32(x) => json!(x),
        PValue::I64(x) => json!(x),
        PValue::U32(x) => json!(x),
        PValue::U64(x) => json!(x),
        PValue::F32(x) => json!(x),
        PValue::F64(x) => json!(x),
        PValue::String(x) => json!(x),
        PValue::Bytes(x) => json!(base64::engine::general_purpose::STANDARD.encode(x)),
        PValue::EnumNumber(n) => json!(n),
        PValue::Message(m) => message_to_json(m),
        PValue::List(items) => Value::Array(items.iter().map(value_to_json).collect()),
        PValue::Map(entries) => {
            let mut keys: Vec<(String, &PValue)> = entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        MapKey::String(s) => s.clone(),
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                    };
                    (key, v)
                })
                .collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                keys.into_iter()
                    .map(|(k, v)| (k, value_to_json(v)))
                    .collect(),
            )
        }
    }
}

/// Fields that are pointers in the Go types, so a zero value sent on the wire is a real
/// choice (`replicas: 0`, `runAsUser: 0`, `automountServiceAccountToken: false`).
const ZERO_IS_A_VALUE: &[&str] = &[
    "replicas",
    "parallelism",
    "completions",
    "backoffLimit",
    "backoffLimitPerIndex",
    "maxFailedIndexes",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "terminationGracePeriodSeconds",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "automountServiceAccountToken",
    "runAsNonRoot",
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "enableServiceLinks",
    "shareProcessNamespace",
    "setHostnameAsFQDN",
    "hostUsers",
    "suspend",
    "immutable",
    "optional",
    "defaultMode",
    "mode",
    "minReplicas",
    "expirationSeconds",
    "gracePeriodSeconds",
    "priority",
    "minAvailable",
    "maxUnavailable",
    "maxSurge",
    "partition",
    "ordinals",
    "seconds",
    "allowed",
    "denied",
];

/// Go's protobuf encoder writes every non-pointer field, zero or not, while the same
/// object in JSON leaves zero values out; drop them the way decoding into Go would.
fn is_go_zero(name: &str, v: &PValue) -> bool {
    if ZERO_IS_A_VALUE.contains(&name) {
        return false;
    }
    match v {
        PValue::Bool(b) => !b,
        PValue::I32(n) => *n == 0,
        PValue::I64(n) => *n == 0,
        PValue::U32(n) => *n == 0,
        PValue::U64(n) => *n == 0,
        PValue::String(s) => s.is_empty(),
        PValue::Bytes(b) => b.is_empty(),
        _ => false,
    }
}

/// Embedded Go structs tagged `json:",inline"` that protobuf carries as a field of their
/// own: (message, field), in the packages build.rs compiles. Their fields belong at the
/// level of the message in JSON.
const INLINED: &[(&str, &str)] = &[
    ("api.core.v1.Volume", "volumeSource"),
    ("api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("api.core.v1.Probe", "handler"),
    ("api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("api.networking.v1.IngressRule", "ingressRuleValue"),
];

/// The JSON form of a message: the proto field names are Kubernetes' JSON names.
fn message_to_json(msg: &DynamicMessage) -> Value {
    if let Some(v) = special(msg) {
        return v;
    }
    let descriptor = msg.descriptor();
    let mut out = Map::new();
    for f in descriptor.fields() {
        if msg.has_field(&f) {
            let v = msg.get_field(&f);
            if is_go_zero(f.name(), &v) {
                continue;
            }
            let json = value_to_json(&v);
            match json {
                Value::Object(inner) if INLINED.contains(&(descriptor.full_name(), f.name())) => {
                    out.extend(inner)
                }
                json => {
                    out.insert(f.name().to_string(), json);
                }
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn msg(name: &str) -> DynamicMessage {
        DynamicMessage::new(pool().unwrap().get_message_by_name(name).unwrap())
    }

    fn set(m: &mut DynamicMessage, field: &str, v: PValue) {
        m.try_set_field_by_name(field, v).unwrap();
    }

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let mut tm = msg("apimachinery.pkg.runtime.TypeMeta");
        set(&mut tm, "apiVersion", PValue::String(api_version.into()));
        set(&mut tm, "kind", PValue::String(kind.into()));
        let mut u = msg("apimachinery.pkg.runtime.Unknown");
        set(&mut u, "typeMeta", PValue::Message(tm));
        set(&mut u, "raw", PValue::Bytes(raw.into()));
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    #[test]
    fn decodes_a_deployment() {
        let mut meta = msg("apimachinery.pkg.apis.meta.v1.ObjectMeta");
        set(&mut meta, "name", PValue::String("web".into()));
        let mut labels = std::collections::HashMap::new();
        labels.insert(MapKey::String("app".into()), PValue::String("web".into()));
        set(&mut meta, "labels", PValue::Map(labels));
        let mut ts = msg("apimachinery.pkg.apis.meta.v1.Time");
        set(&mut ts, "seconds", PValue::I64(1_700_000_000));
        set(&mut meta, "creationTimestamp", PValue::Message(ts));
        let mut spec = msg("api.apps.v1.DeploymentSpec");
        set(&mut spec, "replicas", PValue::I32(0));
        let mut d = msg("api.apps.v1.Deployment");
        set(&mut d, "metadata", PValue::Message(meta));
        set(&mut d, "spec", PValue::Message(spec));
        let v = decode(&envelope("apps/v1", "Deployment", d.encode_to_vec())).unwrap();
        assert_eq!(v["apiVersion"], "apps/v1");
        assert_eq!(v["kind"], "Deployment");
        assert_eq!(v["metadata"]["name"], "web");
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert_eq!(v["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["spec"]["replicas"], 0, "present zero values are kept");
        assert!(
            v["spec"].get("paused").is_none(),
            "absent fields stay absent"
        );
    }

    #[test]
    fn inlined_structs_are_flattened() {
        for (message, field) in INLINED {
            let d = pool().unwrap().get_message_by_name(message);
            assert!(
                d.is_some_and(|d| d.get_field_by_name(field).is_some()),
                "{message}.{field} is not in the schemas"
            );
        }
        let mut empty_dir = msg("api.core.v1.EmptyDirVolumeSource");
        set(&mut empty_dir, "medium", PValue::String("Memory".into()));
        let mut source = msg("api.core.v1.VolumeSource");
        set(&mut source, "emptyDir", PValue::Message(empty_dir));
        let mut vol = msg("api.core.v1.Volume");
        set(&mut vol, "name", PValue::String("scratch".into()));
        set(&mut vol, "volumeSource", PValue::Message(source));
        let mut spec = msg("api.core.v1.PodSpec");
        set(
            &mut spec,
            "volumes",
            PValue::List(vec![PValue::Message(vol)]),
        );
        let mut pod = msg("api.core.v1.Pod");
        set(&mut pod, "spec", PValue::Message(spec));
        let v = decode(&envelope("v1", "Pod", pod.encode_to_vec())).unwrap();
        assert_eq!(
            v["spec"]["volumes"][0],
            json!({"name": "scratch", "emptyDir": {"medium": "Memory"}})
        );
    }

    #[test]
    fn special_types() {
        let mut target = msg("apimachinery.pkg.util.intstr.IntOrString");
        set(&mut target, "type", PValue::I64(1));
        set(&mut target, "strVal", PValue::String("http".into()));
        let mut port = msg("api.core.v1.ServicePort");
        set(&mut port, "port", PValue::I32(80));
        set(&mut port, "targetPort", PValue::Message(target));
        let mut spec = msg("api.core.v1.ServiceSpec");
        set(
            &mut spec,
            "ports",
            PValue::List(vec![PValue::Message(port)]),
        );
        let mut svc = msg("api.core.v1.Service");
        set(&mut svc, "spec", PValue::Message(spec));
        let v = decode(&envelope("v1", "Service", svc.encode_to_vec())).unwrap();
        assert_eq!(v["spec"]["ports"][0]["targetPort"], "http");
        assert_eq!(v["spec"]["ports"][0]["port"], 80);
        let mut cm = msg("api.core.v1.ConfigMap");
        let mut data = std::collections::HashMap::new();
        data.insert(
            MapKey::String("b".into()),
            PValue::Bytes(b"hi".to_vec().into()),
        );
        set(&mut cm, "binaryData", PValue::Map(data));
        let v = decode(&envelope("v1", "ConfigMap", cm.encode_to_vec())).unwrap();
        assert_eq!(v["binaryData"]["b"], "aGk=");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
    }

    #[test]
    fn options_decode_under_any_group_version() {
        let mut opts = msg("apimachinery.pkg.apis.meta.v1.DeleteOptions");
        set(
            &mut opts,
            "propagationPolicy",
            PValue::String("Background".into()),
        );
        set(&mut opts, "gracePeriodSeconds", PValue::I64(0));
        // helm's Secret storage deletes with the core client: DeleteOptions in "v1".
        for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
            let v = decode(&envelope(
                api_version,
                "DeleteOptions",
                opts.encode_to_vec(),
            ))
            .unwrap();
            assert_eq!(v["propagationPolicy"], "Background", "{api_version}");
            assert_eq!(v["gracePeriodSeconds"], 0, "{api_version}");
            assert_eq!(v["kind"], "DeleteOptions");
        }
        for kind in OPTION_KINDS {
            assert!(message_descriptor("v1", kind).is_some(), "{kind}");
        }
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(decode(b"nope"), Err(ProtobufError::NoMagic));
        assert!(matches!(
            decode(b"k8s\0\xff\xff\xff"),
            Err(ProtobufError::Malformed(_))
        ));
        assert!(matches!(
            decode(&envelope("v1", "NoSuchKind", vec![])),
            Err(ProtobufError::UnknownKind { .. })
        ));
        assert!(matches!(
            decode(&envelope("v1", "ConfigMap", vec![0xff, 0xff])),
            Err(ProtobufError::Malformed(_))
        ));
    }
}
