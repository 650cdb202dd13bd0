//! IAM authentication tokens for connecting to PostgreSQL through RDS Proxy without a password.
//!
//! A token is a presigned `rds-db:connect` URL signed with the function's own credentials. It
//! stays valid for 15 minutes and is only checked when a connection opens, so a pool that
//! outlives it must swap in a fresh token for its later connections.

use aws_config::SdkConfig;
use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};
use secrecy::SecretString;

/// A token that could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum RdsAuthError {
    /// Without a region the signer would silently fall back to us-east-1, and the proxy would
    /// refuse the token with an unhelpful authentication failure.
    #[error("no AWS region is configured for signing the RDS auth token")]
    NoRegion,
    #[error("the RDS auth token for {user}@{host}:{port} could not be generated: {reason}")]
    Signing { host: String, port: u16, user: String, reason: String },
}

/// Generates the password to use for `user` on the RDS Proxy endpoint `host:port`.
#[tracing::instrument(skip_all, fields(host = %host, port = port, user = %user))]
pub async fn generate_token(sdk: &SdkConfig, host: &str, port: u16, user: &str) -> Result<SecretString, RdsAuthError> {
    let region = sdk.region().cloned().ok_or(RdsAuthError::NoRegion)?;
    let signing_error =
        |reason: String| RdsAuthError::Signing { host: host.to_owned(), port, user: user.to_owned(), reason };
    let config = Config::builder()
        .hostname(host)
        .port(u64::from(port))
        .username(user)
        .region(region)
        .build()
        .map_err(|e| signing_error(e.to_string()))?;
    // The credentials and clock come from the SDK configuration, so the token is signed by
    // whatever role the function runs as.
    let token = AuthTokenGenerator::new(config).auth_token(sdk).await.map_err(|e| signing_error(e.to_string()))?;
    Ok(SecretString::from(token.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_rds::config::{Credentials, SharedCredentialsProvider};
    use secrecy::ExposeSecret;

    use super::*;

    /// Static credentials and an explicit region keep the loader off the network (no instance
    /// metadata look-ups); the region is removed afterwards for the no-region case.
    async fn sdk_config(region: Option<&'static str>) -> SdkConfig {
        let credentials = SharedCredentialsProvider::new(Credentials::new("AKID", "SECRET", None, None, "test"));
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .credentials_provider(credentials)
            .region(Region::new(region.unwrap_or("eu-west-1")))
            .load()
            .await;
        if region.is_some() { sdk } else { sdk.into_builder().region(None).build() }
    }

    #[tokio::test]
    async fn a_token_is_a_signed_connect_url_for_the_user_on_the_proxy_endpoint() {
        let sdk = sdk_config(Some("eu-west-1")).await;

        let token = generate_token(&sdk, "proxy.example.eu-west-1.rds.amazonaws.com", 5432, "calsync_app")
            .await
            .expect("token");

        let token = token.expose_secret();
        assert!(token.starts_with("proxy.example.eu-west-1.rds.amazonaws.com:5432/"), "{token}");
        assert!(token.contains("Action=connect"), "{token}");
        assert!(token.contains("DBUser=calsync_app"), "{token}");
        assert!(token.contains("X-Amz-Credential=AKID%2F"), "{token}");
        assert!(token.contains("%2Feu-west-1%2Frds-db%2Faws4_request"), "{token}");
        assert!(token.contains("X-Amz-Signature="), "{token}");
    }

    #[tokio::test]
    async fn a_token_is_refused_when_no_region_is_configured() {
        let sdk = sdk_config(None).await;

        let result = generate_token(&sdk, "proxy.example", 5432, "calsync_app").await;

        assert!(matches!(result, Err(RdsAuthError::NoRegion)));
    }
}
