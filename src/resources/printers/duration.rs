//! Ages and durations as apimachinery's HumanDuration renders them.

use std::time::Duration;

use serde_json::Value;

use super::fields::{parse_time, s};

/// apimachinery's HumanDuration.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

pub(super) fn since(t: &str, now: jiff::Timestamp) -> String {
    match parse_time(t) {
        None => "<unknown>".into(),
        Some(ts) => {
            let secs = now.as_second() - ts.as_second();
            if secs < -1 {
                return "<invalid>".into();
            }
            human_duration(Duration::from_secs(secs.max(0) as u64))
        }
    }
}

/// Age cell from metadata.creationTimestamp.
pub fn age(obj: &Value, now: jiff::Timestamp) -> String {
    since(s(obj, "/metadata/creationTimestamp"), now)
}
