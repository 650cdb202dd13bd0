//! The token response of `/oauth/token` and `/v1/application_calendars` (cronofy-api.md §4.6).

use serde::Serialize;

use crate::{
    domain::{AccountId, Application, ProfileId, ProviderName},
    store::{Store, StoreResult},
    tokens::IssuedTokens,
};

/// The profile an authorization was made through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkingProfile {
    pub provider_name: ProviderName,
    pub profile_id: ProfileId,
    pub profile_name: String,
}

/// What the token endpoints answer; the only time the tokens' plaintext leaves calsync.
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    pub token_type: &'static str,
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
    pub account_id: AccountId,
    /// The account id, or the `apc_` id for an application calendar.
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_calendar_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linking_profile: Option<LinkingProfile>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("sub", &self.sub).finish_non_exhaustive()
    }
}

/// Shapes freshly issued tokens as a response. The linking profile is `linking` when given
/// (the profile the user connected), else the application calendar's, else the account's
/// oldest profile. Application calendars answer with their `apc_` sub and Cronofy's simplified
/// `read_write` scope.
pub async fn token_response(
    store: &Store,
    application: &Application,
    issued: &IssuedTokens,
    linking: Option<&ProfileId>,
) -> StoreResult<TokenResponse> {
    let account = &issued.authorization.account_id;
    let calendar = store.find_application_calendar_by_account(&application.id, account).await?;
    let profile_id = linking.cloned().or_else(|| calendar.as_ref().map(|c| c.profile_id.clone()));
    let profile = match profile_id {
        Some(id) => store.get_profile(&id).await?,
        None => store.list_profiles(account).await?.into_iter().next(),
    };
    let (sub, application_calendar_id, scope) = match calendar {
        Some(c) => (c.id.to_string(), Some(c.application_calendar_id), "read_write".to_owned()),
        None => (account.to_string(), None, issued.authorization.scopes.to_string()),
    };
    Ok(TokenResponse {
        token_type: "bearer",
        access_token: issued.access_token.clone(),
        expires_in: issued.expires_in,
        refresh_token: issued.refresh_token.clone(),
        scope,
        account_id: account.clone(),
        sub,
        application_calendar_id,
        linking_profile: profile.map(|p| LinkingProfile {
            provider_name: p.provider,
            profile_id: p.id,
            profile_name: p.email,
        }),
    })
}
