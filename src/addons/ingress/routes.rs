//! The routing table of the ingress controller: which backend serves a host and path,
//! built from Ingresses, Services and EndpointSlices the way ingress-nginx merges them.
//!
//! Hosts match exactly, or as a wildcard (`*.example.com` matches one more label), before
//! rules without a host. Within a host the longest matching path wins, `Exact` before
//! `Prefix` of the same length; `Prefix` compares whole path elements; `ImplementationSpecific`
//! is a plain prefix, and a regex when the Ingress asks for `use-regex` or `rewrite-target`
//! (anchored at the start and case-insensitive, as nginx's `location ~*`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use kube::ResourceExt;
use regex::Regex;

const ANNOTATION: &str = "nginx.ingress.kubernetes.io/";

/// Where matched requests go.
#[derive(Debug)]
pub struct Backend {
    /// `namespace/service:port`, for messages.
    pub name: String,
    /// Ready endpoints, balanced round-robin.
    pub endpoints: Vec<SocketAddr>,
    /// Why there are none, when there are none (the 503's reason).
    pub missing: Option<String>,
    /// `backend-protocol: HTTPS`.
    pub https: bool,
    next: AtomicUsize,
}

impl Backend {
    /// The next endpoint, round-robin.
    pub fn pick(&self) -> Option<SocketAddr> {
        if self.endpoints.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        Some(self.endpoints[i % self.endpoints.len()])
    }
}

/// How a path rule matches.
#[derive(Debug)]
pub enum PathMatch {
    /// The whole path.
    Exact(String),
    /// Whole leading path elements.
    Prefix(String),
    /// A plain string prefix.
    Plain(String),
    /// A regex anchored at the start.
    Regex(Regex),
}

/// Settings from an Ingress's annotations that apply to its routes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `rewrite-target`: the new path, with `$n` captures.
    pub rewrite: Option<String>,
    /// `ssl-redirect` (true unless said otherwise): HTTP to HTTPS for TLS hosts.
    pub ssl_redirect: bool,
    /// `proxy-body-size` in bytes; `None` means no limit.
    pub body_limit: Option<u64>,
}

/// One path rule.
#[derive(Debug)]
pub struct Route {
    /// How it matches.
    pub path: PathMatch,
    /// Its backend.
    pub backend: Arc<Backend>,
    /// Its Ingress's settings.
    pub options: Options,
}

/// The routes of one host (or of every host, for rules without one).
#[derive(Debug, Default)]
pub struct Server {
    /// Routes, most specific first.
    pub routes: Vec<Route>,
    /// An Ingress's `defaultBackend` for unmatched paths of this host.
    pub default: Option<(Arc<Backend>, Options)>,
    /// Whether a `spec.tls` entry covers the host.
    pub tls: bool,
}

/// Something an Ingress asked for that cannot be served, for an Event on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The Ingress's namespace.
    pub namespace: String,
    /// The Ingress's name.
    pub name: String,
    /// Event reason.
    pub reason: &'static str,
    /// Event message.
    pub message: String,
}

/// The whole table.
#[derive(Debug, Default)]
pub struct Table {
    /// Servers by host (`""` for rules without a host).
    pub servers: BTreeMap<String, Server>,
    /// What could not be served.
    pub problems: Vec<Problem>,
}

/// What a request gets.
pub enum Decision<'a> {
    /// Proxy to a backend.
    Proxy(&'a Route),
    /// An Ingress's default backend.
    Default(&'a Arc<Backend>, &'a Options),
    /// Nothing matched: the controller's own 404.
    NotFound,
}

fn element_prefix(prefix: &str, path: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return true;
    }
    path == p || path.starts_with(&format!("{p}/"))
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => path == p,
            PathMatch::Prefix(p) => element_prefix(p, path),
            PathMatch::Plain(p) => path.starts_with(p.as_str()),
            PathMatch::Regex(r) => r.is_match(path),
        }
    }

    /// Ordering key: longer first, Exact before the others at equal length.
    fn rank(&self) -> (usize, u8) {
        match self {
            PathMatch::Exact(p) => (p.len(), 1),
            PathMatch::Prefix(p) | PathMatch::Plain(p) => (p.len(), 0),
            PathMatch::Regex(r) => (r.as_str().len(), 0),
        }
    }
}

