//! `POST /oauth/token/revoke`: ends an authorization named by `token` (access or refresh
//! token; `refresh_token` is accepted as an alias, as the npm SDK sends it) or by `sub` (an
//! account or application calendar id). Unknown tokens get the same empty 200 (RFC 7009 §2.2).

use axum::{
    extract::{Request, State},
    http::StatusCode,
};

use super::body::{self, client_fields, oauth_body_error};
use crate::{
    api::{
        error::{ApiError, ApiResult, OAuthErrorCode},
        extract::client_credentials,
    },
    authorization::{self, RevokeTarget},
    state::AppState,
};

pub(super) async fn post(State(state): State<AppState>, request: Request) -> ApiResult<StatusCode> {
    let (fields, principal) = body::read(request).await.map_err(oauth_body_error)?;
    let (client_id, client_secret) = client_fields(&fields)?;
    let application = client_credentials(&state, principal.as_ref(), Some(client_id), Some(client_secret))
        .await?
        .ok_or(ApiError::OAuth(OAuthErrorCode::InvalidClient, "unknown client_id or wrong client_secret"))?;

    let token = fields.get("token").or_else(|| fields.get("refresh_token"));
    let sub = fields.get("sub");
    if token.is_none() && sub.is_none() {
        return Err(ApiError::OAuth(OAuthErrorCode::InvalidRequest, "token or sub is required"));
    }
    let now = state.clock.now();
    for target in [token.map(RevokeTarget::Token), sub.map(RevokeTarget::Sub)].into_iter().flatten() {
        authorization::revoke(&state.store, &application, target, now).await?;
    }
    Ok(StatusCode::OK)
}
