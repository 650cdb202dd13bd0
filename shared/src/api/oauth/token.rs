//! `POST /oauth/token`: the `authorization_code` and `refresh_token` grants (cronofy-api.md
//! §4.6), with RFC 6749 errors.

use axum::{
    extract::{Request, State},
    response::Response,
};

use super::{
    body::{self, client_fields, oauth_body_error},
    token_reply,
};
use crate::{
    api::{
        error::{ApiError, ApiResult, OAuthErrorCode},
        extract::client_credentials,
    },
    authorization,
    state::AppState,
};

fn invalid_request(description: &'static str) -> ApiError {
    ApiError::OAuth(OAuthErrorCode::InvalidRequest, description)
}

pub(super) async fn post(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (fields, principal) = body::read(request).await.map_err(oauth_body_error)?;
    let (client_id, client_secret) = client_fields(&fields)?;
    let application = client_credentials(&state, principal.as_ref(), Some(client_id), Some(client_secret))
        .await?
        .ok_or(ApiError::OAuth(OAuthErrorCode::InvalidClient, "unknown client_id or wrong client_secret"))?;
    let now = state.clock.now();

    let issued = match fields.get("grant_type") {
        None => return Err(invalid_request("grant_type is required")),
        Some("authorization_code") => {
            let code = fields.get("code").ok_or_else(|| invalid_request("code is required"))?;
            let redirect_uri = fields.get("redirect_uri").ok_or_else(|| invalid_request("redirect_uri is required"))?;
            authorization::exchange_code(&state.store, &application, code, redirect_uri, now).await?.ok_or(
                ApiError::OAuth(
                    OAuthErrorCode::InvalidGrant,
                    "the code is unknown, expired, already used or was issued for another redirect_uri",
                ),
            )?
        }
        Some("refresh_token") => {
            let refresh_token =
                fields.get("refresh_token").ok_or_else(|| invalid_request("refresh_token is required"))?;
            authorization::refresh(&state.store, &application, refresh_token, now)
                .await?
                .ok_or(ApiError::OAuth(OAuthErrorCode::InvalidGrant, "the refresh token is unknown or revoked"))?
        }
        Some(_) => {
            return Err(ApiError::OAuth(
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be authorization_code or refresh_token",
            ));
        }
    };
    Ok(token_reply(issued))
}
