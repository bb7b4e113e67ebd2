//! The AWS CLI's shorthand syntax, read into a JSON tree of strings, lists and structures:
//! `revisionType=S3,s3Location={bucket=b,key=k,bundleType=zip}`, `events=A,B` (a comma not
//! followed by `name=` continues a list), `tagFilters=[{Key=k,Value=v}]`, and quoted values
//! (`description="a, b"`). Types (booleans, numbers, enums) are the caller's business: it
//! knows the message the structure is read into.

use serde_json::{Map, Value};

/// Reads `text` (the whole flag value) as shorthand.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let members = parser.members(None)?;
    match parser.peek() {
        None => Ok(Value::Object(members)),
        Some(c) => Err(format!(
            "unexpected {c:?} at position {} of the shorthand",
            parser.pos + 1
        )),
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Whether `name=` starts at the current position.
    fn name_follows(&self) -> bool {
        let mut i = self.pos;
        while self.chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let start = i;
        while self.chars.get(i).copied().is_some_and(is_name_char) {
            i += 1;
        }
        i > start && self.chars.get(i) == Some(&'=')
    }

    /// `name=value[,value…]` members up to `close` (`}`) or the end.
    fn members(&mut self, close: Option<char>) -> Result<Map<String, Value>, String> {
        let mut members = Map::new();
        self.skip_spaces();
        if close.is_some() && self.peek() == close {
            return Ok(members);
        }
        loop {
            if !self.name_follows() {
                return Err(format!(
                    "expected name=value at position {} of the shorthand",
                    self.pos + 1
                ));
            }
            self.skip_spaces();
            let start = self.pos;
            while self.peek().is_some_and(is_name_char) {
                self.pos += 1;
            }
            let name: String = self.chars[start..self.pos].iter().collect();
            self.pos += 1; // '='
            let stops: &[char] = if close.is_some() { &[',', '}'] } else { &[','] };
            let mut values = vec![self.value(stops)?];
            let mut another_member = false;
            while self.peek() == Some(',') {
                self.pos += 1;
                if self.name_follows() {
                    another_member = true;
                    break;
                }
                values.push(self.value(stops)?);
            }
            let value = if values.len() == 1 {
                values.remove(0)
            } else {
                Value::Array(values)
            };
            if members.insert(name.clone(), value).is_some() {
                return Err(format!("{name} is given twice in the shorthand"));
            }
            if !another_member {
                return Ok(members);
            }
        }
    }

    /// One value: `{…}`, `[…]`, a quoted string, or the text up to one of `stops`.
    fn value(&mut self, stops: &[char]) -> Result<Value, String> {
        self.skip_spaces();
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let members = self.members(Some('}'))?;
                self.expect('}')?;
                Ok(Value::Object(members))
            }
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_spaces();
                if self.peek() != Some(']') {
                    loop {
                        items.push(self.value(&[',', ']'])?);
                        if self.peek() == Some(',') {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                }
                self.expect(']')?;
                Ok(Value::Array(items))
            }
            Some(quote @ ('"' | '\'')) => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        None => return Err("a quoted value is not closed".to_owned()),
                        Some('\\') => {
                            self.pos += 1;
                            if let Some(c) = self.peek() {
                                text.push(c);
                                self.pos += 1;
                            }
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
                self.skip_spaces();
                Ok(Value::String(text))
            }
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|c| !stops.contains(&c)) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                Ok(Value::String(text.trim().to_owned()))
            }
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_spaces();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_spaces();
            Ok(())
        } else {
            Err(format!(
                "expected {c:?} at position {} of the shorthand",
                self.pos + 1
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_nested_structures_lists_and_quotes() {
        assert_eq!(
            parse("revisionType=S3,s3Location={bucket=b,key=k/v.zip,bundleType=zip}").unwrap(),
            json!({"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k/v.zip", "bundleType": "zip"}})
        );
        assert_eq!(
            parse("enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_REQUEST").unwrap(),
            json!({"enabled": "true", "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]})
        );
        assert_eq!(
            parse("tagFilters=[{Key=k,Value=v,Type=KEY_AND_VALUE},{Key=x}]").unwrap(),
            json!({"tagFilters": [{"Key": "k", "Value": "v", "Type": "KEY_AND_VALUE"}, {"Key": "x"}]})
        );
        assert_eq!(
            parse("description=\"a, b\",start=2024-01-02T03:04:05Z").unwrap(),
            json!({"description": "a, b", "start": "2024-01-02T03:04:05Z"})
        );
    }

    #[test]
    fn refuses_what_is_not_shorthand() {
        assert!(parse("just-a-word").is_err());
        assert!(parse("a={b=c").is_err());
        assert!(parse("a=1,a=2").is_err());
        assert!(parse("a=\"open").is_err());
    }
}
