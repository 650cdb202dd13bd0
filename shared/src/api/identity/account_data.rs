//! The grant's account with its profiles and calendars, loaded once for the identity endpoints.

use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::Grant,
    },
    domain::{Account, Calendar, Profile, ProfileId},
    state::AppState,
};

#[derive(Debug)]
pub(super) struct AccountData {
    pub(super) account: Account,
    pub(super) profiles: Vec<Profile>,
    pub(super) calendars: Vec<Calendar>,
    /// Profiles with a calendar that has not synced successfully yet.
    pub(super) awaiting_sync: Vec<ProfileId>,
}

impl AccountData {
    pub(super) async fn load(state: &AppState, grant: &Grant) -> ApiResult<Self> {
        let store = &state.store;
        let id = grant.account_id();
        // A live token whose account is gone (erased a moment ago) grants nothing.
        let account = store.get_account(id).await?.ok_or(ApiError::Unauthorized)?;
        Ok(AccountData {
            account,
            profiles: store.list_profiles(id).await?,
            calendars: store.list_calendars(id).await?,
            awaiting_sync: store.profiles_awaiting_initial_sync(id).await?,
        })
    }

    pub(super) fn initial_sync_required(&self, profile: &ProfileId) -> bool {
        self.awaiting_sync.contains(profile)
    }
}
