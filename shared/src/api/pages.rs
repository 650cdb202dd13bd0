//! Pagination in Cronofy's style: `pages.current`/`pages.total` always present, and an absolute
//! `next_page` URL on the public base URL whose path carries the whole query as an opaque token
//! (`/v1/events/pages/{token}`), because the SDKs GET it as-is and node may append parameters.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};

/// Encodes query state into a path-safe token.
pub fn encode_token<T: Serialize>(state: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default())
}

/// Decodes a page token; a token that does not decode is an unknown page (404).
pub fn decode_token<T: DeserializeOwned>(token: &str) -> ApiResult<T> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| ApiError::NotFound)?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::NotFound)
}

/// Number of pages for `total_items` at `page_size` (at least 1, so an empty result is page 1 of 1).
pub fn page_count(total_items: u64, page_size: u64) -> u64 {
    total_items.div_ceil(page_size.max(1)).max(1)
}

/// The `pages` object; `next_page` only when there is one.
pub fn pages_json(current: u64, total: u64, next_page: Option<String>) -> Value {
    match next_page {
        Some(url) if current < total => json!({ "current": current, "total": total, "next_page": url }),
        _ => json!({ "current": current, "total": total }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_not_found() {
        let token = encode_token(&json!({"page": 2, "tzid": "Europe/London"}));
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode_token::<Value>(&token).unwrap(), json!({"page": 2, "tzid": "Europe/London"}));
        assert!(matches!(decode_token::<Value>("%%%"), Err(ApiError::NotFound)));
    }

    #[test]
    fn page_counts_and_next_page_agree() {
        assert_eq!(page_count(0, 100), 1);
        assert_eq!(page_count(100, 100), 1);
        assert_eq!(page_count(101, 100), 2);
        assert_eq!(pages_json(2, 2, Some("x".into())), json!({"current": 2, "total": 2}));
        assert_eq!(pages_json(1, 2, Some("x".into())), json!({"current": 1, "total": 2, "next_page": "x"}));
    }
}