/// Whether the wildcard or exact `pattern` covers `host`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

impl Table {
    /// The server for `host`: exact, then wildcard, then the host-less one.
    pub fn server(&self, host: &str) -> Option<&Server> {
        let host = host.to_ascii_lowercase();
        if let Some(s) = self.servers.get(&host) {
            return Some(s);
        }
        self.servers
            .iter()
            .filter(|(p, _)| p.starts_with("*.") && host_matches(p, &host))
            .map(|(_, s)| s)
            .next()
            .or_else(|| self.servers.get(""))
    }

    /// Where a request for `host` and `path` goes.
    pub fn decide(&self, host: &str, path: &str) -> Decision<'_> {
        let Some(server) = self.server(host) else {
            return Decision::NotFound;
        };
        if let Some(r) = server.routes.iter().find(|r| r.path.matches(path)) {
            return Decision::Proxy(r);
        }
        if let Some((b, o)) = &server.default {
            return Decision::Default(b, o);
        }
        // A host's unmatched paths fall to the host-less rules, as in nginx's catch-all.
        if let Some(any) = self.servers.get("").filter(|s| !std::ptr::eq(*s, server)) {
            if let Some(r) = any.routes.iter().find(|r| r.path.matches(path)) {
                return Decision::Proxy(r);
            }
            if let Some((b, o)) = &any.default {
                return Decision::Default(b, o);
            }
        }
        Decision::NotFound
    }
}

/// `8m`, `1k`, `1g` or bytes; `0` is no limit.
pub fn parse_size(s: &str) -> Option<Option<u64>> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1024),
        'm' => (&t[..t.len() - 1], 1024 * 1024),
        'g' => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t.as_str(), 1),
    };
    let n: u64 = num.parse().ok()?;
    Some((n > 0).then_some(n * mult))
}

/// ingress-nginx's default `proxy-body-size`.
const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

fn annotation<'a>(ing: &'a Ingress, key: &str) -> Option<&'a str> {
    ing.annotations()
        .get(&format!("{ANNOTATION}{key}"))
        .map(String::as_str)
}

/// Apply `rewrite` (with `$n` from `re`'s captures on `path`) the way nginx's `rewrite`
/// does: the whole path is replaced.
pub fn rewrite(route: &Route, path: &str) -> String {
    let Some(target) = &route.options.rewrite else {
        return path.to_string();
    };
    match &route.path {
        PathMatch::Regex(re) => match re.captures(path) {
            Some(caps) => {
                // nginx reads `$` plus digits only (`$2abc` is capture 2, then `abc`).
                let mut result = String::new();
                let mut chars = target.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                        let mut n = String::new();
                        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                            n.push(*d);
                            chars.next();
                        }
                        let idx: usize = n.parse().unwrap_or(0);
                        result.push_str(caps.get(idx).map(|m| m.as_str()).unwrap_or(""));
                    } else {
                        result.push(c);
                    }
                }
                if result.is_empty() {
                    "/".into()
                } else {
                    result
                }
            }
            None => path.to_string(),
        },
        _ => target.clone(),
    }
}

/// Inputs the table is built from.
pub struct Inputs<'a> {
    /// Ingresses this controller serves.
    pub ingresses: &'a [Arc<Ingress>],
    /// Every Service.
    pub services: &'a [Arc<Service>],
    /// Every EndpointSlice.
    pub slices: &'a [Arc<EndpointSlice>],
}

