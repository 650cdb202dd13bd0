//! OAuth 2.0 with the providers' identity platforms: Google, and the Microsoft identity
//! platform's `common` endpoint (one registration serves Office 365 and Outlook.com accounts).
//!
//! The authorization URL the end-user is sent to, the code exchange, and the refresh that keeps
//! an access token usable. Google keeps a refresh token until it is revoked; Microsoft rotates
//! it on every use, so the token set returned by `refresh` replaces the stored one whole. Error
//! answers are classified once, here: a dead grant (`invalid_grant`, `interaction_required`,
//! and the AADSTS codes for expired, revoked or re-consent-needing grants) means the user must
//! connect again; throttling and server errors are worth retrying; a refused client is an
//! operator's configuration problem. Error descriptions are never logged or returned, since
//! some identity platforms echo parts of the request in them.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::clients::OAuthClient;
use crate::crypto::Credentials;
use crate::sync::ProviderError;

pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const MICROSOFT_AUTHORIZE_URL: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize";
pub const MICROSOFT_TOKEN_URL: &str = "https://login.microsoftonline.com/common/oauth2/v2.0/token";

/// An access token this close to expiry is refreshed before use.
pub const REFRESH_MARGIN: Duration = Duration::minutes(5);
/// Token answers are small; anything larger is not one.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The scope of an application token for Microsoft Graph: every application permission the
/// tenant's administrator consented to.
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Which identity platform, with its endpoints (overridable for tests and sovereign clouds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPlatform {
    pub kind: PlatformKind,
    pub authorize_url: url::Url,
    pub token_url: url::Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformKind {
    Google,
    Microsoft,
}

impl IdentityPlatform {
    pub fn google() -> Self {
        Self::at(PlatformKind::Google, GOOGLE_AUTHORIZE_URL, GOOGLE_TOKEN_URL).expect("valid constant URLs")
    }

    pub fn microsoft() -> Self {
        Self::at(PlatformKind::Microsoft, MICROSOFT_AUTHORIZE_URL, MICROSOFT_TOKEN_URL).expect("valid constant URLs")
    }

    /// A platform at other endpoints (tests' fake servers, sovereign clouds).
    pub fn at(kind: PlatformKind, authorize_url: &str, token_url: &str) -> Result<Self, url::ParseError> {
        Ok(Self { kind, authorize_url: url::Url::parse(authorize_url)?, token_url: url::Url::parse(token_url)? })
    }

    /// The scopes calsync asks for: reading and writing calendars, the account's email (to name
    /// the profile), and offline access (a refresh token).
    pub fn scopes(&self) -> &'static str {
        match self.kind {
            PlatformKind::Google => "openid email https://www.googleapis.com/auth/calendar",
            PlatformKind::Microsoft => "openid email offline_access User.Read Calendars.ReadWrite",
        }
    }

    /// Where to send the end-user to grant access; the platform sends them back to
    /// `redirect_uri` with `code` and the same `state`.
    pub fn authorization_url(&self, client: &OAuthClient, redirect_uri: &str, state: &str) -> String {
        let mut url = self.authorize_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", self.scopes())
                .append_pair("state", state);
            match self.kind {
                // Google issues a refresh token only with offline access, and again on a later
                // connection of the same account only when consent is asked for again.
                PlatformKind::Google => {
                    query.append_pair("access_type", "offline").append_pair("prompt", "consent");
                }
                PlatformKind::Microsoft => {
                    query.append_pair("response_mode", "query").append_pair("prompt", "select_account");
                }
            }
        }
        url.into()
    }

    /// Exchanges the code the end-user came back with for a token set.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        code: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<Credentials, OAuthError> {
        Ok(self.exchange_code_with_id_token(http, client, code, redirect_uri, now).await?.0)
    }

    /// Exchanges the code like [`Self::exchange_code`], also returning the OpenID Connect ID
    /// token when the platform sent one (it does for the `openid` scope), still encoded.
    pub async fn exchange_code_with_id_token(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        code: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<(Credentials, Option<String>), OAuthError> {
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
        let mut answer = self.token_request(http, client, &form).await?;
        let id_token = answer.id_token.take().filter(|t| !t.is_empty());
        Ok((answer.into_credentials(None, now)?, id_token))
    }

    /// Renews the access token of `current`; the result replaces `current` whole (Microsoft
    /// rotates refresh tokens, Google keeps its own, which is carried over).
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        current: &Credentials,
        now: DateTime<Utc>,
    ) -> Result<Credentials, OAuthError> {
        let Credentials::OauthTokenSet { refresh_token: Some(refresh_token), .. } = current else {
            return Err(OAuthError::Revoked);
        };
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
        if self.kind == PlatformKind::Microsoft {
            form.push(("scope", self.scopes()));
        }
        let answer = self.token_request(http, client, &form).await?;
        answer.into_credentials(Some(refresh_token), now)
    }

    /// The identity platform's authority: the authorization URL without its tenant segment and
    /// `/oauth2/v2.0/authorize` (`https://login.microsoftonline.com` for the default).
    pub fn authority(&self) -> url::Url {
        let mut authority = self.authorize_url.clone();
        let segments: Vec<String> =
            authority.path_segments().map(|s| s.map(str::to_owned).collect()).unwrap_or_default();
        let keep = segments.len().saturating_sub(4);
        authority.set_path(&segments[..keep].join("/"));
        authority.set_query(None);
        authority
    }

    /// Where an organisation's administrator grants calsync's application permissions for
    /// their work or school tenant (the v2 admin consent endpoint of `organizations`): the
    /// platform sends them back to `redirect_uri` with `tenant`, `admin_consent=True` and the same
    /// `state`, or with `error`.
    pub fn admin_consent_url(&self, client: &OAuthClient, redirect_uri: &str, state: &str) -> String {
        let mut url = self.authority();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["organizations", "v2.0", "adminconsent"]);
        }
        url.query_pairs_mut()
            .append_pair("client_id", &client.client_id)
            .append_pair("scope", GRAPH_DEFAULT_SCOPE)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        url.into()
    }

    /// An application token for `tenant` (OAuth client credentials grant at the tenant's token
    /// endpoint): what calsync may do there is what the tenant's administrator consented to. App
    /// tokens have no refresh token; a new grant renews them. A tenant that withdrew its consent
    /// (or removed calsync's application) is [`OAuthError::Revoked`]; a refused secret stays
    /// [`OAuthError::ClientRejected`], the operator's problem and not the tenant's.
    pub async fn client_credentials(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> Result<Credentials, OAuthError> {
        if tenant.is_empty() || !tenant.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')) {
            return Err(OAuthError::Protocol("the tenant is not a tenant id".into()));
        }
        let mut token_url = self.authority();
        if let Ok(mut path) = token_url.path_segments_mut() {
            path.pop_if_empty().extend([tenant, "oauth2", "v2.0", "token"]);
        }
        let platform = Self { token_url, ..self.clone() };
        let form = [("grant_type", "client_credentials"), ("scope", GRAPH_DEFAULT_SCOPE)];
        match platform.token_request(http, client, &form).await {
            Ok(answer) => answer.into_credentials(None, now),
            Err(error) => Err(tenant_refusal(error)),
        }
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        client: &OAuthClient,
        form: &[(&str, &str)],
    ) -> Result<TokenAnswer, OAuthError> {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("client_id", &client.client_id));
        fields.push(("client_secret", client.client_secret.expose_secret()));
        let request = http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&fields)
            .timeout(StdDuration::from_secs(15));
        let answer =
            crate::providers::http::send(request, MAX_RESPONSE_BYTES).await.map_err(|failure| match failure {
                crate::providers::http::ReadFailure::TooLarge => {
                    OAuthError::Protocol("the token answer is too large".into())
                }
                unreachable => OAuthError::Transient { retry_after: None, reason: unreachable.reason().into() },
            })?;
        let (status, retry_after, body) = (answer.status, answer.retry_after, answer.body);
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|_| OAuthError::Protocol("the token answer is not the expected JSON".into()));
        }
        Err(classify(status.as_u16(), retry_after, &body))
    }
}

