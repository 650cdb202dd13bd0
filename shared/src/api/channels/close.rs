//! `DELETE /v1/channels/{channel_id}`: closes one of the application's channels over the
//! authorized account (202). Another application's or account's channel, an unknown id and an
//! already closed channel are the same 404.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};

use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::Grant,
    },
    domain::ChannelId,
    state::AppState,
};

pub(super) async fn delete(
    State(state): State<AppState>,
    grant: Grant,
    Path(channel_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = ChannelId::parse(&channel_id).map_err(|_| ApiError::NotFound)?;
    let channel = state.store.get_channel(&id).await?.filter(|c| &c.account_id == grant.account_id());
    if channel.is_none() || !state.store.close_channel(&id, &grant.application.id, state.clock.now()).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(channel_id = %id, "channel closed by the application");
    Ok(StatusCode::ACCEPTED)
}
