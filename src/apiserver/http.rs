//! HTTP plumbing: the response body type, JSON/YAML responses, bounded request bodies and
//! Accept negotiation (plain objects, `Table`, `PartialObjectMetadata`).

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use super::status::ApiError;

/// The body of every response: whole or streamed.
pub type Body = BoxBody<Bytes, Infallible>;

/// Request bodies larger than this get 413, like kube-apiserver's 3 MiB limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A whole body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// How the client wants objects rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// The object itself, JSON.
    Json,
    /// The object itself, YAML.
    Yaml,
    /// A `meta.k8s.io` Table of this version.
    Table(String),
    /// `meta.k8s.io` PartialObjectMetadata(List) of this version.
    PartialMetadata(String),
}

/// Pick the output from an Accept header (first acceptable media type wins).
pub fn negotiate(accept: Option<&str>) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for part in accept.split(',') {
        let mut pieces = part.split(';').map(str::trim);
        let media = pieces.next().unwrap_or("").to_ascii_lowercase();
        let mut as_ = None;
        let mut g = None;
        let mut v = None;
        for p in pieces {
            if let Some((k, val)) = p.split_once('=') {
                match k.trim() {
                    "as" => as_ = Some(val.trim().to_string()),
                    "g" => g = Some(val.trim().to_string()),
                    "v" => v = Some(val.trim().to_string()),
                    _ => {}
                }
            }
        }
        match (media.as_str(), as_.as_deref()) {
            ("application/json", Some(as_)) if g.as_deref() == Some("meta.k8s.io") => {
                let version = match v.as_deref() {
                    Some(v @ ("v1" | "v1beta1")) => v.to_string(),
                    _ => continue,
                };
                match as_ {
                    "Table" => return Ok(Output::Table(version)),
                    "PartialObjectMetadata" | "PartialObjectMetadataList" => {
                        return Ok(Output::PartialMetadata(version))
                    }
                    _ => {}
                }
            }
            ("application/json", None) | ("*/*", _) | ("application/*", _) => {
                return Ok(Output::Json)
            }
            ("application/yaml", None) => return Ok(Output::Yaml),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    ))
}

/// A JSON response.
pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A response in the negotiated encoding (JSON or YAML).
pub fn object_response(code: u16, value: &Value, output: &Output) -> Response<Body> {
    if *output == Output::Yaml {
        if let Ok(text) = serde_yaml::to_string(value) {
            let mut resp = Response::new(full(text));
            *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml"),
            );
            return resp;
        }
    }
    json_response(code, value)
}

/// The error as a `Status` response.
pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(err.code, &err.to_status())
}

/// A plain-text response (health checks).
pub fn text_response(code: u16, text: &str) -> Response<Body> {
    let mut resp = Response::new(full(text.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Add a `Warning: 299 - "text"` header, as kube-apiserver does for warnings.
pub fn add_warning(resp: &mut Response<Body>, text: &str) {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
        resp.headers_mut().append("Warning", v);
    }
}

/// Read a request body, at most [`MAX_BODY`] bytes (413 beyond).
pub async fn read_body<B>(body: B) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::too_large())
            } else {
                Err(ApiError::bad_request(format!("reading request body: {e}")))
            }
        }
    }
}

/// Decode a request body as JSON, or YAML when the content type says so.
pub fn decode_body(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_yaml = matches!(
        media.as_str(),
        "application/yaml" | "application/apply-patch+yaml" | "text/yaml"
    );
    if is_yaml {
        // JSON is YAML, so apply patches sent as JSON (kubectl does) decode here too.
        let v: Value = serde_yaml::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return Ok(v);
    }
    if media == "application/vnd.kubernetes.protobuf" {
        return super::protobuf::decode(bytes).map_err(|e| ApiError::bad_request(e.to_string()));
    }
    if media.contains("protobuf") || media.contains("cbor") {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// A body relayed from a peer as it arrives; a peer's failure ends it early.
pub fn relay(incoming: hyper::body::Incoming) -> Body {
    let frames = futures::stream::unfold(incoming, |mut body| async move {
        loop {
            match body.frame().await {
                Some(Ok(f)) => match f.into_data() {
                    Ok(d) => return Some((Ok::<_, Infallible>(hyper::body::Frame::data(d)), body)),
                    Err(_) => continue,
                },
                _ => return None,
            }
        }
    });
    http_body_util::StreamBody::new(frames).boxed()
}

/// Forbid an Infallible error type from escaping: helper for stream bodies.
pub fn infallible<T>(t: T) -> Result<T, Infallible> {
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_kubectl() {
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(kubectl_get)).unwrap(),
            Output::Table("v1".into())
        );
        assert_eq!(
            negotiate(Some("application/json, */*")).unwrap(),
            Output::Json
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*")).unwrap(),
            Output::Json
        );
        assert_eq!(negotiate(None).unwrap(), Output::Json);
        assert!(negotiate(Some("application/json;as=Table;v=v2;g=meta.k8s.io")).is_err());
        assert_eq!(
            negotiate(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            ))
            .unwrap(),
            Output::PartialMetadata("v1".into())
        );
    }

    #[test]
    fn decodes_bodies() {
        assert!(decode_body("application/json", b"{\"a\":1}").is_ok());
        assert_eq!(decode_body("application/json", b"{").unwrap_err().code, 400);
        assert!(decode_body("application/apply-patch+yaml", b"a: 1\n").is_ok());
        assert_eq!(
            decode_body("application/vnd.kubernetes.protobuf", b"x")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(decode_body("application/cbor", b"x").unwrap_err().code, 415);
    }
}
