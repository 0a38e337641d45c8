//! Checks shared by the fuzz targets: the time budget every input must finish in, and the
//! comparisons their round-trip properties need.

use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest any one input may take: a slower answer is treated as a hang.
pub const BUDGET: Duration = Duration::from_secs(1);

/// Panics (a finding) when `started` is longer ago than [`BUDGET`].
pub fn assert_within_budget(started: Instant, what: &str) {
    let elapsed = started.elapsed();
    assert!(
        elapsed < BUDGET,
        "{what} took {elapsed:?}, over the {BUDGET:?} budget"
    );
}

/// JSON equality that lets floats differ in their last bits: serde_json parses some
/// decimal texts one ULP away from the value that printed them, which is not our bug.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Splits `data` at the first `sep`: the part before and the part after (None without it).
pub fn split_once<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], Option<&'a [u8]>) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], Some(&data[i + sep.len()..])),
        None => (data, None),
    }
}
