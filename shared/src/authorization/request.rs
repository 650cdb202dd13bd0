//! Checking an application's `/oauth/authorize` request and keeping it while the user chooses a
//! calendar service.
//!
//! Errors follow RFC 6749 §4.1.2.1: while the client or redirect URI is in doubt nothing is
//! redirected (the page says what is wrong); once both are known good, other errors go back to
//! the application on its redirect URI with `error` and `state`.

use chrono::{DateTime, Duration, Utc};

use super::{AuthorizeRequest, Service, append_query};
use crate::{
    crypto::token_hash,
    domain::{Application, Scopes, random_token},
    store::{Store, StoreResult},
};

/// What pycronofy's `user_auth_link` asks for when the caller names no scope.
pub const DEFAULT_SCOPE: &str = "read_account list_calendars read_events create_event delete_event";

/// How long the user has to choose a calendar service.
pub const AUTHORIZE_REQUEST_TTL: Duration = Duration::minutes(30);

/// `state` is opaque to calsync but ends up in a URL and a database row: keep it bounded.
const MAX_STATE_LEN: usize = 2048;

/// The query parameters of `/oauth/authorize`; empty values are absent (pycronofy sends
/// `state=` and `provider_name=`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizeParams<'a> {
    pub response_type: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub state: Option<&'a str>,
    /// Cronofy's hint of the service to offer first (`google`, `office365`, `apple`, …).
    pub provider_name: Option<&'a str>,
}

/// Why an authorize request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or redirect URI cannot be trusted: explain on a page, never redirect.
    Page(&'static str),
    /// Report the error to the application at this URL (its redirect URI with `error`).
    Redirect(String),
}

/// An accepted request, recorded under `request_id`.
#[derive(Clone)]
pub struct Started {
    /// The random id the page's forms carry; stored only as its hash.
    pub request_id: String,
    pub application: Application,
    pub request: AuthorizeRequest,
    /// The service the application suggested, if it named one calsync knows.
    pub suggested: Option<Service>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started").field("application", &self.application.id).finish_non_exhaustive()
    }
}

fn error_redirect(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Refusal {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    Refusal::Redirect(append_query(redirect_uri, &pairs))
}

/// Checks the request and, when it is acceptable, records it for the page's forms.
pub async fn start(
    store: &Store,
    params: AuthorizeParams<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Result<Started, Refusal>> {
    // Validate the client and redirect URI: until both are known good, nothing is redirected.
    let Some(client_id) = params.client_id else {
        return Ok(Err(Refusal::Page("The link does not say which application is asking (client_id is missing).")));
    };
    let Some(application) = store.get_application_by_client_id(client_id).await? else {
        return Ok(Err(Refusal::Page("The application asking for access is not known to this calsync installation.")));
    };
    let Some(redirect_uri) = params.redirect_uri else {
        return Ok(Err(Refusal::Page("The link does not say where to return (redirect_uri is missing).")));
    };
    if !application.redirect_uris.iter().any(|registered| registered == redirect_uri) {
        return Ok(Err(Refusal::Page("The return address (redirect_uri) is not one the application registered.")));
    }

    // Validate the rest, reporting problems to the application.
    let state = match params.state {
        Some(state) if state.len() > MAX_STATE_LEN => {
            return Ok(Err(error_redirect(redirect_uri, "invalid_request", "state is too long", None)));
        }
        other => other,
    };
    match params.response_type {
        Some("code") => {}
        Some(_) => {
            return Ok(Err(error_redirect(
                redirect_uri,
                "unsupported_response_type",
                "only response_type=code is supported",
                state,
            )));
        }
        None => {
            return Ok(Err(error_redirect(redirect_uri, "invalid_request", "response_type is required", state)));
        }
    }
    let scopes = match Scopes::parse(params.scope.unwrap_or(DEFAULT_SCOPE)) {
        Ok(scopes) if scopes.is_empty() => Scopes::parse(DEFAULT_SCOPE).unwrap_or_default(),
        Ok(scopes) => scopes,
        Err(_) => return Ok(Err(error_redirect(redirect_uri, "invalid_scope", "unknown scope", state))),
    };

    // Record it: the forms carry only the random id.
    let request_id = random_token(32);
    let request = AuthorizeRequest {
        application_id: application.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: state.map(str::to_owned),
        created_at: now,
        expires_at: now + AUTHORIZE_REQUEST_TTL,
    };
    store.create_authorize_request(&token_hash(&request_id), &request).await?;
    let suggested = params.provider_name.and_then(Service::from_provider_name);
    Ok(Ok(Started { request_id, application, request, suggested }))
}

/// The pending request a form names, with its application; `None` when the id is unknown,
/// expired or already completed.
pub async fn load(
    store: &Store,
    request_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(AuthorizeRequest, Application)>> {
    let Some(request) = store.find_authorize_request(&token_hash(request_id), now).await? else {
        return Ok(None);
    };
    Ok(store.get_application(&request.application_id).await?.map(|application| (request, application)))
}
