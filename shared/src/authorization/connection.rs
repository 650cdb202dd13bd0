//! What the user typed into the authorization page's forms, and checking it: a
//! `ConnectionForm` as posted becomes a `Connection` only when every field the chosen service
//! needs is present and plausible. Passwords are wiped from memory when these values drop.

use zeroize::Zeroize;

use super::Service;
use crate::{
    crypto::Credentials,
    domain::{ProviderName, ProviderService},
};

/// The fields a page form posts, as typed; empty fields are absent.
#[derive(Default)]
pub struct ConnectionForm {
    /// The pending request's id.
    pub request: Option<String>,
    pub service: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub username: Option<String>,
    pub server_url: Option<String>,
}

impl ConnectionForm {
    /// Reads an `application/x-www-form-urlencoded` body; unknown fields are ignored.
    pub fn parse(body: &[u8]) -> Self {
        let mut form = ConnectionForm::default();
        for (name, value) in form_urlencoded::parse(body) {
            let slot = match name.as_ref() {
                "request" => &mut form.request,
                "service" => &mut form.service,
                "email" => &mut form.email,
                "password" => &mut form.password,
                "username" => &mut form.username,
                "server_url" => &mut form.server_url,
                _ => continue,
            };
            if let Some(mut old) = slot.take() {
                old.zeroize();
            }
            // Passwords are taken as typed; every other field is trimmed.
            let value = if name == "password" { value.into_owned() } else { value.trim().to_owned() };
            *slot = (!value.is_empty()).then_some(value);
        }
        form
    }
}

impl std::fmt::Debug for ConnectionForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionForm").field("service", &self.service).finish_non_exhaustive()
    }
}

impl Drop for ConnectionForm {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

/// One problem with one field the user filled in, worded for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: &'static str,
}

/// A service connection whose fields passed validation.
#[derive(Clone, PartialEq, Eq)]
pub enum Connection {
    /// A Google account that granted access through Google's own sign-in.
    Google {
        email: String,
        credentials: Credentials,
    },
    /// A Microsoft account that granted access through Microsoft's own sign-in: a personal one
    /// (Outlook.com, Hotmail) or a work or school one (Office 365).
    Microsoft {
        email: String,
        personal: bool,
        credentials: Credentials,
    },
    Icloud {
        email: String,
        password: String,
    },
    Exchange {
        email: String,
        password: String,
        username: Option<String>,
        server_url: Option<String>,
    },
    CalDav {
        server_url: String,
        username: String,
        password: String,
    },
    Hosted,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Connection::Google { .. } => "Google",
            Connection::Microsoft { .. } => "Microsoft",
            Connection::Icloud { .. } => "Icloud",
            Connection::Exchange { .. } => "Exchange",
            Connection::CalDav { .. } => "CalDav",
            Connection::Hosted => "Hosted",
        };
        write!(f, "Connection::{name}(<redacted>)")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        match self {
            Connection::Icloud { password, .. }
            | Connection::Exchange { password, .. }
            | Connection::CalDav { password, .. } => password.zeroize(),
            // Credentials wipe themselves.
            Connection::Google { .. } | Connection::Microsoft { .. } | Connection::Hosted => {}
        }
    }
}

const MAX_EMAIL_LEN: usize = 254;
const MAX_USERNAME_LEN: usize = 256;
const MAX_PASSWORD_LEN: usize = 1024;
const MAX_URL_LEN: usize = 2000;

/// A plausible address: one `@`, a non-empty local part, a dotted domain of letters, digits and
/// hyphens. Deliberately loose: the provider is the judge of the rest.
pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    email.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain_ok
}

