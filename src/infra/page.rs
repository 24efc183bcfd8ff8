//! Paging of every list the APIs answer: one page with cursors, and the checks of `first`
//! and `after` that every list shares.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::error::ServiceError;

/// Largest page a client may ask for (OWASP GraphQL: bound result sizes).
pub const MAX_PAGE: i32 = 100;

/// One page of a list.
pub struct Page<T> {
    /// Items with their cursors.
    pub items: Vec<(String, T)>,
    /// Whether more follow.
    pub has_next: bool,
    /// Items in the whole (filtered) list.
    pub total: usize,
}

impl<T> Page<T> {
    /// The page of `rows` read with one row more than `limit` (that one only says whether more
    /// follow), each item under the cursor of its `key`.
    pub fn of(mut rows: Vec<T>, limit: usize, total: usize, key: impl Fn(&T) -> &str) -> Self {
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        Page {
            items: rows.into_iter().map(|r| (cursor(key(&r)), r)).collect(),
            has_next,
            total,
        }
    }
}

/// Encodes a list cursor (opaque to clients).
pub fn cursor(id: &str) -> String {
    B64.encode(id)
}

/// The error of a cursor this list did not hand out.
pub fn bad_cursor(field: &'static str) -> ServiceError {
    ServiceError::bad_input(field, "is not a cursor from this list")
}

/// Decodes a list cursor to the key it encodes, for lists that check the key themselves
/// (client ids, tenant slugs); anything not produced by [`cursor`] is `BAD_USER_INPUT`.
pub fn decode_key(field: &'static str, c: &str) -> Result<String, ServiceError> {
    let raw = B64.decode(c).map_err(|_| bad_cursor(field))?;
    String::from_utf8(raw).map_err(|_| bad_cursor(field))
}

/// Decodes a list cursor of record ids (UUIDs); anything not produced by [`cursor`] is
/// `BAD_USER_INPUT`.
pub fn decode_cursor(field: &'static str, c: Option<&str>) -> Result<Option<String>, ServiceError> {
    match c {
        None => Ok(None),
        Some(c) => {
            let id = decode_key(field, c)?;
            if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                return Err(bad_cursor(field));
            }
            Ok(Some(id))
        }
    }
}

/// Checks a page size.
pub fn page_size(first: i32) -> Result<usize, ServiceError> {
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ServiceError::bad_input(
            "first",
            &format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    Ok(first as usize)
}
