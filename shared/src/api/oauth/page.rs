//! The HTML pages of `/oauth/authorize`: the service chooser with its forms, and short message
//! pages. Plain `format!` templates; every interpolated value goes through `html_escape`.
//!
//! Every page is self-contained (inline CSS, no scripts, no external assets) and sent with a
//! Content-Security-Policy that allows nothing else. `form-action` names the application's
//! redirect origin besides `'self'` because browsers apply it to the redirect that follows a
//! form submission too.

use std::fmt::Write as _;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    api::error::LoggedError,
    authorization::{self, AuthorizeRequest, Connection, ConnectionForm, FieldProblem, Service},
    domain::{Application, Scope, Scopes},
};

const EXPIRED: &str = "This authorization request has expired or was already completed. Please start again from the \
                       application.";

/// The page for a pending request that is gone (expired, completed, or never existed).
pub(super) fn expired() -> Response {
    message(StatusCode::BAD_REQUEST, "This page has expired", EXPIRED)
}

/// The pending request `request_id` names and its application, or the page to answer with.
pub(super) async fn pending(
    state: &crate::state::AppState,
    request_id: Option<&str>,
) -> Result<(String, AuthorizeRequest, Application), Response> {
    let Some(request_id) = request_id else { return Err(expired()) };
    match crate::authorization::load(&state.store, request_id, state.clock.now()).await {
        Err(e) => Err(internal_error(e.into())),
        Ok(None) => Err(expired()),
        Ok(Some((request, application))) => Ok((request_id.to_owned(), request, application)),
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub(super) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `scheme://host[:port]` of a redirect URI, when it is simple enough to put in a CSP header.
fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if !matches!(scheme, "https" | "http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = !authority.is_empty()
        && authority.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn with_page_headers(mut response: Response, form_targets: &[&str]) -> Response {
    let mut csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'"
        .to_owned();
    for origin in form_targets.iter().filter_map(|uri| origin_of(uri)) {
        csp.push(' ');
        csp.push_str(&origin);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A page; `form_targets` are where its forms may lead besides calsync itself (the application's
/// redirect URI, a provider's sign-in), since browsers apply `form-action` to the redirect that
/// follows a submission too.
pub(super) fn html(status: StatusCode, title: &str, main: &str, form_targets: &[&str]) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · calsync</title><style>{STYLE}</style></head>\
         <body><main><p class=\"brand\">calsync</p>{main}</main></body></html>\n",
        title = html_escape(title),
    );
    let response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body).into_response();
    with_page_headers(response, form_targets)
}

const STYLE: &str = "body{margin:0;background:#f4f5f7;color:#1d2330;font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif}\
main{max-width:34rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px #0002}\
.brand{margin:0;font-weight:700;color:#3558d6;letter-spacing:.04em}h1{font-size:1.4rem;margin:.4rem 0 1rem}\
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}ul.scopes{padding-left:1.2rem}\
.notice,.errors{background:#fff4e5;border:1px solid #f0b35a;border-radius:8px;padding:.6rem .9rem}\
.errors{list-style:none;margin:0 0 .8rem}.choice{border:1px solid #d6dae3;border-radius:10px;margin:.6rem 0;padding:.7rem .9rem}\
summary{cursor:pointer;font-weight:600}label{display:block;margin:.6rem 0;font-size:.95rem}\
input[type=email],input[type=text],input[type=url],input[type=password]{display:block;width:100%;box-sizing:border-box;\
padding:.45rem .6rem;margin-top:.2rem;border:1px solid #b9bfcc;border-radius:6px;font:inherit}\
input[aria-invalid=true]{border-color:#c4431d}button{font:inherit;font-weight:600;padding:.45rem 1rem;border:0;\
border-radius:6px;background:#3558d6;color:#fff;cursor:pointer}form.choice button{min-width:12rem}\
.hint{color:#5b6475;font-size:.9rem;margin:.3rem 0 0}.foot{color:#5b6475;font-size:.85rem;margin-top:1.5rem}";

/// A page with a title and one paragraph.
pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let main = format!("<h1>{}</h1><p>{}</p>", html_escape(title), html_escape(text));
    html(status, title, &main, &[])
}

/// The page for an internal failure; the cause goes to the log, not the browser.
pub(super) fn internal_error(error: anyhow::Error) -> Response {
    let mut response = message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "calsync could not finish this step. Please start again from the application.",
    );
    response.extensions_mut().insert(LoggedError(std::sync::Arc::new(error)));
    response
}

/// A 302 to `url` (the application's redirect URI with the result).
/// The `/oauth/authorize` parameters of a request (`delegated_scope` is read only by Enterprise
/// Connect).
pub(super) fn authorize_params(params: &crate::api::extract::Params) -> authorization::AuthorizeParams<'_> {
    authorization::AuthorizeParams {
        response_type: params.get("response_type"),
        client_id: params.get("client_id"),
        redirect_uri: params.get("redirect_uri"),
        scope: params.get("scope"),
        state: params.get("state"),
        provider_name: params.get("provider_name"),
        delegated_scope: params.get("delegated_scope"),
    }
}

