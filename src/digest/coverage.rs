//! Digest stage: what a digest says of its own sources (docs/digests.md, "Coverage
//! and outages"). A scheduled digest opens with what it covered — feeds
//! read (the time it covers is under its heading), items checked, new matches, articles that
//! could not be read — so that a quiet day reads differently from dead
//! feeds; an immediate digest opens with the outages of its feeds that
//! have just begun or ended. Shared lines for both renderings, as
//! `attention` does. Pure.

use std::fmt::Write as _;

use chrono_tz::Tz;

use super::html::escape;
use super::layout::{counted, local};
use super::text::wrap;
use crate::model::{Coverage, SourceNews};

/// The coverage block's lines; `matches` is the items this digest carries.
fn coverage_lines(c: &Coverage, matches: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut read = format!("Feeds read: {} of {}", c.read, c.feeds);
    if !c.unread.is_empty() {
        let _ = write!(read, " (not read: {})", c.unread.join(", "));
    }
    read.push('.');
    lines.push(read);
    lines.push(format!("New items checked against the rules: {}.", c.items));
    lines.push(match matches {
        0 => "New matches: none.".into(),
        n => format!("New matches: {}.", counted(n)),
    });
    if !c.unreadable_articles.is_empty() {
        let feeds: Vec<String> = c
            .unreadable_articles
            .iter()
            .map(|(feed, n)| format!("{feed} ({n})"))
            .collect();
        lines.push(format!(
            "Articles that could not be read, their items matched on the feed's text alone: {}.",
            feeds.join(", ")
        ));
    }
    lines
}

/// The news of an immediate digest's sources, one line each.
fn news_lines(n: &SourceNews, tz: Tz) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &n.down {
        lines.push(format!(
            "{} is down: {} polls in a row have failed since {} ({}). Until it is back, this digest cannot see its stories.",
            f.feed,
            f.polls,
            local(f.since, tz),
            f.error
        ));
    }
    for (feed, since) in &n.back {
        lines.push(format!(
            "{feed} is back: read again after being down since {}.",
            local(*since, tz)
        ));
    }
    lines
}

const COVERAGE_TITLE: &str = "What this digest covered";
const NEWS_TITLE: &str = "Sources";

pub(super) fn coverage_text(c: &Coverage, matches: usize) -> String {
    block_text(COVERAGE_TITLE, &coverage_lines(c, matches))
}

pub(super) fn coverage_html(c: &Coverage, matches: usize) -> String {
    block_html(COVERAGE_TITLE, &coverage_lines(c, matches), Heading::Quiet)
}

pub(super) fn news_text(n: &SourceNews, tz: Tz) -> String {
    block_text(NEWS_TITLE, &news_lines(n, tz))
}

pub(super) fn news_html(n: &SourceNews, tz: Tz) -> String {
    block_html(NEWS_TITLE, &news_lines(n, tz), Heading::Alert)
}

fn block_text(title: &str, lines: &[String]) -> String {
    let mut out = format!("\n{title}\n{}\n", "-".repeat(title.len()));
    for l in lines {
        out.push_str(&wrap(l, "* ", "  "));
    }
    out
}

/// How a block's heading looks: grey for what it covered, red (as the
/// attention section) for its sources' news. Each with its dark-mode class.
enum Heading {
    Quiet,
    Alert,
}

fn block_html(title: &str, lines: &[String], heading: Heading) -> String {
    let (class, color) = match heading {
        Heading::Quiet => ("fw-m", "#3c4043"),
        Heading::Alert => ("fw-alert", "#b3261e"),
    };
    let mut out = format!(
        "<h2 class=\"{class}\" style=\"font-size:15px;margin:16px 0 8px 0;color:{color}\">{title}</h2><ul style=\"font-size:14px;padding-left:20px;margin:0 0 12px 0\">"
    );
    for l in lines {
        let _ = write!(out, "<li>{}</li>", escape(l));
    }
    out.push_str("</ul>\n");
    out
}
