//! `POST /v1/service_account_authorizations`: a service account's token asks for mailboxes of its
//! organisation to be authorized for the application, one (`{email, scope, callback_url, state?}`)
//! or a batch (`{service_account_authorizations: [1 to 50 of those], state?}`, an entry's own
//! `state` winning over the batch's). Every entry is checked before any is queued: the address is
//! in the service account's domain, the scope within its delegated scope, the callback URL one
//! push notifications could be sent to. Each becomes a job that calls the callback URL back with
//! a code or `access_denied`; the answer is 202 with no body.
//!
//! Only a service account's own token may call it: any other token is unknown credentials here
//! (401), as a service account's is everywhere calendars are read.

use axum::{extract::State, http::StatusCode};
use serde_json::{Map, Value};

use crate::{
    adapters::QueueName,
    api::{
        error::{ApiError, ApiResult, FieldError, keys},
        extract::{ApiJson, Grant},
    },
    authorization::{self, service_accounts::MailboxRequest},
    domain::{Scope, Scopes, ServiceAccount},
    jobs::SyncJob,
    state::AppState,
};

/// Most mailboxes one request may ask for.
const MAX_BATCH: usize = 50;
/// `state` is opaque to calsync but travels in a job and a callback: keep it bounded.
const MAX_STATE_LEN: usize = 2048;

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    // Only a service account's token, of the application the service account was authorized for.
    if !grant.authorization.scopes.contains(Scope::ServiceAccountsManage) {
        return Err(ApiError::Unauthorized);
    }
    let service_account = state
        .store
        .find_service_account_by_account(grant.account_id())
        .await?
        .filter(|s| s.application_id == grant.application.id)
        .ok_or(ApiError::Unauthorized)?;

    // Validate every entry, reporting all problems at once.
    let Value::Object(body) = body else {
        return Err(ApiError::invalid("body", keys::INVALID_TYPE, "must be a JSON object"));
    };
    let mut errors = Vec::new();
    let batch_state = text(&body, "state", "state", &mut errors);
    let entries: Vec<(String, &Map<String, Value>)> = match body.get("service_account_authorizations") {
        None | Some(Value::Null) => vec![(String::new(), &body)],
        Some(Value::Array(list)) if (1..=MAX_BATCH).contains(&list.len()) => {
            let mut entries = Vec::new();
            for (i, entry) in list.iter().enumerate() {
                let prefix = format!("service_account_authorizations[{i}].");
                match entry {
                    Value::Object(entry) => entries.push((prefix, entry)),
                    _ => {
                        errors.push(field_error(prefix.trim_end_matches('.'), keys::INVALID_TYPE, "must be an object"))
                    }
                }
            }
            entries
        }
        Some(Value::Array(_)) => {
            let message = "must hold 1 to 50 authorizations";
            return Err(ApiError::invalid("service_account_authorizations", keys::INVALID, message));
        }
        Some(_) => {
            let message = "must be an array of authorizations";
            return Err(ApiError::invalid("service_account_authorizations", keys::INVALID_TYPE, message));
        }
    };
    let mut requests = Vec::new();
    for (prefix, entry) in entries {
        // A single request's `state` is the body's own, read above.
        let own_state =
            if prefix.is_empty() { None } else { text(entry, "state", &format!("{prefix}state"), &mut errors) };
        if let Some(request) = entry_request(&state, &service_account, &prefix, entry, &mut errors).await {
            requests.push(MailboxRequest { state: own_state.or_else(|| batch_state.clone()), ..request });
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }

    // Queue one job per mailbox.
    for request in requests {
        let job = serde_json::to_string(&SyncJob::AuthorizeMailbox(request)).map_err(anyhow::Error::from)?;
        state.queue.send(QueueName::Sync, job, None).await.map_err(anyhow::Error::from)?;
    }
    tracing::info!(service_account_id = %service_account.id, "mailbox authorizations queued");
    Ok(StatusCode::ACCEPTED)
}

/// One entry's email, scope and callback URL, checked; `None` (with the problems recorded) when
/// any is wrong. Its `state` is read by the caller.
async fn entry_request(
    state: &AppState,
    service_account: &ServiceAccount,
    prefix: &str,
    entry: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<MailboxRequest> {
    let before = errors.len();
    let field = |name: &str| format!("{prefix}{name}");

    let email = required_text(entry, "email", &field("email"), errors).map(|e| e.trim().to_ascii_lowercase());
    if let Some(email) = &email {
        if !authorization::valid_email(email) {
            errors.push(field_error(&field("email"), keys::INVALID, "must be a valid email address"));
        } else if !service_account.covers(email) {
            let message = format!("must be an address of the service account's domain, {}", service_account.domain());
            errors.push(field_error(&field("email"), keys::INVALID, &message));
        }
    }

    let scope = required_text(entry, "scope", &field("scope"), errors);
    if let Some(scope) = &scope {
        match Scopes::parse(scope) {
            Ok(scopes) if scopes.is_empty() => errors.push(field_error(&field("scope"), keys::REQUIRED, "required")),
            Ok(scopes) if scopes.all_end_user() && scopes.is_subset(&service_account.delegated_scopes) => {}
            Ok(_) => {
                let message = format!(
                    "must be within the service account's delegated scope ({})",
                    service_account.delegated_scopes
                );
                errors.push(field_error(&field("scope"), keys::NOT_PERMITTED, &message));
            }
            Err(unknown) => errors.push(field_error(&field("scope"), keys::INVALID, &unknown.to_string())),
        }
    }

    let callback_url = match required_text(entry, "callback_url", &field("callback_url"), errors) {
        Some(url) => match state.callbacks.check(url.trim()).await {
            Ok(url) => Some(url.to_string()),
            Err(problem) => {
                errors.push(field_error(&field("callback_url"), keys::INVALID, &problem.to_string()));
                None
            }
        },
        None => None,
    };

    if errors.len() > before {
        return None;
    }
    Some(MailboxRequest {
        service_account_id: service_account.id.clone(),
        application_id: service_account.application_id.clone(),
        email: email?,
        // Stored in the canonical order, so the code grants exactly what was checked.
        scope: Scopes::parse(&scope?).ok()?.to_string(),
        callback_url: callback_url?,
        state: None,
    })
}

/// A required string field; records the problem when it is missing or not a string.
fn required_text(entry: &Map<String, Value>, name: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match entry.get(name) {
        Some(Value::String(value)) if !value.trim().is_empty() => Some(value.clone()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            errors.push(field_error(field, keys::REQUIRED, "required"));
            None
        }
        Some(_) => {
            errors.push(field_error(field, keys::INVALID_TYPE, "must be a string"));
            None
        }
    }
}

/// An optional string field (`state`), at most 2048 bytes.
fn text(entry: &Map<String, Value>, name: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match entry.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(value)) if value.len() > MAX_STATE_LEN => {
            errors.push(field_error(field, keys::TOO_LONG, "must be at most 2048 bytes"));
            None
        }
        Some(Value::String(value)) => Some(value.clone()),
        Some(_) => {
            errors.push(field_error(field, keys::INVALID_TYPE, "must be a string"));
            None
        }
    }
}

fn field_error(field: &str, key: &'static str, description: &str) -> FieldError {
    FieldError { field: field.to_owned(), key, description: description.to_owned() }
}
