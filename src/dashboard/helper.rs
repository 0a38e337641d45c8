//! What the dashboard page asks of the program running its proxy, beyond the Kubernetes
//! API: switching addons (which needs Docker, to build their images) and port-forwards to
//! a localhost port. Served under `/rkube/v1/` by `rkube dashboard`; any other proxy
//! answers 404, and the page says where to do it instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::apiserver::http::Body;

/// Where these endpoints live.
pub const PREFIX: &str = "/rkube/v1";

/// A future a helper returns.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// What the program running the proxy does for the page.
pub trait Helper: Send + Sync + 'static {
    /// Every addon: `[{"name", "description", "enabled"}]`.
    fn addons(&self) -> Pending<'_, Value>;
    /// Turn an addon on or off.
    fn switch(&self, name: String, on: bool) -> Pending<'_, ()>;
    /// Forward a localhost port to `port` of Service `namespace/service`; its URL.
    fn port_forward(&self, namespace: String, service: String, port: i32) -> Pending<'_, String>;
}

fn json(code: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(crate::apiserver::http::full(v.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A Kubernetes-style Status, as the page reads every failure.
fn status(code: StatusCode, reason: &str, message: String) -> Response<Body> {
    json(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

async fn body_json(req: Request<Incoming>) -> Result<Value, Response<Body>> {
    let bytes = http_body_util::Limited::new(req.into_body(), 4096)
        .collect()
        .await
        .map_err(|e| status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("the body is not JSON: {e}"),
        )
    })
}

/// `GET addons` lists; `POST addons/<name>` with `{"enabled": bool}` switches one;
/// `POST port-forwards` with `{"namespace", "service", "port"}` starts one.
pub async fn serve(helper: Option<&Arc<dyn Helper>>, req: Request<Incoming>) -> Response<Body> {
    let Some(helper) = helper else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "this proxy cannot do that: open the dashboard with `rkube dashboard`".into(),
        );
    };
    let path = req.uri().path().to_string();
    let rest = path
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .trim_matches('/');
    let method = req.method().clone();
    let (what, name) = rest.split_once('/').unwrap_or((rest, ""));
    match (method, what, name) {
        (Method::GET, "addons", "") => match helper.addons().await {
            Ok(v) => json(StatusCode::OK, &v),
            Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e),
        },
        (Method::POST, "addons", name) if !name.is_empty() => {
            let body = match body_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let Some(on) = body.get("enabled").and_then(Value::as_bool) else {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the body must be {\"enabled\": true|false}".into(),
                );
            };
            match helper.switch(name.to_string(), on).await {
                Ok(()) => json(StatusCode::OK, &json!({"enabled": on})),
                Err(e) => status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e),
            }
        }
        (Method::POST, "port-forwards", "") => {
            let body = match body_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
            let port = body
                .get("port")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok());
            let (Some(ns), Some(svc), Some(port)) = (field("namespace"), field("service"), port)
            else {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the body must be {\"namespace\": .., \"service\": .., \"port\": N}".into(),
                );
            };
            match helper.port_forward(ns, svc, port).await {
                Ok(url) => json(StatusCode::CREATED, &json!({"url": url})),
                Err(e) => status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", e),
            }
        }
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no such endpoint: {path}"),
        ),
    }
}
