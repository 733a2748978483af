//! The `Authorization: Bearer` header, read the same way for SCIM tokens and admin JWTs.

use axum::http::{HeaderMap, header};

/// Longest credential accepted; anything longer is not ours and is not worth hashing.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// Why there is no usable bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header.
    Missing,
    /// Not `Bearer <credential>`, empty, not ASCII, or too long.
    Malformed,
}

/// The credential of an `Authorization: Bearer …` header (scheme matched case-insensitively).
pub fn bearer(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(BearerError::Missing)?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credential)| credential.trim())
        .filter(|c| !c.is_empty() && c.len() <= MAX_CREDENTIAL_BYTES)
        .ok_or(BearerError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn reads_bearer_credentials() {
        assert_eq!(bearer(&headers("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(&headers("bearer  abc ")), Ok("abc"));
        assert_eq!(bearer(&HeaderMap::new()), Err(BearerError::Missing));
        assert_eq!(bearer(&headers("Basic abc")), Err(BearerError::Malformed));
        assert_eq!(bearer(&headers("Bearer ")), Err(BearerError::Malformed));
        assert_eq!(bearer(&headers("Bearer")), Err(BearerError::Malformed));
        assert_eq!(
            bearer(&headers(&format!(
                "Bearer {}",
                "x".repeat(MAX_CREDENTIAL_BYTES + 1)
            ))),
            Err(BearerError::Malformed)
        );
    }
}
