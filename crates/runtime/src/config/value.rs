//! Layering config sources as `serde_json::Value` trees.
//!
//! Every source is flattened into `(path, value)` entries and set one by one into the merged
//! tree. Setting an object into an object merges it key by key; anything else replaces, so a
//! list in the file replaces the default list instead of appending to it.

use serde_json::{Map, Value};

/// A dotted key split into segments: `server.request_timeout_secs` → `["server", "request_timeout_secs"]`.
pub(crate) type KeyPath = Vec<String>;

pub(crate) fn dotted(path: &[String]) -> String {
    path.join(".")
}

pub(crate) fn parse_dotted(key: &str) -> Option<KeyPath> {
    let path: KeyPath = key.split('.').map(str::to_owned).collect();
    path.iter().all(|s| !s.is_empty()).then_some(path)
}

/// Sets `value` at `path`, creating objects on the way and deep-merging objects.
pub(crate) fn set_path(root: &mut Value, path: &[String], value: Value) {
    let mut node = root;
    for segment in path {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else {
            unreachable!("replaced by an object above")
        };
        node = map.entry(segment.clone()).or_insert(Value::Null);
    }
    merge(node, value);
}

/// Deep merge: objects key by key, everything else replaces.
fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(target), Value::Object(value)) => {
            for (key, value) in value {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, value) => *target = value,
    }
}

/// The value at `path`, if there is one.
pub(crate) fn get_path<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(root, |node, segment| node.get(segment))
}

/// Flattens a file's tree into leaf entries; a non-empty object is never a leaf, an empty one
/// is (so `server: {}` still reaches the type check).
pub(crate) fn leaves(value: Value) -> Vec<(KeyPath, Value)> {
    fn walk(path: &mut KeyPath, value: Value, out: &mut Vec<(KeyPath, Value)>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, value) in map {
                    path.push(key);
                    walk(path, value, out);
                    path.pop();
                }
            }
            value => out.push((path.clone(), value)),
        }
    }
    let mut out = Vec::new();
    walk(&mut Vec::new(), value, &mut out);
    out
}

/// Parses an environment variable's text as a YAML scalar (so `30` is a number and `true` a
/// bool), except where the default at that key is a string: there the text is taken as is,
/// so `FERRY_LISTEN=8080`-like values are not turned into numbers. Anything that is not a
/// scalar (`[a, b]`, `a: b`) stays a string too.
pub(crate) fn env_value(raw: &str, default: Option<&Value>) -> Value {
    if matches!(default, Some(Value::String(_))) {
        return Value::String(raw.to_owned());
    }
    if raw.trim().is_empty() {
        return Value::Null;
    }
    match serde_saphyr::from_str::<Value>(raw) {
        Ok(value @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => value,
        _ => Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(key: &str) -> KeyPath {
        parse_dotted(key).expect("valid key")
    }

    #[test]
    fn set_path_merges_objects_and_replaces_the_rest() {
        let mut root = json!({"server": {"a": 1, "b": 2}, "list": [1, 2]});
        set_path(&mut root, &path("server"), json!({"b": 3}));
        set_path(&mut root, &path("list"), json!([9]));
        set_path(&mut root, &path("new.deep"), json!(true));
        assert_eq!(
            root,
            json!({"server": {"a": 1, "b": 3}, "list": [9], "new": {"deep": true}})
        );
    }

    #[test]
    fn leaves_of_a_tree() {
        let got = leaves(json!({"a": {"b": 1, "c": {}}, "d": [1]}));
        assert_eq!(
            got,
            vec![
                (path("a.b"), json!(1)),
                (path("a.c"), json!({})),
                (path("d"), json!([1])),
            ]
        );
    }

    #[test]
    fn env_values_are_yaml_scalars_unless_the_default_is_a_string() {
        assert_eq!(env_value("30", Some(&json!(10))), json!(30));
        assert_eq!(env_value("false", None), json!(false));
        assert_eq!(env_value("8080", Some(&json!("0.0.0.0:80"))), json!("8080"));
        assert_eq!(env_value("[::1]:80", None), json!("[::1]:80"));
        assert_eq!(env_value("a: b", None), json!("a: b"));
        assert_eq!(env_value("", Some(&Value::Null)), Value::Null);
    }

    #[test]
    fn bad_dotted_keys() {
        assert_eq!(parse_dotted("a..b"), None);
        assert_eq!(parse_dotted(""), None);
    }
}
