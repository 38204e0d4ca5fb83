//! Values from an OpenAPI 3.1 document's schemas, for the contract test:
//! a base value that the schema allows, the boundary values it allows
//! (every enum value, minimum and maximum, the shortest and the longest
//! string its pattern and lengths allow, both booleans), and values it
//! refuses (below the minimum, above the maximum, one character too many,
//! a pattern broken, a value outside the enum, the wrong JSON type).
//!
//! Patterns are generated from, and every generated string is checked
//! against the pattern with a real regex engine, so a generator mistake
//! fails the test instead of testing the wrong thing. The generator knows
//! the pattern syntax the document uses: literals, `.`, classes with
//! ranges, groups with alternatives, and the quantifiers `? * + {n}
//! {m,n}`.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use regex_automata::meta::Regex;
use serde_json::{Map, Value, json};

/// A document and what the generator needs to know besides it.
pub struct Gen<'a> {
    pub doc: &'a Value,
    /// The time date-time values are generated around (the server's now).
    pub now: DateTime<Utc>,
}

/// How many times an unbounded repetition (`*`, `+`) repeats at most.
const UNBOUNDED: usize = 12;

impl<'a> Gen<'a> {
    /// The schema a `$ref` names, followed until it is not a reference;
    /// an optional value (`oneOf: [X, {type: null}]`, `type: [t, null]`)
    /// as X.
    pub fn resolve(&self, mut s: &'a Value) -> &'a Value {
        'resolve: loop {
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/components/schemas/");
                s = &self.doc["components"]["schemas"][name];
                continue;
            }
            for key in ["oneOf", "anyOf"] {
                if let Some(alts) = s.get(key).and_then(Value::as_array) {
                    let non_null: Vec<&Value> = alts
                        .iter()
                        .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                        .collect();
                    if non_null.len() == 1 {
                        s = non_null[0];
                        continue 'resolve;
                    }
                }
            }
            if let Some(all) = s.get("allOf").and_then(Value::as_array)
                && all.len() == 1
            {
                s = &all[0];
                continue;
            }
            return s;
        }
    }

    /// The JSON type of a (resolved) schema, `null` left out.
    pub fn ty(s: &Value) -> Option<&str> {
        match s.get("type") {
            Some(Value::String(t)) => Some(t),
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
            _ if s.get("enum").is_some() => Some("string"),
            _ if s.get("properties").is_some() => Some("object"),
            _ => None,
        }
    }

    fn example(s: &Value) -> Option<Value> {
        s.get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first().cloned())
            .or_else(|| s.get("example").cloned())
    }

    fn date_time(&self) -> Value {
        json!((self.now + chrono::TimeDelta::days(1)).to_rfc3339())
    }

    /// A value the schema allows: its example, else the first enum value,
    /// the minimum, the shortest string, and for an object its required
    /// properties.
    pub fn base(&self, schema: &'a Value) -> Value {
        let s = self.resolve(schema);
        // An example on the reference (a property's) wins over the target's.
        if let Some(e) = Self::example(schema).or_else(|| Self::example(s)) {
            return e;
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return e[0].clone();
        }
        match Self::ty(s) {
            Some("string") => self.strings(s).0,
            Some("integer") | Some("number") => {
                let min = s.get("minimum").and_then(Value::as_i64).unwrap_or(1);
                json!(min)
            }
            Some("boolean") => json!(true),
            Some("array") => self.array(s),
            Some("object") => {
                let mut out = Map::new();
                for name in required(s) {
                    out.insert(name.clone(), self.base(&s["properties"][&name]));
                }
                Value::Object(out)
            }
            _ => json!({}),
        }
    }

    /// An array the schema allows: every value of an enum of items (so a
    /// rule such as "must name the mandatory ones" holds), else one item,
    /// repeated up to `minItems`.
    fn array(&self, s: &'a Value) -> Value {
        let items = self.resolve(&s["items"]);
        if let Some(e) = items.get("enum").and_then(Value::as_array) {
            return Value::Array(e.clone());
        }
        let n = s
            .get("minItems")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1) as usize;
        Value::Array(vec![self.base(&s["items"]); n])
    }

    /// The boundary values a schema allows.
    pub fn boundaries(&self, schema: &'a Value) -> Vec<Value> {
        let s = self.resolve(schema);
        if Self::example(schema).or_else(|| Self::example(s)).is_some() {
            return vec![self.base(schema)];
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return e.clone();
        }
        match Self::ty(s) {
            Some("string") => {
                if s.get("format").and_then(Value::as_str) == Some("date-time") {
                    return vec![self.date_time()];
                }
                let (short, long) = self.strings(s);
                let mut out = vec![short.clone()];
                if long != short {
                    out.push(long);
                }
                // Without a pattern, any characters: a server that refuses
                // some should have declared which it takes.
                let max = s
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                let odd = "a b-é.@_~";
                if s.get("pattern").is_none() && max >= odd.chars().count() as u64 {
                    out.push(json!(odd));
                }
                out
            }
            Some("integer") | Some("number") => {
                // Without a declared bound, the bound of the format: a
                // server that refuses it should have declared its own.
                let int32 = s.get("format").and_then(Value::as_str) == Some("int32");
                let mut out = vec![self.base(s)];
                out.push(match s.get("maximum").and_then(Value::as_i64) {
                    Some(max) => json!(max),
                    None if int32 => json!(i32::MAX),
                    None => json!(i64::MAX),
                });
                if s.get("minimum").is_none() {
                    out.push(if int32 {
                        json!(i32::MIN)
                    } else {
                        json!(i64::MIN)
                    });
                }
                out
            }
            Some("boolean") => vec![json!(true), json!(false)],
            _ => vec![self.base(schema)],
        }
    }

    /// Values the schema refuses (the server must answer them with a
    /// status the document declares; it need not refuse each).
    pub fn invalids(&self, schema: &'a Value) -> Vec<Value> {
        let s = self.resolve(schema);
        if s.get("enum").is_some() {
            return vec![json!("no-such-value"), json!(7)];
        }
        match Self::ty(s) {
            Some("string") => {
                if s.get("format").and_then(Value::as_str) == Some("date-time") {
                    return vec![json!("not-a-time"), json!(7)];
                }
                let mut out = vec![json!(7)];
                let (short, long) = self.strings(s);
                let short = short.as_str().unwrap_or_default().to_owned();
                let long = long.as_str().unwrap_or_default().to_owned();
                if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                    let broken = format!(
                        "!{}",
                        &short[short.chars().next().map_or(0, char::len_utf8)..]
                    );
                    if !matches(p, &broken) {
                        out.push(json!(broken));
                    }
                    out.push(json!(format!("{short} x")));
                }
                if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
                    let last = long.chars().last().unwrap_or('a');
                    let mut too_long = long.clone();
                    while too_long.chars().count() <= max as usize {
                        too_long.push(last);
                    }
                    out.push(json!(too_long));
                }
                if s.get("minLength").and_then(Value::as_u64).unwrap_or(0) > 0 {
                    out.push(json!(""));
                }
                out
            }
            Some("integer") | Some("number") => {
                let mut out = vec![json!("x")];
                if let Some(min) = s.get("minimum").and_then(Value::as_i64) {
                    out.push(json!(min - 1));
                }
                match s.get("maximum").and_then(Value::as_i64) {
                    Some(max) => out.push(json!(max + 1)),
                    None if s.get("format").and_then(Value::as_str) == Some("int32") => {
                        out.push(json!(1_i64 << 31))
                    }
                    None => out.push(json!(u64::MAX)),
                }
                out
            }
            Some("boolean") => vec![json!("maybe")],
            Some("array") => vec![json!("x")],
            Some("object") => vec![json!("x"), json!([])],
            _ => vec![],
        }
    }

    /// The shortest and the longest string the schema allows.
    fn strings(&self, s: &Value) -> (Value, Value) {
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        if s.get("format").and_then(Value::as_str) == Some("date-time") {
            let t = self.date_time();
            return (t.clone(), t);
        }
        let Some(pattern) = s.get("pattern").and_then(Value::as_str) else {
            // Without a declared length, a long one.
            let short = "a".repeat(min.max(1));
            let long = "a".repeat(max.unwrap_or(256).max(min.max(1)));
            return (json!(short), json!(long));
        };
        let re = parse(pattern);
        let short = generate(&re, Want::Short);
        let long = generate(&re, Want::Long);
        let fit = |mut v: String| {
            if let Some(max) = max {
                while v.chars().count() > max {
                    v.pop();
                }
            }
            v
        };
        let (short, long) = (fit(short), fit(long));
        for v in [&short, &long] {
            let n = v.chars().count();
            assert!(
                matches(pattern, v) && n >= min && max.is_none_or(|m| n <= m),
                "the generator made {v:?} for pattern {pattern:?} (length {min}..{max:?}): fix the generator"
            );
        }
        (json!(short), json!(long))
    }
}

