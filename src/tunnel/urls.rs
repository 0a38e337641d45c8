//! What `rkube service` prints: one row per service port with its URL on the node
//! (`http://<node-ip>:<nodePort>`), and minikube's table around them.

use k8s_openapi::api::core::v1::Service;

/// One line of the service table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Namespace.
    pub namespace: String,
    /// Service name.
    pub name: String,
    /// `name/port` or `port` (empty when the service has no node port).
    pub target_port: String,
    /// The URL, or None when the port has no node port.
    pub url: Option<String>,
}

/// The rows of `svc`: one per port with a node port, or a single "No node port" row.
pub fn rows(svc: &Service, node_ip: &str, https: bool) -> Vec<Row> {
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let scheme = if https { "https" } else { "http" };
    let mut out: Vec<Row> = svc
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| {
            let node_port = p.node_port?;
            let target_port = match p.name.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => format!("{n}/{}", p.port),
                None => p.port.to_string(),
            };
            Some(Row {
                namespace: namespace.clone(),
                name: name.clone(),
                target_port,
                url: Some(format!("{scheme}://{node_ip}:{node_port}")),
            })
        })
        .collect();
    if out.is_empty() {
        out.push(Row {
            namespace,
            name,
            target_port: String::new(),
            url: None,
        });
    }
    out
}

/// minikube's bordered table: NAMESPACE, NAME, TARGET PORT (right-aligned), URL.
pub fn table(rows: &[Row]) -> String {
    let header = ["NAMESPACE", "NAME", "TARGET PORT", "URL"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.namespace.clone(),
                r.name.clone(),
                r.target_port.clone(),
                r.url.clone().unwrap_or_else(|| "No node port".into()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let rule = {
        let parts: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        format!("|{}|\n", parts.join("|"))
    };
    let centered = |text: &str, w: usize| {
        let pad = w - text.chars().count();
        let left = pad / 2;
        format!(" {}{}{} ", " ".repeat(left), text, " ".repeat(pad - left))
    };
    let mut out = rule.clone();
    let head: Vec<String> = header
        .iter()
        .zip(widths)
        .map(|(h, w)| centered(h, w))
        .collect();
    out.push_str(&format!("|{}|\n", head.join("|")));
    out.push_str(&rule);
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 2 {
                    format!(" {c:>w$} ")
                } else {
                    format!(" {c:<w$} ")
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", line.join("|")));
    }
    out.push_str(&rule);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_port_urls_and_table() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "hello-minikube", "namespace": "default"},
            "spec": {"type": "NodePort", "ports": [{"port": 8080, "nodePort": 31325}]}
        }))
        .unwrap();
        let r = rows(&svc, "192.168.49.2", false);
        assert_eq!(r[0].url.as_deref(), Some("http://192.168.49.2:31325"));
        assert_eq!(
            table(&r),
            "|-----------|----------------|-------------|---------------------------|\n\
             | NAMESPACE |      NAME      | TARGET PORT |            URL            |\n\
             |-----------|----------------|-------------|---------------------------|\n\
             | default   | hello-minikube |        8080 | http://192.168.49.2:31325 |\n\
             |-----------|----------------|-------------|---------------------------|\n"
        );
        let plain: Service = serde_json::from_value(json!({
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {"ports": [{"name": "https", "port": 443}]}
        }))
        .unwrap();
        let r = rows(&plain, "192.168.49.2", false);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].url, None);
        assert!(table(&r).contains("|     URL      |\n"), "{}", table(&r));
        assert!(table(&r).contains("| No node port |"));
    }
}
