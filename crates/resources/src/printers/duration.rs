//! Ages and durations as apimachinery's `duration.HumanDuration` writes them.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// apimachinery's HumanDuration for a non-negative duration ("45s", "3m12s", "5h3m", "3d4h", "2y10d").
pub fn human_duration(d: std::time::Duration) -> String {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    human_duration_signed(d)
}

/// HumanDuration of a signed duration: "<invalid>" below -1s (clock skew tolerance), "0s" just under zero.
pub fn human_duration_signed(d: SignedDuration) -> String {
    // Go's time.Duration saturates at ±292 years (int64 nanoseconds).
    const GO_MAX_SECS: i64 = i64::MAX / 1_000_000_000;
    let seconds = d.as_secs().clamp(-GO_MAX_SECS, GO_MAX_SECS);
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            dy => format!("{}y{dy}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A timestamp field (RFC 3339 string) of a JSON object; None when absent, empty or unparsable.
pub fn timestamp(v: Option<&Value>) -> Option<Timestamp> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<Timestamp>().ok())
}

/// translateTimestampSince: "<unknown>" for a missing time, else the human age.
pub fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        None => "<unknown>".into(),
        Some(t) => human_duration_signed(now.duration_since(t)),
    }
}

/// Age cell from metadata.creationTimestamp ("<unknown>" when absent).
pub fn age(obj: &Value, now: Timestamp) -> String {
    since(timestamp(obj.pointer("/metadata/creationTimestamp")), now)
}

/// The Age cell: time since `metadata.creationTimestamp`.
pub(super) fn age_cell(o: &Value, now: Timestamp) -> Value {
    Value::String(since(
        timestamp(o.pointer("/metadata/creationTimestamp")),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S: i64 = 1;
    const M: i64 = 60;
    const H: i64 = 3600;
    const D: i64 = 24 * H;
    const Y: i64 = 365 * D;

    fn hd(secs: i64, nanos: i32) -> String {
        human_duration_signed(SignedDuration::new(secs, nanos))
    }

    #[test]
    fn apimachinery_table() {
        let cases: &[(i64, &str)] = &[
            (S, "1s"),
            (70 * S, "70s"),
            (190 * S, "3m10s"),
            (70 * M, "70m"),
            (47 * H, "47h"),
            (49 * H, "2d1h"),
            ((8 * 24 + 2) * H, "8d"),
            (367 * D, "367d"),
            (2 * Y + 25 * H, "2y1d"),
            (8 * Y + 2 * H, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(hd(*secs, 0), *want, "{secs}s");
        }
    }

    #[test]
    fn apimachinery_boundaries() {
        const MS: i32 = 1_000_000;
        // (seconds, nanoseconds, expected); "x - 1ms" is written as (x - 1, 999ms).
        let cases: &[(i64, i32, &str)] = &[
            (-2, 0, "<invalid>"),
            (-1, -999_999_999, "0s"),
            (0, 0, "0s"),
            (0, 999 * MS, "0s"),
            (2 * M - 1, 999 * MS, "119s"),
            (2 * M, 0, "2m"),
            (2 * M + 1, 0, "2m1s"),
            (10 * M - 1, 999 * MS, "9m59s"),
            (10 * M, 0, "10m"),
            (10 * M + 1, 0, "10m"),
            (3 * H - 1, 999 * MS, "179m"),
            (3 * H, 0, "3h"),
            (3 * H + M, 0, "3h1m"),
            (8 * H - 1, 999 * MS, "7h59m"),
            (8 * H, 0, "8h"),
            (8 * H + 59 * M, 0, "8h"),
            (2 * D - 1, 999 * MS, "47h"),
            (2 * D, 0, "2d"),
            (2 * D + H, 0, "2d1h"),
            (8 * D - 1, 999 * MS, "7d23h"),
            (8 * D, 0, "8d"),
            (8 * D + 23 * H, 0, "8d"),
            (2 * Y - 1, 999 * MS, "729d"),
            (2 * Y, 0, "2y"),
            (2 * Y + 23 * H, 0, "2y"),
            (2 * Y + 23 * H + 59 * M, 0, "2y"),
            (2 * Y + D - 1, 999 * MS, "2y"),
            (2 * Y + D, 0, "2y1d"),
            (3 * Y, 0, "3y"),
            (7 * Y, 0, "7y"),
            (8 * Y - 1, 999 * MS, "7y364d"),
            (8 * Y, 0, "8y"),
            (8 * Y + 364 * D, 0, "8y"),
            (9 * Y, 0, "9y"),
        ];
        for (secs, nanos, want) in cases {
            assert_eq!(hd(*secs, *nanos), *want, "{secs}s {nanos}ns");
        }
    }

    #[test]
    fn unsigned_entry_point() {
        assert_eq!(human_duration(std::time::Duration::from_secs(192)), "3m12s");
        assert_eq!(
            human_duration(std::time::Duration::from_secs(5 * 3600 + 180)),
            "5h3m"
        );
        assert_eq!(human_duration(std::time::Duration::MAX), "292y");
    }

    #[test]
    fn ages() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let o = json!({"metadata": {"creationTimestamp": "2024-05-01T11:59:15Z"}});
        assert_eq!(age(&o, now), "45s");
        assert_eq!(age(&json!({"metadata": {}}), now), "<unknown>");
        assert_eq!(
            age(&json!({"metadata": {"creationTimestamp": 5}}), now),
            "<unknown>"
        );
        let future = json!({"metadata": {"creationTimestamp": "2024-05-01T12:00:05Z"}});
        assert_eq!(age(&future, now), "<invalid>");
    }
}
