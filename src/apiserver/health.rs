//! `/healthz`, `/livez` and `/readyz` as kube-apiserver answers them: `ok`, or with
//! `?verbose` (and whenever a check fails) one `[+]name ok` / `[-]name failed: reason
//! withheld` line per check and a closing verdict; `/readyz/<check>` for one check. The
//! checks are the server's own `ping` and every supervised component of the node.

use crate::supervisor::Check;

/// The status code and body of a health path, None when `path` names no check.
pub fn answer(checks: &[Check], path: &str, query: Option<&str>) -> Option<(u16, String)> {
    let path = path.trim_end_matches('/');
    let (endpoint, single) = match path.trim_start_matches('/').split_once('/') {
        Some((e, check)) => (e, Some(check)),
        None => (path.trim_start_matches('/'), None),
    };
    let mut all = vec![Check {
        name: "ping".into(),
        failure: None,
    }];
    all.extend_from_slice(checks);
    if let Some(name) = single {
        let check = all.iter().find(|c| c.name == name)?;
        return Some(match &check.failure {
            None => (200, "ok".into()),
            Some(_) => (500, "internal server error: reason withheld\n".into()),
        });
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let verbose = params.iter().any(|(k, _)| k == "verbose");
    let excluded = |name: &str| params.iter().any(|(k, v)| k == "exclude" && v == name);
    let mut lines = String::new();
    let mut failed = false;
    for c in all.iter().filter(|c| !excluded(&c.name)) {
        match &c.failure {
            None => lines.push_str(&format!("[+]{} ok\n", c.name)),
            Some(_) => {
                failed = true;
                lines.push_str(&format!("[-]{} failed: reason withheld\n", c.name));
            }
        }
    }
    if failed {
        return Some((500, format!("{lines}{endpoint} check failed\n")));
    }
    Some(if verbose {
        (200, format!("{lines}{endpoint} check passed\n"))
    } else {
        (200, "ok".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(failing: bool) -> Vec<Check> {
        vec![
            Check {
                name: "controller/deployment".into(),
                failure: None,
            },
            Check {
                name: "scheduler".into(),
                failure: failing.then(|| "restarted 3 times".into()),
            },
        ]
    }

    #[test]
    fn verbose_lists_every_check() {
        assert_eq!(
            answer(&checks(false), "/readyz", None),
            Some((200, "ok".into()))
        );
        assert_eq!(
            answer(&checks(false), "/readyz", Some("verbose"))
                .unwrap()
                .1,
            "[+]ping ok\n[+]controller/deployment ok\n[+]scheduler ok\nreadyz check passed\n"
        );
    }

    #[test]
    fn a_failing_component_fails_the_endpoint_without_its_reason() {
        assert_eq!(
            answer(&checks(true), "/livez", None),
            Some((
                500,
                "[+]ping ok\n[+]controller/deployment ok\n[-]scheduler failed: reason withheld\nlivez check failed\n".into()
            ))
        );
        assert_eq!(
            answer(&checks(true), "/readyz", Some("exclude=scheduler")),
            Some((200, "ok".into()))
        );
        assert_eq!(
            answer(&checks(true), "/readyz/scheduler", None).unwrap().0,
            500
        );
        assert_eq!(
            answer(&checks(true), "/readyz/ping", None),
            Some((200, "ok".into()))
        );
        assert_eq!(answer(&checks(true), "/readyz/nothing", None), None);
    }
}
