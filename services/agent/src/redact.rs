//! Hook output may carry secrets (a script that echoes its environment, a tool that prints a
//! connection string). Every line is redacted before it reaches any sink — the live stream,
//! the log files on the host, the diagnostics tail — so a secret never leaves the script's
//! pipe in clear. The default patterns catch the common shapes; `redact.patterns` adds more.

use std::borrow::Cow;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::output::{OutputSink, Stream};

/// What replaces a secret.
pub const MASK: &str = "****";

/// `key=value` and `key: value` for keys that name secrets; AWS access key ids; ferry
/// instance credentials; HTTP Authorization values.
const DEFAULT_PATTERNS: &[&str] = &[
    r#"(?i)\b\w*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key)\b["']?\s*[=:]\s*["']?(?P<secret>[^\s"',;]+)"#,
    r"\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b",
    r"(?P<secret>ferry_ic_[A-Za-z0-9_\-]+)",
    r"(?i)\bauthorization:\s*(?:bearer|basic|token)\s+(?P<secret>\S+)",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Apply the built-in patterns.
    pub defaults: bool,
    /// More regular expressions. A match is replaced by `****`; when a pattern has a group
    /// named `secret`, only that group is.
    pub patterns: Vec<String>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self {
            defaults: true,
            patterns: Vec::new(),
        }
    }
}

impl RedactConfig {
    /// A message naming the first pattern that does not compile.
    pub fn validate(&self) -> Result<(), String> {
        for (i, pattern) in self.patterns.iter().enumerate() {
            Regex::new(pattern).map_err(|e| {
                format!("redact.patterns[{i}] is not a valid regular expression: {e}")
            })?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    patterns: Vec<Regex>,
}

impl Redactor {
    /// The configured patterns; one that does not compile is skipped (config validation
    /// reports it before the agent starts).
    pub fn new(config: &RedactConfig) -> Self {
        let defaults = DEFAULT_PATTERNS.iter().filter(|_| config.defaults).copied();
        let extra = config.patterns.iter().map(String::as_str);
        Self {
            patterns: defaults
                .chain(extra)
                .filter_map(|p| Regex::new(p).ok())
                .collect(),
        }
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for pattern in &self.patterns {
            if !pattern.is_match(&out) {
                continue;
            }
            let replaced = pattern.replace_all(&out, |caps: &regex::Captures<'_>| {
                let Some(whole) = caps.get(0) else {
                    return String::new();
                };
                match caps.name("secret") {
                    Some(secret) => {
                        let start = secret.start() - whole.start();
                        let end = secret.end() - whole.start();
                        let text = whole.as_str();
                        format!("{}{MASK}{}", &text[..start], &text[end..])
                    }
                    None => MASK.to_owned(),
                }
            });
            out = Cow::Owned(replaced.into_owned());
        }
        out
    }
}

/// A sink that redacts each line, then passes it on.
pub struct Redacting<'a> {
    pub redactor: &'a Redactor,
    pub inner: &'a dyn OutputSink,
}

impl OutputSink for Redacting<'_> {
    fn line(&self, script: &str, stream: Stream, text: &str) {
        self.inner.line(script, stream, &self.redactor.redact(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_patterns_mask_the_secret_and_keep_the_context() {
        let redactor = Redactor::new(&RedactConfig::default());
        let cases = [
            ("DB_PASSWORD=hunter2 next", "DB_PASSWORD=**** next"),
            ("password: 's3cr3t'", "password: '****'"),
            ("api_key=abc123;", "api_key=****;"),
            ("key AKIAIOSFODNN7EXAMPLE used", "key **** used"),
            ("cred ferry_ic_AbC-123_x", "cred ****"),
            (
                "Authorization: Bearer eyJhbGciOi",
                "Authorization: Bearer ****",
            ),
            ("nothing to hide here", "nothing to hide here"),
            ("tokens are counted: 12", "tokens are counted: 12"),
        ];
        for (input, expected) in cases {
            assert_eq!(redactor.redact(input), expected, "{input}");
        }
    }

    #[test]
    fn extra_patterns_and_disabled_defaults() {
        let config = RedactConfig {
            defaults: false,
            patterns: vec![
                r"card \d{4}-(?P<secret>\d{4})".into(),
                r"internal-\w+".into(),
            ],
        };
        assert!(config.validate().is_ok());
        let redactor = Redactor::new(&config);
        assert_eq!(redactor.redact("card 1234-5678"), "card 1234-****");
        assert_eq!(redactor.redact("host internal-db1"), "host ****");
        assert_eq!(redactor.redact("password=x"), "password=x");
        let bad = RedactConfig {
            defaults: true,
            patterns: vec!["(".into()],
        };
        assert!(bad.validate().unwrap_err().contains("redact.patterns[0]"));
    }
}
