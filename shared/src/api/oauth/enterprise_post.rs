//! `POST /enterprise_connect/oauth/authorize`: the service account form. Loads the pending
//! Enterprise Connect request, checks the fields, signs the service account in at Exchange, and
//! on success stores it and redirects to the application with a code. A refused form is shown
//! again with its problems (400) and nothing is stored.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::Response,
};

use super::{
    enterprise_page::{ServiceAccountForm, pending},
    page,
};
use crate::{
    authorization::{self, Connection, Service, service_accounts},
    state::AppState,
};

pub(super) async fn post(State(state): State<AppState>, request: Request) -> Response {
    let form = match page::read_form(request).await {
        Ok(form) => form,
        Err(response) => return response,
    };

    // Load the pending Enterprise Connect request it belongs to.
    let (request_id, request, application) = match pending(&state, form.request.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let shown = ServiceAccountForm {
        typed: Some(&form),
        ..ServiceAccountForm::of(&state, &request_id, &request, &application.name)
    };

    // Google Workspace: the delegation is proven for the typed address.
    if form.service.as_deref() == Some(super::enterprise_google::SERVICE) {
        return super::enterprise_google::post(&state, shown, &form, &request_id, &request).await;
    }

    // Office 365: the administrator consents at Microsoft and comes back to its callback.
    if form.service.as_deref() == Some("office365") && shown.office365.is_some() {
        return match service_accounts::office365::admin_consent_url(&state, &request_id) {
            Ok(url) => page::redirect(&url),
            Err(e) => page::internal_error(e.into()),
        };
    }

    // Check the fields: Exchange is the one kind of service account offered.
    if form.service.as_deref().is_some_and(|s| s != Service::Exchange.as_str()) {
        let notice = "Only Exchange service accounts can be connected on this installation.";
        return ServiceAccountForm { notice: Some(notice), ..shown }.render(StatusCode::BAD_REQUEST);
    }
    let connection = match Connection::validate(Service::Exchange, &form, state.config.allow_http_callbacks) {
        Ok(connection) => connection,
        Err(problems) => return ServiceAccountForm { problems: &problems, ..shown }.render(StatusCode::BAD_REQUEST),
    };

    // Sign the service account in before anything is stored.
    let Connection::Exchange { email, password, username, server_url } = &connection else {
        return page::internal_error(anyhow::anyhow!("an Exchange form validated into another connection"));
    };
    let credentials = service_accounts::exchange_credentials(email, password, username.as_deref());
    let verified = service_accounts::verify_service_account(&state, &credentials, email, server_url.as_deref()).await;
    drop(credentials);
    if let Err(problems) = verified {
        return ServiceAccountForm { problems: &problems, ..shown }.render(StatusCode::BAD_REQUEST);
    }

    // Store it and return to the application with a code.
    match authorization::service_accounts::complete_service_account(&state, &request_id, &request, &connection).await {
        Ok(Some(url)) => page::redirect(&url),
        Ok(None) => page::expired(),
        Err(e) => page::internal_error(e),
    }
}
