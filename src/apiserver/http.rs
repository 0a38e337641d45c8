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
    json_bytes_response(code, serde_json::to_vec(value).unwrap_or_default())
}

/// A JSON response of bytes already encoded.
pub fn json_bytes_response(code: u16, body: Vec<u8>) -> Response<Body> {
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
    // YAML and protobuf decoders allow deeper nesting than JSON: refuse what could be stored
    // but never read back, as the JSON decoder refuses it.
    let readable = |v: Value| {
        if super::object::too_deep(&v) {
            return Err(ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: nested deeper than {} levels",
                super::object::MAX_DEPTH
            )));
        }
        Ok(v)
    };
    if is_yaml {
        // JSON is YAML, so apply patches sent as JSON (kubectl does) decode here too.
        let v: Value = serde_yaml::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return readable(v);
    }
    if media == "application/vnd.kubernetes.protobuf" {
        return super::protobuf::decode(bytes)
            .map_err(|e| ApiError::bad_request(e.to_string()))
            .and_then(readable);
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

    /// Found by fuzzing (body_decode): YAML nested 128 deep decoded, but its JSON could not
    /// be read back, so a stored object would break every later read of it.
    #[test]
    fn yaml_deeper_than_json_reads_is_400() {
        let depth = crate::apiserver::object::MAX_DEPTH;
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(decode_body("application/yaml", nested(depth).as_bytes()).is_ok());
        let err = decode_body("application/yaml", nested(depth + 1).as_bytes())
            .expect_err("too deep for JSON");
        assert_eq!(err.code, 400);
        // The fuzzer's input: block sequences, 128 levels.
        let block = "- ".repeat(depth + 1) + "x\n";
        assert_eq!(
            decode_body("application/yaml", block.as_bytes()).map_err(|e| e.code),
            Err(400)
        );
    }

    /// CVE-2019-11253 (kubernetes#83253): the "billion laughs" ConfigMap, nine levels of
    /// nine aliases, expands to 9^9 strings; it must be refused fast, not expanded.
    #[test]
    fn cve_2019_11253_yaml_alias_bomb_is_rejected_quickly() {
        let bomb = b"apiVersion: v1
data:
  a: &a [\"web\",\"web\",\"web\",\"web\",\"web\",\"web\",\"web\",\"web\",\"web\"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
kind: ConfigMap
metadata:
  name: yaml-bomb
  namespace: default
";
        for ct in ["application/yaml", "application/apply-patch+yaml"] {
            let started = std::time::Instant::now();
            let err = decode_body(ct, bomb).expect_err("an alias bomb must not decode");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{ct}: took {:?}",
                started.elapsed()
            );
            assert!(matches!(err.code, 400 | 413), "{ct}: {err:?}");
        }
    }

    /// A body that keeps coming, counting what the server pulled from it.
    fn endless_body(
        pulled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> {
        use futures::StreamExt as _;
        const CHUNK: usize = 64 * 1024;
        let chunk = Bytes::from(vec![b'x'; CHUNK]);
        // 101 MB in all: over kube-apiserver's 100 MB limit as well as ours.
        let frames = futures::stream::repeat_with(move || {
            pulled.fetch_add(CHUNK, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, Infallible>(hyper::body::Frame::data(chunk.clone()))
        })
        .take(101 * 1024 * 1024 / CHUNK);
        http_body_util::StreamBody::new(frames)
    }

    /// kubernetes#73805 (with the CVE-2019-1002100 fixes): an oversized body is refused with 413
    /// as soon as it passes the limit, without reading (buffering) the rest of it.
    #[tokio::test]
    async fn oversized_body_is_413_without_buffering_it_all() {
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let err = read_body(endless_body(pulled.clone()))
            .await
            .expect_err("over the limit");
        assert_eq!((err.code, err.reason), (413, "RequestEntityTooLarge"));
        let pulled = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            pulled <= MAX_BODY + 64 * 1024,
            "read {pulled} bytes of an oversized body"
        );
    }
}
