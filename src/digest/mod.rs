//! Digest stage: pending matches → the messages of one digest run: subject,
//! plain text and HTML, split into parts so that each HTML part stays under
//! the size where webmail clips (docs/digests.md, "Delivery"). The same story once
//! (`stories`), every rule's matches in its own section (`layout`), stories
//! this digest already reported set apart. Pure: no I/O, no clock (the
//! caller passes the time and the zone).

mod attention;
mod coverage;
mod html;
mod lang;
mod layout;
mod names;
pub mod same_event;
pub mod same_story;
mod snippet;
mod stories;
mod text;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use html::{escape, marked as marked_html};
pub use layout::Footer;
pub use stories::{Recent, merge_same_story};

pub use crate::model::one_line;
use crate::model::{Attention, Coverage, MatchView, SentStory, SourceNews};
use layout::Layout;
use stories::{Reported, Story};

/// Budget for the entries of one HTML part; the frame adds ~3 KB, so a
/// part stays well under the 100 KB where common webmail clips a message.
const HTML_BUDGET: usize = 90_000;

/// Everything a digest run is made from.
pub struct Request<'a> {
    pub name: &'a str,
    /// The name the reader sees in the heading ("Morning digest").
    pub title: &'a str,
    /// The subject, with `{count}`, `{items}`, `{digest}` and `{rules}`.
    pub subject: &'a str,
    pub tz: Tz,
    /// Every rule's name, in config order: the order of the sections.
    pub rules: &'a [String],
    pub matches: &'a [MatchView],
    /// Each matched feed's recent items, where its boilerplate is found.
    pub recent: &'a Recent,
    /// Stories this digest reported within `memory` (docs/digests.md, "What is new").
    pub sent: &'a [SentStory],
    pub memory: chrono::Duration,
    pub attention: &'a Attention,
    /// What a scheduled digest covered (docs/digests.md, "Coverage and outages").
    pub coverage: Option<&'a Coverage>,
    /// An immediate digest's outages begun or ended.
    pub news: &'a SourceNews,
    /// Sent even with nothing new: a scheduled digest's quiet day (or its
    /// feeds are down), an immediate one's news of its feeds.
    pub send_empty: bool,
    pub footer: Footer,
    /// The time of this run: the stories it reports are remembered as of now.
    pub now: DateTime<Utc>,
}

/// One message's worth of a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The match rows this part carries (they leave "pending" with it).
    pub match_ids: Vec<i64>,
    /// The stories this part reports, to remember (`SentStory`).
    pub stories: Vec<SentStory>,
}

/// Renders a digest run: nothing when nothing is pending, unless
/// `send_empty`;
/// else as many parts as the size limit needs, the first opening with the
/// coverage or the news of the digest's feeds, the last one ending with the
/// stories already reported and what needs the reader's attention.
pub fn render(r: &Request<'_>) -> Vec<Rendered> {
    let all = stories::stories(r.matches, r.recent);
    let (new, reported) = stories::reported(all, r.name, r.sent, r.memory);
    // A copy of a story already reported goes out too, once, as a line:
    // a match is never withheld waiting for news that may not come.
    if new.is_empty() && reported.is_empty() && !r.send_empty {
        return Vec::new();
    }
    // The stories already reported end the last part: a line each, and an
    // update's changed sentences.
    let tail: usize = reported
        .iter()
        .map(|x| {
            400 + x.view.title.len() * 2 + x.changed.iter().map(|c| c.len() + 40).sum::<usize>()
        })
        .sum();
    let parts = split(&new, r.tz, tail);
    let total_items: usize = new.iter().map(|s| layout::items(&s.view)).sum();
    let count = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let (first, last) = (i == 0, i + 1 == count);
            let views: Vec<&MatchView> = part.iter().map(|s| &s.view).collect();
            let l = Layout {
                digest: r.name,
                title: r.title,
                tz: r.tz,
                items: views.iter().map(|v| layout::items(v)).sum(),
                total_items,
                part: (i + 1, count),
                sections: layout::sections(&views, r.rules),
                reported: if last { &reported } else { &[] },
                attention: (last && !r.attention.is_empty()).then_some(r.attention),
                coverage: r.coverage.filter(|_| first),
                news: (first && !r.news.is_empty()).then_some(r.news),
                now: r.now,
                footer: &r.footer,
            };
            let mut match_ids: Vec<i64> = views
                .iter()
                .flat_map(|v| v.match_ids.iter().copied())
                .collect();
            if last {
                match_ids.extend(
                    reported
                        .iter()
                        .flat_map(|x| x.view.match_ids.iter().copied()),
                );
            }
            Rendered {
                subject: subject(r, &new, &reported, total_items, (i + 1, count)),
                text: text::text(&l),
                html: html::html(&l),
                match_ids,
                stories: {
                    let mut told = stories::remember(part, r.name, r.now);
                    if last {
                        told.extend(stories::remember_updates(&reported, r.name, r.now));
                    }
                    told
                },
            }
        })
        .collect()
}

