//! The Google Workspace choice of the Enterprise Connect page: what the domain's administrator
//! grants calsync's service account (its client id and the calendar scope, on the Admin
//! console's domain-wide delegation page), and the address through which calsync proves the
//! delegation. Offered only when the operator configured calsync's Google service account key.

use std::fmt::Write as _;

use axum::{http::StatusCode, response::Response};

use super::{enterprise_page::ServiceAccountForm, page, page::html_escape};
use crate::{
    authorization::{AuthorizeRequest, ConnectionForm, FieldProblem, service_accounts::google},
    providers::google::delegation::CALENDAR_SCOPE,
    state::AppState,
};

/// The form value of the choice.
pub(super) const SERVICE: &str = "google";

const NO_ADDRESS: &str = "Enter the email address of a user of your Google Workspace domain.";

impl ServiceAccountForm<'_> {
    /// Whether the form being shown again was the Google one.
    pub(super) fn google_typed(&self) -> bool {
        self.typed.and_then(|form| form.service.as_deref()) == Some(SERVICE)
    }
}

/// Appends the Google Workspace choice to the page, when it is offered.
pub(super) fn render_choice(form: &ServiceAccountForm<'_>, out: &mut String) {
    let Some(client_id) = form.google else { return };
    let _ = write!(
        out,
        "<h2>Google Workspace</h2><form class=\"choice\" id=\"google\" method=\"post\" action=\"authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <input type=\"hidden\" name=\"service\" value=\"{SERVICE}\">\
         <p class=\"hint\">A super administrator of your Google Workspace domain first grants calsync's service \
         account domain-wide delegation: in the Google Admin console, open Security, Access and data control, API \
         controls, Manage domain-wide delegation, choose Add new and enter</p>\
         <dl><dt>Client ID</dt><dd><code>{client_id}</code></dd>\
         <dt>OAuth scopes</dt><dd><code>{CALENDAR_SCOPE}</code></dd></dl>\
         <p class=\"hint\">Then enter the address of a user of the domain (your own, for example): calsync checks \
         the delegation by reading that user's calendar. Accounts of that address's domain can then be \
         connected.</p>",
        request = html_escape(form.request_id),
        client_id = html_escape(client_id),
    );
    if form.google_typed() && !form.problems.is_empty() {
        out.push_str("<ul class=\"errors\" role=\"alert\">");
        for problem in form.problems {
            let _ = write!(out, "<li>{}</li>", html_escape(problem.message));
        }
        out.push_str("</ul>");
    }
    let typed = form.typed.filter(|_| form.google_typed()).and_then(|t| t.email.as_deref()).unwrap_or_default();
    let _ = write!(
        out,
        "<label>Email address of a user of the domain<input type=\"email\" name=\"email\" autocomplete=\"username\"\
         {value} required{invalid}></label><button type=\"submit\">Connect the Google Workspace domain</button></form>",
        value = if typed.is_empty() { String::new() } else { format!(" value=\"{}\"", html_escape(typed)) },
        invalid = if form.google_typed() && !form.problems.is_empty() { " aria-invalid=\"true\"" } else { "" },
    );
}

/// The Google choice submitted: proves the delegation for the typed address, then stores the
/// service account and redirects with a code; a refusal shows the form again (400), nothing stored.
pub(super) async fn post(
    state: &AppState,
    shown: ServiceAccountForm<'_>,
    form: &ConnectionForm,
    request_id: &str,
    request: &AuthorizeRequest,
) -> Response {
    if shown.google.is_none() {
        let notice = "Google Workspace service accounts cannot be connected on this installation.";
        return ServiceAccountForm { notice: Some(notice), ..shown }.render(StatusCode::BAD_REQUEST);
    }
    let email = form.email.as_deref().map(str::trim).unwrap_or_default().to_ascii_lowercase();
    let valid =
        crate::domain::service_account::domain_of(&email).is_some() && !email.starts_with('@') && !email.contains(' ');
    if !valid {
        let problems = [FieldProblem { field: "email", message: NO_ADDRESS }];
        return ServiceAccountForm { problems: &problems, ..shown }.render(StatusCode::BAD_REQUEST);
    }
    let credentials = match google::verify_google_delegation(state, &email).await {
        Ok(credentials) => credentials,
        Err(problems) => return ServiceAccountForm { problems: &problems, ..shown }.render(StatusCode::BAD_REQUEST),
    };
    match google::complete_google(state, request_id, request, &email, &credentials).await {
        Ok(Some(url)) => page::redirect(&url),
        Ok(None) => page::expired(),
        Err(e) => page::internal_error(e),
    }
}
