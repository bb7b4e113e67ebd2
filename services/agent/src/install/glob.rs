//! The globs of `pattern` and `except`, matched against a `/`-separated relative path.

/// True when `path` matches `pattern`: `*` is any run of characters and `?` any one
/// character, both within a path segment; a `**` segment is any number of segments (none
/// included). Empty segments (`a//b`, a trailing `/`) are ignored.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments(&pattern, &path)
}

fn segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((name, others)) => segment(first, name) && segments(rest, others),
            None => false,
        },
    }
}

/// One segment: `*` and `?` wildcards, with backtracking to the last `*`.
fn segment(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || c == n[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_and_question_mark_stay_in_one_segment() {
        assert!(matches("*.sh", "run.sh"));
        assert!(matches("*", ".hidden"));
        assert!(!matches("*.sh", "bin/run.sh"));
        assert!(matches("r?n.*", "run.sh"));
        assert!(!matches("r?n.sh", "rn.sh"));
        assert!(matches("a*b*c", "aXXbYYbc"));
        assert!(!matches("a*b*c", "aXXbYYb"));
        assert!(matches("bin/*", "bin/x"));
        assert!(!matches("bin/*", "bin"));
        assert!(matches("bin/", "bin"));
    }

    #[test]
    fn double_star_spans_segments() {
        assert!(matches("**", "a"));
        assert!(matches("**", "a/b/c"));
        assert!(matches("**/*.sh", "run.sh"));
        assert!(matches("**/*.sh", "a/b/run.sh"));
        assert!(!matches("**/*.sh", "a/b/run.txt"));
        assert!(matches("a/**/z", "a/z"));
        assert!(matches("a/**/z", "a/b/c/z"));
        assert!(!matches("a/**/z", "b/z"));
        assert!(matches("logs/**", "logs/2024/x.log"));
        assert!(matches("logs/**", "logs"));
    }
}
