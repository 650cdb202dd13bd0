//! `GET /enterprise_connect/callback/microsoft`: where Microsoft sends the administrator back,
//! twice. From the v2 admin consent endpoint with `tenant`, `admin_consent=True` and `state` (the
//! pending Enterprise Connect request's id): that redirect is not signed, so nothing is believed
//! of it but where to sign in, and the administrator is sent to sign in at that tenant. From that
//! sign-in with `code`: the tenant is the one Graph names for the signed-in administrator, the
//! consent is proved with a client credentials grant for it, the service account is stored and
//! the administrator goes on to the application with a code. With `error` (declined, cancelled,
//! failed) or a refusal on the way, the page is shown again with a notice and nothing is stored.
//! Microsoft's `error_description` is never shown: it is for developers.

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
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub(super) async fn get(State(state): State<AppState>, Query(callback): Query<Callback>) -> Response {
    let (request_id, request, application) = match pending(&state, callback.state.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let shown = ServiceAccountForm::of(&state, &request_id, &request, &application.name);

    // A consent or sign-in the administrator declined, or one Microsoft ended with an error.
    let consented = callback.admin_consent.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("true"));
    let code = match (callback.code.as_deref(), callback.tenant.as_deref(), callback.error.as_deref()) {
        (Some(code), _, None) => code,
        // Back from the consent: the administrator signs in at the tenant it names.
        (None, Some(tenant), None) if consented => {
            return match office365::tenant_sign_in_url(&state, tenant, &request_id) {
                Ok(url) => page::redirect(&url),
                Err(e) => {
                    let notice = e.to_string();
                    ServiceAccountForm { notice: Some(&notice), ..shown }.render(StatusCode::BAD_REQUEST)
                }
            };
        }
        (_, _, Some(error)) if !matches!(error, "access_denied" | "consent_required") => {
            let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
            tracing::warn!(%error, "an Office 365 admin consent came back with an error");
            return ServiceAccountForm { notice: Some(FAILED), ..shown }.render(StatusCode::BAD_GATEWAY);
        }
        _ => return ServiceAccountForm { notice: Some(DECLINED), ..shown }.render(StatusCode::OK),
    };

    // The administrator's own tenant; then the consent proved with a token for it, and its domains.
    let tenant = match office365::signed_in_tenant(&state, code).await {
        Ok(tenant) => tenant,
        Err(e) => {
            let notice = e.to_string();
            return ServiceAccountForm { notice: Some(&notice), ..shown }.render(StatusCode::BAD_GATEWAY);
        }
    };
    let consented = match office365::consented_tenant(&state, &tenant).await {
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
