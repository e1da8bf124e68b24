//! Fetch stage: the SSRF guard (README, "Fetching"). A feed on a public address must
//! not be able to redirect feedwatch to a loopback, private or link-local
//! one (the operator's own network). Names are checked where they become
//! addresses — in a resolver that drops internal addresses — not by reading
//! URL text; only a literal IP in a redirect is checked as written, since it
//! never reaches a resolver. A feed configured with an internal address on
//! purpose is fetched, and so are its redirects.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Loopback, private, link-local, unique-local, carrier-grade NAT,
/// unspecified and broadcast addresses: anything that is not the public
/// internet.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            a.is_loopback()
                || a.is_unspecified()
                || (s0 & 0xfe00) == 0xfc00
                || (s0 & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// A resolver that only returns public addresses.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.into_iter().filter(|a| !is_internal(a.ip())).collect();
            if public.is_empty() {
                return Err(format!(
                    "refused: a redirect from a public address leads to {host}, which resolves only to internal addresses"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// A redirect target with a literal internal IP, from a public origin.
pub fn check_literal(origin_public: bool, target: &Url) -> Result<(), String> {
    let ip = match target.host() {
        Some(Host::Ipv4(a)) => IpAddr::V4(a),
        Some(Host::Ipv6(a)) => IpAddr::V6(a),
        _ => return Ok(()),
    };
    if origin_public && is_internal(ip) {
        Err(format!(
            "refused: a redirect from a public address to the internal address {ip}"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                is_internal(internal.parse().unwrap()),
                "{internal} is internal"
            );
        }
        for public in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public} is public");
        }
    }

    #[tokio::test]
    async fn the_guarded_resolver_refuses_names_of_internal_addresses() {
        // Resolved from /etc/hosts: no traffic leaves the machine.
        let err = PublicOnly
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("refused"), "{err}");
    }

    #[test]
    fn literal_internal_targets_are_refused_only_from_public_origins() {
        let inner = Url::parse("http://10.0.0.5/admin").unwrap();
        assert!(check_literal(true, &inner).is_err());
        assert!(
            check_literal(false, &inner).is_ok(),
            "an internal feed may redirect internally"
        );
        assert!(check_literal(true, &Url::parse("http://[::1]:8080/").unwrap()).is_err());
        assert!(
            check_literal(true, &Url::parse("https://example.org/feed").unwrap()).is_ok(),
            "names go to the resolver"
        );
    }
}
