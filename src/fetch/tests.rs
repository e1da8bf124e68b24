//! Unit tests of the fetch stage: the guard's classification of addresses
//! and its decision at each hop (on addresses it never connects to), its
//! wiring on loopback, and the response headers it reads.
use std::net::IpAddr;

use super::guard::{Hop, PublicOnly, decide};
use super::http::{max_age, retry_after_value};
use super::*;
use reqwest::dns::Resolve;

/// The wiring, on loopback only: a configured feed on 127.0.0.1 redirects
/// to `localhost` on another port, another origin, which the guarded
/// resolver refuses before connecting; with that host in `allow_internal`
/// the same redirect is followed.
#[tokio::test]
async fn a_redirect_to_another_origin_is_judged_by_where_it_leads() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_port = target.local_addr().unwrap().port();
    let location = format!("http://localhost:{target_port}/inside.xml");
    let feed_url = Url::parse(&format!(
        "http://127.0.0.1:{}/feed.xml",
        origin.local_addr().unwrap().port()
    ))
    .unwrap();
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let serve = |listener: tokio::net::TcpListener,
                 response: String,
                 asked: Arc<std::sync::atomic::AtomicUsize>| {
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(response.as_bytes()).await;
            }
        })
    };
    serve(
        origin,
        format!(
            "HTTP/1.1 301 Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Arc::default(),
    );
    serve(
        target,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<rss>".into(),
        Arc::clone(&asked),
    );

    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let soon = || Instant::now() + Duration::from_secs(5);
    let refused = fetcher
        .fetch(&feed_url, &Validators::default(), soon())
        .await;
    assert!(
        matches!(
            &refused,
            Err(FetchError::Refused(Refusal::ResolvesInside { host })) if host == "localhost"
        ),
        "{refused:?}"
    );
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "never asked"
    );

    let allowed = fetcher.allowing(&[InternalHost {
        host: "localhost".into(),
        port: Some(target_port),
    }]);
    let followed = allowed
        .fetch(&feed_url, &Validators::default(), soon())
        .await;
    assert!(
        matches!(followed, Ok(FetchOutcome::Fetched(_))),
        "allowed: followed ({followed:?})"
    );
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// An adopted permanent redirect is trusted as the redirect was: on the
/// configured URL's origin only. Elsewhere inside, it is refused before
/// connecting.
#[tokio::test]
async fn a_moved_feed_is_trusted_only_on_the_configured_origin() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let at = |addr: std::net::SocketAddr, path: &str| {
        Url::parse(&format!("http://{addr}{path}")).unwrap()
    };
    let (configured, same, elsewhere) = (
        at(origin.local_addr().unwrap(), "/old.xml"),
        at(origin.local_addr().unwrap(), "/new.xml"),
        at(other.local_addr().unwrap(), "/new.xml"),
    );
    tokio::spawn(async move {
        while let Ok((mut s, _)) = origin.accept().await {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<rss>",
                )
                .await;
        }
    });
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let soon = || Instant::now() + Duration::from_secs(5);
    let none = Validators::default();
    let fetched = fetcher.fetch_moved(&configured, &same, &none, soon()).await;
    assert!(
        matches!(fetched, Ok(FetchOutcome::Fetched(_))),
        "{fetched:?}"
    );
    let refused = fetcher
        .fetch_moved(&configured, &elsewhere, &none, soon())
        .await;
    assert!(
        matches!(refused, Err(FetchError::Refused(Refusal::Internal { .. }))),
        "{refused:?}"
    );
    // A connection would be waiting in the backlog by now: there is none.
    assert!(
        other
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "never connected"
    );
}

/// A URL found in data is never a local file, whatever it was found in.
#[tokio::test]
async fn a_link_to_a_local_file_is_refused() {
    let fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let link = Url::parse("file:///etc/hostname").unwrap();
    let refused = fetcher
        .fetch_link(&link, Instant::now() + Duration::from_secs(5))
        .await;
    assert!(
        matches!(refused, Err(FetchError::Refused(Refusal::NotHttp { .. }))),
        "{refused:?}"
    );
}

#[test]
fn a_held_large_body_turn_is_not_equal_to_none() {
    let turn = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
    let held = LargeBody(Some(std::sync::Arc::new(
        turn.clone().try_acquire_owned().unwrap(),
    )));
    assert_ne!(held, LargeBody::default());
    assert_eq!(LargeBody::default(), LargeBody::default());
    let mut released = held.clone();
    released.release();
    assert_eq!(released, LargeBody::default());
    assert_eq!(held.clone(), held);
}

