//! Finding a mailbox's EWS endpoint (protocol.md "Autodiscover", providers.md §5.4).
//!
//! A server URL that names an `.asmx` endpoint is used as it is. A base URL is asked for POX
//! Autodiscover at `{base}/autodiscover/autodiscover.xml`, and taken to serve EWS at
//! `{base}/EWS/Exchange.asmx` when that finds nothing. Without a server URL, Autodiscover is
//! tried at the email's domain and at `autodiscover.{domain}`, over HTTPS. The external URL
//! (`EXPR`) is preferred to the internal one (`EXCH`). Every URL tried, and the one found, passes
//! the account's transport policy (HTTPS to public addresses outside the local mode), and no
//! redirect is followed.

use url::Url;

use super::client::{EwsAccount, EwsClient};
use super::errors::EwsError;
use crate::providers::caldav::xml::{Element, Ns, escape, read_document};

const REQUEST_SCHEMA: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const RESPONSE_SCHEMA: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const XML: &str = "text/xml; charset=utf-8";

/// The POX request body for `email`.
fn request_body(email: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{REQUEST_SCHEMA}"><Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema></Request></Autodiscover>"#,
        escape(email)
    )
}

/// The EWS URL an Autodiscover answer names: `EXPR` first, then `EXCH`; `None` when the answer
/// is an `<Error>` or names no EWS URL.
pub(crate) fn ews_url_of(body: &[u8]) -> Result<Option<String>, EwsError> {
    let mut parts: Vec<Element> = Vec::new();
    let (ns, name) = read_document(body, |part| parts.push(part))?;
    if ns != Ns::Autodiscover || name != "Autodiscover" {
        return Err(EwsError::Malformed("the answer is not an Autodiscover document".into()));
    }
    let Some(response) = parts.iter().find(|p| p.name == "Response") else { return Ok(None) };
    let Some(account) = response.child(Ns::AutodiscoverOutlook, "Account") else { return Ok(None) };
    let protocols: Vec<&Element> = account.children_named(Ns::AutodiscoverOutlook, "Protocol").collect();
    let url_of = |kind: &str| {
        protocols.iter().find_map(|p| {
            let matches = p.child(Ns::AutodiscoverOutlook, "Type").is_some_and(|t| t.trimmed_text() == kind);
            let url = p.child(Ns::AutodiscoverOutlook, "EwsUrl").map(Element::trimmed_text).filter(|u| !u.is_empty());
            url.filter(|_| matches).map(str::to_owned)
        })
    };
    Ok(url_of("EXPR").or_else(|| url_of("EXCH")))
}

/// Whether `server_url` already names the EWS endpoint.
fn is_endpoint(server_url: &str) -> bool {
    Url::parse(server_url).is_ok_and(|u| u.path().to_ascii_lowercase().ends_with(".asmx"))
}

fn under(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

impl EwsAccount {
    /// Asks the Autodiscover service at `url` for `email`'s EWS URL; `None` when it knows none.
    #[tracing::instrument(skip_all)]
    pub async fn autodiscover(&self, url: &str, email: &str) -> Result<Option<String>, EwsError> {
        let url = self.check_url(url)?;
        let (status, retry_after, body) = self.post(&url, XML, request_body(email)).await?;
        if !status.is_success() {
            return Err(super::errors::from_status(status, retry_after, None));
        }
        ews_url_of(&body)
    }

    /// The EWS client for `email`'s mailbox, found from the profile's `server_url` as the module
    /// doc describes.
    #[tracing::instrument(skip_all)]
    pub async fn discover(&self, server_url: Option<&str>, email: &str) -> Result<EwsClient, EwsError> {
        if let Some(url) = server_url.filter(|u| is_endpoint(u)) {
            return self.client(url);
        }
        let candidates = match server_url {
            Some(base) => vec![under(base, "autodiscover/autodiscover.xml")],
            None => {
                let domain = email
                    .rsplit_once('@')
                    .map(|(_, d)| d.trim().to_ascii_lowercase())
                    .filter(|d| !d.is_empty() && !d.contains(['/', '?', '#', '@', ':']))
                    .ok_or_else(|| EwsError::Refused("the email address has no domain".into()))?;
                vec![
                    format!("https://{domain}/autodiscover/autodiscover.xml"),
                    format!("https://autodiscover.{domain}/autodiscover/autodiscover.xml"),
                ]
            }
        };
        // The most telling failure is reported when nothing is found: refused credentials end
        // the search at once; a transient failure is worth retrying; otherwise there is no server.
        let mut failure = None;
        for candidate in &candidates {
            match self.autodiscover(candidate, email).await {
                Ok(Some(found)) => return self.client(&found),
                Ok(None) => {}
                Err(e @ (EwsError::Unauthorized | EwsError::AccessGone(_))) => return Err(e),
                Err(e @ EwsError::Transient { .. }) => failure = Some(e),
                Err(e) => {
                    tracing::info!(error = %e, "an Autodiscover service did not answer usefully");
                    failure = failure.or(Some(e));
                }
            }
        }
        if let Some(base) = server_url {
            // The conventional endpoint; listing the calendars there tells whether it serves.
            return self.client(&under(base, "EWS/Exchange.asmx"));
        }
        Err(match failure {
            Some(e @ EwsError::Transient { .. }) => e,
            _ => EwsError::Failed("no Exchange server was found for the email address".into()),
        })
    }
}