/// The required property names of an object schema.
pub fn required(s: &Value) -> Vec<String> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `text` matches the ECMA-262 `pattern` (the document's patterns
/// are in the subset both dialects share).
pub fn matches(pattern: &str, text: &str) -> bool {
    Regex::new(pattern)
        .unwrap_or_else(|e| panic!("pattern {pattern:?} does not compile: {e}"))
        .is_match(text)
}

// ------------------------------------------------------------- patterns

#[derive(Debug, Clone)]
enum Node {
    /// One character of these (a literal, a class or `.`).
    Chars(Vec<char>),
    /// Alternatives, each a sequence.
    Group(Vec<Vec<Piece>>),
}

#[derive(Debug, Clone)]
struct Piece {
    node: Node,
    min: usize,
    max: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Want {
    Short,
    Long,
}

fn parse(pattern: &str) -> Vec<Vec<Piece>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let alts = parse_alts(&chars, &mut i);
    assert_eq!(i, chars.len(), "unbalanced pattern {pattern:?}");
    alts
}

fn parse_alts(c: &[char], i: &mut usize) -> Vec<Vec<Piece>> {
    let mut alts = vec![Vec::new()];
    while *i < c.len() {
        let node = match c[*i] {
            '^' | '$' => {
                *i += 1;
                continue;
            }
            ')' => break,
            '|' => {
                *i += 1;
                alts.push(Vec::new());
                continue;
            }
            '(' => {
                *i += 1;
                let inner = parse_alts(c, i);
                assert_eq!(c.get(*i), Some(&')'));
                *i += 1;
                Node::Group(inner)
            }
            '[' => {
                *i += 1;
                let mut set = Vec::new();
                while c[*i] != ']' {
                    let mut ch = c[*i];
                    if ch == '\\' {
                        *i += 1;
                        ch = c[*i];
                    }
                    if c.get(*i + 1) == Some(&'-') && c.get(*i + 2).is_some_and(|e| *e != ']') {
                        let end = c[*i + 2];
                        set.extend(ch..=end);
                        *i += 3;
                    } else {
                        set.push(ch);
                        *i += 1;
                    }
                }
                *i += 1;
                Node::Chars(set)
            }
            '.' => {
                *i += 1;
                Node::Chars(vec!['a'])
            }
            '\\' => {
                *i += 2;
                Node::Chars(vec![c[*i - 1]])
            }
            ch => {
                *i += 1;
                Node::Chars(vec![ch])
            }
        };
        let (min, max) = match c.get(*i) {
            Some('?') => (0, 1),
            Some('*') => (0, UNBOUNDED),
            Some('+') => (1, UNBOUNDED),
            Some('{') => {
                let end = c[*i..]
                    .iter()
                    .position(|x| *x == '}')
                    .expect("closing brace")
                    + *i;
                let body: String = c[*i + 1..end].iter().collect();
                let (lo, hi) = match body.split_once(',') {
                    Some((lo, "")) => (lo.parse().expect("number"), UNBOUNDED),
                    Some((lo, hi)) => (lo.parse().expect("number"), hi.parse().expect("number")),
                    None => {
                        let n = body.parse().expect("number");
                        (n, n)
                    }
                };
                *i = end;
                (lo, hi)
            }
            _ => (1, 1),
        };
        if min != 1 || max != 1 {
            *i += 1;
        }
        alts.last_mut()
            .expect("an alternative")
            .push(Piece { node, min, max });
    }
    alts
}

fn generate(alts: &[Vec<Piece>], want: Want) -> String {
    let options = alts.iter().map(|seq| {
        seq.iter()
            .map(|p| {
                let n = if want == Want::Short { p.min } else { p.max };
                let one = match &p.node {
                    Node::Chars(set) => set[0].to_string(),
                    Node::Group(inner) => generate(inner, want),
                };
                one.repeat(n)
            })
            .collect::<String>()
    });
    let options: Vec<String> = options.collect();
    let pick = match want {
        Want::Short => options.iter().min_by_key(|s| s.chars().count()),
        Want::Long => options.iter().max_by_key(|s| s.chars().count()),
    };
    pick.cloned().unwrap_or_default()
}

#[test]
fn patterns_make_matching_strings() {
    for p in [
        "^[A-Za-z][A-Za-z0-9-]{1,49}$",
        "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,149}$",
        "^[A-Za-z0-9._@-]{1,64}$",
        "^(original|/.*)$",
        "^([01][0-9]|2[0-3]):[0-5][0-9]$",
        "^/",
    ] {
        let re = parse(p);
        for w in [Want::Short, Want::Long] {
            let s = generate(&re, w);
            assert!(matches(p, &s), "{p} {s}");
        }
    }
    assert_eq!(
        generate(&parse("^[A-Za-z][A-Za-z0-9-]{1,49}$"), Want::Long).len(),
        50
    );
}
