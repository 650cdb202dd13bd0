//! Request extractors tolerant of what the Cronofy SDKs send: JSON bodies on any method (pycronofy
//! sends `{}` on GET and DELETE), an empty body meaning `{}`, JSON `null` meaning "absent",
//! unknown keys ignored, `True`/`true` booleans and repeated `calendar_ids[]` in query strings.

use std::sync::{Arc, Mutex};

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult, keys};
use crate::{
    crypto::{constant_time_eq, token_hash},
    domain::{AccountId, Application, ApplicationId, Authorization, Scope},
    state::AppState,
};

/// A JSON body decoded into `T`; a decoding error is a 422 naming the offending field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Decodes a JSON body (empty = `{}`), naming the field in the error.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid("body", keys::INVALID_JSON, "the request body is not valid JSON")
        } else {
            // serde's message names the expected type, never echoes the whole body.
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or_default().to_owned();
            // A missing field is reported at its parent's path; name the field itself.
            if let Some(missing) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
                let field = if path == "." { missing.to_owned() } else { format!("{path}.{missing}") };
                return ApiError::invalid(field, keys::REQUIRED, "required");
            }
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::invalid(field, keys::INVALID_TYPE, message)
        }
    })
}

/// Reads a whole body, mapping an over-limit body to 413.
pub async fn body_bytes(req: Request) -> ApiResult<Bytes> {
    Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::invalid("body", keys::INVALID, "the request body could not be read")
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        Ok(ApiJson(decode_json(&body_bytes(req).await?)?))
    }
}

/// The query string as an ordered multimap, with Cronofy's conventions.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Self {
        Params(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    /// The last value of `name` (empty values count as absent, as pycronofy sends `state=`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every value of `name[]` and `name` (both spellings are seen in the wild).
    pub fn list(&self, name: &str) -> Vec<&str> {
        let bracketed = format!("{name}[]");
        self.0
            .iter()
            .filter(|(k, v)| (k == name || *k == bracketed) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean, accepting `true`/`True`/`1` and `false`/`False`/`0`.
    pub fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, keys::INVALID_TYPE, "must be true or false")),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// Parses a boolean the way the SDKs write them.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Params::parse(parts.uri.query().unwrap_or_default()))
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Who a request was made for: filled by the credential extractors, read by the request-log and
/// rate-limit middleware after the handler has run.
#[derive(Debug, Clone, Default)]
pub struct RequestPrincipal(pub Arc<Mutex<Option<Principal>>>);

/// The application a request was made by, and the account it acted on (if any).
pub type Principal = (ApplicationId, Option<AccountId>);

impl RequestPrincipal {
    pub fn set(&self, application: ApplicationId, account: Option<AccountId>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((application, account));
        }
    }

    pub fn get(&self) -> Option<Principal> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

fn record_principal(parts: &Parts, application: &ApplicationId, account: Option<&AccountId>) {
    if let Some(principal) = parts.extensions.get::<RequestPrincipal>() {
        principal.set(application.clone(), account.cloned());
    }
}

/// A request made with an end-user authorization's access token.
#[derive(Debug, Clone)]
pub struct Grant {
    pub authorization: Authorization,
    pub application: Application,
}

impl Grant {
    /// 403 unless the authorization holds `scope` (`read_events` implies `read_free_busy`).
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        let scopes = &self.authorization.scopes;
        let held = scopes.contains(scope) || (scope == Scope::ReadFreeBusy && scopes.contains(Scope::ReadEvents));
        if held { Ok(()) } else { Err(ApiError::Forbidden(scope)) }
    }

    pub fn account_id(&self) -> &AccountId {
        &self.authorization.account_id
    }
}

impl FromRequestParts<AppState> for Grant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let now = state.clock.now();
        let authorization = state
            .store
            .find_authorization_by_access_token(&token_hash(token), now)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let application =
            state.store.get_application(&authorization.application_id).await?.ok_or(ApiError::Unauthorized)?;
        record_principal(parts, &application.id, Some(&authorization.account_id));
        super::rate_limit::check(state, &application.id).await?;
        Ok(Grant { authorization, application })
    }
}

/// A request made with the application's own client secret as bearer token (Cronofy's "API key").
#[derive(Debug, Clone)]
pub struct AppKey(pub Application);

impl FromRequestParts<AppState> for AppKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let now = state.clock.now();
        let application = state.store.authenticate_secret(secret, now).await?.ok_or(ApiError::Unauthorized)?;
        record_principal(parts, &application.id, None);
        super::rate_limit::check(state, &application.id).await?;
        Ok(AppKey(application))
    }
}

/// Authenticates an application by the `client_id`/`client_secret` of a request body, and
/// counts the request against its budget.
pub async fn client_credentials(
    state: &AppState,
    parts_principal: Option<&RequestPrincipal>,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> ApiResult<Option<Application>> {
    let (Some(id), Some(secret)) = (client_id, client_secret) else { return Ok(None) };
    let Some(application) = state.store.authenticate_client(id, secret, state.clock.now()).await? else {
        return Ok(None);
    };
    if let Some(principal) = parts_principal {
        principal.set(application.id.clone(), None);
    }
    super::rate_limit::check(state, &application.id).await?;
    Ok(Some(application))
}

/// A request to `/admin/v1`, authenticated with the configured admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        use secrecy::ExposeSecret;
        let expected = state.config.admin_token.as_ref().ok_or(ApiError::AdminUnauthorized)?;
        let presented = bearer(parts).ok_or(ApiError::AdminUnauthorized)?;
        if constant_time_eq(presented, expected.expose_secret()) { Ok(Admin) } else { Err(ApiError::AdminUnauthorized) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lists_and_booleans_follow_the_sdks() {
        let p =
            Params::parse("calendar_ids[]=cal_a&calendar_ids[]=cal_b&only_managed=False&include_managed=True&state=");
        assert_eq!(p.list("calendar_ids"), vec!["cal_a", "cal_b"]);
        assert_eq!(p.bool("only_managed").unwrap(), Some(false));
        assert_eq!(p.bool("include_managed").unwrap(), Some(true));
        assert_eq!(p.get("state"), None);
        assert!(Params::parse("include_deleted=maybe").bool("include_deleted").is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        summary: String,
        #[allow(dead_code)]
        count: Option<i32>,
    }

    #[test]
    fn json_errors_name_the_field_and_an_empty_body_is_an_empty_object() {
        let err = decode_json::<Body>(br#"{"summary": "x", "count": "seven", "unknown": 1}"#).unwrap_err();
        assert!(
            matches!(err, ApiError::Invalid(ref f) if f[0].field == "count" && f[0].key == keys::INVALID_TYPE),
            "{err:?}"
        );
        let err = decode_json::<Body>(b"").unwrap_err();
        assert!(
            matches!(err, ApiError::Invalid(ref f) if f[0].field == "summary" && f[0].key == keys::REQUIRED),
            "{err:?}"
        );
        let err = decode_json::<Body>(b"{not json").unwrap_err();
        assert!(matches!(err, ApiError::Invalid(ref f) if f[0].key == keys::INVALID_JSON));
        assert!(decode_json::<Body>(br#"{"summary": "x", "count": null}"#).is_ok());
    }
}