fn backend(
    inputs: &Inputs<'_>,
    ns: &str,
    b: &IngressBackend,
    https: bool,
) -> Result<Backend, String> {
    let Some(svc_ref) = &b.service else {
        return Err("only service backends are supported".into());
    };
    let port_ref = svc_ref.port.as_ref();
    let label = match port_ref {
        Some(p) => p
            .number
            .map(|n| n.to_string())
            .or_else(|| p.name.clone())
            .unwrap_or_default(),
        None => String::new(),
    };
    let name = format!("{ns}/{}:{label}", svc_ref.name);
    let make = |endpoints: Vec<SocketAddr>, missing: Option<String>| Backend {
        name: name.clone(),
        endpoints,
        missing,
        https,
        next: AtomicUsize::new(0),
    };
    let Some(svc) = inputs
        .services
        .iter()
        .find(|s| s.namespace().as_deref() == Some(ns) && s.name_any() == svc_ref.name)
    else {
        return Ok(make(
            vec![],
            Some(format!("service \"{ns}/{}\" not found", svc_ref.name)),
        ));
    };
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let port = ports.iter().find(|p| match port_ref {
        Some(r) => r.number == Some(p.port) || (r.name.is_some() && r.name == p.name),
        None => true,
    });
    let Some(port) = port else {
        return Ok(make(
            vec![],
            Some(format!(
                "service \"{ns}/{}\" does not have port {label}",
                svc_ref.name
            )),
        ));
    };
    let mut endpoints = Vec::new();
    for slice in inputs.slices.iter().filter(|s| {
        s.namespace().as_deref() == Some(ns)
            && s.labels().get("kubernetes.io/service-name") == Some(&svc_ref.name)
    }) {
        let port_name = port.name.as_deref().unwrap_or("");
        let target = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name)
            .and_then(|p| p.port);
        let Some(target) = target else { continue };
        for ep in slice.endpoints.iter().flatten() {
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for a in &ep.addresses {
                if let Ok(ip) = a.parse::<std::net::IpAddr>() {
                    endpoints.push(SocketAddr::new(ip, target as u16));
                }
            }
        }
    }
    endpoints.sort();
    endpoints.dedup();
    let missing = endpoints
        .is_empty()
        .then(|| format!("service \"{ns}/{}\" has no ready endpoints", svc_ref.name));
    Ok(make(endpoints, missing))
}

