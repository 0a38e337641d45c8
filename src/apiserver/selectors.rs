//! Label and field selectors with apimachinery's grammar, validation, matching, string
//! forms and error messages (pkg/labels/selector.go, pkg/fields/selector.go).

use std::fmt;

use serde_json::{Map, Value};

/// A selector that could not be parsed or built; the message is apimachinery's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// A label requirement operator (selection.Operator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LabelOp {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One label requirement: key, operator and (sorted, unique) values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: LabelOp,
    values: Vec<String>,
}

/// A parsed label selector: requirements ANDed, sorted by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
    /// labels.Nothing(): what a nil metav1.LabelSelector converts to.
    nothing: bool,
}

// Label keys and values are checked by the same rules as object labels.
use crate::resources::validation::{
    label_value as label_value_errors, qualified_name as label_key_errors,
};

/// Go's %q (strconv.Quote) for the bad values of field errors.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A field.Invalid error string: `<path>: Invalid value: <value>: <detail>`.
fn invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// validateLabelKey at a path ("<nil>" in the parser, "key" in NewRequirement).
fn check_key(key: &str, path: &str) -> Result<(), String> {
    match label_key_errors(key) {
        e if e.is_empty() => Ok(()),
        e => Err(invalid(path, &go_quote(key), &e.join("; "))),
    }
}

/// utilerrors.NewAggregate(...).Error(): one message, or "[a, b]" (duplicates dropped).
fn aggregate(errs: Vec<String>) -> Result<(), SelectorError> {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    match seen.len() {
        0 => Ok(()),
        1 => Err(SelectorError(seen.remove(0))),
        _ => Err(SelectorError(format!("[{}]", seen.join(", ")))),
    }
}

