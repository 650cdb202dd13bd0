//! Keeping outbound requests to addresses that end-users or integrators choose (a CalDAV server
//! URL typed on the authorization page, later webhook callback URLs) on the public internet.
//!
//! The check happens where the connection is made, after DNS resolution: a resolver for reqwest
//! that drops every non-public address (so a name that resolves, or later re-resolves, to a
//! private address cannot be reached), plus a check of hosts written as IP literals, which never
//! pass through a resolver. Refused: private, loopback, link-local (169.254.169.254, the cloud
//! metadata endpoint, included), shared (CGNAT), unspecified, broadcast, documentation,
//! benchmarking, reserved and multicast ranges, and the IPv6 forms that embed or translate to an
//! IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4, Teredo), which are judged by the IPv4
//! address they carry or refused outright.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (RFC 6598), used for carrier-grade NAT and inside clouds.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890), benchmarking (RFC 2544), reserved (RFC 1112).
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7), link-local (fe80::/10) and the old site-local (fec0::/10).
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // IPv4-compatible (::/96), NAT64 (64:ff9b::/96 and 64:ff9b:1::/48), discard (100::/64).
        || segments[..6] == [0; 6]
        || (segments[0] == 0x64 && segments[1] == 0xff9b)
        || (segments[0] == 0x100 && segments[1..4] == [0; 3])
        // Teredo (2001::/32), documentation (2001:db8::/32), 6to4 (2002::/16).
        || (segments[0] == 0x2001 && (segments[1] == 0 || segments[1] == 0xdb8))
        || segments[0] == 0x2002;
    !refused
}

/// Why a URL may not be contacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the address is not on the public internet")]
pub struct NotPublic;

/// Whether a request failed because its host resolved only to non-public addresses (which stays
/// so: not worth retrying).
pub fn resolved_not_public(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<NotPublic>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// What kind of failure a request met, in words that never include the URL (reqwest's own
/// messages do).
pub fn failure_reason(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the connection failed while reading the body"
    } else if error.is_request() {
        "the request could not be sent"
    } else {
        "HTTP failure"
    }
}

/// Refuses a URL whose host is an IP literal outside the public internet; names are checked by
/// [`PublicResolver`] when the connection is made.
pub fn check_host(url: &Url) -> Result<(), NotPublic> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(_)) => return Ok(()),
        None => return Err(NotPublic),
    };
    if is_public(ip) { Ok(()) } else { Err(NotPublic) }
}

/// A DNS resolver that answers only with public addresses, and fails for a name with none. It
/// asks the system resolver, or the one it was given (tests inject one whose answers change).
#[derive(Clone, Default)]
pub struct PublicResolver {
    inner: Option<Arc<dyn Resolve>>,
}

impl std::fmt::Debug for PublicResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicResolver").field("injected", &self.inner.is_some()).finish()
    }
}

impl PublicResolver {
    /// Over the system resolver, as reqwest takes it.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Over `inner` instead of the system resolver.
    pub fn over(inner: Arc<dyn Resolve>) -> Self {
        Self { inner: Some(inner) }
    }

    /// Every address `host` resolves to, public or not.
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        match &self.inner {
            Some(inner) => {
                let name: Name =
                    host.parse().map_err(|_| Box::new(NotPublic) as Box<dyn std::error::Error + Send + Sync>)?;
                Ok(inner.resolve(name).await?.collect())
            }
            None => Ok(tokio::net::lookup_host((host, 0)).await?.collect()),
        }
    }

    /// The public addresses of `host`; an error when it has none.
    pub async fn public(&self, host: &str) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let public: Vec<SocketAddr> = self.lookup(host).await?.into_iter().filter(|a| is_public(a.ip())).collect();
        if public.is_empty() {
            return Err(Box::new(NotPublic));
        }
        Ok(public)
    }
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let public = this.public(name.as_str()).await?;
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_shared_reserved_and_translated_addresses_are_not_public() {
        let refused = [
            "169.254.169.254",
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "224.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:a9fe:a9fe::",
        ];
        for text in refused {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_public(ip), "{text} was taken for public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for text in ["1.1.1.1", "17.253.144.10", "100.128.0.1", "172.32.0.1", "2a00:1450:4001::200e", "::ffff:8.8.8.8"]
        {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_public(ip), "{text} was refused");
        }
    }

    #[test]
    fn ip_literal_hosts_are_checked_and_names_are_left_to_the_resolver() {
        let check = |url: &str| check_host(&Url::parse(url).unwrap());
        assert_eq!(check("https://169.254.169.254/latest/meta-data/"), Err(NotPublic));
        assert_eq!(check("https://[::ffff:127.0.0.1]/"), Err(NotPublic));
        // The URL parser reads decimal and hexadecimal IPv4 forms as the address they stand for.
        assert_eq!(check("https://2130706433/"), Err(NotPublic));
        assert_eq!(check("https://0x7f.0.0.1/"), Err(NotPublic));
        assert_eq!(check("https://17.253.144.10/"), Ok(()));
        assert_eq!(check("https://caldav.icloud.com/"), Ok(()));
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_only_loopback_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let resolved = PublicResolver::default().resolve(name).await;
        assert!(resolved.is_err());
    }
}