/// The page's form as posted (`application/x-www-form-urlencoded`), or the page saying it could
/// not be read.
pub(super) async fn read_form(request: axum::extract::Request) -> Result<ConnectionForm, Response> {
    const UNREADABLE: &str = "calsync could not read what the page sent. Please start again from the application.";
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    match crate::api::extract::body_bytes(request).await {
        Ok(bytes) if is_form => Ok(ConnectionForm::parse(&bytes)),
        _ => Err(message(StatusCode::BAD_REQUEST, "The form could not be read", UNREADABLE)),
    }
}

/// Completes the pending request with the connection the end-user made and sends them on to the
/// application with a code (or says the page expired, when another tab completed it first).
pub(super) async fn complete(
    state: &crate::state::AppState,
    request_id: &str,
    request: &AuthorizeRequest,
    connection: &Connection,
) -> Response {
    match authorization::complete(state, request_id, request, connection).await {
        Ok(Some(url)) => redirect(&url),
        Ok(None) => expired(),
        Err(e) => internal_error(e),
    }
}

pub(super) fn redirect(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            ],
        )
            .into_response(),
        Err(e) => internal_error(anyhow::Error::new(e).context("the redirect URI is not a valid header value")),
    }
}

pub(super) fn describe(scope: Scope) -> &'static str {
    match scope {
        Scope::ReadAccount => "See your name, email address and time zone",
        Scope::ListCalendars => "See the list of your calendars",
        Scope::ReadEvents => "Read the events in your calendars",
        Scope::ReadFreeBusy => "See when you are free or busy",
        Scope::CreateEvent => "Add events to your calendars and change the events it added",
        Scope::DeleteEvent => "Delete the events it added",
        Scope::CreateCalendar => "Create new calendars",
        Scope::ChangeParticipationStatus => "Accept or decline invitations for you",
        Scope::ServiceAccountsManage => "Connect calendars of your organisation's accounts",
    }
}

/// The sign-in pages of the providers configured on this installation, for the page's CSP:
/// a choice's form leads there through calsync's redirect.
pub(super) fn sign_in_pages(state: &crate::state::AppState) -> Vec<&str> {
    let mut pages = Vec::new();
    if state.providers.google.is_some() {
        pages.push(state.config.google.authorize_url.as_str());
    }
    if state.providers.microsoft.is_some() {
        pages.push(state.config.microsoft.authorize_url.as_str());
    }
    pages
}

/// One labelled input of a connection form, refilled with what was `typed` (a password never is)
/// and marked invalid when `problems` name it.
pub(super) fn input_field(
    out: &mut String,
    name: &str,
    label: &str,
    kind: &str,
    required: bool,
    typed: Option<&ConnectionForm>,
    problems: &[FieldProblem],
) {
    let typed = typed.and_then(|form| match name {
        "email" => form.email.as_deref(),
        "username" => form.username.as_deref(),
        "server_url" => form.server_url.as_deref(),
        _ => None,
    });
    let value = html_escape(typed.unwrap_or_default());
    let invalid = problems.iter().any(|p| p.field == name);
    let autocomplete = match name {
        "email" | "username" => "username",
        "password" => "current-password",
        _ => "off",
    };
    let _ = write!(
        out,
        "<label>{label}<input type=\"{kind}\" name=\"{name}\" autocomplete=\"{autocomplete}\"{value}{required}{invalid}></label>",
        label = html_escape(label),
        value = if value.is_empty() { String::new() } else { format!(" value=\"{value}\"") },
        required = if required { " required" } else { "" },
        invalid = if invalid { " aria-invalid=\"true\"" } else { "" },
    );
}

/// The service chooser.
pub(super) struct Choices<'a> {
    pub application: &'a str,
    /// The sign-in pages of the providers offered here (Google's, Microsoft's), which their
    /// choices' forms lead to.
    pub sign_in: Vec<&'a str>,
    pub scopes: &'a Scopes,
    pub request_id: &'a str,
    pub redirect_uri: &'a str,
    /// The service whose section is opened and listed first.
    pub focus: Option<Service>,
    pub notice: Option<&'a str>,
    /// Problems with the focused service's fields.
    pub problems: &'a [FieldProblem],
    /// What the user typed into the focused service's form (passwords are never echoed).
    pub typed: Option<&'a ConnectionForm>,
}

impl<'a> Choices<'a> {
    /// The page for a pending request as first shown: no service in focus, nothing to say yet.
    pub(super) fn of(
        state: &'a crate::state::AppState,
        request_id: &'a str,
        request: &'a AuthorizeRequest,
        application: &'a str,
    ) -> Self {
        Choices {
            application,
            sign_in: sign_in_pages(state),
            scopes: &request.scopes,
            request_id,
            redirect_uri: &request.redirect_uri,
            focus: None,
            notice: None,
            problems: &[],
            typed: None,
        }
    }

