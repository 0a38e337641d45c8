//! CronJob schedules, checked as robfig/cron/v3's `ParseStandard` checks them and with its
//! error texts (which kube-apiserver passes through as the field error detail).

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MONTHS: [(&str, u64); 12] = [
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DAYS: [(&str, u64); 7] = [
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];
const FIELDS: [Bounds; 5] = [
    Bounds {
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        min: 0,
        max: 23,
        names: &[],
    },
    Bounds {
        min: 1,
        max: 31,
        names: &[],
    },
    Bounds {
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Bounds {
        min: 0,
        max: 6,
        names: &DAYS,
    },
];

/// Parse a standard (5-field or descriptor) schedule; the error is robfig/cron's text.
pub(super) fn parse_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let mut spec = spec;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        let Some(i) = spec.find(' ') else {
            let loc = spec.split_once('=').map_or("", |(_, l)| l);
            return Err(format!(
                "provided bad location {loc}: unknown time zone {loc}"
            ));
        };
        spec = spec[i..].trim();
    }
    if let Some(rest) = spec.strip_prefix('@') {
        return descriptor(rest, spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (field, bounds) in fields.iter().zip(FIELDS.iter()) {
        for expr in field.split(',').filter(|e| !e.is_empty()) {
            range(expr, bounds)?;
        }
    }
    Ok(())
}

fn descriptor(name: &str, spec: &str) -> Result<(), String> {
    match name {
        "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => Ok(()),
        _ => match name.strip_prefix("every ") {
            Some(d) => go_duration(d).map_err(|e| format!("failed to parse duration {spec}: {e}")),
            None => Err(format!("unrecognized descriptor: {spec}")),
        },
    }
}

fn range(expr: &str, r: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        (r.min, r.max)
    } else {
        let start = int_or_name(low_high[0], r)?;
        match low_high.len() {
            1 => (start, start),
            2 => (start, int_or_name(low_high[1], r)?),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let s = must_parse_int(range_and_step[1])?;
            if single {
                end = r.max;
            }
            s
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < r.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        ));
    }
    if end > r.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            r.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn int_or_name(expr: &str, r: &Bounds) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some((_, n)) = r.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*n);
    }
    must_parse_int(expr)
}

/// `strconv.Atoi` with robfig's wrapping.
fn must_parse_int(expr: &str) -> Result<u64, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: invalid syntax"
        ));
    }
    let n: i64 = expr.parse().map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
        )
    })?;
    u64::try_from(n).map_err(|_| format!("negative number ({n}) not allowed: {expr}"))
}

/// Go's `time.ParseDuration` acceptance, with its error texts.
fn go_duration(s: &str) -> Result<(), String> {
    let quoted = format!("{s:?}");
    let mut rest = s.strip_prefix(['+', '-']).unwrap_or(s);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(format!("time: invalid duration {quoted}"));
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return Err(format!("time: invalid duration {quoted}"));
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {quoted}"));
        }
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&unit) {
            return Err(format!("time: unknown unit {unit:?} in duration {quoted}"));
        }
        rest = &rest[unit_len..];
    }
    Ok(())
}

/// A parsed standard schedule: the minutes, hours, days, months and weekdays it fires on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    fields: [Vec<bool>; 5],
    /// robfig/cron: when both day fields are restricted, either one matching is enough.
    dom_any: bool,
    dow_any: bool,
    /// `CRON_TZ=`/`TZ=` prefix, if any.
    pub zone: Option<String>,
}

fn values(expr: &str, r: &Bounds) -> Result<Vec<u64>, String> {
    range(expr, r)?;
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        (r.min, r.max)
    } else {
        let start = int_or_name(low_high[0], r)?;
        match low_high.get(1) {
            Some(h) => (start, int_or_name(h, r)?),
            None => (start, start),
        }
    };
    let step = match range_and_step.get(1) {
        Some(s) => {
            if low_high.len() == 1 {
                end = r.max;
            }
            must_parse_int(s)?
        }
        None => 1,
    };
    Ok((start..=end).step_by(step.max(1) as usize).collect())
}

