//! The two grants of `/oauth/token`: an authorization code for first tokens, a refresh token
//! for a new access token.

use chrono::{DateTime, Utc};

use super::{TokenResponse, token_response};
use crate::{
    crypto::token_hash,
    domain::Application,
    store::{Store, StoreResult},
    tokens,
};

/// Exchanges a code issued to `application` for `redirect_uri`. `None` (RFC 6749
/// `invalid_grant`) when the code is unknown, expired, already used, another application's or
/// was issued for another redirect URI.
pub async fn exchange_code(
    store: &Store,
    application: &Application,
    code: &str,
    redirect_uri: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<TokenResponse>> {
    let Some(redeemed) = store.redeem_authorization_code(&token_hash(code), &application.id, redirect_uri, now).await?
    else {
        return Ok(None);
    };
    let issued = tokens::issue(store, application, &redeemed.account_id, redeemed.scopes, now).await?;
    token_response(store, application, &issued, redeemed.profile_id.as_ref()).await.map(Some)
}

/// A new access token for `application`'s live authorization holding `refresh_token`; the
/// refresh token itself stays the same. `None` when there is no such authorization.
pub async fn refresh(
    store: &Store,
    application: &Application,
    refresh_token: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<TokenResponse>> {
    let Some(issued) = tokens::refresh(store, application, refresh_token, now).await? else {
        return Ok(None);
    };
    token_response(store, application, &issued, None).await.map(Some)
}