/// The stories in parts whose entries stay within `HTML_BUDGET`, the last
/// with room for `tail` (the stories already reported).
fn split(stories: &[Story], tz: Tz, tail: usize) -> Vec<Vec<&Story>> {
    let mut parts: Vec<Vec<&Story>> = vec![Vec::new()];
    let mut size = 0;
    for s in stories {
        // A story's pointers in other sections are small: a line each.
        let entry = html::entry_html(&s.view, tz).len() + 300 * s.view.rules.len();
        if size + entry > HTML_BUDGET && parts.last().is_some_and(|p| !p.is_empty()) {
            parts.push(Vec::new());
            size = 0;
        }
        size += entry;
        if let Some(last) = parts.last_mut() {
            last.push(s);
        }
    }
    // The last part also ends with `tail`: one of its own when it would
    // not fit.
    if size + tail > HTML_BUDGET && parts.last().is_some_and(|p| !p.is_empty()) {
        parts.push(Vec::new());
    }
    parts
}

/// The subject: the template filled in, one line, "(part 2 of 3)" when split.
fn subject(
    r: &Request<'_>,
    new: &[Story],
    reported: &[Reported],
    items: usize,
    (index, total): (usize, usize),
) -> String {
    let mut rules: Vec<&str> = Vec::new();
    for name in r.rules {
        if new.iter().any(|s| s.view.rules.contains(name)) {
            rules.push(name);
        }
    }
    let mut subject = r
        .subject
        .replace("{count}", &items.to_string())
        .replace("{items}", if items == 1 { "item" } else { "items" })
        .replace("{digest}", r.name)
        .replace("{rules}", &rules.join(", "));
    let mut sources = sources_said(r);
    if !reported.is_empty() {
        if !sources.is_empty() {
            sources.push_str("; ");
        }
        sources.push_str(&layout::reported_said(reported));
    }
    if !sources.is_empty() {
        let _ = write!(subject, " ({sources})");
    }
    if total > 1 {
        let _ = write!(subject, " (part {index} of {total})");
    }
    one_line(&subject)
}

/// What the subject says of the digest's feeds: those that went down or
/// came back (immediate), or how many are down (scheduled), so that the
/// inbox shows it without opening the message.
fn sources_said(r: &Request<'_>) -> String {
    let mut said = Vec::new();
    let names = |v: Vec<&str>| v.join(", ");
    if !r.news.down.is_empty() {
        said.push(format!(
            "down: {}",
            names(r.news.down.iter().map(|f| f.feed.as_str()).collect())
        ));
    }
    if !r.news.back.is_empty() {
        said.push(format!(
            "back: {}",
            names(r.news.back.iter().map(|(f, _)| f.as_str()).collect())
        ));
    }
    if r.coverage.is_some() {
        let a = r.attention;
        let down = a.failing.len() + a.never_fetched.len() + a.gone.len();
        if down > 0 {
            said.push(format!(
                "{down} {} down",
                if down == 1 { "feed" } else { "feeds" }
            ));
        }
    }
    said.join("; ")
}

#[cfg(test)]
mod tests;
