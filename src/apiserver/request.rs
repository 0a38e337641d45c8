//! Turns a request's method and path into what it asks for: verb, group, version,
//! namespace, resource, name and subresource (kube-apiserver's RequestInfo).

use std::borrow::Cow;
use std::collections::HashMap;

use http::Method;

use super::selectors::FieldSelector;

/// What a request addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Whether it addresses an API resource (`/api/...`, `/apis/...` with a resource).
    pub is_resource: bool,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// The URL path.
    pub path: String,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the URL.
    pub namespace: Option<String>,
    /// Plural resource.
    pub resource: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource.
    pub subresource: Option<String>,
}

impl RequestInfo {
    /// The request as authorizers see it. Like upstream's request info, a list or watch
    /// whose field selector requires `metadata.name` to equal one valid name addresses that
    /// object, so RBAC `resourceNames` and the Node authorizer apply to it; handlers keep
    /// routing on the path.
    pub fn for_authorization(&self, query: &Query) -> Cow<'_, RequestInfo> {
        if self.name.is_some() || !matches!(self.verb.as_str(), "list" | "watch") {
            return Cow::Borrowed(self);
        }
        let Some(selector) = query
            .get("fieldSelector")
            .and_then(|s| FieldSelector::parse(s).ok())
        else {
            return Cow::Borrowed(self);
        };
        let name = selector
            .requirements()
            .iter()
            .find(|(field, op, _)| field == "metadata.name" && op.is_eq())
            .map(|(_, _, value)| value.as_str())
            .filter(|n| valid_path_segment(n));
        match name {
            Some(name) => Cow::Owned(RequestInfo {
                name: Some(name.to_string()),
                ..self.clone()
            }),
            None => Cow::Borrowed(self),
        }
    }
}

/// Whether `name` can be one segment of a URL path, as upstream's IsValidPathSegmentName.
fn valid_path_segment(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%'])
}

/// Decoded query parameters; repeated keys keep every value.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// First value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a key.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean flag (`true`, `1`; absent = false).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1") | Some("True"))
    }

    /// A map of the first values.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        for (k, v) in &self.pairs {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    }
}

/// Parse method + path + query into a [`RequestInfo`].
pub fn parse(method: &Method, path: &str, query: &Query) -> RequestInfo {
    let mut info = RequestInfo {
        path: path.to_string(),
        verb: method.as_str().to_lowercase(),
        ..Default::default()
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match parts.as_slice() {
        ["api", version, rest @ ..] => {
            info.version = version.to_string();
            rest
        }
        ["apis", group, version, rest @ ..] => {
            info.group = group.to_string();
            info.version = version.to_string();
            rest
        }
        _ => return info,
    };
    if rest.is_empty() {
        return info;
    }
    // Kubernetes still serves the deprecated /watch/ prefix.
    let (rest, watch_prefix) = match rest {
        ["watch", rest @ ..] => (rest, true),
        _ => (rest, false),
    };
    let rest: &[&str] = match rest {
        // `namespaces/<ns>/status|finalize` are subresources of the namespace object.
        ["namespaces", ns, more @ ..]
            if !more.is_empty() && !matches!(more, ["status"] | ["finalize"]) =>
        {
            info.namespace = Some(ns.to_string());
            more
        }
        _ => rest,
    };
    info.is_resource = true;
    info.resource = rest[0].to_string();
    if let Some(name) = rest.get(1) {
        info.name = Some(name.to_string());
    }
    // Like kube-apiserver, only the third segment names the subresource: what follows
    // `services/<name>/proxy/` is the path to forward.
    if let Some(sub) = rest.get(2) {
        info.subresource = Some(sub.to_string());
    }
    let is_watch = watch_prefix || query.flag("watch");
    info.verb = match *method {
        Method::GET | Method::HEAD => {
            if is_watch {
                "watch"
            } else if info.name.is_some() {
                "get"
            } else {
                "list"
            }
        }
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => {
            if info.name.is_some() {
                "delete"
            } else {
                "deletecollection"
            }
        }
        _ => "unknown",
    }
    .to_string();
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: Method, path: &str, q: &str) -> RequestInfo {
        parse(&method, path, &Query::parse(Some(q)))
    }

    #[test]
    fn a_name_field_selector_names_the_object_for_authorizers() {
        let named = |method: Method, path: &str, q: &str| {
            let query = Query::parse(Some(q));
            let info = parse(&method, path, &query);
            let name = info.for_authorization(&query).name.clone();
            (info.verb, info.name, name)
        };
        let cms = "/api/v1/namespaces/ns/configmaps";
        assert_eq!(
            named(
                Method::GET,
                cms,
                "fieldSelector=metadata.name%3Dweb&watch=1"
            ),
            ("watch".into(), None, Some("web".into()))
        );
        assert_eq!(
            named(
                Method::GET,
                cms,
                "fieldSelector=a%3Db,metadata.name%3D%3Dweb"
            ),
            ("list".into(), None, Some("web".into()))
        );
        for q in [
            "fieldSelector=metadata.name!%3Dweb",
            "fieldSelector=metadata.namespace%3Dweb",
            "fieldSelector=metadata.name%3D..",
            "labelSelector=metadata.name%3Dweb",
        ] {
            assert_eq!(named(Method::GET, cms, q).2, None, "{q}");
        }
        // Only lists and watches: a collection delete stays unnamed.
        assert_eq!(
            named(Method::DELETE, cms, "fieldSelector=metadata.name%3Dweb").2,
            None
        );
    }

    #[test]
    fn parses_resource_paths() {
        let i = p(Method::GET, "/api/v1/namespaces/default/pods/web", "");
        assert_eq!(
            (
                i.verb.as_str(),
                i.namespace.as_deref(),
                i.resource.as_str(),
                i.name.as_deref()
            ),
            ("get", Some("default"), "pods", Some("web"))
        );
        let i = p(Method::GET, "/api/v1/namespaces/default", "");
        assert_eq!(
            (i.resource.as_str(), i.name.as_deref(), i.namespace),
            ("namespaces", Some("default"), None)
        );
        let i = p(Method::GET, "/api/v1/namespaces", "watch=true");
        assert_eq!(i.verb, "watch");
        let i = p(
            Method::PATCH,
            "/apis/apps/v1/namespaces/ns/deployments/d/scale",
            "",
        );
        assert_eq!(
            (i.group.as_str(), i.subresource.as_deref(), i.verb.as_str()),
            ("apps", Some("scale"), "patch")
        );
        let i = p(Method::DELETE, "/api/v1/namespaces/ns/pods", "");
        assert_eq!(i.verb, "deletecollection");
        let i = p(Method::GET, "/api/v1/pods", "");
        assert_eq!((i.verb.as_str(), i.namespace), ("list", None));
        let i = p(Method::GET, "/api/v1/namespaces/ns/status", "");
        assert_eq!(
            (
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref()
            ),
            ("namespaces", Some("ns"), Some("status"))
        );
        let i = p(
            Method::POST,
            "/api/v1/namespaces/ns/services/http:web:/proxy/a/b",
            "",
        );
        assert_eq!(
            (i.name.as_deref(), i.subresource.as_deref(), i.verb.as_str()),
            (Some("http:web:"), Some("proxy"), "create")
        );
        let i = p(Method::GET, "/healthz", "");
        assert!(!i.is_resource);
        let i = p(Method::GET, "/apis/apps/v1", "");
        assert!(!i.is_resource);
    }
}
