//! Write authorization: reads are public; updates and Graph Store writes need
//! `Authorization: Bearer <token>` matching the configured token.
//!
//! The comparison hashes both sides and compares the digests in constant time, so
//! neither the token's content nor its length leaks through timing. The token is
//! never logged (the request log records method, path, status and duration only).

use crate::error::AppError;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Checks that a request may write. `configured` is the server's token, if any.
pub fn require_write(configured: Option<&str>, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(expected) = configured else {
        return Err(AppError::Forbidden(
            "this server is read-only; start it with --write-token-file FILE (or set TREATY_KG_WRITE_TOKEN) to enable writes".into(),
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(AppError::Unauthorized("writes need an `Authorization: Bearer <token>` header".into()));
    };
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(AppError::Unauthorized("the bearer token is not valid".into()))
    }
}
