//! Unit tests of the fetch stage: the redirect guard on loopback, and the
//! response headers it reads.
use super::http::{max_age, retry_after_value};
use super::*;

/// The wiring, on loopback only: an origin taken for public redirects to
/// `localhost`, which the guarded resolver refuses; the same redirect from
/// an origin known to be internal is followed.
#[tokio::test]
async fn a_redirect_from_a_public_origin_to_an_internal_name_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let location = format!(
        "http://localhost:{}/inside.xml",
        target.local_addr().unwrap().port()
    );
    let feed_url = Url::parse(&format!(
        "http://127.0.0.1:{}/feed.xml",
        origin.local_addr().unwrap().port()
    ))
    .unwrap();
    let serve = |listener: tokio::net::TcpListener, response: String| {
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
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
    );
    serve(
        target,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<rss>".into(),
    );

    let mut fetcher = Fetcher::new(Duration::from_secs(5), 1 << 20).unwrap();
    let soon = || Instant::now() + Duration::from_secs(5);
    let followed = fetcher
        .fetch(&feed_url, &Validators::default(), soon())
        .await;
    assert!(
        matches!(followed, Ok(FetchOutcome::Fetched(_))),
        "internal origin: followed ({followed:?})"
    );
    fetcher.assume_public_origins();
    let refused = fetcher
        .fetch(&feed_url, &Validators::default(), soon())
        .await;
    let err = refused.expect_err("public origin: refused").to_string();
    assert!(err.contains("refused") || err.contains("internal"), "{err}");
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
