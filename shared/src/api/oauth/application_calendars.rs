//! `POST /v1/application_calendars`: tokens for a calendar calsync hosts for the application
//! itself, created on first use (cronofy-api.md §5.5). Client credentials come in the body.

use axum::{
    extract::{Request, State},
    response::Response,
};

use super::{
    body::{self, BodyError},
    token_reply,
};
use crate::{
    api::{
        error::{ApiError, ApiResult, keys},
        extract::client_credentials,
    },
    authorization,
    state::AppState,
};

pub(super) async fn post(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (fields, principal) = body::read(request).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::PayloadTooLarge,
        BodyError::Malformed => {
            ApiError::invalid("body", keys::INVALID_JSON, "the request body must be a JSON object of text fields")
        }
    })?;
    let application =
        client_credentials(&state, principal.as_ref(), fields.get("client_id"), fields.get("client_secret"))
            .await?
            .ok_or(ApiError::Unauthorized)?;
    let key = fields.get("application_calendar_id").ok_or_else(|| ApiError::required("application_calendar_id"))?;
    let key = authorization::validate_application_calendar_id(key)
        .map_err(|problem| ApiError::invalid("application_calendar_id", keys::INVALID, problem))?;
    let response = authorization::application_calendar(&state.store, &application, key, state.clock.now()).await?;
    Ok(token_reply(response))
}
