//! Ending authorizations on an application's request (`/oauth/token/revoke`).
//!
//! Only the requesting application's own authorizations are ever ended; anything else (an
//! unknown token, another application's token or account) is left alone without saying so, as
//! RFC 7009 answers unknown tokens with success.

use chrono::{DateTime, Utc};

use crate::{
    crypto::token_hash,
    domain::{AccountId, Application, ApplicationCalendarId},
    store::{Store, StoreResult},
};

/// What to revoke.
#[derive(Clone, Copy)]
pub enum RevokeTarget<'a> {
    /// An access token (expired or not) or a refresh token.
    Token(&'a str),
    /// An account id (`acc_…`: every live authorization of the application on it) or an
    /// application calendar id (`apc_…`).
    Sub(&'a str),
}

impl std::fmt::Debug for RevokeTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RevokeTarget::Token(_) => f.write_str("Token(<redacted>)"),
            RevokeTarget::Sub(sub) => write!(f, "Sub({sub})"),
        }
    }
}

/// Ends what `target` names; returns how many authorizations ended.
pub async fn revoke(
    store: &Store,
    application: &Application,
    target: RevokeTarget<'_>,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let account = match target {
        RevokeTarget::Token(token) => {
            return match store.find_live_authorization_by_any_token(&token_hash(token)).await? {
                Some(authorization) if authorization.application_id == application.id => {
                    Ok(usize::from(store.terminate_authorization(&authorization.id, now).await?))
                }
                _ => Ok(0),
            };
        }
        RevokeTarget::Sub(sub) => {
            if let Ok(account) = AccountId::parse(sub) {
                account
            } else if let Ok(calendar) = ApplicationCalendarId::parse(sub) {
                match store.get_application_calendar(&application.id, &calendar).await? {
                    Some(calendar) => calendar.account_id,
                    None => return Ok(0),
                }
            } else {
                return Ok(0);
            }
        }
    };
    end_all(store, application, &account, now).await
}

/// Ends every live authorization of `application` on `account`.
async fn end_all(
    store: &Store,
    application: &Application,
    account: &AccountId,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let mut ended = 0;
    for authorization in store.list_authorizations(account).await? {
        if authorization.application_id == application.id
            && authorization.terminated_at.is_none()
            && store.terminate_authorization(&authorization.id, now).await?
        {
            ended += 1;
        }
    }
    Ok(ended)
}
