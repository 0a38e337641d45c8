//! Terminal output in minikube's style: an emoji and two spaces before each line, or
//! `* ` where the terminal cannot show emoji (a locale that is not UTF-8, `TERM=dumb`, or
//! `RKUBE_IN_STYLE=false`), and tables drawn as minikube's tablewriter draws them.

use std::io::IsTerminal;

/// `println!` for commands that keep serving (mount, tunnel, dashboard, service): a reader
/// that went away (`| head`) must not panic them before they undo what they set up, and
/// they keep SIGPIPE ignored for the same reason.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` for the same commands: a closed stderr must not panic them either.
#[macro_export]
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Whether emoji and box drawing may be used.
pub fn styled() -> bool {
    if let Ok(v) = std::env::var("RKUBE_IN_STYLE") {
        return !matches!(v.as_str(), "false" | "0" | "no");
    }
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        return false;
    }
    // The first locale variable that is set decides, as in C's setlocale.
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
    match locale {
        Some(l) => {
            let l = l.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        }
        None => true,
    }
}

/// A status line: `🌟  text`, or `* text` unstyled.
pub fn line(emoji: &str, text: &str) -> String {
    if styled() {
        format!("{emoji}  {text}")
    } else {
        format!("* {text}")
    }
}

/// An option line under a status line: `    ▪ text`, or `  - text` unstyled.
pub fn option(text: &str) -> String {
    if styled() {
        format!("    ▪ {text}")
    } else {
        format!("  - {text}")
    }
}

/// The check mark minikube appends to enabled addons.
pub fn check() -> &'static str {
    if styled() {
        " ✅"
    } else {
        ""
    }
}

/// Columns a string takes on a terminal (the emoji rkube prints are two wide).
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if (c as u32) >= 0x1F000 || c == '✅' {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize, center: bool) -> String {
    let gap = w.saturating_sub(width(s));
    let left = if center { gap / 2 } else { 0 };
    format!("{}{s}{}", " ".repeat(left), " ".repeat(gap - left))
}

/// A table with upper-case, centred headers; `highlight` rows are green on a terminal.
pub fn table(headers: &[&str], rows: &[Vec<String>], highlight: &[bool]) -> String {
    draw(
        headers,
        rows,
        highlight,
        styled(),
        std::io::stdout().is_terminal(),
    )
}

fn draw(
    headers: &[&str],
    rows: &[Vec<String>],
    highlight: &[bool],
    styled: bool,
    colour: bool,
) -> String {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let (v, h, corners) = if styled {
        ('│', '─', ["┌", "┬", "┐", "├", "┼", "┤", "└", "┴", "┘"])
    } else {
        ('|', '-', ["|", "|", "|", "|", "|", "|", "|", "|", "|"])
    };
    let rule = |l: &str, m: &str, r: &str| {
        let parts: Vec<String> = widths.iter().map(|w| h.to_string().repeat(w + 2)).collect();
        format!("{l}{}{r}\n", parts.join(m))
    };
    let row = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().map(|c| format!(" {c} ")).collect();
        format!("{v}{}{v}", parts.join(&v.to_string()))
    };
    let mut out = rule(corners[0], corners[1], corners[2]);
    out += &row(headers
        .iter()
        .zip(&widths)
        .map(|(hd, w)| pad(&hd.to_uppercase(), *w, true))
        .collect());
    out.push('\n');
    out += &rule(corners[3], corners[4], corners[5]);
    for (i, r) in rows.iter().enumerate() {
        let line = row(r
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(c, *w, false))
            .collect());
        if colour && highlight.get(i).copied().unwrap_or(false) {
            out += &format!("\x1b[32m{line}\x1b[0m\n");
        } else {
            out += &line;
            out.push('\n');
        }
    }
    out += &rule(corners[6], corners[7], corners[8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_drawn_like_minikubes() {
        let t = draw(
            &["Addon Name", "Status"],
            &[
                vec!["dashboard".into(), "disabled".into()],
                vec!["storage-provisioner".into(), "enabled ✅".into()],
            ],
            &[false, true],
            true,
            false,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "┌─────────────────────┬────────────┐");
        assert_eq!(lines[1], "│     ADDON NAME      │   STATUS   │");
        assert_eq!(lines[3], "│ dashboard           │ disabled   │");
        assert_eq!(lines[4], "│ storage-provisioner │ enabled ✅ │");
        assert_eq!(lines[5], "└─────────────────────┴────────────┘");
    }
}
