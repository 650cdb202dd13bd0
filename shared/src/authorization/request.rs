//! Checking an application's `/oauth/authorize` request (or Enterprise Connect's
//! `/enterprise_connect/oauth/authorize`) and keeping it while the user chooses a calendar service
//! (or types the service account's credentials).
//!
//! The two flows share the checks of the client, redirect URI, state and response type, and differ
//! in scopes: an end-user request asks for end-user scopes only; an Enterprise Connect request asks
//! for `service_account/accounts/manage` and names in `delegated_scope` the end-user scopes the
//! service account's mailboxes may be granted. A request completes only on its own flow's page.
//!
//! Errors follow RFC 6749 §4.1.2.1: while the client or redirect URI is in doubt nothing is
//! redirected (the page says what is wrong); once both are known good, other errors go back to
//! the application on its redirect URI with `error` and `state`.

use chrono::{DateTime, Duration, Utc};

use super::{AuthorizeRequest, Service, append_query};
use crate::{
    crypto::token_hash,
    domain::{Application, Scope, Scopes, random_token},
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
    /// Enterprise Connect only: the scopes the service account's mailboxes may be granted.
    pub delegated_scope: Option<&'a str>,
}

/// Which page an authorize request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// An end-user connects their own calendar (`/oauth/authorize`).
    EndUser,
    /// An organisation authorizes a service account (`/enterprise_connect/oauth/authorize`).
    EnterpriseConnect,
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

/// Checks an end-user request and, when it is acceptable, records it for the page's forms.
pub async fn start(
    store: &Store,
    params: AuthorizeParams<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Result<Started, Refusal>> {
    begin(store, params, Flow::EndUser, now).await
}

/// Checks an Enterprise Connect request and, when it is acceptable, records it for the page.
pub async fn start_enterprise(
    store: &Store,
    params: AuthorizeParams<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Result<Started, Refusal>> {
    begin(store, params, Flow::EnterpriseConnect, now).await
}

async fn begin(
    store: &Store,
    params: AuthorizeParams<'_>,
    flow: Flow,
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
    let scoped = match flow {
        Flow::EndUser => end_user_scopes(params.scope),
        Flow::EnterpriseConnect => enterprise_scopes(params.scope, params.delegated_scope),
    };
    let (scopes, delegated_scopes) = match scoped {
        Ok(scoped) => scoped,
        Err(description) => return Ok(Err(error_redirect(redirect_uri, "invalid_scope", description, state))),
    };

    // Record it: the forms carry only the random id.
    let request_id = random_token(32);
    let request = AuthorizeRequest {
        application_id: application.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: state.map(str::to_owned),
        delegated_scopes,
        created_at: now,
        expires_at: now + AUTHORIZE_REQUEST_TTL,
    };
    store.create_authorize_request(&token_hash(&request_id), &request).await?;
    let suggested = match flow {
        Flow::EndUser => params.provider_name.and_then(Service::from_provider_name),
        Flow::EnterpriseConnect => None,
    };
    Ok(Ok(Started { request_id, application, request, suggested }))
}

/// An end-user request's scopes: the SDK default when none are named, end-user scopes only.
fn end_user_scopes(scope: Option<&str>) -> Result<(Scopes, Option<Scopes>), &'static str> {
    let scopes = match Scopes::parse(scope.unwrap_or(DEFAULT_SCOPE)) {
        Ok(scopes) if scopes.is_empty() => Scopes::parse(DEFAULT_SCOPE).unwrap_or_default(),
        Ok(scopes) => scopes,
        Err(_) => return Err("unknown scope"),
    };
    if !scopes.all_end_user() {
        return Err("service_account/accounts/manage is granted through Enterprise Connect only");
    }
    Ok((scopes, None))
}

/// An Enterprise Connect request's scopes: `service_account/accounts/manage` for the service
/// account itself, and the end-user scopes its mailboxes may be granted.
fn enterprise_scopes(
    scope: Option<&str>,
    delegated_scope: Option<&str>,
) -> Result<(Scopes, Option<Scopes>), &'static str> {
    let scopes = Scopes::parse(scope.unwrap_or_default()).map_err(|_| "unknown scope")?;
    if !scopes.contains(Scope::ServiceAccountsManage) {
        return Err("scope must include service_account/accounts/manage");
    }
    if scopes != Scopes::from_iter([Scope::ServiceAccountsManage]) {
        return Err("scope may hold only service_account/accounts/manage; end-user scopes go in delegated_scope");
    }
    let delegated = Scopes::parse(delegated_scope.unwrap_or_default()).map_err(|_| "unknown delegated_scope")?;
    if delegated.is_empty() || !delegated.all_end_user() {
        return Err("delegated_scope must name the end-user scopes the service account's accounts may grant");
    }
    Ok((scopes, Some(delegated)))
}

/// The pending end-user request a form names, with its application; `None` when the id is
/// unknown, expired, already completed or an Enterprise Connect request.
pub async fn load(
    store: &Store,
    request_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(AuthorizeRequest, Application)>> {
    load_for(store, request_id, Flow::EndUser, now).await
}

/// [`load`] for an Enterprise Connect request.
pub async fn load_enterprise(
    store: &Store,
    request_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(AuthorizeRequest, Application)>> {
    load_for(store, request_id, Flow::EnterpriseConnect, now).await
}

async fn load_for(
    store: &Store,
    request_id: &str,
    flow: Flow,
    now: DateTime<Utc>,
) -> StoreResult<Option<(AuthorizeRequest, Application)>> {
    let Some(request) = store.find_authorize_request(&token_hash(request_id), now).await? else {
        return Ok(None);
    };
    // Completing a request on the other flow's page would grant what it never asked for.
    let request_flow = if request.delegated_scopes.is_some() { Flow::EnterpriseConnect } else { Flow::EndUser };
    if request_flow != flow {
        return Ok(None);
    }
    Ok(store.get_application(&request.application_id).await?.map(|application| (request, application)))
}