impl Schedule {
    /// Parse what `parse_standard` accepts; `@every` intervals are not calendar schedules
    /// and give an error here.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        parse_standard(spec)?;
        let mut zone = None;
        let mut rest = spec.trim();
        if rest.starts_with("TZ=") || rest.starts_with("CRON_TZ=") {
            let (tz, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            zone = tz.split_once('=').map(|(_, z)| z.to_string());
            rest = tail.trim();
        }
        let expanded = match rest {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!("{other} is not a calendar schedule"))
            }
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let mut fields: [Vec<bool>; 5] = Default::default();
        for (i, (field, bounds)) in parts.iter().zip(FIELDS.iter()).enumerate() {
            let mut set = vec![false; bounds.max as usize + 1];
            for expr in field.split(',').filter(|e| !e.is_empty()) {
                for v in values(expr, bounds)? {
                    set[v as usize] = true;
                }
            }
            fields[i] = set;
        }
        let star = |f: &str| f.starts_with('*') || f.starts_with('?');
        Ok(Schedule {
            fields,
            dom_any: star(parts[2]),
            dow_any: star(parts[4]),
            zone,
        })
    }

    fn day_matches(&self, t: &jiff::civil::DateTime) -> bool {
        let dom = self.fields[2][t.day() as usize];
        let dow = self.fields[4][t.weekday().to_sunday_zero_offset() as usize];
        match (self.dom_any, self.dow_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first firing strictly after `t` (civil time in the schedule's zone), within
    /// five years.
    pub fn next_after(&self, t: jiff::civil::DateTime) -> Option<jiff::civil::DateTime> {
        let mut c = t
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(jiff::Span::new().minutes(1))
            .ok()?;
        let limit = t.checked_add(jiff::Span::new().years(5)).ok()?;
        while c < limit {
            if !self.fields[3][c.month() as usize] {
                c = c
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok()?;
                continue;
            }
            if !self.day_matches(&c) {
                c = c
                    .start_of_day()
                    .checked_add(jiff::Span::new().days(1))
                    .ok()?;
                continue;
            }
            if !self.fields[1][c.hour() as usize] {
                c = c
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(jiff::Span::new().hours(1))
                    .ok()?;
                continue;
            }
            if !self.fields[0][c.minute() as usize] {
                c = c.checked_add(jiff::Span::new().minutes(1)).ok()?;
                continue;
            }
            return Some(c);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        for ok in [
            "*/5 * * * *",
            "0 0 * * 1-5",
            "@hourly",
            "@every 1h30m",
            "0 9 1 jan,JUL mon",
            "TZ=UTC 0 * * * *",
            "0 0 * * ?",
        ] {
            assert_eq!(parse_standard(ok), Ok(()), "{ok}");
        }
        for (bad, want) in [
            (
                "every minute",
                "expected exactly 5 fields, found 2: [every minute]",
            ),
            ("61 * * * *", "end of range (61) above maximum (59): 61"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            (
                "5-1 * * * *",
                "beginning of range (5) beyond end of range (1): 5-1",
            ),
            (
                "*/0 * * * *",
                "step of range should be a positive number: */0",
            ),
            (
                "x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("@sometimes", "unrecognized descriptor: @sometimes"),
            (
                "@every 5x",
                "failed to parse duration @every 5x: time: unknown unit \"x\" in duration \"5x\"",
            ),
            ("", "empty spec string"),
        ] {
            assert_eq!(parse_standard(bad), Err(want.to_string()), "{bad}");
        }
    }

    #[test]
    fn next_times() {
        let at = |s: &str| s.parse::<jiff::civil::DateTime>().unwrap();
        let every5 = Schedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            every5.next_after(at("2026-01-01T10:02:30")),
            Some(at("2026-01-01T10:05:00"))
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-01-01T10:00:00")),
            Some(at("2026-01-01T11:00:00"))
        );
        let mondays = Schedule::parse("30 9 * * mon").unwrap();
        assert_eq!(
            mondays.next_after(at("2026-11-22T12:00:00")),
            Some(at("2026-11-23T09:30:00"))
        );
        let leap = Schedule::parse("0 0 29 2 *").unwrap();
        assert_eq!(
            leap.next_after(at("2026-03-01T00:00:00")),
            Some(at("2028-02-29T00:00:00"))
        );
        let zoned = Schedule::parse("CRON_TZ=Europe/Paris 0 6 * * *").unwrap();
        assert_eq!(zoned.zone.as_deref(), Some("Europe/Paris"));
        assert!(Schedule::parse("@every 1h").is_err());
    }
}
