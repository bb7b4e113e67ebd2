//! Opaque `next_token`s for keyset pagination: a token names the last key of the page it ends
//! and the listing it belongs to, so it stays correct while rows are added, survives restarts
//! and works on any replica. A token that was not made here, or for another listing, is
//! `InvalidNextTokenException`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Exception};

/// Names per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Most names per page a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Page size from a request's `page_size`: 0 means the default; beyond the range is an error.
pub fn page_size(requested: i32) -> Result<usize, ApiError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n > 0 && n as usize <= MAX_PAGE_SIZE => Ok(n as usize),
        n => Err(ApiError::new(
            Exception::InvalidInput,
            format!(
                "page_size {n} is out of range; use 1-{MAX_PAGE_SIZE}, or 0 for {DEFAULT_PAGE_SIZE}"
            ),
        )),
    }
}

/// The check over a token's content: not a secret, only a guard against tokens that were
/// edited, truncated or made for another listing.
fn check_of(scope: &str, after: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"ferry-next-token\0")
        .chain_update(scope.as_bytes())
        .chain_update(b"\0")
        .chain_update(after.as_bytes())
        .finalize();
    hex::encode(&digest[..8])
}

/// The token that resumes `scope` after the key `after`.
pub fn encode(scope: &str, after: &str) -> String {
    let payload = format!("{}\n{}", check_of(scope, after), after);
    URL_SAFE_NO_PAD.encode(payload)
}

/// The key to resume after, `None` for the first page.
pub fn decode(scope: &str, token: &str) -> Result<Option<String>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ApiError::new(
            Exception::InvalidNextToken,
            "the next token is not valid for this call",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let payload = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (check, after) = payload.split_once('\n').ok_or_else(invalid)?;
    if check != check_of(scope, after) {
        return Err(invalid());
    }
    Ok(Some(after.to_owned()))
}

/// Splits one extra row off a page query (`LIMIT size + 1`): returns the page and the token
/// for the next one, if there are more rows.
pub fn finish<T>(
    scope: &str,
    mut rows: Vec<T>,
    size: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    if rows.len() > size {
        rows.truncate(size);
        let token = rows
            .last()
            .map(|last| encode(scope, &key(last)))
            .unwrap_or_default();
        (rows, token)
    } else {
        (rows, String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_its_scope_only() {
        let token = encode("applications", "app-7");
        assert_eq!(
            decode("applications", &token).unwrap(),
            Some("app-7".into())
        );
        assert!(decode("deployment-groups:x", &token).is_err());
        assert_eq!(decode("applications", "").unwrap(), None);
    }

    #[test]
    fn rejects_garbage_and_tampering() {
        for bad in ["%%%", "bm90IGEgdG9rZW4", &encode("applications", "a")[1..]] {
            let err = decode("applications", bad).unwrap_err();
            assert_eq!(err.exception(), Some(Exception::InvalidNextToken), "{bad}");
        }
    }

    #[test]
    fn finish_cuts_the_extra_row_into_a_token() {
        let (page, token) = finish("s", vec!["a", "b", "c"], 2, |s| s.to_string());
        assert_eq!(page, vec!["a", "b"]);
        assert_eq!(decode("s", &token).unwrap(), Some("b".into()));
        let (page, token) = finish("s", vec!["a"], 2, |s| s.to_string());
        assert_eq!(page, vec!["a"]);
        assert!(token.is_empty());
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(5).unwrap(), 5);
        assert!(page_size(-1).is_err());
        assert!(page_size(MAX_PAGE_SIZE as i32 + 1).is_err());
    }
}