/// A client credentials grant's failure for a tenant: `unauthorized_client`, or `invalid_client`
/// with an AADSTS code saying the tenant no longer has calsync's application, is a withdrawn
/// consent; other refusals of the client (a wrong or expired secret) stay the operator's.
fn tenant_refusal(error: OAuthError) -> OAuthError {
    match error {
        OAuthError::ClientRejected(error) if error == "unauthorized_client" => OAuthError::Revoked,
        OAuthError::ClientRejected(error) if error.starts_with("invalid_client ") => {
            let consent_gone = error
                .split_whitespace()
                .skip(1)
                .filter_map(|c| c.parse::<i64>().ok())
                .any(|c| CONSENT_GONE_AADSTS.contains(&c));
            if consent_gone { OAuthError::Revoked } else { OAuthError::ClientRejected("invalid_client".into()) }
        }
        other => other,
    }
}

/// Whether `credentials` should be refreshed before use at `now`.
pub fn needs_refresh(credentials: &Credentials, now: DateTime<Utc>) -> bool {
    match credentials {
        Credentials::OauthTokenSet { expires_at: Some(at), .. } => *at - now < REFRESH_MARGIN,
        _ => false,
    }
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The grant is gone (revoked, expired, password changed, consent withdrawn): the end-user
    /// must connect again.
    #[error("the grant was revoked or has expired; the calendar must be connected again")]
    Revoked,
    /// The platform refused calsync's own client: wrong id or secret, or an unauthorised client.
    #[error("the identity platform refused calsync's OAuth client ({0})")]
    ClientRejected(String),
    /// Throttling, a server error or the network; worth retrying.
    #[error("the identity platform is unavailable ({reason})")]
    Transient { retry_after: Option<StdDuration>, reason: String },
    /// An answer that fits no documented shape.
    #[error("unexpected identity platform answer: {0}")]
    Protocol(String),
}

