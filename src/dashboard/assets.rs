//! The page's files, embedded in the binary: plain HTML, CSS and JavaScript, no build step.

/// One embedded file.
pub struct Asset {
    /// Its path under the dashboard root, without the leading slash.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("ui/", $path)),
        }
    };
}

/// Every file the dashboard serves; `index.html` is the root.
pub const ALL: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("vendor/xterm.min.js", "text/javascript; charset=utf-8"),
    asset!(
        "vendor/xterm-addon-fit.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!("vendor/xterm.min.css", "text/css; charset=utf-8"),
    asset!("vendor/LICENSE-xterm.txt", "text/plain; charset=utf-8"),
];

/// The file at `path` (`""` is `index.html`).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = match path.trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    ALL.iter().find(|a| a.path == path)
}

/// What the first load of the overview transfers: the page, its style and its script.
pub fn first_load_bytes() -> usize {
    ["index.html", "app.css", "app.js"]
        .iter()
        .filter_map(|p| find(p))
        .map(|a| a.body.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_page_and_unknown_paths_are_absent() {
        assert_eq!(find("/").unwrap().path, "index.html");
        assert_eq!(
            find("app.js").unwrap().content_type,
            "text/javascript; charset=utf-8"
        );
        assert!(find("../Cargo.toml").is_none());
        assert!(find("vendor/").is_none());
    }

    #[test]
    fn first_load_stays_under_300_kb() {
        assert!(first_load_bytes() <= 300 * 1024, "{}", first_load_bytes());
    }
}
