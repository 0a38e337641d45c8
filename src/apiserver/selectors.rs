//! Label and field selectors with apimachinery's grammar and error messages.

use std::fmt;

use serde_json::{Map, Value};

/// A selector that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// A label requirement operator.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelOp {
    Eq,
    NotEq,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: LabelOp,
    values: Vec<String>,
}

/// A parsed label selector (requirements ANDed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Eq,
    DoubleEq,
    NotEq,
    Bang,
    Gt,
    Lt,
    Comma,
    Open,
    Close,
    In,
    NotIn,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s}"),
            Tok::Eq => write!(f, "="),
            Tok::DoubleEq => write!(f, "=="),
            Tok::NotEq => write!(f, "!="),
            Tok::Bang => write!(f, "!"),
            Tok::Gt => write!(f, ">"),
            Tok::Lt => write!(f, "<"),
            Tok::Comma => write!(f, ","),
            Tok::Open => write!(f, "("),
            Tok::Close => write!(f, ")"),
            Tok::In => write!(f, "in"),
            Tok::NotIn => write!(f, "notin"),
        }
    }
}

fn lex(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::DoubleEq);
                i += 2;
            }
            '=' => {
                out.push(Tok::Eq);
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::NotEq);
                i += 2;
            }
            '!' => {
                out.push(Tok::Bang);
                i += 1;
            }
            '>' => {
                out.push(Tok::Gt);
                i += 1;
            }
            '<' => {
                out.push(Tok::Lt);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"=!<>,()".contains(chars[i])
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "in" => Tok::In,
                    "notin" => Tok::NotIn,
                    _ => Tok::Ident(word),
                });
            }
        }
    }
    out
}

fn is_dns_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// Validate a label key (`[prefix/]name`), with apimachinery's messages.
fn validate_key(key: &str) -> Result<(), SelectorError> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.chars().all(is_dns_label_char)
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok {
            return Err(SelectorError(format!(
                "invalid label key \"{key}\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            )));
        }
    }
    validate_name_part(name).map_err(|m| SelectorError(format!("invalid label key \"{key}\": {m}")))
}

fn validate_name_part(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Err("name part must be no more than 63 characters".into());
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let last = name
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !(name.chars().all(ok_char) && first && last) {
        return Err("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
    }
    Ok(())
}

fn validate_value(key: &str, v: &str) -> Result<(), SelectorError> {
    if v.is_empty() {
        return Ok(());
    }
    if v.len() > 63 {
        return Err(SelectorError(format!(
            "invalid label value: \"{v}\": at key: \"{key}\": must be no more than 63 characters"
        )));
    }
    validate_name_part(v).map_err(|_| {
        SelectorError(format!("invalid label value: \"{v}\": at key: \"{key}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
    })
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let mut negate = false;
        if self.peek() == Some(&Tok::Bang) {
            negate = true;
            self.pos += 1;
        }
        let key = match self.next() {
            Some(Tok::Ident(k)) => k,
            Some(t) => {
                return Err(SelectorError(format!(
                    "found '{t}', expected: !, identifier, or 'end of string'"
                )))
            }
            None => return Err(SelectorError("found '', expected: identifier".into())),
        };
        validate_key(&key)?;
        if negate {
            return match self.peek() {
                None | Some(Tok::Comma) => Ok(Requirement {
                    key,
                    op: LabelOp::DoesNotExist,
                    values: vec![],
                }),
                Some(t) => Err(SelectorError(format!(
                    "found '{t}', expected: ',' or 'end of string'"
                ))),
            };
        }
        let op = match self.peek() {
            None | Some(Tok::Comma) => {
                return Ok(Requirement {
                    key,
                    op: LabelOp::Exists,
                    values: vec![],
                })
            }
            Some(Tok::Eq) | Some(Tok::DoubleEq) => LabelOp::Eq,
            Some(Tok::NotEq) => LabelOp::NotEq,
            Some(Tok::In) => LabelOp::In,
            Some(Tok::NotIn) => LabelOp::NotIn,
            Some(Tok::Gt) => LabelOp::Gt,
            Some(Tok::Lt) => LabelOp::Lt,
            Some(t) => {
                return Err(SelectorError(format!(
                    "found '{t}', expected: in, notin, =, ==, !=, gt, lt"
                )))
            }
        };
        self.pos += 1;
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.value_set()?,
            _ => match self.peek() {
                Some(Tok::Ident(_)) => match self.next() {
                    Some(Tok::Ident(v)) => vec![v],
                    _ => vec![],
                },
                Some(Tok::In) => {
                    self.pos += 1;
                    vec!["in".into()]
                }
                Some(Tok::NotIn) => {
                    self.pos += 1;
                    vec!["notin".into()]
                }
                None | Some(Tok::Comma) => vec![String::new()],
                Some(t) => return Err(SelectorError(format!("found '{t}', expected: identifier"))),
            },
        };
        for v in &values {
            if matches!(op, LabelOp::Gt | LabelOp::Lt) {
                if v.parse::<i64>().is_err() {
                    return Err(SelectorError(
                        "for 'Gt', 'Lt' operators, the value must be an integer".into(),
                    ));
                }
            } else {
                validate_value(&key, v)?;
            }
        }
        Ok(Requirement { key, op, values })
    }

    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Some(Tok::Open) => {}
            Some(t) => return Err(SelectorError(format!("found '{t}', expected: '('"))),
            None => return Err(SelectorError("found '', expected: '('".into())),
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Ident(v)) => values.push(v),
                Some(Tok::In) => values.push("in".into()),
                Some(Tok::NotIn) => values.push("notin".into()),
                Some(Tok::Close) if values.is_empty() => return Ok(vec![String::new()]),
                Some(Tok::Comma) => {
                    values.push(String::new());
                    continue;
                }
                Some(t) => {
                    return Err(SelectorError(format!(
                        "found '{t}', expected: ',', ')' or identifier"
                    )))
                }
                None => return Err(SelectorError("found '', expected: ')'".into())),
            }
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::Close) => return Ok(values),
                Some(t) => return Err(SelectorError(format!("found '{t}', expected: ',' or ')'"))),
                None => return Err(SelectorError("found '', expected: ')'".into())),
            }
        }
    }
}