/// A server URL: https (http only where the installation allows it, i.e. local mode), a host,
/// no credentials in it (they belong in the fields), no whitespace or fragment.
fn valid_server_url(url: &str, allow_http: bool) -> bool {
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if allow_http => rest,
        _ => return false,
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    url.len() <= MAX_URL_LEN
        && !authority.is_empty()
        && !authority.contains('@')
        && !url.contains('#')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn require_email(form: &ConnectionForm, problems: &mut Vec<FieldProblem>) -> String {
    match form.email.as_deref() {
        None => problems.push(FieldProblem { field: "email", message: "Enter your email address." }),
        Some(email) if !valid_email(email) => problems
            .push(FieldProblem { field: "email", message: "Enter a valid email address, like name@example.com." }),
        Some(email) => return email.to_owned(),
    }
    String::new()
}

fn require_password(form: &ConnectionForm, problems: &mut Vec<FieldProblem>) -> String {
    match form.password.as_deref() {
        None => problems.push(FieldProblem { field: "password", message: "Enter the password." }),
        Some(password) if password.chars().count() > MAX_PASSWORD_LEN => {
            problems.push(FieldProblem { field: "password", message: "The password is too long." })
        }
        Some(password) => return password.to_owned(),
    }
    String::new()
}

fn optional_username(form: &ConnectionForm, problems: &mut Vec<FieldProblem>) -> Option<String> {
    let username = form.username.as_deref()?;
    if username.chars().count() > MAX_USERNAME_LEN || username.chars().any(char::is_control) {
        problems.push(FieldProblem { field: "username", message: "The username is too long or not valid." });
        return None;
    }
    Some(username.to_owned())
}

fn optional_server_url(form: &ConnectionForm, allow_http: bool, problems: &mut Vec<FieldProblem>) -> Option<String> {
    let url = form.server_url.as_deref()?;
    if !valid_server_url(url, allow_http) {
        let message = if allow_http {
            "Enter the server's address as a full URL starting with https:// or http://."
        } else {
            "Enter the server's address as a full URL starting with https://."
        };
        problems.push(FieldProblem { field: "server_url", message });
        return None;
    }
    Some(url.to_owned())
}

impl Connection {
    /// Checks the fields `service` needs; every problem is reported at once.
    pub fn validate(
        service: Service,
        form: &ConnectionForm,
        allow_http: bool,
    ) -> Result<Connection, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let connection = match service {
            // These sign in on the provider's own pages, never with fields on ours.
            Service::Google | Service::Microsoft => {
                return Err(vec![FieldProblem {
                    field: "service",
                    message: "This provider signs in on its own page; choose it again to continue there.",
                }]);
            }
            Service::Hosted => Connection::Hosted,
            Service::Icloud => Connection::Icloud {
                email: require_email(form, &mut problems),
                password: require_password(form, &mut problems),
            },
            Service::Exchange => Connection::Exchange {
                email: require_email(form, &mut problems),
                password: require_password(form, &mut problems),
                username: optional_username(form, &mut problems),
                server_url: optional_server_url(form, allow_http, &mut problems),
            },
            Service::CalDav => {
                let server_url = optional_server_url(form, allow_http, &mut problems);
                if form.server_url.is_none() {
                    problems.push(FieldProblem { field: "server_url", message: "Enter the server's address." });
                }
                let username = optional_username(form, &mut problems);
                if form.username.is_none() {
                    problems.push(FieldProblem { field: "username", message: "Enter your username." });
                }
                Connection::CalDav {
                    server_url: server_url.unwrap_or_default(),
                    username: username.unwrap_or_default(),
                    password: require_password(form, &mut problems),
                }
            }
        };
        if problems.is_empty() { Ok(connection) } else { Err(problems) }
    }

    /// The profile's provider, service, name (shown as `profile_name`) and server; iCloud
    /// accounts live at `icloud_url`.
    pub(super) fn profile_fields(&self, icloud_url: &str) -> (ProviderName, ProviderService, String, Option<String>) {
        match self {
            Connection::Google { email, .. } => {
                // Consumer accounts are `google`; Google Workspace (a company's own domain) is `gsuite`.
                let consumer = email.ends_with("@gmail.com") || email.ends_with("@googlemail.com");
                let service = if consumer { ProviderService::Google } else { ProviderService::Gsuite };
                (ProviderName::Google, service, email.clone(), None)
            }
            Connection::Microsoft { email, personal: true, .. } => {
                (ProviderName::LiveConnect, ProviderService::OutlookCom, email.clone(), None)
            }
            Connection::Microsoft { email, personal: false, .. } => {
                (ProviderName::Office365, ProviderService::Office365, email.clone(), None)
            }
            Connection::Icloud { email, .. } => {
                (ProviderName::Apple, ProviderService::Icloud, email.clone(), Some(icloud_url.to_owned()))
            }
            Connection::Exchange { email, server_url, .. } => {
                (ProviderName::Exchange, ProviderService::Exchange, email.clone(), server_url.clone())
            }
            Connection::CalDav { server_url, username, .. } => {
                (ProviderName::CalDav, ProviderService::CalDav, username.clone(), Some(server_url.clone()))
            }
            Connection::Hosted => (ProviderName::Hosted, ProviderService::Hosted, "calsync calendar".to_owned(), None),
        }
    }

    pub(super) fn account_email(&self) -> Option<String> {
        match self {
            Connection::Google { email, .. }
            | Connection::Microsoft { email, .. }
            | Connection::Icloud { email, .. }
            | Connection::Exchange { email, .. } => Some(email.clone()),
            Connection::CalDav { username, .. } if valid_email(username) => Some(username.clone()),
            Connection::CalDav { .. } | Connection::Hosted => None,
        }
    }

    pub(crate) fn credentials(&self) -> Option<Credentials> {
        match self {
            Connection::Google { credentials, .. } | Connection::Microsoft { credentials, .. } => {
                Some(credentials.clone())
            }
            Connection::Icloud { email, password } => {
                Some(Credentials::AppSpecificPassword { email: email.clone(), password: password.clone() })
            }
            Connection::Exchange { email, password, username, .. } => Some(Credentials::Password {
                email: email.clone(),
                password: password.clone(),
                username: username.clone(),
            }),
            Connection::CalDav { username, password, .. } => Some(Credentials::Password {
                email: username.clone(),
                password: password.clone(),
                username: Some(username.clone()),
            }),
            Connection::Hosted => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &str) -> ConnectionForm {
        ConnectionForm::parse(pairs.as_bytes())
    }

    #[test]
    fn emails_must_look_like_emails() {
        for ok in ["a@example.com", "first.last+tag@sub.example.co.uk"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@b", "@example.com", "a@@example.com", "a b@example.com", "a@-x.com", "a@x..com"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn server_urls_must_be_https_unless_http_is_allowed() {
        assert!(valid_server_url("https://dav.example.com/cal/", false));
        assert!(!valid_server_url("http://dav.example.com/", false));
        assert!(valid_server_url("http://dav.example.com/", true));
        assert!(!valid_server_url("https://user:pw@dav.example.com/", false));
        assert!(!valid_server_url("https:///x", false));
        assert!(!valid_server_url("ftp://dav.example.com", true));
    }

    #[test]
    fn icloud_needs_a_valid_email_and_a_password_and_reports_both() {
        let problems = Connection::validate(Service::Icloud, &form("email=nope"), false).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.field).collect::<Vec<_>>(), ["email", "password"]);
        let ok = Connection::validate(Service::Icloud, &form("email=+a%40example.com+&password=+x+"), false).unwrap();
        assert_eq!(ok, Connection::Icloud { email: "a@example.com".into(), password: " x ".into() });
    }

    #[test]
    fn caldav_needs_server_username_and_password() {
        let problems = Connection::validate(Service::CalDav, &form(""), false).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.field).collect::<Vec<_>>(), ["server_url", "username", "password"]);
    }

    #[test]
    fn google_and_microsoft_are_offered_only_with_a_registered_client() {
        use crate::providers::{OAuthClient, ProviderClients};
        assert!(Connection::validate(Service::Google, &form(""), false).is_err(), "Google signs in on its own pages");
        assert!(Connection::validate(Service::Microsoft, &form(""), false).is_err(), "so does Microsoft");
        let none = ProviderClients::default();
        assert!(!Service::Google.is_configured(&none) && !Service::Microsoft.is_configured(&none));
        assert!(Service::Hosted.is_configured(&none));
        let client = OAuthClient { client_id: "c".into(), client_secret: secrecy::SecretString::from("s") };
        let google = ProviderClients { google: Some(client.clone()), ..ProviderClients::default() };
        assert!(Service::Google.is_configured(&google) && !Service::Microsoft.is_configured(&google));
        let microsoft = ProviderClients { microsoft: Some(client), ..ProviderClients::default() };
        assert!(Service::Microsoft.is_configured(&microsoft) && !Service::Google.is_configured(&microsoft));
    }
}
