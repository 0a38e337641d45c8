//! API errors as Kubernetes `Status` objects, with the real reasons, codes and messages.

use serde_json::{json, Value};

use crate::resources::registry::ResourceInfo;

/// One cause inside `Status.details.causes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Field path, e.g. `spec.replicas`.
    pub field: String,
}

/// An API error, rendered as a `Status` with an HTTP code.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details`, when the error names an object.
    pub details: Option<Value>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Attach `details` naming an object by group, plural and name.
    pub fn with_object_details(self, group: &str, plural: &str, name: &str) -> Self {
        self.with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    /// 404 for a named object: `deployments.apps "x" not found`.
    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", info.qualified_resource(), name),
        )
        .with_details(json!({"name": name, "group": info.group, "kind": info.plural}))
    }

    /// 404 for a path that names nothing served.
    pub fn not_found_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    /// 409 when the object exists already.
    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", info.qualified_resource(), name),
        )
        .with_details(json!({"name": name, "group": info.group, "kind": info.plural}))
    }

    /// 409 for a stale resourceVersion.
    pub fn conflict(info: &ResourceInfo, name: &str) -> Self {
        Self::conflict_msg(
            info,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 with a custom explanation.
    pub fn conflict_msg(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                info.qualified_resource(),
                name,
                why
            ),
        )
        .with_details(json!({"name": name, "group": info.group, "kind": info.plural}))
    }

    /// 422 with field causes: `Deployment.apps "x" is invalid: spec.replicas: ...`.
    pub fn invalid(info: &ResourceInfo, name: &str, causes: Vec<(Cause, String)>) -> Self {
        let full: Vec<&str> = causes.iter().map(|(_, m)| m.as_str()).collect();
        let summary = match full.len() {
            0 => String::new(),
            1 => full[0].to_string(),
            _ => format!("[{}]", full.join(", ")),
        };
        let causes_json: Vec<Value> = causes
            .iter()
            .map(|(c, _)| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        Self::new(
            422,
            "Invalid",
            format!(
                "{} \"{}\" is invalid: {}",
                info.qualified_kind(),
                name,
                summary
            ),
        )
        .with_details(
            json!({"name": name, "group": info.group, "kind": info.kind, "causes": causes_json}),
        )
    }

    /// 422 for one invalid field with a plain detail text.
    pub fn invalid_field(info: &ResourceInfo, name: &str, field: &str, detail: &str) -> Self {
        let message = format!("{field}: {detail}");
        Self::invalid(
            info,
            name,
            vec![(
                Cause {
                    reason: "FieldValueInvalid".into(),
                    message: detail.to_string(),
                    field: field.to_string(),
                },
                message,
            )],
        )
    }

    /// 400 with a free-text message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 with the real authorizer message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 403 naming the object refused (`details` as kube-apiserver fills them; an empty
    /// resource means a non-resource URL).
    pub fn forbidden_with(
        message: impl Into<String>,
        name: Option<&str>,
        group: &str,
        resource: &str,
    ) -> Self {
        let mut details = serde_json::Map::new();
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            details.insert("name".into(), json!(n));
        }
        if !group.is_empty() {
            details.insert("group".into(), json!(group));
        }
        if !resource.is_empty() {
            details.insert("kind".into(), json!(resource));
        }
        Self::forbidden(message).with_details(Value::Object(details))
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 406 for an Accept header we cannot satisfy.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 410 for a compacted resourceVersion.
    pub fn expired(requested: i64, oldest: i64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// 413 for a request body over the limit.
    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    /// 415 for a content type this endpoint does not take.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"),
        )
    }

    /// 500 for our own failures (never for a client's mistake).
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// 503 while the server cannot answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// 504 for a request that timed out.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        if self.reason.is_empty() {
            if let Some(m) = s.as_object_mut() {
                m.remove("reason");
            }
        }
        s
    }
}

/// A success `Status` (e.g. for a delete of an object that is gone at once).
pub fn success_status(info: &ResourceInfo, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": info.group, "kind": info.plural, "uid": uid},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::registry::Registry;

    #[test]
    fn messages_match_kubernetes() {
        let reg = Registry::builtin();
        let d = reg.lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(
            ApiError::not_found(&d, "web").message,
            "deployments.apps \"web\" not found"
        );
        let p = reg.lookup("", "v1", "pods").unwrap();
        assert_eq!(
            ApiError::already_exists(&p, "x").message,
            "pods \"x\" already exists"
        );
        let e = ApiError::invalid_field(
            &d,
            "web",
            "spec.replicas",
            "Invalid value: -1: must be greater than or equal to 0",
        );
        assert_eq!(
            e.message,
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["details"]["causes"][0]["field"], "spec.replicas");
    }
}