impl LabelSelector {
    /// Parse the `labelSelector` grammar; "" selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut p = Parser {
            toks: lex(s),
            pos: 0,
        };
        let mut reqs = Vec::new();
        while p.peek().is_some() {
            reqs.push(p.requirement()?);
            match p.next() {
                None => break,
                Some(Tok::Comma) if p.peek().is_some() => {}
                Some(Tok::Comma) => {
                    return Err(SelectorError(
                        "found '', expected: identifier after ','".into(),
                    ))
                }
                Some(t) => {
                    return Err(SelectorError(format!(
                        "found '{t}', expected: ',' or 'end of string'"
                    )))
                }
            }
        }
        Ok(LabelSelector { reqs })
    }

    /// From a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    pub fn from_label_selector_json(sel: &Value) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement {
                    key: k.clone(),
                    op: LabelOp::Eq,
                    values: vec![v.as_str().unwrap_or("").to_string()],
                });
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let op = match e.get("operator").and_then(Value::as_str) {
                    Some("In") => LabelOp::In,
                    Some("NotIn") => LabelOp::NotIn,
                    Some("Exists") => LabelOp::Exists,
                    Some("DoesNotExist") => LabelOp::DoesNotExist,
                    Some(o) => {
                        return Err(SelectorError(format!(
                            "\"{o}\" is not a valid label selector operator"
                        )))
                    }
                    None => return Err(SelectorError("operator is required".into())),
                };
                reqs.push(Requirement { key, op, values });
            }
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { reqs })
    }

    /// Whether these labels satisfy every requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.reqs.iter().all(|r| {
            let v = labels.get(&r.key).and_then(Value::as_str);
            match r.op {
                LabelOp::Eq => v == Some(r.values[0].as_str()),
                LabelOp::NotEq => v != Some(r.values[0].as_str()),
                LabelOp::In => v.is_some_and(|v| r.values.iter().any(|x| x == v)),
                LabelOp::NotIn => v.is_none_or(|v| !r.values.iter().any(|x| x == v)),
                LabelOp::Exists => v.is_some(),
                LabelOp::DoesNotExist => v.is_none(),
                LabelOp::Gt | LabelOp::Lt => {
                    let (Some(have), Some(want)) = (
                        v.and_then(|v| v.parse::<i64>().ok()),
                        r.values[0].parse::<i64>().ok(),
                    ) else {
                        return false;
                    };
                    if r.op == LabelOp::Gt {
                        have > want
                    } else {
                        have < want
                    }
                }
            }
        })
    }

    /// Whether it selects everything.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .reqs
            .iter()
            .map(|r| match r.op {
                LabelOp::Eq => format!("{}={}", r.key, r.values[0]),
                LabelOp::NotEq => format!("{}!={}", r.key, r.values[0]),
                LabelOp::In => format!("{} in ({})", r.key, r.values.join(",")),
                LabelOp::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                LabelOp::Exists => r.key.clone(),
                LabelOp::DoesNotExist => format!("!{}", r.key),
                LabelOp::Gt => format!("{}>{}", r.key, r.values[0]),
                LabelOp::Lt => format!("{}<{}", r.key, r.values[0]),
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

/// A field requirement operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    NotEq,
}

impl Op {
    /// Whether it is an equality.
    pub fn is_eq(&self) -> bool {
        *self == Op::Eq
    }
}

/// A parsed field selector.
#[derive(Clone, Debug, Default)]
pub struct FieldSelector {
    reqs: Vec<(String, Op, String)>,
}

fn unescape(s: &str) -> Result<String, SelectorError> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return Err(SelectorError(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    )))
                }
                None => {
                    return Err(SelectorError(
                        "invalid field selector: unterminated escape sequence".into(),
                    ))
                }
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Split on commas not escaped with a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            cur.push(c);
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
}