    pub(super) fn render(&self, status: StatusCode) -> Response {
        let app = html_escape(self.application);
        let mut main = format!("<h1>Connect a calendar to {app}</h1><p><strong>{app}</strong> is asking to:</p>");
        main.push_str("<ul class=\"scopes\">");
        for scope in Scope::ALL.into_iter().filter(|s| self.scopes.contains(*s)) {
            let _ = write!(main, "<li>{}</li>", describe(scope));
        }
        main.push_str("</ul>");
        if let Some(notice) = self.notice {
            let _ = write!(main, "<p class=\"notice\" role=\"alert\">{}</p>", html_escape(notice));
        }
        main.push_str("<h2>Choose your calendar service</h2>");
        let mut order: Vec<Service> = self.focus.into_iter().collect();
        order.extend(Service::ALL.into_iter().filter(|s| Some(*s) != self.focus));
        for service in order {
            self.section(&mut main, service);
        }
        let _ = write!(
            main,
            "<p class=\"foot\">calsync keeps your calendar in step for {app}. Your password is stored encrypted and \
             is never shown to {app}. Afterwards you return to {app}.</p>"
        );
        let mut targets = vec![self.redirect_uri];
        targets.extend(self.sign_in.iter().copied());
        html(status, &format!("Connect a calendar to {}", self.application), &main, &targets)
    }

    fn hidden(&self, service: Option<Service>) -> String {
        let mut fields = format!("<input type=\"hidden\" name=\"request\" value=\"{}\">", html_escape(self.request_id));
        if let Some(service) = service {
            let _ = write!(fields, "<input type=\"hidden\" name=\"service\" value=\"{}\">", service.as_str());
        }
        fields
    }

    fn input(&self, out: &mut String, service: Service, name: &str, label: &str, kind: &str, required: bool) {
        // Only the focused service's form is refilled and marked.
        let (typed, problems) = if self.focus == Some(service) { (self.typed, self.problems) } else { (None, &[][..]) };
        input_field(out, name, label, kind, required, typed, problems);
    }

    fn section(&self, out: &mut String, service: Service) {
        let label = service.label();
        let hidden = self.hidden(None);
        let fields: &[(&str, &str, &str, bool)] = match service {
            Service::Google | Service::Microsoft | Service::Hosted => {
                let (id, hint) = match service {
                    Service::Google => ("choose-google", "Google Calendar and Google Workspace."),
                    Service::Microsoft => ("choose-microsoft", "Office 365, Outlook.com and Hotmail."),
                    _ => ("choose-calsync", "A calendar kept by this calsync installation, with no outside account."),
                };
                let _ = write!(
                    out,
                    "<form class=\"choice\" method=\"post\" action=\"authorize\">{hidden}\
                     <button type=\"submit\" id=\"{id}\" name=\"service\" value=\"{value}\">{label}</button>\
                     <p class=\"hint\">{hint}</p></form>",
                    value = service.as_str(),
                );
                return;
            }
            Service::Icloud => &[
                ("email", "Apple ID email address", "email", true),
                ("password", "App-specific password", "password", true),
            ],
            Service::Exchange => &[
                ("email", "Email address", "email", true),
                ("password", "Password", "password", true),
                ("username", "Username (if different from the email address)", "text", false),
                ("server_url", "Server URL (if not found automatically)", "url", false),
            ],
            Service::CalDav => &[
                ("server_url", "Server URL", "url", true),
                ("username", "Username", "text", true),
                ("password", "Password", "password", true),
            ],
        };
        let open = if self.focus == Some(service) { " open" } else { "" };
        let _ = write!(
            out,
            "<details class=\"choice\" id=\"{id}\"{open}><summary>{label}</summary>\
             <form method=\"post\" action=\"authorize\">{hidden}",
            id = service.as_str(),
            hidden = self.hidden(Some(service)),
        );
        if self.focus == Some(service) && !self.problems.is_empty() {
            out.push_str("<ul class=\"errors\" role=\"alert\">");
            for problem in self.problems {
                let _ = write!(out, "<li>{}</li>", html_escape(problem.message));
            }
            out.push_str("</ul>");
        }
        for (name, field_label, kind, required) in fields {
            self.input(out, service, name, field_label, kind, *required);
        }
        if service == Service::Icloud {
            out.push_str(
                "<p class=\"hint\">iCloud needs an app-specific password, not your Apple ID password: create one \
                 under Sign-In and Security on your Apple ID account page.</p>",
            );
        }
        let _ = write!(out, "<button type=\"submit\">Connect {label}</button></form></details>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            html_escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_plain_origins_reach_the_csp_header() {
        assert_eq!(origin_of("https://App.example:8443/cb?x=1").as_deref(), Some("https://app.example:8443"));
        assert_eq!(origin_of("http://localhost:3000").as_deref(), Some("http://localhost:3000"));
        assert_eq!(origin_of("https://a.example;script-src/cb"), None);
        assert_eq!(origin_of("https://user@a.example/cb"), None);
        assert_eq!(origin_of("javascript://x"), None);
    }
}
