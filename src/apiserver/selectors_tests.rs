//! Tests of the label and field selectors (tables after apimachinery's selector tests).

use super::*;
use serde_json::json;

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn err(s: &str) -> String {
    match LabelSelector::parse(s) {
        Ok(sel) => panic!("{s:?} parsed as {sel}"),
        Err(e) => e.0,
    }
}

#[test]
fn label_parse_and_string_forms() {
    let cases = [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("x = a , y = b", "x=a,y=b"),
        ("z=c,x=a", "x=a,z=c"),
        ("x==a", "x==a"),
        ("x!=a", "x!=a"),
        ("x>1", "x>1"),
        ("x<10", "x<10"),
        // Gt/Lt values must also be valid label values, so negatives are rejected.
        ("x<-1", ""),
        ("x in (b, a)", "x in (a,b)"),
        ("x notin (b,a,a)", "x notin (a,b)"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,)", "x in (,a)"),
        ("x in ()", "x in ()"),
        ("!x", "!x"),
        ("x", "x"),
        ("x=", "x="),
        ("x=,z= ", "x=,z="),
        ("x in (in, notin)", "x in (in,notin)"),
        ("x=in", "x=in"),
        ("example.com/role=web\t,\n app", "app,example.com/role=web"),
        ("x=a==b", ""),
    ];
    for (input, want) in cases {
        match LabelSelector::parse(input) {
            Ok(s) => assert_eq!(s.to_string(), want, "{input:?}"),
            Err(e) => assert_eq!(want, "", "{input:?}: {e}"),
        }
    }
}

#[test]
fn label_parse_errors_carry_apimachinery_messages() {
    let name_part = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    let value_msg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    let long_value = format!("x={}", "a".repeat(64));
    let cases: Vec<(&str, String)> = vec![
        ("x in b", "unable to parse requirement: found 'b' expected: '('".into()),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'".into()),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'".into()),
        ("x in (", "unable to parse requirement: found '', expected: ',', ')' or identifier".into()),
        ("x in (a,(", "unable to parse requirement: found '(', expected: ',', or identifier".into()),
        ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt".into()),
        ("x=(", "unable to parse requirement: found '(', expected: identifier".into()),
        ("!=a", "found '!=', expected: !, identifier, or 'end of string'".into()),
        ("!", "unable to parse requirement: found '', expected: identifier".into()),
        ("!,a", "unable to parse requirement: found ',', expected: identifier".into()),
        ("!x=a", "found '=', expected: ',' or 'end of string'".into()),
        ("x=a,", "found '', expected: identifier after ','".into()),
        ("x=a,,y", "found ',', expected: identifier after ','".into()),
        ("x=a y=b", "found 'y', expected: ',' or 'end of string'".into()),
        (",x", "found ',', expected: !, identifier, or 'end of string'".into()),
        ("(x)", "found '(', expected: !, identifier, or 'end of string'".into()),
        ("Bad Key=x", "unable to parse requirement: found 'Key', expected: in, notin, =, ==, !=, gt, lt".into()),
        ("-bad=x", format!("unable to parse requirement: <nil>: Invalid value: \"-bad\": {name_part}")),
        ("a/=x", format!("unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; {name_part}")),
        ("Example.com/x=y", "unable to parse requirement: <nil>: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into()),
        ("a/b/c", String::from("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")),
        ("x=-bad-", format!("unable to parse requirement: values[0][x]: Invalid value: \"-bad-\": {value_msg}")),
        ("x in (ok,-no)", format!("unable to parse requirement: values[0][x]: Invalid value: \"-no\": {value_msg}")),
        ("x>y", "unable to parse requirement: values[0]: Invalid value: \"y\": for 'Gt', 'Lt' operators, the value must be an integer".into()),
        ("x<", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer".into()),
        ("x>-y", format!("unable to parse requirement: [values[0]: Invalid value: \"-y\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"-y\": {value_msg}]")),
        (
            long_value.as_str(),
            format!("unable to parse requirement: values[0][x]: Invalid value: \"{}\": must be no more than 63 bytes", "a".repeat(64)),
        ),
    ];
    for (input, want) in &cases {
        assert_eq!(err(input), *want, "{input:?}");
    }
    // A 64-character key name is too long (and only that).
    let long = "k".repeat(64);
    assert_eq!(
        err(&long),
        format!("unable to parse requirement: <nil>: Invalid value: \"{long}\": name part must be no more than 63 bytes")
    );
}

#[test]
fn label_matching() {
    let l = labels(json!({"tier": "web", "env": "prod", "n": "5", "empty": ""}));
    let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
    let yes = [
        "",
        "tier=web",
        "tier==web,env=prod",
        "missing!=x",
        "env in (prod, staging)",
        "missing notin (prod)",
        "tier",
        "!missing",
        "n>4",
        "n<6",
        "tier in (web),!missing,env",
        "empty=",
        "empty",
        "env notin (dev)",
    ];
    let no = [
        "tier!=web",
        "env notin (prod)",
        "!tier",
        "n<4",
        "n>5",
        "missing>1",
        "tier>1",
        "missing",
        "missing=",
        "env in (dev)",
        "tier=web,env=dev",
    ];
    for s in yes {
        assert!(m(s), "{s} should match");
    }
    for s in no {
        assert!(!m(s), "{s} should not match");
    }
    let sel = LabelSelector::parse("a!=b").unwrap();
    assert!(sel.matches_opt(None));
    assert!(LabelSelector::parse("").unwrap().is_empty());
    assert!(!LabelSelector::parse("a").unwrap().is_empty());
}

#[test]
fn label_selector_objects() {
    let s = LabelSelector::from_label_selector_json(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "canary", "operator": "DoesNotExist"}]
    }))
    .unwrap();
    assert_eq!(s.to_string(), "app=web,!canary,tier in (a,b)");
    assert!(s.matches(&labels(json!({"app": "web", "tier": "a"}))));
    assert!(!s.matches(&labels(json!({"app": "web", "tier": "a", "canary": "1"}))));

    let everything = LabelSelector::from_label_selector_json(&json!({})).unwrap();
    assert!(everything.is_empty() && everything.matches(&Map::new()));
    let nothing = LabelSelector::from_label_selector_json(&Value::Null).unwrap();
    assert!(!nothing.is_empty() && !nothing.matches(&labels(json!({"a": "b"}))));
    assert_eq!(nothing.to_string(), "");

    let bad = |v: Value| LabelSelector::from_label_selector_json(&v).unwrap_err().0;
    assert_eq!(
        bad(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
        "\"Gt\" is not a valid label selector operator"
    );
    assert_eq!(
        bad(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})),
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        bad(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
        "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
    );
    assert!(bad(json!({"matchLabels": {"a b": "x"}}))
        .starts_with("key: Invalid value: \"a b\": name part must consist"));
    assert!(bad(json!({"matchLabels": {"a": "x y"}}))
        .starts_with("values[0][a]: Invalid value: \"x y\": a valid label"));
}

