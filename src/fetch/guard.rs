//! Fetch stage: the SSRF guard (docs/fetching.md, "Fetching"). Feed data must not be
//! able to lead feedwatch into the operator's own network (loopback, the
//! LAN, the cloud's metadata service). The guard decides at every hop,
//! before connecting: the configured feed URL, and a redirect of it that
//! stays on its origin, are the operator's choice; every other URL — an
//! article link, an advertised feed, a redirect elsewhere — is judged by
//! where it leads, whatever the feed it came from. A literal IP is judged
//! here as written; a name is judged where it becomes addresses, in a
//! resolver that drops every address that is not public. Anything not
//! known to be public is internal: the guard fails closed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Origin, Url};

use crate::model::InternalHost;

/// IPv4 blocks that are not the public internet (IANA's special-purpose
/// registry), each with why.
const V4_NOT_PUBLIC: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "carrier-grade NAT"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link-local (cloud metadata)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved, broadcast"),
];

/// Blocks inside IPv6 global unicast (2000::/3) that are not the public
/// internet. Everything outside 2000::/3 is not public either (loopback,
/// link-local, unique-local, multicast, local-use NAT64 64:ff9b:1::/48…),
/// except the forms that embed an IPv4 address (`embedded_v4`).
const V6_NOT_PUBLIC: &[(Ipv6Addr, u8, &str)] = &[
    // Teredo (2001::/32, its client address hidden), benchmarking
    // (2001:2::/48), ORCHID: tunnels and test ranges, not servers.
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments, Teredo",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
];

/// Whether `ip` is on the public internet. Unknown is not public.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => public_v4(a),
        IpAddr::V6(a) => public_v6(a),
    }
}

fn public_v4(a: Ipv4Addr) -> bool {
    let bits = u32::from(a);
    !V4_NOT_PUBLIC.iter().any(|(net, len, _)| {
        let mask = u32::MAX << (32 - u32::from(*len));
        bits & mask == u32::from(*net)
    })
}

fn public_v6(a: Ipv6Addr) -> bool {
    // An address that carries an IPv4 one reaches that one (a translator,
    // a tunnel or the kernel does it): judged as that IPv4 address.
    if let Some(v4) = embedded_v4(a) {
        return public_v4(v4);
    }
    let bits = u128::from(a);
    let global_unicast = bits >> 125 == 0b001;
    global_unicast
        && !V6_NOT_PUBLIC.iter().any(|(net, len, _)| {
            let mask = u128::MAX << (128 - u32::from(*len));
            bits & mask == u128::from(*net)
        })
}

/// The IPv4 address inside IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
/// (::a.b.c.d, which includes :: and ::1 as 0.0.0.0 and 0.0.0.1), NAT64
/// well-known-prefix (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::)
/// addresses.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

/// Why the guard refused a URL, before connecting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "refused: {url} is at the internal address {ip}, and URLs found in feeds and \
         redirects may lead to public addresses only ([poll] allow_internal lists exceptions)"
    )]
    Internal { url: String, ip: IpAddr },
    #[error(
        "refused: {host} resolves only to internal addresses, and URLs found in feeds \
         and redirects may lead to public addresses only ([poll] allow_internal lists exceptions)"
    )]
    ResolvesInside { host: String },
    #[error("refused: {url} was found in fetched data and is not an http(s) URL")]
    NotHttp { url: String },
    #[error("refused: {url} has no host")]
    NoHost { url: String },
}

/// How one hop may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// The operator's choice (the configured URL's origin, or a host in
    /// `allow_internal`): fetched wherever it resolves.
    Trusted,
    /// Anything else: fetched only from public addresses (a name through
    /// `PublicOnly`; a literal IP was judged already).
    Guarded,
}

/// Decides one hop before it is fetched. `configured` is the origin of the
/// configured feed URL while the chain has not left it (`None` for a URL
/// found in data); `allowed` is `[poll] allow_internal`.
pub fn decide(
    url: &Url,
    configured: Option<&Origin>,
    allowed: &[InternalHost],
) -> Result<Hop, Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::NotHttp {
            url: url.to_string(),
        });
    }
    if configured.is_some_and(|o| *o == url.origin()) || allowed.iter().any(|h| allows(h, url)) {
        return Ok(Hop::Trusted);
    }
    let ip = match url.host() {
        Some(Host::Ipv4(a)) => IpAddr::V4(a),
        Some(Host::Ipv6(a)) => IpAddr::V6(a),
        Some(Host::Domain(_)) => return Ok(Hop::Guarded),
        None => {
            return Err(Refusal::NoHost {
                url: url.to_string(),
            });
        }
    };
    if is_public(ip) {
        Ok(Hop::Guarded)
    } else {
        Err(Refusal::Internal {
            url: url.to_string(),
            ip,
        })
    }
}

/// Whether `url` is on a host (and port, when one is given) the operator
/// listed in `allow_internal`. Hosts are compared as the URL parser writes
/// them (lower case, IPv6 in brackets), as the config stage stores them.
fn allows(allowed: &InternalHost, url: &Url) -> bool {
    url.host_str() == Some(allowed.host.as_str())
        && allowed
            .port
            .is_none_or(|p| url.port_or_known_default() == Some(p))
}

/// A resolver that only returns public addresses.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(Refusal::ResolvesInside { host }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
