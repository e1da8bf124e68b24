//! Digest stage: the closing section of a digest (docs/digests.md, "Delivery") — feeds that
//! have been failing a few polls in a row (`[poll] failing_after`), are gone or have moved, and earlier digests that are
//! still undelivered — as plain text and as HTML. Pure; feed names and error
//! texts are escaped like all other feed-derived text.

use std::fmt::Write as _;

use chrono_tz::Tz;

use super::html::escape;
use super::text::wrap;
use crate::model::Attention;

fn local(t: chrono::DateTime<chrono::Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The lines of the section, shared by both renderings.
fn lines(a: &Attention, tz: Tz) -> (Vec<String>, Vec<String>) {
    let mut feeds = Vec::new();
    for f in &a.failing {
        feeds.push(format!(
            "{}: down since {}, {} polls in a row failed ({})",
            f.feed,
            local(f.since, tz),
            f.polls,
            f.error
        ));
    }
    for f in &a.never_fetched {
        feeds.push(format!(
            "{}: not fetched successfully since it was added ({}); check its URL",
            f.feed, f.error
        ));
    }
    for name in &a.gone {
        feeds.push(format!(
            "{name}: gone (HTTP 410); remove it from the config"
        ));
    }
    for m in &a.moved {
        feeds.push(format!(
            "{}: moved permanently to {}; update the config",
            m.feed, m.to
        ));
    }
    let undelivered = a
        .undelivered
        .iter()
        .map(|u| {
            format!(
                "\"{}\" of {}: {} attempt(s), last error: {}",
                u.digest,
                local(u.written_at, tz),
                u.attempts,
                u.error
            )
        })
        .collect();
    (feeds, undelivered)
}

/// The non-empty sections, titled, in order.
fn sections(a: &Attention, tz: Tz) -> Vec<(&'static str, Vec<String>)> {
    let (feeds, undelivered) = lines(a, tz);
    [
        ("Feeds that need attention", feeds),
        ("Digests not delivered yet", undelivered),
    ]
    .into_iter()
    .filter(|(_, list)| !list.is_empty())
    .collect()
}

pub fn text(a: &Attention, tz: Tz) -> String {
    let mut out = String::new();
    for (title, list) in sections(a, tz) {
        let _ = write!(out, "\n{title}\n{}\n", "-".repeat(title.len()));
        for l in list {
            out.push_str(&wrap(&l, "* ", "  "));
        }
    }
    out
}

pub fn html(a: &Attention, tz: Tz) -> String {
    let mut out = String::new();
    for (title, list) in sections(a, tz) {
        let _ = write!(
            out,
            "<h2 class=\"fw-alert\" style=\"font-size:15px;margin:24px 0 8px 0;color:#b3261e\">{title}</h2><ul style=\"font-size:14px;padding-left:20px\">"
        );
        for l in list {
            let _ = write!(out, "<li>{}</li>", escape(&l));
        }
        out.push_str("</ul>\n");
    }
    out
}
