//! The AWS CLI's shorthand syntax for structure values, read into untyped JSON:
//! `revisionType=S3,s3Location={bucket=b,key=k,bundleType=zip}`, lists as `events=A,B` (a
//! comma not followed by `key=` continues a list) or `events=[A,B]`, `tagFilters=[{Key=k}]`,
//! `'…'` or `"…"` quoting (`\"`, `\'` and `\\` escaped inside) and `\,` escapes outside quotes.
//! Every scalar stays a string; the message's descriptor decides later whether it is a number,
//! a boolean or an enum value (`input`), as the AWS CLI lets the operation's model decide.

use serde_json::{Map, Value};

/// `input` (the whole flag value) as a JSON object of its `key=value` pairs.
pub fn parse(input: &str) -> Result<Map<String, Value>, String> {
    let mut parser = Parser {
        chars: input.chars().collect(),
        pos: 0,
    };
    let map = parser.keyvals(None)?;
    parser.skip_whitespace();
    match parser.peek() {
        None => Ok(map),
        Some(c) => Err(parser.error(&format!("unexpected {c:?}"))),
    }
}

/// Characters a key is made of (the AWS CLI's set).
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '#' | '/' | ':')
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at character {} of the shorthand", self.pos + 1)
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {c:?}")))
        }
    }

    /// `key=values` pairs separated by commas, up to the end or `closing` (not consumed).
    fn keyvals(&mut self, closing: Option<char>) -> Result<Map<String, Value>, String> {
        let mut map = Map::new();
        loop {
            self.skip_whitespace();
            let start = self.pos;
            while self.peek().is_some_and(is_key_char) {
                self.pos += 1;
            }
            if start == self.pos {
                return Err(self.error("expected a key (Key=value)"));
            }
            let key: String = self.chars[start..self.pos].iter().collect();
            self.expect('=')?;
            let value = self.values(closing)?;
            if map.insert(key.clone(), value).is_some() {
                return Err(format!("{key} is given twice in the shorthand"));
            }
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                c if c == closing => return Ok(map),
                Some(c) => return Err(self.error(&format!("unexpected {c:?}"))),
                None => return Err(self.error(&format!("missing {:?}", closing.unwrap_or(',')))),
            }
        }
    }

    /// What follows `key=`: one value, or several separated by commas (a list, as
    /// `events=A,B` or `alarms={name=a},{name=b}`) up to the next `key=`.
    fn values(&mut self, closing: Option<char>) -> Result<Value, String> {
        let mut items = vec![self.value(closing)?];
        loop {
            self.skip_whitespace();
            if self.peek() != Some(',') || self.keyval_at(self.pos + 1) {
                break;
            }
            self.pos += 1;
            self.skip_whitespace();
            if matches!(self.peek(), None | Some(',')) || self.peek() == closing {
                return Err(self.error("expected a value after ','"));
            }
            items.push(self.value(closing)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Value::Array(items)
        })
    }

    /// One value: a list, a structure or a scalar ending at a comma or `closing`.
    fn value(&mut self, closing: Option<char>) -> Result<Value, String> {
        self.skip_whitespace();
        match self.peek() {
            Some('[') => self.list(),
            Some('{') => self.structure(),
            _ => self.scalar(closing),
        }
    }

    /// Whether `key=` starts at `pos` (after whitespace).
    fn keyval_at(&self, mut pos: usize) -> bool {
        while self.chars.get(pos).is_some_and(|c| c.is_whitespace()) {
            pos += 1;
        }
        let start = pos;
        while self.chars.get(pos).copied().is_some_and(is_key_char) {
            pos += 1;
        }
        while self.chars.get(pos).is_some_and(|c| c.is_whitespace()) {
            pos += 1;
        }
        pos > start && self.chars.get(pos) == Some(&'=')
    }

    /// `[a,b,{k=v},[c]]`.
    fn list(&mut self) -> Result<Value, String> {
        self.expect('[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(Some(']'))?);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in a list")),
            }
        }
    }

    /// `{k=v,…}`.
    fn structure(&mut self) -> Result<Value, String> {
        self.expect('{')?;
        self.skip_whitespace();
        let map = if self.peek() == Some('}') {
            Map::new()
        } else {
            self.keyvals(Some('}'))?
        };
        self.expect('}')?;
        Ok(Value::Object(map))
    }

    /// A quoted string, or the text up to an unescaped comma (or `closing`), trimmed.
    fn scalar(&mut self, closing: Option<char>) -> Result<Value, String> {
        self.skip_whitespace();
        if let Some(quote @ ('"' | '\'')) = self.peek() {
            self.pos += 1;
            let mut text = String::new();
            loop {
                match self.peek() {
                    None => return Err(self.error(&format!("unterminated {quote} quote"))),
                    Some('\\')
                        if self
                            .chars
                            .get(self.pos + 1)
                            .is_some_and(|&next| next == quote || next == '\\') =>
                    {
                        text.push(self.chars[self.pos + 1]);
                        self.pos += 2;
                    }
                    Some(c) if c == quote => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        text.push(c);
                        self.pos += 1;
                    }
                }
            }
            self.skip_whitespace();
            return Ok(Value::String(text));
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c == ',' || Some(c) == closing {
                break;
            }
            if c == '\\'
                && let Some(&next) = self.chars.get(self.pos + 1)
                && (next == ',' || next == '\\' || Some(next) == closing)
            {
                text.push(next);
                self.pos += 2;
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        Ok(Value::String(text.trim().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shorthand(input: &str) -> Value {
        Value::Object(parse(input).unwrap_or_else(|e| panic!("{input}: {e}")))
    }

    #[test]
    fn reads_flat_pairs_as_strings() {
        assert_eq!(
            shorthand("Key=ferry-up,Value=local,Type=KEY_AND_VALUE"),
            json!({"Key": "ferry-up", "Value": "local", "Type": "KEY_AND_VALUE"})
        );
        assert_eq!(
            shorthand("type=FLEET_PERCENT, value=75"),
            json!({"type": "FLEET_PERCENT", "value": "75"})
        );
        assert_eq!(shorthand("Key=k,Value="), json!({"Key": "k", "Value": ""}));
    }

    #[test]
    fn comma_separated_values_without_a_key_make_a_list() {
        assert_eq!(
            shorthand("enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM"),
            json!({"enabled": "true", "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]})
        );
        assert_eq!(
            shorthand("events=[DEPLOYMENT_FAILURE],enabled=true"),
            json!({"events": ["DEPLOYMENT_FAILURE"], "enabled": "true"})
        );
    }

    #[test]
    fn reads_nested_structures_and_lists() {
        assert_eq!(
            shorthand(
                "ec2TagSetList=[[{Key=a,Value=b,Type=KEY_AND_VALUE}],[{Key=c,Type=KEY_ONLY}]]"
            ),
            json!({"ec2TagSetList": [
                [{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}],
                [{"Key": "c", "Type": "KEY_ONLY"}],
            ]})
        );
        assert_eq!(
            shorthand("deploymentReadyOption={actionOnTimeout=CONTINUE_DEPLOYMENT},x={}"),
            json!({"deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"}, "x": {}})
        );
    }

    #[test]
    fn reads_nested_structures_lists_and_quotes() {
        assert_eq!(
            shorthand("revisionType=S3,s3Location={bucket=b,key=k/v.zip,bundleType=zip}"),
            json!({"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k/v.zip", "bundleType": "zip"}})
        );
        assert_eq!(
            shorthand("enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_REQUEST"),
            json!({"enabled": "true", "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]})
        );
        assert_eq!(
            shorthand("tagFilters=[{Key=k,Value=v,Type=KEY_AND_VALUE},{Key=x}]"),
            json!({"tagFilters": [{"Key": "k", "Value": "v", "Type": "KEY_AND_VALUE"}, {"Key": "x"}]})
        );
        assert_eq!(
            shorthand("description=\"a, b\",start=2024-01-02T03:04:05Z"),
            json!({"description": "a, b", "start": "2024-01-02T03:04:05Z"})
        );
    }

    #[test]
    fn structures_separated_by_commas_make_a_list() {
        assert_eq!(
            shorthand("enabled=true,alarms={name=a},{name=b}"),
            json!({"enabled": "true", "alarms": [{"name": "a"}, {"name": "b"}]})
        );
    }

    #[test]
    fn quotes_and_escapes_keep_commas_and_equals_signs() {
        assert_eq!(
            shorthand(
                r#"triggerTargetArn=https://hooks.example/x?a=b,Value="a,b",Other='c\'d',E=x\,y"#
            ),
            json!({"triggerTargetArn": "https://hooks.example/x?a=b", "Value": "a,b", "Other": "c'd", "E": "x,y"})
        );
        assert_eq!(
            shorthand(r#"a="C:\dir\\",b='\"'"#),
            json!({"a": r"C:\dir\", "b": r#"\""#})
        );
    }

    #[test]
    fn malformed_shorthand_is_reported() {
        for bad in [
            "Key",
            "=v",
            "Key=a,,",
            "a={b=c",
            "a=[b",
            "Key=a,Key=b",
            "a='b",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn refuses_what_is_not_shorthand() {
        assert!(parse("just-a-word").is_err());
        assert!(parse("a={b=c").is_err());
        assert!(parse("a=1,a=2").is_err());
        assert!(parse("a=\"open").is_err());
    }
}
