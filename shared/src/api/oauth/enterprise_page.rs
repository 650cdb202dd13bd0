//! The Enterprise Connect page: an organisation's administrator types the credentials of an
//! Exchange service account (one holding the ApplicationImpersonation role), through which the
//! application will connect the calendars of the organisation's accounts. Same styling, headers
//! and escaping as the end-user page (`page.rs`).

use std::fmt::Write as _;

use axum::{http::StatusCode, response::Response};

use super::page::{self, describe, html, html_escape};
use crate::{
    authorization::{AuthorizeRequest, ConnectionForm, FieldProblem},
    domain::{Application, Scope, Scopes},
    state::AppState,
};

/// The pending Enterprise Connect request `request_id` names and its application, or the page to
/// answer with (an end-user request is not found here).
pub(super) async fn pending(
    state: &AppState,
    request_id: Option<&str>,
) -> Result<(String, AuthorizeRequest, Application), Response> {
    let Some(request_id) = request_id else { return Err(page::expired()) };
    match crate::authorization::load_enterprise(&state.store, request_id, state.clock.now()).await {
        Err(e) => Err(page::internal_error(e.into())),
        Ok(None) => Err(page::expired()),
        Ok(Some((request, application))) => Ok((request_id.to_owned(), request, application)),
    }
}

/// The service account form.
pub(super) struct ServiceAccountForm<'a> {
    pub application: &'a str,
    /// What each connected account will let the application do.
    pub delegated: Scopes,
    pub request_id: &'a str,
    pub redirect_uri: &'a str,
    pub notice: Option<&'a str>,
    pub problems: &'a [FieldProblem],
    /// What was typed (the password is never echoed).
    pub typed: Option<&'a ConnectionForm>,
    /// Microsoft's admin consent authority when calsync's Microsoft client is configured: the
    /// Office 365 choice is offered and its form leads there.
    pub office365: Option<String>,
    /// calsync's Google service account client id when its key is configured: the Google
    /// Workspace (domain-wide delegation) choice is offered.
    pub google: Option<&'a str>,
}

impl<'a> ServiceAccountForm<'a> {
    /// The form for a pending request as first shown, offering the service accounts this
    /// installation is configured for.
    pub(super) fn of(
        state: &'a AppState,
        request_id: &'a str,
        request: &'a AuthorizeRequest,
        application: &'a str,
    ) -> Self {
        ServiceAccountForm {
            application,
            delegated: request.delegated_scopes.clone().unwrap_or_default(),
            request_id,
            redirect_uri: &request.redirect_uri,
            notice: None,
            problems: &[],
            typed: None,
            office365: crate::authorization::service_accounts::office365::consent_page(state),
            google: crate::authorization::service_accounts::google::client_id(state),
        }
    }
}

const FIELDS: [(&str, &str, &str, bool); 4] = [
    ("email", "Service account email address", "email", true),
    ("password", "Password", "password", true),
    ("username", "Username (if different from the email address, like CORP\\svc-calendar)", "text", false),
    ("server_url", "Exchange server URL (if not found automatically)", "url", false),
];

impl ServiceAccountForm<'_> {
    pub(super) fn render(&self, status: StatusCode) -> Response {
        let app = html_escape(self.application);
        let mut main = format!(
            "<h1>Connect your organisation's calendars to {app}</h1><p><strong>{app}</strong> is asking for a \
             service account of your organisation, through which it can connect the calendars of your \
             organisation's accounts without their passwords. Each account it connects will let {app}:</p>"
        );
        main.push_str("<ul class=\"scopes\">");
        for scope in Scope::ALL.into_iter().filter(|s| self.delegated.contains(*s)) {
            let _ = write!(main, "<li>{}</li>", describe(scope));
        }
        main.push_str("</ul>");
        if let Some(notice) = self.notice {
            let _ = write!(main, "<p class=\"notice\" role=\"alert\">{}</p>", html_escape(notice));
        }
        let _ = write!(
            main,
            "<h2>Exchange service account</h2><form class=\"choice\" id=\"exchange\" method=\"post\" \
             action=\"authorize\"><input type=\"hidden\" name=\"request\" value=\"{}\">\
             <input type=\"hidden\" name=\"service\" value=\"exchange\">",
            html_escape(self.request_id)
        );
        if !self.problems.is_empty() && !self.google_typed() {
            main.push_str("<ul class=\"errors\" role=\"alert\">");
            for problem in self.problems {
                let _ = write!(main, "<li>{}</li>", html_escape(problem.message));
            }
            main.push_str("</ul>");
        }
        for (name, label, kind, required) in FIELDS {
            self.input(&mut main, name, label, kind, required);
        }
        main.push_str(
            "<p class=\"hint\">The account needs Exchange's ApplicationImpersonation role over the accounts to \
             connect.</p><button type=\"submit\">Connect the service account</button></form>",
        );
        super::enterprise_google::render_choice(self, &mut main);
        if self.office365.is_some() {
            let _ = write!(
                main,
                "<h2>Office 365</h2><form class=\"choice\" id=\"office365\" method=\"post\" action=\"authorize\">\
                 <input type=\"hidden\" name=\"request\" value=\"{}\">\
                 <input type=\"hidden\" name=\"service\" value=\"office365\"><p class=\"hint\">An administrator \
                 of your Microsoft 365 organisation (work or school accounts) grants calsync's application \
                 permission to the calendars of the organisation's mailboxes; no password is asked for or \
                 stored.</p><button type=\"submit\">Sign in as an administrator at Microsoft</button></form>",
                html_escape(self.request_id)
            );
        }
        let _ = write!(
            main,
            "<p class=\"foot\">The service account's password is stored encrypted and is never shown to {app}; \
             no password of your organisation's accounts is asked for or stored. \
             Afterwards you return to {app}.</p>"
        );
        let mut targets = vec![self.redirect_uri];
        targets.extend(self.office365.as_deref());
        html(status, &format!("Connect your organisation's calendars to {}", self.application), &main, &targets)
    }

    fn input(&self, out: &mut String, name: &str, label: &str, kind: &str, required: bool) {
        page::input_field(out, name, label, kind, required, self.typed, self.problems);
    }
}
