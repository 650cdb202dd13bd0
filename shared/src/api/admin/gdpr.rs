//! `/admin/v1/gdpr_requests`: operators file a right-to-be-forgotten request naming an end-user
//! by `account_id` or `email` (POST, 201 with the report entries it produced), list the GDPR
//! report (GET), read one request (GET `/{id}`) and record their progress on an external system
//! (PATCH `/{id}` with `system`, `status`, `note`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    error::{AdminError, AdminResult},
    view::json_body,
};
use crate::{
    api::{error::ApiError, extract::Admin},
    domain::{AccountId, GdprRequestId},
    gdpr::{self, ForgetError, ProgressError, Subject, report_json},
    state::AppState,
};

#[derive(Debug, Deserialize)]
struct Body {
    account_id: Option<String>,
    email: Option<String>,
    requested_by: Option<String>,
}

pub(super) async fn post(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> AdminResult<(StatusCode, Json<Value>)> {
    admin?;
    let body: Body = json_body(request).await?;
    let operator = body.requested_by.filter(|o| !o.trim().is_empty());
    let operator = operator.ok_or_else(|| AdminError::invalid("requested_by", "required"))?;
    let subject = match (body.account_id, body.email) {
        (Some(id), None) => Subject::Account(
            AccountId::parse(id.trim()).map_err(|_| AdminError::invalid("account_id", "must be an acc_ id"))?,
        ),
        (None, Some(email)) if email.contains('@') => Subject::Email(email),
        (None, Some(_)) => return Err(AdminError::invalid("email", "must be an email address")),
        _ => return Err(AdminError::invalid("account_id", "give exactly one of account_id and email")),
    };
    let requests = match gdpr::forget(&state, &subject, &operator).await {
        Ok(requests) => requests,
        Err(ForgetError::NotFound) => return Err(AdminError::EndUserNotFound),
        Err(ForgetError::NoOperator) => return Err(AdminError::invalid("requested_by", "required")),
        Err(ForgetError::Store(e)) => return Err(AdminError::Internal(e.into())),
        Err(e @ ForgetError::Ledger(_)) => return Err(AdminError::Internal(e.into())),
    };
    let entries: Vec<Value> = requests.iter().map(report_json).collect();
    Ok((StatusCode::CREATED, Json(json!({ "gdpr_requests": entries }))))
}

pub(super) async fn list(admin: Result<Admin, ApiError>, State(state): State<AppState>) -> AdminResult<Json<Value>> {
    admin?;
    let requests = state.store.list_gdpr_requests().await.map_err(|e| AdminError::Internal(e.into()))?;
    Ok(Json(json!({ "gdpr_requests": requests.iter().map(report_json).collect::<Vec<_>>() })))
}

pub(super) async fn show(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AdminResult<Json<Value>> {
    admin?;
    let id = GdprRequestId::parse(&id).map_err(|_| AdminError::GdprRequestNotFound)?;
    let request = state.store.get_gdpr_request(&id).await.map_err(|e| AdminError::Internal(e.into()))?;
    let request = request.ok_or(AdminError::GdprRequestNotFound)?;
    Ok(Json(json!({ "gdpr_request": report_json(&request) })))
}

#[derive(Debug, Deserialize)]
struct Progress {
    system: Option<String>,
    status: Option<String>,
    note: Option<String>,
}

pub(super) async fn patch(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> AdminResult<Json<Value>> {
    admin?;
    let id = GdprRequestId::parse(&id).map_err(|_| AdminError::GdprRequestNotFound)?;
    let body: Progress = json_body(request).await?;
    let system = body.system.ok_or_else(|| AdminError::invalid("system", "required"))?;
    let status = body.status.ok_or_else(|| AdminError::invalid("status", "required"))?;
    let note = body.note.unwrap_or_default();
    let updated =
        gdpr::record_progress(&state, &id, system.trim(), status.trim(), &note).await.map_err(|e| match e {
            ProgressError::NotFound => AdminError::GdprRequestNotFound,
            ProgressError::BadSystem => AdminError::invalid("system", &e.to_string()),
            ProgressError::BadStatus => AdminError::invalid("status", &e.to_string()),
            ProgressError::NoteTooLong => AdminError::invalid("note", &e.to_string()),
            ProgressError::Store(e) => AdminError::Internal(e.into()),
        })?;
    Ok(Json(json!({ "gdpr_request": report_json(&updated) })))
}