#[test]
fn go_quoting_of_bad_values() {
    assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
}

#[test]
fn lexer_keeps_the_longest_operator() {
    let toks: Vec<Tok> = lex("a!=b==c=!d)(").into_iter().map(|(t, _)| t).collect();
    use Tok::*;
    assert_eq!(
        toks,
        [
            Ident,
            NotEquals,
            Ident,
            DoubleEquals,
            Ident,
            Equals,
            DoesNotExist,
            Ident,
            ClosedPar,
            OpenPar,
            End
        ]
    );
    // A NUL byte ends the input.
    assert_eq!(
        LabelSelector::parse("a=b\0garbage(").unwrap().to_string(),
        "a=b"
    );
}

#[test]
fn field_selectors() {
    let f = FieldSelector::parse("status.phase!=Failed,metadata.name=x").unwrap();
    assert_eq!(
        f.requirements(),
        [
            ("metadata.name".to_string(), Op::Eq, "x".to_string()),
            ("status.phase".to_string(), Op::NotEq, "Failed".to_string())
        ]
    );
    assert_eq!(f.to_string(), "metadata.name=x,status.phase!=Failed");
    assert!(f.matches(|k| Some(if k == "metadata.name" { "x" } else { "Running" }.into())));
    assert!(!f.matches(|k| Some(if k == "metadata.name" { "x" } else { "Failed" }.into())));
    // A missing field reads as "": != matches it, = does not.
    assert!(FieldSelector::parse("spec.nodeName!=n1")
        .unwrap()
        .matches(|_| None));
    assert!(!FieldSelector::parse("spec.nodeName=n1")
        .unwrap()
        .matches(|_| None));
    assert!(FieldSelector::parse("spec.nodeName=")
        .unwrap()
        .matches(|_| None));

    let esc = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
    assert_eq!(esc.requirements()[0].2, r"a,b=c\d");
    assert_eq!(esc.to_string(), r"metadata.name=a\,b\=c\\d");
    assert_eq!(
        FieldSelector::parse("a==b").unwrap().requirements()[0],
        ("a".into(), Op::Eq, "b".into())
    );
    // No trimming: the field keeps its spaces (the server then rejects it as unsupported).
    assert_eq!(
        FieldSelector::parse("a = b").unwrap().requirements()[0].0,
        "a "
    );
    assert!(FieldSelector::parse("").unwrap().is_empty());
    assert!(FieldSelector::parse(",,=").unwrap().is_empty());
    assert_eq!(
        FieldSelector::parse("a!=").unwrap().requirements()[0],
        ("a".into(), Op::NotEq, String::new())
    );
}

#[test]
fn field_selector_errors() {
    let e = |s: &str| FieldSelector::parse(s).unwrap_err().0;
    assert_eq!(
        e("nonsense"),
        "invalid selector: 'nonsense'; can't understand 'nonsense'"
    );
    assert_eq!(
        e("a=b,c"),
        "invalid selector: 'a=b,c'; can't understand 'c'"
    );
    assert_eq!(
        e(r"a=b\x"),
        r"invalid field selector: invalid escape sequence: \x"
    );
    assert_eq!(
        e(r"a=b\"),
        r"invalid field selector: invalid escape sequence: \"
    );
    assert_eq!(
        e("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
}