#[test]
fn retry_after_in_seconds_or_as_a_date() {
    let now = httpdate::parse_http_date("Fri, 27 Nov 2026 07:00:00 GMT").unwrap();
    assert_eq!(
        retry_after_value("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        retry_after_value("Fri, 27 Nov 2026 08:00:00 GMT", now),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        retry_after_value("Fri, 27 Nov 2026 06:00:00 GMT", now),
        Some(Duration::ZERO),
        "in the past"
    );
    assert_eq!(retry_after_value("soon", now), None);
}

#[test]
fn cache_control_max_age() {
    assert_eq!(
        max_age("public, max-age=3600"),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        max_age("max-age=60, must-revalidate"),
        Some(Duration::from_secs(60))
    );
    assert_eq!(max_age("no-cache, max-age=60"), None);
    assert_eq!(max_age("private"), None);
    assert_eq!(max_age("max-age=soon"), None);
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn internal_and_reserved_addresses_are_not_public() {
    for internal in [
        // IPv4: loopback, private, link-local (the metadata service),
        // carrier-grade NAT, this network, broadcast, multicast,
        // reserved, documentation and benchmarking ranges.
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "192.88.99.1",
        // IPv6: loopback, unspecified, unique-local, link-local,
        // site-local, multicast, discard, documentation.
        "::1",
        "::",
        "fd00::1",
        "fc00::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "100::1",
        "2001:db8::1",
        "3fff::1",
        // Teredo, benchmarking, ORCHID: tunnels and test ranges.
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "2001:20::1",
        // IPv4 inside IPv6, judged as the IPv4 address.
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::10.0.0.1",
        "::169.254.169.254",
        "64:ff9b::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::10.0.0.1",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2002:c0a8:101::1",
        // NAT64 local-use prefix: where its IPv4 sits depends on the
        // operator's prefix length, so it is not trusted at all.
        "64:ff9b:1::8.8.8.8",
        "64:ff9b:1:0808:0008:0800::",
        // SIIT's IPv4-translated form.
        "::ffff:0:8.8.8.8",
    ] {
        assert!(!is_public(ip(internal)), "{internal} is not public");
    }
}

#[test]
fn public_addresses_are_public() {
    for public in [
        "93.184.216.34",
        "172.32.0.1",
        "172.15.255.255",
        "100.128.0.1",
        "100.63.255.255",
        "8.8.8.8",
        "1.1.1.1",
        "169.253.1.1",
        "192.0.1.1",
        "192.0.3.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700::1111",
        "2a00:1450:4001::200e",
        "2001:200::1",
        "::ffff:8.8.8.8",
        "::8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2002:808:808::1",
    ] {
        assert!(is_public(ip(public)), "{public} is public");
    }
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[test]
fn a_url_found_in_data_is_judged_by_its_own_destination() {
    // What a feed on 127.0.0.1 links to, or what a public article
    // redirects to: never trusted because of where it was found.
    for inside in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/admin",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[::a9fe:a9fe]/",
        "http://[fe80::1]/",
        "http://198.18.0.1/",
        "https://10.0.0.1/",
    ] {
        let refused = decide(&url(inside), None, &[]).expect_err(inside);
        assert!(matches!(refused, Refusal::Internal { .. }), "{inside}");
        assert!(refused.to_string().starts_with("refused: "), "{refused}");
    }
    // A name is judged where it becomes addresses.
    assert_eq!(
        decide(&url("https://news.example.org/a"), None, &[]),
        Ok(Hop::Guarded)
    );
    assert_eq!(
        decide(&url("http://localhost:8080/"), None, &[]),
        Ok(Hop::Guarded),
        "the guarded resolver refuses it"
    );
    assert_eq!(
        decide(&url("http://93.184.216.34/a"), None, &[]),
        Ok(Hop::Guarded)
    );
    // Found in data, a local file or another scheme is never read.
    for other in [
        "file:///etc/passwd",
        "ftp://example.org/feed",
        "gopher://x/",
    ] {
        assert!(
            matches!(decide(&url(other), None, &[]), Err(Refusal::NotHttp { .. })),
            "{other}"
        );
    }
}

#[test]
fn only_the_configured_origin_is_the_operators_choice() {
    let configured = url("http://127.0.0.1:8080/feed.xml").origin();
    let trusted = Some(&configured);
    assert_eq!(
        decide(&url("http://127.0.0.1:8080/other.xml"), trusted, &[]),
        Ok(Hop::Trusted),
        "the same scheme, host and port"
    );
    for elsewhere in [
        "http://127.0.0.1:9090/feed.xml",
        "https://127.0.0.1:8080/feed.xml",
        "http://127.0.0.2:8080/feed.xml",
        "http://169.254.169.254/",
    ] {
        assert!(
            decide(&url(elsewhere), trusted, &[]).is_err(),
            "{elsewhere}: another origin"
        );
    }
    // The same host written another way is another origin: judged.
    assert_eq!(
        decide(&url("http://localhost:8080/feed.xml"), trusted, &[]),
        Ok(Hop::Guarded)
    );
    // A file feed has no origin to share.
    let file = url("file:///srv/feed.xml").origin();
    assert!(decide(&url("http://127.0.0.1/"), Some(&file), &[]).is_err());
}

#[test]
fn allow_internal_names_hosts_and_ports_the_operator_trusts() {
    let allowed = [
        InternalHost {
            host: "wiki.lan".into(),
            port: None,
        },
        InternalHost {
            host: "10.0.0.5".into(),
            port: Some(8080),
        },
        InternalHost {
            host: "[::1]".into(),
            port: Some(80),
        },
    ];
    for ok in [
        "http://wiki.lan/page",
        "https://wiki.lan:8443/page",
        "http://WIKI.lan/page",
        "http://10.0.0.5:8080/a",
        "http://[::1]/",
    ] {
        assert_eq!(decide(&url(ok), None, &allowed), Ok(Hop::Trusted), "{ok}");
    }
    for refused in [
        "http://10.0.0.5/a",
        "http://10.0.0.6:8080/",
        "https://[::1]/",
    ] {
        assert!(decide(&url(refused), None, &allowed).is_err(), "{refused}");
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
    assert!(err.is::<Refusal>(), "{err}");
    assert!(
        err.to_string().contains("resolves only to internal"),
        "{err}"
    );
}
