//! Resource quantities (`resource.Quantity`): parsing to nano-units for comparison and
//! the canonical text `Quantity.String()` prints in error messages.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// A parsed quantity, exact to the nano-unit (finer values round up, as Kubernetes does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

impl Quantity {
    /// Parse `1.5Gi`, `500m`, `2e3`; `None` for text that is not a quantity or too large.
    pub(super) fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, suffix) = rest.split_at(num_end);
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        if digits.len() > 30 {
            return None;
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut exp10: i32 = -(frac_part.len() as i32);
        let mut bin: u32 = 0;
        let format = match suffix {
            "" => Format::DecimalSi,
            "n" => {
                exp10 -= 9;
                Format::DecimalSi
            }
            "u" => {
                exp10 -= 6;
                Format::DecimalSi
            }
            "m" => {
                exp10 -= 3;
                Format::DecimalSi
            }
            "k" | "M" | "G" | "T" | "P" | "E" => {
                let i = ["k", "M", "G", "T", "P", "E"]
                    .iter()
                    .position(|x| *x == suffix)?;
                exp10 += 3 * (i as i32 + 1);
                Format::DecimalSi
            }
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let i = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                    .iter()
                    .position(|x| *x == suffix)?;
                bin = 10 * (i as u32 + 1);
                Format::BinarySi
            }
            _ => {
                let e = suffix.strip_prefix(['e', 'E'])?;
                let n: i32 = e.parse().ok()?;
                exp10 = exp10.checked_add(n)?;
                Format::DecimalExponent
            }
        };
        let shift = exp10 + 9;
        let mut nanos = if shift >= 0 {
            mantissa.checked_mul(pow10(shift as u32)?)?
        } else {
            let d = pow10((-shift) as u32).unwrap_or(i128::MAX);
            // Kubernetes rounds values finer than a nano-unit up.
            mantissa / d + i128::from(mantissa % d != 0)
        };
        nanos = nanos.checked_mul(1i128.checked_shl(bin)?)?;
        if neg {
            nanos = -nanos;
        }
        Some(Quantity { nanos, format })
    }

    /// `Quantity.Cmp`.
    pub(super) fn cmp(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }

    /// Negative quantities are refused in requests and limits.
    pub(super) fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Positive, as storage requests must be.
    pub(super) fn is_positive(&self) -> bool {
        self.nanos > 0
    }

    /// `Quantity.String()`: the canonical form.
    pub(super) fn canonical(&self) -> String {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.abs();
        if abs == 0 {
            return "0".into();
        }
        if self.format == Format::BinarySi && abs >= 1024 * NANO && abs % NANO == 0 {
            let units = abs / NANO;
            for (k, suffix) in ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"].iter().enumerate() {
                let div = 1i128 << (10 * (6 - k as u32));
                if units % div == 0 {
                    return format!("{sign}{}{suffix}", units / div);
                }
            }
            return format!("{sign}{units}");
        }
        for e in [18i32, 15, 12, 9, 6, 3, 0, -3, -6, -9] {
            let Some(div) = pow10((e + 9) as u32) else {
                continue;
            };
            if abs % div == 0 {
                let m = abs / div;
                let suffix = if self.format == Format::DecimalExponent {
                    if e == 0 {
                        String::new()
                    } else {
                        format!("e{e}")
                    }
                } else {
                    match e {
                        18 => "E",
                        15 => "P",
                        12 => "T",
                        9 => "G",
                        6 => "M",
                        3 => "k",
                        0 => "",
                        -3 => "m",
                        -6 => "u",
                        _ => "n",
                    }
                    .to_string()
                };
                return format!("{sign}{m}{suffix}");
            }
        }
        format!("{sign}{abs}n")
    }
}

/// A quantity in nano-units (`"100m"` → 100_000_000), for comparisons outside validation.
pub fn nanos(s: &str) -> Option<i128> {
    Quantity::parse(s).map(|q| q.nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s)
            .map(|q| q.canonical())
            .unwrap_or_default()
    }

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("1", "1"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("2000", "2k"),
            ("1024", "1024"),
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1000Mi", "1000Mi"),
            ("0.5Ki", "512"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("1e3", "1e3"),
            ("-1", "-1"),
            ("0", "0"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
        assert!(Quantity::parse("abc").is_none());
        assert!(Quantity::parse("1X").is_none());
        assert!(Quantity::parse("").is_none());
    }

    #[test]
    fn comparisons() {
        let q = |s| Quantity::parse(s).unwrap();
        assert_eq!(q("500m").cmp(&q("1")), Ordering::Less);
        assert_eq!(q("1Gi").cmp(&q("1G")), Ordering::Greater);
        assert_eq!(q("1000m").cmp(&q("1")), Ordering::Equal);
        assert!(q("-1").is_negative() && q("1n").is_positive());
    }
}