/// Build the table from `inputs`.
pub fn build(inputs: &Inputs<'_>) -> Table {
    let mut table = Table::default();
    for ing in inputs.ingresses {
        let ns = ing.namespace().unwrap_or_default();
        let problem = |reason: &'static str, message: String| Problem {
            namespace: ns.clone(),
            name: ing.name_any(),
            reason,
            message,
        };
        let Some(spec) = &ing.spec else { continue };
        let https =
            annotation(ing, "backend-protocol").is_some_and(|p| p.eq_ignore_ascii_case("HTTPS"));
        let rewrite_target = annotation(ing, "rewrite-target").map(str::to_string);
        let regex = rewrite_target.is_some() || annotation(ing, "use-regex") == Some("true");
        let body_limit = match annotation(ing, "proxy-body-size") {
            Some(v) => match parse_size(v) {
                Some(l) => l,
                None => {
                    table.problems.push(problem(
                        "InvalidAnnotation",
                        format!("proxy-body-size {v:?} is not a size; using the default 1m"),
                    ));
                    Some(DEFAULT_BODY_LIMIT)
                }
            },
            None => Some(DEFAULT_BODY_LIMIT),
        };
        let options = Options {
            rewrite: rewrite_target,
            ssl_redirect: annotation(ing, "ssl-redirect") != Some("false"),
            body_limit,
        };
        let tls_hosts: Vec<String> = spec
            .tls
            .iter()
            .flatten()
            .flat_map(|t| t.hosts.clone().unwrap_or_default())
            .collect();
        let resolve = |b: &IngressBackend, table: &mut Table| -> Option<Arc<Backend>> {
            match backend(inputs, &ns, b, https) {
                Ok(be) => {
                    if let Some(why) = &be.missing {
                        table.problems.push(problem(
                            "BackendUnavailable",
                            format!("{why}; requests for it get 503"),
                        ));
                    }
                    Some(Arc::new(be))
                }
                Err(e) => {
                    table.problems.push(problem("InvalidBackend", e));
                    None
                }
            }
        };
        if let Some(b) = &spec.default_backend {
            if let Some(be) = resolve(b, &mut table) {
                let hosts: Vec<String> = spec
                    .rules
                    .iter()
                    .flatten()
                    .filter_map(|r| r.host.clone())
                    .collect();
                if hosts.is_empty() {
                    table.servers.entry(String::new()).or_default().default =
                        Some((be, options.clone()));
                } else {
                    for h in hosts {
                        table
                            .servers
                            .entry(h.to_ascii_lowercase())
                            .or_default()
                            .default = Some((be.clone(), options.clone()));
                    }
                }
            }
        }
        for rule in spec.rules.iter().flatten() {
            let host = rule.host.clone().unwrap_or_default().to_ascii_lowercase();
            let tls = !host.is_empty()
                && tls_hosts.iter().any(|t| {
                    host_matches(&t.to_ascii_lowercase(), &host) || t.eq_ignore_ascii_case(&host)
                });
            for p in rule.http.iter().flat_map(|h| h.paths.iter()) {
                let raw = p
                    .path
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "/".into());
                let path = if regex {
                    match Regex::new(&format!("(?i)^{raw}")) {
                        Ok(r) => PathMatch::Regex(r),
                        Err(e) => {
                            table.problems.push(problem("InvalidPath", format!("path {raw:?} is not a valid regular expression, so its rule is skipped: {e}")));
                            continue;
                        }
                    }
                } else {
                    match p.path_type.as_str() {
                        "Exact" => PathMatch::Exact(raw),
                        "Prefix" => PathMatch::Prefix(raw),
                        _ => PathMatch::Plain(raw),
                    }
                };
                let Some(be) = resolve(&p.backend, &mut table) else {
                    continue;
                };
                let server = table.servers.entry(host.clone()).or_default();
                server.tls |= tls;
                server.routes.push(Route {
                    path,
                    backend: be,
                    options: options.clone(),
                });
            }
        }
    }
    for s in table.servers.values_mut() {
        s.routes.sort_by_key(|r| std::cmp::Reverse(r.path.rank()));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ingress(v: serde_json::Value) -> Arc<Ingress> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn service(name: &str, port: i32, port_name: &str) -> Arc<Service> {
        // kubectl expose leaves a single port unnamed; its slice names it "".
        let mut p = json!({"port": port});
        if !port_name.is_empty() {
            p["name"] = json!(port_name);
        }
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
                "spec": {"ports": [p]}}))
            .unwrap(),
        )
    }

    fn slice(svc: &str, port_name: &str, target: i32, ips: &[&str]) -> Arc<EndpointSlice> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": format!("{svc}-x"), "namespace": "default",
                "labels": {"kubernetes.io/service-name": svc}}, "addressType": "IPv4",
                "ports": [{"name": port_name, "port": target}],
                "endpoints": ips.iter().map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}})).collect::<Vec<_>>()}))
            .unwrap(),
        )
    }

    fn path(p: &str, kind: &str, svc: &str, port: serde_json::Value) -> serde_json::Value {
        json!({"path": p, "pathType": kind, "backend": {"service": {"name": svc, "port": port}}})
    }

    fn target(t: &Table, host: &str, p: &str) -> String {
        match t.decide(host, p) {
            Decision::Proxy(r) => r.backend.name.clone(),
            Decision::Default(b, _) => format!("default {}", b.name),
            Decision::NotFound => "404".into(),
        }
    }

    #[test]
    fn hosts_paths_and_precedence_follow_ingress_nginx() {
        let ings = [ingress(
            json!({"metadata": {"name": "a", "namespace": "default"}, "spec": {"rules": [
                {"host": "hello-world.example", "http": {"paths": [
                    path("/", "Prefix", "web", json!({"number": 8080})),
                    path("/v2", "Prefix", "web2", json!({"number": 8080})),
                    path("/v2/exact", "Exact", "web", json!({"name": "http"})),
                ]}},
                {"host": "*.wild.example", "http": {"paths": [path("/", "Prefix", "web2", json!({"number": 8080}))]}},
            ]}}),
        )];
        let services = [service("web", 8080, "http"), service("web2", 8080, "")];
        let slices = [
            slice("web", "http", 80, &["10.0.0.1", "10.0.0.2"]),
            slice("web2", "", 8080, &["10.0.0.3"]),
        ];
        let t = build(&Inputs {
            ingresses: &ings,
            services: &services,
            slices: &slices,
        });
        assert_eq!(target(&t, "hello-world.example", "/"), "default/web:8080");
        assert_eq!(
            target(&t, "Hello-World.example", "/v2"),
            "default/web2:8080"
        );
        assert_eq!(
            target(&t, "hello-world.example", "/v2/x"),
            "default/web2:8080"
        );
        assert_eq!(
            target(&t, "hello-world.example", "/v2x"),
            "default/web:8080"
        );
        assert_eq!(
            target(&t, "hello-world.example", "/v2/exact"),
            "default/web:http"
        );
        assert_eq!(target(&t, "a.wild.example", "/"), "default/web2:8080");
        assert_eq!(target(&t, "a.b.wild.example", "/"), "404");
        assert_eq!(target(&t, "wild.example", "/"), "404");
        assert_eq!(target(&t, "other.example", "/"), "404");
        // Round-robin over ready endpoints, with the target port of the named port.
        let Decision::Proxy(r) = t.decide("hello-world.example", "/") else {
            panic!()
        };
        let picks: Vec<_> = (0..3)
            .map(|_| r.backend.pick().unwrap().to_string())
            .collect();
        assert_eq!(picks, ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80"]);
        assert!(t.problems.is_empty(), "{:?}", t.problems);
    }

    #[test]
    fn default_backends_missing_services_and_bad_regexes() {
        let ings = [ingress(
            json!({"metadata": {"name": "a", "namespace": "default",
            "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}}, "spec": {
            "defaultBackend": {"service": {"name": "web", "port": {"number": 8080}}},
            "rules": [{"http": {"paths": [
                path("/something(/|$)(.*)", "ImplementationSpecific", "web", json!({"number": 8080})),
                path("/bad(", "ImplementationSpecific", "web", json!({"number": 8080})),
                path("/gone", "ImplementationSpecific", "nosuch", json!({"number": 80})),
            ]}}]}}),
        )];
        let services = [service("web", 8080, "")];
        let slices = [slice("web", "", 8080, &["10.0.0.1"])];
        let t = build(&Inputs {
            ingresses: &ings,
            services: &services,
            slices: &slices,
        });
        assert_eq!(
            target(&t, "any.host", "/nothing"),
            "default default/web:8080"
        );
        let Decision::Proxy(r) = t.decide("x", "/something/new/path") else {
            panic!()
        };
        assert_eq!(rewrite(r, "/something/new/path"), "/new/path");
        assert_eq!(rewrite(r, "/something"), "/");
        let Decision::Proxy(r) = t.decide("x", "/gone") else {
            panic!()
        };
        assert!(r.backend.pick().is_none());
        let reasons: Vec<_> = t.problems.iter().map(|p| p.reason).collect();
        assert_eq!(
            reasons,
            ["InvalidPath", "BackendUnavailable"],
            "{:?}",
            t.problems
        );
    }

    #[test]
    fn sizes_and_wildcards() {
        assert_eq!(parse_size("8m"), Some(Some(8 << 20)));
        assert_eq!(parse_size("0"), Some(None));
        assert_eq!(parse_size("lots"), None);
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
    }
}
