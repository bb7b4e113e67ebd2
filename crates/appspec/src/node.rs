//! A loosely typed tree of the document with the line (and source text) of every node.
//!
//! serde-saphyr parses YAML (and so JSON, a subset of YAML 1.2) into this tree through its
//! `Spanned` wrapper, which gives each node its line and byte span. Duplicate keys are passed
//! through, so that the validator can report them with their paths like any other problem.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::problem::Problem;

/// The syntax of an AppSpec text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// JSON when the first significant character opens an object or array, else YAML.
    pub fn sniff(text: &str) -> Self {
        match text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .chars()
            .next()
        {
            Some('{' | '[') => Self::Json,
            _ => Self::Yaml,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub value: Value,
    pub line: Option<u32>,
    /// The scalar as written (with quotes, if any), when the parser gave its span.
    pub raw: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// True when the scalar was written in quotes.
    pub fn quoted(&self) -> bool {
        self.raw
            .as_deref()
            .is_some_and(|r| r.starts_with(['"', '\'']))
    }

    /// A scalar as text: strings as they are, numbers and booleans as written.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                Some(self.raw.clone().unwrap_or_else(|| self.value.to_string()))
            }
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// What kind of value this is, for messages ("a list", "a number", …).
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Seq(_) => f.write_str("[…]"),
            Self::Map(_) => f.write_str("{…}"),
        }
    }
}

/// Parse `text` in `format`; a syntax error comes back as one located problem.
pub(crate) fn parse(text: &str, format: Format) -> Result<Node, Problem> {
    if format == Format::Json {
        // serde_json's messages speak JSON ("trailing comma", "EOF while parsing an object")
        // where YAML would accept or word things differently.
        if let Err(e) = serde_json::from_str::<serde_json::Value>(text) {
            let line = u32::try_from(e.line()).ok().filter(|l| *l > 0);
            let msg = strip_position(&e.to_string());
            return Err(Problem::error(
                "",
                line,
                format!(
                    "invalid JSON: {msg} (column {}); fix the syntax and validate again",
                    e.column()
                ),
            ));
        }
    }
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    match serde_saphyr::from_str_with_options::<Raw>(text, options) {
        Ok(raw) => Ok(raw.into_node(text)),
        Err(e) if format == Format::Json => {
            // Valid JSON that the YAML parser refuses (rare): keep the tree, lose the lines.
            serde_json::from_str::<serde_json::Value>(text)
                .map(|v| from_json(&v))
                .map_err(|_| {
                    Problem::error(
                        "",
                        None,
                        format!("cannot read this JSON as an AppSpec: {e}"),
                    )
                })
        }
        Err(e) => Err(yaml_error(&e)),
    }
}

fn yaml_error(e: &serde_saphyr::Error) -> Problem {
    let location = e.location().filter(|l| l.line() > 0);
    let line = location.and_then(|l| u32::try_from(l.line()).ok());
    let text = e.to_string();
    let msg = if text.contains("multiple YAML documents") {
        "the file holds more than one YAML document (a second `---`); an AppSpec is a single \
         document"
            .to_owned()
    } else {
        let column = location
            .map(|l| format!(" (column {})", l.column()))
            .unwrap_or_default();
        format!(
            "invalid YAML: {}{column}; fix the syntax and validate again",
            strip_position(&text)
        )
    };
    Problem::error("", line, msg)
}

/// Drop a trailing " at line N, column M" that the location already carries.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn from_json(v: &serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_i64()
            .map(|i| Value::Int(i.into()))
            .or_else(|| n.as_u64().map(|u| Value::Int(u.into())))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        J::String(s) => Value::Str(s.clone()),
        J::Array(items) => Value::Seq(items.iter().map(from_json).collect()),
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        Node {
                            value: Value::Str(k.clone()),
                            line: None,
                            raw: None,
                        },
                        from_json(v),
                    )
                })
                .collect(),
        ),
    };
    Node {
        value,
        line: None,
        raw: None,
    }
}

/// The tree as deserialized, with byte spans still to be turned into source text.
struct Raw {
    value: RawValue,
    line: u64,
    span: Option<(u64, u64)>,
}

enum RawValue {
    Scalar(Value),
    Seq(Vec<Raw>),
    Map(Vec<(Raw, Raw)>),
}

impl Raw {
    fn into_node(self, text: &str) -> Node {
        let line = u32::try_from(self.line).ok().filter(|l| *l > 0);
        let (value, raw) = match self.value {
            RawValue::Scalar(v) => {
                let raw = self.span.and_then(|(off, len)| {
                    let start = usize::try_from(off).ok()?;
                    let end = start.checked_add(usize::try_from(len).ok()?)?;
                    text.get(start..end).map(str::to_owned)
                });
                (v, raw)
            }
            RawValue::Seq(items) => (
                Value::Seq(items.into_iter().map(|n| n.into_node(text)).collect()),
                None,
            ),
            RawValue::Map(entries) => (
                Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.into_node(text), v.into_node(text)))
                        .collect(),
                ),
                None,
            ),
        };
        Node { value, line, raw }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned: Spanned<RawValue> = Spanned::deserialize(deserializer)?;
        let span = spanned.referenced.span();
        Ok(Self {
            value: spanned.value,
            line: spanned.referenced.line(),
            span: span.byte_offset().zip(span.byte_len()),
        })
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Int(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Int(v.into())))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Int(v)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(
            i128::try_from(v).map_or(Value::Float(v as f64), Value::Int),
        ))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Str(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Scalar(Value::Str(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(RawValue::Map(entries))
    }
}