/// JSON rendering of a []string bad value (nil as `null`).
fn json_strings(v: &[String]) -> String {
    if v.is_empty() {
        return "null".into();
    }
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Requirement {
    /// labels.NewRequirement with no path prefix.
    fn new(key: &str, op: LabelOp, mut values: Vec<String>) -> Result<Self, SelectorError> {
        let mut errs = Vec::new();
        if let Err(e) = check_key(key, "key") {
            errs.push(e);
        }
        match op {
            LabelOp::In | LabelOp::NotIn if values.is_empty() => errs.push(invalid(
                "values",
                &json_strings(&values),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            LabelOp::Equals | LabelOp::DoubleEquals | LabelOp::NotEquals if values.len() != 1 => {
                errs.push(invalid(
                    "values",
                    &json_strings(&values),
                    "exact-match compatibility requires one single value",
                ))
            }
            LabelOp::Exists | LabelOp::DoesNotExist if !values.is_empty() => errs.push(invalid(
                "values",
                &json_strings(&values),
                "values set must be empty for exists and does not exist",
            )),
            LabelOp::Gt | LabelOp::Lt => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &json_strings(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let e = label_value_errors(v);
            if !e.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &e.join("; "),
                ));
            }
        }
        aggregate(errs)?;
        // String() prints values sorted (duplicates from a metav1.LabelSelector are kept).
        values.sort();
        Ok(Requirement {
            key: key.to_string(),
            op,
            values,
        })
    }

    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let v = labels.get(&self.key).map(|v| v.as_str().unwrap_or(""));
        let has = |x: &str| self.values.iter().any(|y| y == x);
        match self.op {
            LabelOp::In | LabelOp::Equals | LabelOp::DoubleEquals => v.is_some_and(has),
            LabelOp::NotIn | LabelOp::NotEquals => v.is_none_or(|x| !has(x)),
            LabelOp::Exists => v.is_some(),
            LabelOp::DoesNotExist => v.is_none(),
            LabelOp::Gt | LabelOp::Lt => {
                let Some(have) = v.and_then(|x| x.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.op == LabelOp::Gt {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals = self.values.join(",");
        match self.op {
            LabelOp::Exists => write!(f, "{}", self.key),
            LabelOp::DoesNotExist => write!(f, "!{}", self.key),
            LabelOp::Equals => write!(f, "{}={vals}", self.key),
            LabelOp::DoubleEquals => write!(f, "{}=={vals}", self.key),
            LabelOp::NotEquals => write!(f, "{}!={vals}", self.key),
            LabelOp::In => write!(f, "{} in ({vals})", self.key),
            LabelOp::NotIn => write!(f, "{} notin ({vals})", self.key),
            LabelOp::Gt => write!(f, "{}>{vals}", self.key),
            LabelOp::Lt => write!(f, "{}<{vals}", self.key),
        }
    }
}

// ---------- lexer and parser (labels.Lexer / labels.Parser) ----------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    Gt,
    Ident,
    In,
    Lt,
    NotEquals,
    NotIn,
    OpenPar,
}

fn special_token(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::Gt,
        b"<" => Tok::Lt,
        b"!=" => Tok::NotEquals,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Tokenize; a NUL byte ends the input, as in the Go lexer.
fn lex(input: &str) -> Vec<(Tok, String)> {
    let b = input.as_bytes();
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let b = &b[..end];
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        if is_special(b[i]) {
            // The longest run of special characters that is still a token.
            let mut best: Option<(Tok, usize)> = None;
            let mut j = i;
            while j < b.len() && is_special(b[j]) {
                j += 1;
                match special_token(&b[i..j]) {
                    Some(t) => best = Some((t, j)),
                    None if best.is_some() => break,
                    None => {}
                }
            }
            // Every single special character is a token, so `best` is always set.
            let (tok, next) = best.unwrap_or((Tok::Ident, j));
            out.push((tok, String::from_utf8_lossy(&b[i..next]).into_owned()));
            i = next;
        } else {
            let start = i;
            while i < b.len() && !is_special(b[i]) && !is_space(b[i]) {
                i += 1;
            }
            let word = String::from_utf8_lossy(&b[start..i]).into_owned();
            let tok = match word.as_str() {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            };
            out.push((tok, word));
        }
    }
}

/// Whether `in`/`notin` keep their keyword meaning (operators) or are plain values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

type PResult<T> = Result<T, String>;

impl Parser {
    fn item(&self, pos: usize, ctx: Ctx) -> (Tok, String) {
        let (t, l) = self
            .items
            .get(pos)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        match t {
            Tok::In | Tok::NotIn if ctx == Ctx::Values => (Tok::Ident, l),
            t => (t, l),
        }
    }
    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.item(self.pos, ctx)
    }
    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let it = self.item(self.pos, ctx);
        self.pos += 1;
        it
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Ident | Tok::DoesNotExist => {
                    let r = self
                        .requirement()
                        .map_err(|e| SelectorError(format!("unable to parse requirement: {e}")))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Ident && t2 != Tok::DoesNotExist {
                                return Err(SelectorError(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )))
                        }
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(SelectorError(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> PResult<Requirement> {
        let (key, unary) = self.key_and_inferred_operator()?;
        if let Some(op) = unary {
            return Requirement::new(&key, op, vec![]).map_err(|e| e.0);
        }
        let op = self.operator()?;
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, op, values).map_err(|e| e.0)
    }

    /// The key, and Exists/DoesNotExist when no binary operator follows.
    fn key_and_inferred_operator(&mut self) -> PResult<(String, Option<LabelOp>)> {
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        let mut op = None;
        if tok == Tok::DoesNotExist {
            op = Some(LabelOp::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Ident {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        // The parser's path is nil, which field.Error prints as "<nil>".
        check_key(&lit, "<nil>")?;
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::End || next == Tok::Comma) && op.is_none() {
            op = Some(LabelOp::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> PResult<LabelOp> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => LabelOp::In,
            Tok::Equals => LabelOp::Equals,
            Tok::DoubleEquals => LabelOp::DoubleEquals,
            Tok::Gt => LabelOp::Gt,
            Tok::Lt => LabelOp::Lt,
            Tok::NotIn => LabelOp::NotIn,
            Tok::NotEquals => LabelOp::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// `(a,b,...)`, possibly with empty values; the result is a sorted set.
    fn value_set(&mut self) -> PResult<Vec<String>> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Ident | Tok::Comma => {
                let set = self.identifiers()?;
                let (tok, _) = self.consume(Ctx::Values);
                if tok != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> PResult<Vec<String>> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: String| {
            if !set.contains(&v) {
                set.push(v);
            }
        };
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Ident => {
                    insert(&mut set, lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => {
                            set.sort();
                            return Ok(set);
                        }
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        insert(&mut set, String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        insert(&mut set, String::new());
                        set.sort();
                        return Ok(set);
                    }
                    if t2 == Tok::Comma {
                        insert(&mut set, String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> PResult<Vec<String>> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Ident {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

impl LabelSelector {
    /// Parse the `labelSelector` grammar (labels.Parse); "" selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut p = Parser {
            items: lex(s),
            pos: 0,
        };
        let mut reqs = p.parse()?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            reqs,
            nothing: false,
        })
    }

    /// The selector that matches everything.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches nothing (labels.Nothing()).
    pub fn nothing() -> Self {
        LabelSelector {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    /// metav1.LabelSelectorAsSelector: null selects nothing, `{}` everything.
    pub fn from_label_selector_json(sel: &Value) -> Result<Self, SelectorError> {
        if sel.is_null() {
            return Ok(LabelSelector::nothing());
        }
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                let v = v.as_str().unwrap_or("").to_string();
                reqs.push(Requirement::new(k, LabelOp::Equals, vec![v])?);
            }
        }
        for e in sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let op_name = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let op = match op_name {
                "In" => LabelOp::In,
                "NotIn" => LabelOp::NotIn,
                "Exists" => LabelOp::Exists,
                "DoesNotExist" => LabelOp::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )))
                }
            };
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect();
            reqs.push(Requirement::new(key, op, values)?);
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            reqs,
            nothing: false,
        })
    }

    /// Whether these labels satisfy every requirement (`!=` and `notin` match a missing label).
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }

    /// Whether the labels of an object (absent = none) satisfy the selector.
    pub fn matches_opt(&self, labels: Option<&Map<String, Value>>) -> bool {
        match labels {
            Some(l) => self.matches(l),
            None => self.matches(&Map::new()),
        }
    }

    /// Whether it places no restriction (Everything); Nothing is not empty.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }
}

impl fmt::Display for LabelSelector {
    /// labels.Selector.String(): requirements joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.reqs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

// ---------- field selectors ----------

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

/// A parsed field selector: `field=value` / `field!=value` terms ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    reqs: Vec<(String, Op, String)>,
}

/// fields.UnescapeValue: `\\`, `\,` and `\=` are escapes; a bare `,` or `=` is an error.
fn unescape_field_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(SelectorError(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v: its code point number.
            ',' | '=' => {
                return Err(SelectorError(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )))
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError(
            "invalid field selector: invalid escape sequence: \\".into(),
        ));
    }
    Ok(out)
}

/// fields.EscapeValue.
fn escape_field_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

/// Split on commas not escaped with a backslash (escapes are kept in the terms).
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The first operator in a term (`!=`, then `==`, then `=` at each position).
fn split_term(term: &str) -> Option<(&str, Op, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (text, op) in [("!=", Op::NotEq), ("==", Op::Eq), ("=", Op::Eq)] {
            if let Some(value) = rest.strip_prefix(text) {
                return Some((&term[..i], op, value));
            }
        }
    }
    None
}

impl FieldSelector {
    /// Parse `field=value,field!=value` (fields.ParseSelector), with `\` escapes in values.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut reqs = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_field_value(rhs)?;
            // A term with neither field nor value ("=") selects everything and is dropped.
            if lhs.is_empty() && value.is_empty() {
                continue;
            }
            reqs.push((lhs.to_string(), op, value));
        }
        Ok(FieldSelector { reqs })
    }

    /// The requirements, in the selector's (sorted) order.
    pub fn requirements(&self) -> &[(String, Op, String)] {
        &self.reqs
    }

    /// Whether an object matches, given its field getter (a missing field reads as "").
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.reqs.iter().all(|(f, op, v)| {
            let have = get(f).unwrap_or_default();
            match op {
                Op::Eq => have == *v,
                Op::NotEq => have != *v,
            }
        })
    }

    /// Whether it places no restriction.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    /// fields.Selector.String(), values escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, op, value)) in self.reqs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let sym = if op.is_eq() { "=" } else { "!=" };
            write!(f, "{field}{sym}{}", escape_field_value(value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "selectors_tests.rs"]
mod tests;
