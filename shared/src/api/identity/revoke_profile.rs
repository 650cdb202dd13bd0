//! `POST /v1/profiles/{profile_id}/revoke`: the end-user withdraws calsync's access to one
//! calendar service. The profile is marked disconnected and its credentials are deleted at once
//! (nothing can sync it any more); its cached calendars and events stay until retention or a new
//! link, as with any disconnected profile. A mailbox reached through a service account (Enterprise
//! Connect) loses its link to the service account instead; the service account is untouched.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};

use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::Grant,
    },
    domain::{ProfileId, ProfileStatus},
    state::AppState,
};

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    Path(profile_id): Path<String>,
) -> ApiResult<StatusCode> {
    // Unknown, malformed and another account's profile ids all get the same 404.
    let id = ProfileId::parse(&profile_id).map_err(|_| ApiError::NotFound)?;
    let profile = state.store.get_profile(&id).await?.ok_or(ApiError::NotFound)?;
    if &profile.account_id != grant.account_id() {
        return Err(ApiError::NotFound);
    }
    state.store.set_profile_status(&profile.id, ProfileStatus::Disconnected, state.clock.now()).await?;
    state.store.delete_credentials(&profile.id).await?;
    state.store.detach_service_account(&profile.id).await?;
    tracing::info!(profile_id = %profile.id, "profile revoked by the end-user");
    Ok(StatusCode::ACCEPTED)
}
