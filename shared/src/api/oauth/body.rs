//! Bodies of the client-credential endpoints, read as flat text fields: RFC 6749 clients send
//! `application/x-www-form-urlencoded` (the Ruby SDK does), pycronofy and the npm SDK send
//! JSON. The Content-Type decides; anything not declared a form is read as JSON.

use std::collections::HashMap;

use axum::{extract::Request, http::header};

use crate::api::{
    error::{ApiError, ApiResult},
    extract::{RequestPrincipal, body_bytes},
};

/// The text fields of a body. Empty values and JSON nulls count as absent.
pub(super) struct Fields(HashMap<String, String>);

// Field values are client secrets, codes and tokens: never print them.
impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Why a body could not be read as fields.
#[derive(Debug)]
pub(super) enum BodyError {
    /// Over the size limit (413).
    TooLarge,
    /// Not a form, not a JSON object of scalars.
    Malformed,
}

impl Fields {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn decode(is_form: bool, bytes: &[u8]) -> Result<Self, BodyError> {
        if is_form {
            return Ok(Fields(form_urlencoded::parse(bytes).into_owned().collect()));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields(HashMap::new()));
        }
        let serde_json::Value::Object(object) = serde_json::from_slice(bytes).map_err(|_| BodyError::Malformed)? else {
            return Err(BodyError::Malformed);
        };
        let mut fields = HashMap::new();
        for (name, value) in object {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                // Nested values are never meaningful here; refuse rather than guess.
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => return Err(BodyError::Malformed),
            };
            fields.insert(name, text);
        }
        Ok(Fields(fields))
    }
}

/// Reads a request's body as fields, with the request-log principal slot the credential check
/// fills in.
pub(super) async fn read(request: Request) -> Result<(Fields, Option<RequestPrincipal>), BodyError> {
    let principal = request.extensions().get::<RequestPrincipal>().cloned();
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let bytes = body_bytes(request).await.map_err(|e| match e {
        ApiError::PayloadTooLarge => BodyError::TooLarge,
        _ => BodyError::Malformed,
    })?;
    Ok((Fields::decode(is_form, &bytes)?, principal))
}

/// The RFC 6749 answer to an unreadable body.
pub(super) fn oauth_body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge => ApiError::PayloadTooLarge,
        BodyError::Malformed => ApiError::OAuth(
            crate::api::error::OAuthErrorCode::InvalidRequest,
            "the body must be a form or a JSON object of text fields",
        ),
    }
}

/// `Some` for both client credentials, else an RFC 6749 `invalid_request`.
pub(super) fn client_fields(fields: &Fields) -> ApiResult<(&str, &str)> {
    match (fields.get("client_id"), fields.get("client_secret")) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err(ApiError::OAuth(
            crate::api::error::OAuthErrorCode::InvalidRequest,
            "client_id and client_secret are required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_json_objects_read_the_same() {
        let form = Fields::decode(true, b"grant_type=refresh_token&refresh_token=a%2Bb&state=").unwrap();
        let json =
            Fields::decode(false, br#"{"grant_type":"refresh_token","refresh_token":"a+b","state":null}"#).unwrap();
        for fields in [form, json] {
            assert_eq!(fields.get("grant_type"), Some("refresh_token"));
            assert_eq!(fields.get("refresh_token"), Some("a+b"));
            assert_eq!(fields.get("state"), None);
        }
    }

    #[test]
    fn json_that_is_not_an_object_of_scalars_is_malformed() {
        for bad in [&b"[1]"[..], b"\"x\"", b"{\"a\":{\"b\":1}}", b"{nope"] {
            assert!(matches!(Fields::decode(false, bad), Err(BodyError::Malformed)));
        }
        assert_eq!(Fields::decode(false, b" ").unwrap().get("x"), None);
    }
}