impl FieldSelector {
    /// Parse `field=value,field!=value` (with `\` escapes).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector { reqs });
        }
        for part in split_unescaped(s, ',') {
            let (field, op, value) = if let Some(i) = part.find("!=") {
                (&part[..i], Op::NotEq, &part[i + 2..])
            } else if let Some(i) = part.find("==") {
                (&part[..i], Op::Eq, &part[i + 2..])
            } else if let Some(i) = part.find('=') {
                (&part[..i], Op::Eq, &part[i + 1..])
            } else {
                return Err(SelectorError(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            reqs.push((field.trim().to_string(), op, unescape(value)?));
        }
        Ok(FieldSelector { reqs })
    }

    /// The requirements.
    pub fn requirements(&self) -> &[(String, Op, String)] {
        &self.reqs
    }

    /// Whether an object (given a field getter) matches.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.reqs.iter().all(|(f, op, v)| {
            let have = get(f).unwrap_or_default();
            match op {
                Op::Eq => have == *v,
                Op::NotEq => have != *v,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_grammar() {
        let l = labels(json!({"tier": "web", "env": "prod", "n": "5"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
        assert!(m(""));
        assert!(m("tier=web"));
        assert!(m("tier==web,env=prod"));
        assert!(!m("tier!=web"));
        assert!(m("missing!=x"));
        assert!(m("env in (prod, staging)"));
        assert!(!m("env notin (prod)"));
        assert!(m("missing notin (prod)"));
        assert!(m("tier"));
        assert!(m("!missing"));
        assert!(!m("!tier"));
        assert!(m("n>4") && !m("n<4"));
        assert!(m("tier in (web),!missing,env"));
    }

    #[test]
    fn label_errors() {
        assert!(LabelSelector::parse("a in (b").is_err());
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a=b,").is_err());
        assert!(LabelSelector::parse("Bad Key=x").is_err());
        assert!(LabelSelector::parse("a=-bad-").is_err());
        assert!(LabelSelector::parse("n>x").is_err());
    }

    #[test]
    fn label_selector_objects_render() {
        let s = LabelSelector::from_label_selector_json(&json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})).unwrap();
        assert_eq!(s.to_string(), "app=web,tier in (a,b)");
        assert!(s.matches(&labels(json!({"app": "web", "tier": "a"}))));
    }

    #[test]
    fn field_selectors() {
        let f = FieldSelector::parse("metadata.name=x,status.phase!=Failed").unwrap();
        assert_eq!(f.requirements().len(), 2);
        assert!(f.matches(|k| match k {
            "metadata.name" => Some("x".into()),
            _ => Some("Running".into()),
        }));
        let esc = FieldSelector::parse(r"metadata.name=a\,b").unwrap();
        assert_eq!(esc.requirements()[0].2, "a,b");
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