impl From<OAuthError> for ProviderError {
    fn from(error: OAuthError) -> Self {
        match error {
            OAuthError::Revoked => ProviderError::CredentialsDead,
            OAuthError::Transient { retry_after, reason } => ProviderError::Transient { retry_after, reason },
            other => ProviderError::Permanent(other.to_string()),
        }
    }
}

/// A token endpoint's success answer.
#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

impl TokenAnswer {
    fn into_credentials(self, previous_refresh: Option<&str>, now: DateTime<Utc>) -> Result<Credentials, OAuthError> {
        if self.access_token.is_empty() {
            return Err(OAuthError::Protocol("the token answer has an empty access token".into()));
        }
        let refresh_token =
            self.refresh_token.filter(|t| !t.is_empty()).or_else(|| previous_refresh.map(str::to_owned));
        Ok(Credentials::OauthTokenSet {
            access_token: self.access_token,
            refresh_token,
            expires_at: self.expires_in.map(|s| now + Duration::seconds(s)),
            scope: self.scope,
        })
    }
}

/// A token endpoint's error answer (RFC 6749 §5.2, plus Microsoft's `error_codes`).
#[derive(Debug, Default, Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<i64>,
}

/// AADSTS codes that mean the grant itself is dead: expired for inactivity (70008, 700082),
/// revoked or invalidated by a password change or admin (50173, 70000 rotation reuse, 700084
/// single-page-app lifetime), consent withdrawn (65001), the user blocked or deleted (50053,
/// 50057, 50034), or new interaction required (50076, 50079, 50078, 53003).
const DEAD_GRANT_AADSTS: &[i64] =
    &[70008, 700082, 50173, 70000, 700084, 65001, 50053, 50057, 50034, 50076, 50079, 50078, 53003];

