//! `GET /enterprise_connect/callback/microsoft`: where Microsoft's v2 admin consent endpoint
//! sends the administrator back, with `tenant`, `admin_consent=True` and `state` (the pending
//! Enterprise Connect request's id), or with `error` when they declined or the consent failed.
//! A consent is proved with a client credentials grant for the tenant before anything is stored;
//! the service account is then stored and the administrator goes on to the application with a
//! code. Otherwise the page is shown again with a notice and nothing is stored. Microsoft's
//! `error_description` is never shown: it is for developers.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{
    enterprise_page::{ServiceAccountForm, pending},
    page,
};
use crate::{authorization::service_accounts::office365, state::AppState};

const DECLINED: &str = "The Office 365 consent was not given. Choose Office 365 again, or an Exchange service account.";
const FAILED: &str = "Microsoft did not complete the Office 365 consent. Choose Office 365 again, or an Exchange \
                      service account.";

#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    tenant: Option<String>,
    admin_consent: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub(super) async fn get(State(state): State<AppState>, Query(callback): Query<Callback>) -> Response {
    let (request_id, request, application) = match pending(&state, callback.state.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let delegated = request.delegated_scopes.clone().unwrap_or_default();
    let consent_page = office365::consent_page(&state);
    let shown = ServiceAccountForm {
        application: &application.name,
        delegated: &delegated,
        request_id: &request_id,
        redirect_uri: &request.redirect_uri,
        notice: None,
        problems: &[],
        typed: None,
        office365: consent_page.as_deref(),
        google: crate::authorization::service_accounts::google::client_id(&state),
    };

    // A consent the administrator declined, or one Microsoft ended with an error.
    let consented = callback.admin_consent.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("true"));
    let tenant = match (callback.tenant.as_deref(), callback.error.as_deref()) {
        (Some(tenant), None) if consented => tenant,
        (_, Some(error)) if !matches!(error, "access_denied" | "consent_required") => {
            let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
            tracing::warn!(%error, "an Office 365 admin consent came back with an error");
            return ServiceAccountForm { notice: Some(FAILED), ..shown }.render(StatusCode::BAD_GATEWAY);
        }
        _ => return ServiceAccountForm { notice: Some(DECLINED), ..shown }.render(StatusCode::OK),
    };

    // Prove the consent with a token for the tenant and read its domains.
    let consented = match office365::consented_tenant(&state, tenant).await {
        Ok(consented) => consented,
        Err(e) => {
            let notice = e.to_string();
            return ServiceAccountForm { notice: Some(&notice), ..shown }.render(StatusCode::BAD_GATEWAY);
        }
    };

    // Store it and return to the application with a code.
    match office365::complete_office365(&state, &request_id, &request, &consented).await {
        Ok(Some(url)) => page::redirect(&url),
        Ok(None) => page::expired(),
        Err(e) => page::internal_error(e),
    }
}
