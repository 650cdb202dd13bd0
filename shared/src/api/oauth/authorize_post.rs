//! `POST /oauth/authorize`: the page's forms. Loads the pending request the form names, checks
//! the chosen service's fields, tries the credentials against the service, and on success
//! completes the request and redirects to the application with a code. A refused form is shown
//! again with its problems (400) and nothing is stored.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::Response,
};

use super::page::{self, Choices};
use crate::{
    authorization::{self, Connection, Service},
    state::AppState,
};

pub(super) async fn post(State(state): State<AppState>, request: Request) -> Response {
    let form = match page::read_form(request).await {
        Ok(form) => form,
        Err(response) => return response,
    };

    // Load the pending request it belongs to.
    let (request_id, request, application) = match page::pending(&state, form.request.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let request_id = request_id.as_str();
    let choices = Choices { typed: Some(&form), ..Choices::of(&state, request_id, &request, &application.name) };

    // Check the chosen service and its fields.
    let Some(service) = form.service.as_deref().and_then(Service::parse) else {
        return Choices { notice: Some("Choose a calendar service."), ..choices }.render(StatusCode::BAD_REQUEST);
    };
    if !service.is_configured(&state.providers) {
        let notice = "This provider is not configured on this calsync installation. Choose another calendar service.";
        return Choices { focus: Some(service), notice: Some(notice), ..choices }.render(StatusCode::OK);
    }
    // Google and Microsoft sign in on their own pages and come back to their callbacks.
    if matches!(service, Service::Google | Service::Microsoft) {
        let url = match service {
            Service::Google => authorization::google::sign_in_url(&state, request_id).map_err(anyhow::Error::from),
            _ => authorization::microsoft::sign_in_url(&state, request_id).map_err(anyhow::Error::from),
        };
        return match url {
            Ok(url) => page::redirect(&url),
            Err(e) => page::internal_error(e),
        };
    }
    let connection = match Connection::validate(service, &form, state.config.allow_http_callbacks) {
        Ok(connection) => connection,
        Err(problems) => {
            return Choices { focus: Some(service), problems: &problems, ..choices }.render(StatusCode::BAD_REQUEST);
        }
    };

    // Try the credentials against the service before anything is stored.
    if let Err(problems) = authorization::verify(&state, &connection).await {
        return Choices { focus: Some(service), problems: &problems, ..choices }.render(StatusCode::BAD_REQUEST);
    }

    // Complete the request and return to the application with a code.
    page::complete(&state, request_id, &request, &connection).await
}