/// AADSTS codes a client credentials grant answers when the tenant no longer lets calsync's
/// application in: its service principal was removed (7000229), the application is unknown to
/// the tenant (700016) or disabled there (7000112), consent is missing (65001), Graph's service
/// principal is missing (500011), or the tenant is gone (90002).
const CONSENT_GONE_AADSTS: &[i64] = &[7000229, 700016, 7000112, 65001, 500011, 90002];

fn classify(status: u16, retry_after: Option<StdDuration>, body: &[u8]) -> OAuthError {
    let answer: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    if status == 429 || status >= 500 || answer.error == "temporarily_unavailable" {
        return OAuthError::Transient { retry_after, reason: format!("HTTP {status}") };
    }
    if answer.error_codes.iter().any(|c| DEAD_GRANT_AADSTS.contains(c)) {
        return OAuthError::Revoked;
    }
    match answer.error.as_str() {
        "invalid_grant" | "interaction_required" | "consent_required" | "login_required" => OAuthError::Revoked,
        // The AADSTS codes ride along (numbers only) so a client credentials grant can tell a
        // tenant that removed calsync's application from a wrong secret.
        "invalid_client" if !answer.error_codes.is_empty() => OAuthError::ClientRejected(format!(
            "invalid_client {}",
            answer.error_codes.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
        )),
        "invalid_client" | "unauthorized_client" => OAuthError::ClientRejected(answer.error),
        "" => OAuthError::Protocol(format!("HTTP {status} without an OAuth error")),
        other => OAuthError::Protocol(format!("HTTP {status}, error `{}`", other.chars().take(40).collect::<String>())),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn client() -> OAuthClient {
        OAuthClient { client_id: "cid".into(), client_secret: SecretString::from("shh") }
    }

    #[test]
    fn the_google_authorization_url_asks_for_offline_calendar_access_and_carries_the_state() {
        let url = IdentityPlatform::google().authorization_url(&client(), "https://cal.example/cb", "s t&x");
        let parsed = url::Url::parse(&url).unwrap();
        let query: std::collections::BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(parsed.host_str(), Some("accounts.google.com"));
        assert_eq!(query["client_id"], "cid");
        assert_eq!(query["redirect_uri"], "https://cal.example/cb");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["scope"], "openid email https://www.googleapis.com/auth/calendar");
        assert_eq!(query["state"], "s t&x");
        assert_eq!((query["access_type"].as_str(), query["prompt"].as_str()), ("offline", "consent"));
        assert!(!url.contains("shh"), "the secret never goes to the browser");
    }

    #[test]
    fn the_microsoft_authorization_url_uses_the_common_endpoint_with_offline_access() {
        let url = IdentityPlatform::microsoft().authorization_url(&client(), "https://cal.example/cb", "st");
        assert!(url.starts_with("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?"), "{url}");
        assert!(
            url.contains("offline_access")
                && url.contains("Calendars.ReadWrite")
                && url.contains("response_mode=query")
        );
    }

    #[test]
    fn dead_grants_throttling_and_refused_clients_are_told_apart() {
        let google_revoked = br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
        assert_eq!(classify(400, None, google_revoked), OAuthError::Revoked);
        let microsoft_inactive = br#"{"error":"invalid_grant","error_description":"AADSTS700082: expired due to inactivity","error_codes":[700082]}"#;
        assert_eq!(classify(400, None, microsoft_inactive), OAuthError::Revoked);
        let mfa = br#"{"error":"invalid_request","error_codes":[50076]}"#;
        assert_eq!(classify(400, None, mfa), OAuthError::Revoked);
        let throttled = classify(429, Some(StdDuration::from_secs(7)), b"");
        assert_eq!(
            throttled,
            OAuthError::Transient { retry_after: Some(StdDuration::from_secs(7)), reason: "HTTP 429".into() }
        );
        assert!(matches!(classify(503, None, br#"{"error":"temporarily_unavailable"}"#), OAuthError::Transient { .. }));
        assert_eq!(
            classify(401, None, br#"{"error":"invalid_client","error_description":"client secret hunter2 is wrong"}"#),
            OAuthError::ClientRejected("invalid_client".into())
        );
        let odd = classify(400, None, br#"{"error":"invalid_scope","error_description":"echo: hunter2"}"#);
        assert!(!odd.to_string().contains("hunter2"), "{odd}");
        assert_eq!(ProviderError::from(OAuthError::Revoked), ProviderError::CredentialsDead);
    }

    #[test]
    fn the_admin_consent_url_is_the_organizations_v2_endpoint_of_the_configured_authority() {
        let platform = IdentityPlatform::microsoft();
        assert_eq!(platform.authority().as_str(), "https://login.microsoftonline.com/");
        let url =
            platform.admin_consent_url(&client(), "https://cal.example/enterprise_connect/callback/microsoft", "r1");
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), "/organizations/v2.0/adminconsent");
        let query: std::collections::BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], "cid");
        assert_eq!(query["scope"], "https://graph.microsoft.com/.default");
        assert_eq!(query["redirect_uri"], "https://cal.example/enterprise_connect/callback/microsoft");
        assert_eq!(query["state"], "r1");
        assert!(!url.contains("shh"));
        let fake = IdentityPlatform::at(
            PlatformKind::Microsoft,
            "http://127.0.0.1:9/common/oauth2/v2.0/authorize",
            "http://127.0.0.1:9/common/oauth2/v2.0/token",
        )
        .unwrap();
        assert_eq!(fake.authority().as_str(), "http://127.0.0.1:9/");
    }

    #[test]
    fn a_tenant_that_removed_the_application_is_a_withdrawn_consent_but_a_wrong_secret_is_not() {
        let removed = br#"{"error":"invalid_client","error_description":"AADSTS7000229: missing service principal","error_codes":[7000229]}"#;
        assert_eq!(tenant_refusal(classify(400, None, removed)), OAuthError::Revoked);
        let unknown = br#"{"error":"unauthorized_client","error_codes":[700016]}"#;
        assert_eq!(tenant_refusal(classify(400, None, unknown)), OAuthError::Revoked);
        let secret = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret","error_codes":[7000215]}"#;
        assert_eq!(tenant_refusal(classify(401, None, secret)), OAuthError::ClientRejected("invalid_client".into()));
        assert!(matches!(tenant_refusal(classify(503, None, b"")), OAuthError::Transient { .. }));
    }

    #[test]
    fn a_token_set_is_refreshed_five_minutes_before_it_expires() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").unwrap().to_utc();
        let set = |minutes: i64| Credentials::OauthTokenSet {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            expires_at: Some(now + Duration::minutes(minutes)),
            scope: None,
        };
        assert!(needs_refresh(&set(4), now));
        assert!(!needs_refresh(&set(6), now));
        assert!(!needs_refresh(&Credentials::AppSpecificPassword { email: "e".into(), password: "p".into() }, now));
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one_and_a_rotated_one_replaces_it() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").unwrap().to_utc();
        let google = TokenAnswer {
            access_token: "a2".into(),
            expires_in: Some(3599),
            refresh_token: None,
            scope: None,
            id_token: None,
        };
        let Credentials::OauthTokenSet { ref refresh_token, expires_at, .. } =
            google.into_credentials(Some("r1"), now).unwrap()
        else {
            panic!("a token set")
        };
        assert_eq!((refresh_token.as_deref(), expires_at), (Some("r1"), Some(now + Duration::seconds(3599))));
        let microsoft = TokenAnswer {
            access_token: "a2".into(),
            expires_in: Some(3600),
            refresh_token: Some("r2".into()),
            scope: None,
            id_token: None,
        };
        let Credentials::OauthTokenSet { ref refresh_token, .. } = microsoft.into_credentials(Some("r1"), now).unwrap()
        else {
            panic!("a token set")
        };
        assert_eq!(refresh_token.as_deref(), Some("r2"));
    }
}
