//! Unit tests of the mail stage: the headers a digest carries, its ids,
//! and addresses refused without a panic.
use super::*;

#[test]
fn message_has_the_headers_the_spec_lists() {
    let to = ["a@example.org".to_string(), "b@example.org".to_string()];
    let b = build(Draft {
        from: "feedwatch <fw@example.org>",
        to: &to,
        subject: "Київ: 2 new items",
        text: "text part".into(),
        html: "<p>html part</p>".into(),
        message_id: "<x.2@example.org>",
        date: SystemTime::UNIX_EPOCH + Duration::from_secs(1_719_221_400),
        list: "Morning (Київ)",
        first_part: Some("<x.1@example.org>"),
    })
    .unwrap();
    let s = String::from_utf8(b.bytes).unwrap();
    assert!(s.contains("Message-ID: <x.2@example.org>"), "{s}");
    assert!(
        s.contains("List-Id: feedwatch digest <morning.feedwatch.example.org>"),
        "{s}"
    );
    assert!(s.contains("In-Reply-To: <x.1@example.org>"), "{s}");
    assert!(s.contains("References: <x.1@example.org>"), "{s}");
    assert!(s.contains("Auto-Submitted: auto-generated"));
    assert!(s.contains("Date: Mon, 24 Jun 2024 09:30:00 +0000"), "{s}");
    assert!(s.contains("multipart/alternative"));
    assert!(
        s.contains("Subject: =?utf-8?"),
        "non-ASCII subject is RFC 2047 encoded: {s}"
    );
    assert!(s.contains("To: a@example.org, b@example.org"), "{s}");
    assert!(s.contains("text/plain; charset=utf-8"));
    assert!(s.contains("text/html; charset=utf-8"));
}

#[test]
fn message_ids_are_unique_and_in_the_sender_domain() {
    let a = new_message_id("fw <fw@example.org>");
    let b = new_message_id("fw <fw@example.org>");
    assert_ne!(a, b);
    assert!(
        a.starts_with("<feedwatch.") && a.ends_with("@example.org>"),
        "{a}"
    );
}

#[test]
fn bad_addresses_are_errors_not_panics() {
    let r = build(Draft {
        from: "not an address",
        to: &[],
        subject: "s",
        text: String::new(),
        html: String::new(),
        message_id: "<a@b>",
        date: SystemTime::now(),
        list: "d",
        first_part: None,
    });
    assert!(matches!(r, Err(MailError::Address(_))));
}

/// ASCII display names are quoted strings, as RFC 5322 writes them
/// ("Iran watch (feedwatch)" went out base64-encoded); other names keep
/// RFC 2047; the headers parse back to the same mailboxes.
#[test]
fn display_names_are_quoted_when_ascii_and_encoded_when_not() {
    let to = [
        "\"Duty desk (Kyiv)\" <desk@example.org>".to_string(),
        "b@example.org".to_string(),
    ];
    let draft = |from, to| Draft {
        from,
        to,
        subject: "s",
        text: "t".into(),
        html: "<p>h</p>".into(),
        message_id: "<x@example.org>",
        date: SystemTime::UNIX_EPOCH,
        list: "d",
        first_part: None,
    };
    let s = String::from_utf8(
        build(draft("\"Iran watch (feedwatch)\" <fw@example.org>", &to))
            .unwrap()
            .bytes,
    )
    .unwrap();
    assert!(
        s.contains("From: \"Iran watch (feedwatch)\" <fw@example.org>\r\n"),
        "{s}"
    );
    assert!(
        s.contains("To: \"Duty desk (Kyiv)\" <desk@example.org>,\r\n b@example.org\r\n"),
        "{s}"
    );
    let from: lettre::message::Mailbox = "\"Iran watch (feedwatch)\" <fw@example.org>"
        .parse()
        .unwrap();
    assert_eq!(from.name.as_deref(), Some("Iran watch (feedwatch)"));
    let s = String::from_utf8(
        build(draft("Чергова зміна <fw@example.org>", &to))
            .unwrap()
            .bytes,
    )
    .unwrap();
    assert!(s.contains("From: =?utf-8?b?"), "{s}");
}
