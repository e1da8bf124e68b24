//! Digest stage: what one message of a digest says, before it is written
//! as plain text (`text.rs`) or HTML (`html.rs`), so that both parts say
//! the same. Every rule that matched something has its own section; a story
//! is shown in full under the first of its rules (in config order) and, in
//! the section of each other rule it matched, as a line pointing there.
//! Counts are items: a story with two copies is two items. Pure.

use std::collections::HashMap;

use chrono_tz::Tz;

use super::stories::Reported;
use crate::model::{Attention, Coverage, MatchView, SourceNews};

/// What a digest's footer says: where it came from and when it comes next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footer {
    /// The host feedwatch ran on.
    pub host: String,
    /// The config file that holds the rules.
    pub config: String,
    /// When this digest is next due, as the reader's clock says.
    pub next: Option<String>,
}

/// One message of a digest, laid out. Its counts are of what it lists: a
/// section's are its entries and their copies' lines, and a pointer line.
pub(super) struct Layout<'a> {
    pub digest: &'a str,
    /// The digest's title, for the heading.
    pub title: &'a str,
    pub tz: Tz,
    /// Items in this message, and in the whole digest.
    pub items: usize,
    pub total_items: usize,
    /// (this part, of how many).
    pub part: (usize, usize),
    pub sections: Vec<Section<'a>>,
    pub reported: &'a [Reported],
    pub attention: Option<&'a Attention>,
    /// What the digest covered (the first part of a scheduled digest).
    pub coverage: Option<&'a Coverage>,
    /// Outages of its feeds begun or ended (the first part of an immediate digest).
    pub news: Option<&'a SourceNews>,
    /// When the digest was composed: the end of what it covered.
    pub now: chrono::DateTime<chrono::Utc>,
    pub footer: &'a Footer,
}

/// The stories one rule matched.
pub(super) struct Section<'a> {
    pub rule: &'a str,
    /// Items the section shows in full in this message (a story and its
    /// other copies).
    pub items: usize,
    /// Stories it points to, shown in full under another rule.
    pub pointers: usize,
    pub entries: Vec<Entry<'a>>,
}

pub(super) enum Entry<'a> {
    /// The story in full: its first rule's section.
    Full(&'a MatchView),
    /// A line pointing to where the story is in full.
    Pointer {
        story: &'a MatchView,
        under: &'a str,
    },
    /// A firehose feed's stories past `FIREHOSE`: how many items, and the
    /// stories, each said by its linked headline only.
    More {
        feed: &'a str,
        items: usize,
        stories: Vec<&'a MatchView>,
    },
}

/// Items a story stands for: the copy shown and the copies listed.
pub(super) fn items(story: &MatchView) -> usize {
    1 + story.also_in.len()
}

/// The snippet to show, if it says more than the title: a feed whose
/// description is its title would only repeat it.
/// What an entry says when its rules found it only in the article its link
/// leads to (docs/fetching.md, "Full text").
pub(super) const IN_ARTICLE: &str = "Found in the full article, not in the feed's text.";

pub(super) fn snippet(m: &MatchView) -> Option<&str> {
    let plain = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != crate::model::MARK_START && *c != crate::model::MARK_END)
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric())
            .collect()
    };
    let text = plain(&m.snippet);
    (!text.is_empty() && text != plain(&m.title)).then_some(m.snippet.as_str())
}

/// The sections of a message's `stories`, in the order of `rules` (the
/// config's), then any rule the config no longer has.
pub(super) fn sections<'a>(stories: &[&'a MatchView], rules: &'a [String]) -> Vec<Section<'a>> {
    let rank = |r: &str| rules.iter().position(|x| x == r).unwrap_or(usize::MAX);
    let mut order: Vec<&'a str> = Vec::new();
    for story in stories {
        for r in &story.rules {
            if !order.contains(&r.as_str()) {
                order.push(r);
            }
        }
    }
    order.sort_by_key(|r| rank(r));
    order
        .into_iter()
        .map(|rule| {
            let entries: Vec<Entry<'a>> = stories
                .iter()
                .filter(|s| s.rules.iter().any(|r| r == rule))
                .map(|s| {
                    let first = s.rules.iter().map(String::as_str).min_by_key(|r| rank(r));
                    match first {
                        Some(under) if under != rule => Entry::Pointer { story: s, under },
                        _ => Entry::Full(s),
                    }
                })
                .collect();
            // The items the section shows in full (a story and its other
            // copies), and those it points to under another rule: the first
            // add up, over the sections, to the digest's count (a feed's
            // stories past its cap are counted where they are said).
            let (mut full, mut pointers) = (0, 0);
            for e in &entries {
                match e {
                    Entry::Full(s) => full += items(s),
                    Entry::Pointer { .. } => pointers += 1,
                    Entry::More { .. } => {}
                }
            }
            let entries = capped(entries);
            Section {
                rule,
                items: full,
                pointers,
                entries,
            }
        })
        .collect()
}

/// Stories of one feed shown in full in one section, at most: a firehose
/// feed (a live blog, an aggregator) must not bury the others; the rest
/// are a line each (the linked headline), under one that says how many and
/// gives the search that lists them in full. Nothing is left out.
pub(super) const FIREHOSE: usize = 8;

/// `entries` with each feed's stories in full past `FIREHOSE` said by
/// their headlines, after the last one shown (they are the feed's oldest).
fn capped(entries: Vec<Entry<'_>>) -> Vec<Entry<'_>> {
    let mut shown: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(entries.len());
    let mut more: Vec<Entry<'_>> = Vec::new();
    for e in entries {
        if let Entry::Full(s) = &e {
            let n = shown.entry(s.feed.as_str()).or_default();
            *n += 1;
            if *n > FIREHOSE {
                let found = more.iter_mut().find_map(|m| match m {
                    Entry::More {
                        feed,
                        items: k,
                        stories,
                    } if *feed == s.feed => Some((k, stories)),
                    _ => None,
                });
                match found {
                    Some((k, stories)) => {
                        *k += items(s);
                        stories.push(s);
                    }
                    None => more.push(Entry::More {
                        feed: s.feed.as_str(),
                        items: items(s),
                        stories: vec![s],
                    }),
                }
                continue;
            }
        }
        out.push(e);
    }
    out.extend(more);
    out
}

/// What a section's heading counts: "3 items", "2 items, and 1 under
/// another rule", "1 item under another rule".
pub(super) fn section_count(section: &Section<'_>) -> String {
    let elsewhere = |n: usize| {
        if n == 1 {
            "1 item under another rule".to_string()
        } else {
            format!("{n} items under other rules")
        }
    };
    match (section.items, section.pointers) {
        (n, 0) => counted(n),
        (0, p) => elsewhere(p),
        (n, p) => format!(
            "{}, and {p} under {}",
            counted(n),
            if p == 1 {
                "another rule"
            } else {
                "other rules"
            }
        ),
    }
}

/// What the later copies of stories already reported are, in items (as
/// `status` counts them): "1 update", "2 already reported", "1 update, 1
/// already reported" (an update says something the report did not).
pub(super) fn reported_said(reported: &[Reported]) -> String {
    let updates: usize = reported
        .iter()
        .filter(|r| !r.changed.is_empty())
        .map(|r| items(&r.view))
        .sum();
    let copies: usize = reported
        .iter()
        .filter(|r| r.changed.is_empty())
        .map(|r| items(&r.view))
        .sum();
    let mut said = Vec::new();
    match updates {
        0 => {}
        1 => said.push("1 update".to_string()),
        n => said.push(format!("{n} updates")),
    }
    if copies > 0 {
        said.push(format!("{copies} already reported"));
    }
    said.join(", ")
}

/// A short fragment of `story`'s text around the first word `rule`
/// marked, its words marked (from the rule's own snippet): what a line
/// pointing to the story from `rule`'s section shows, so that the section
/// says why the story is in it. `None` when the rule marked nothing there
/// (its words are in the headline).
pub(super) fn fragment(story: &MatchView, rule: &str) -> Option<String> {
    const BEFORE: usize = 5;
    const AFTER: usize = 9;
    let (_, snippet) = story.rule_snippets.iter().find(|(r, _)| r == rule)?;
    let words: Vec<&str> = snippet.split_whitespace().collect();
    let first = words
        .iter()
        .position(|w| w.contains(crate::model::MARK_START))?;
    let start = first.saturating_sub(BEFORE);
    let end = (first + AFTER + 1).min(words.len());
    let mut out = words[start..end].join(" ");
    // A phrase's mark spans words: one the cut opened or closed is closed
    // or opened again, so that no mark runs on past the fragment.
    let (mut depth, mut unopened) = (0usize, 0usize);
    for c in out.chars() {
        if c == crate::model::MARK_START {
            depth += 1;
        } else if c == crate::model::MARK_END {
            if depth == 0 {
                unopened += 1;
            } else {
                depth -= 1;
            }
        }
    }
    for _ in 0..unopened {
        out.insert(0, crate::model::MARK_START);
    }
    for _ in 0..depth {
        out.push(crate::model::MARK_END);
    }
    // The ellipses say where it is cut.
    if start > 0 && !out.starts_with('…') {
        out.insert(0, '…');
    }
    if end < words.len() && !out.ends_with('…') {
        out.push('…');
    }
    Some(out)
}

/// "1 item", "3 items".
pub(super) fn counted(n: usize) -> String {
    if n == 1 {
        "1 item".into()
    } else {
        format!("{n} items")
    }
}

/// A story's time in the reader's zone, with the zone's abbreviation.
pub(super) fn when(m: &MatchView, tz: Tz) -> String {
    m.published
        .map(|d| local(d, tz))
        .unwrap_or_else(|| "undated".into())
}

pub(super) fn local(t: chrono::DateTime<chrono::Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

impl Layout<'_> {
    /// The message's first line: what it is and how much it holds.
    pub fn heading(&self) -> String {
        let new = match self.total_items {
            0 => format!("{}: no new items", self.title),
            n => format!(
                "{}: {n} new {}",
                self.title,
                if n == 1 { "item" } else { "items" }
            ),
        };
        match reported_said(self.reported) {
            said if said.is_empty() => new,
            said => format!("{new}, {said}"),
        }
    }

    /// The time the digest covers: from its last message to now for a
    /// scheduled one (its coverage), the poll that found its items for an
    /// immediate one.
    pub fn window_line(&self) -> String {
        match self.coverage {
            Some(c) => match c.from {
                Some(from) => format!(
                    "From {} to {}",
                    local(from, self.tz),
                    local(self.now, self.tz)
                ),
                None => format!("Up to {}", local(self.now, self.tz)),
            },
            None => format!("As of {}", local(self.now, self.tz)),
        }
    }

    /// The line that says a firehose feed's other `stories` in a section
    /// of `rule`, with the search that lists them: back to the oldest of
    /// them (search goes by the published time, else the fetch time).
    pub fn more_line(
        &self,
        rule: &str,
        feed: &str,
        items: usize,
        stories: &[&MatchView],
    ) -> String {
        let oldest = stories
            .iter()
            .map(|m| m.published.unwrap_or(m.fetched_at))
            .min()
            .unwrap_or(self.now);
        let hours = (self.now - oldest).num_hours().max(0) + 1;
        // Quoted for a shell when the rule's name needs it.
        let rule = if rule
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            rule.to_string()
        } else {
            format!("'{}'", rule.replace('\'', "'\\''"))
        };
        format!(
            "{items} more {} from {feed}: feedwatch search --rule {rule} --since {hours}h --limit {}",
            if items == 1 { "item" } else { "items" },
            items + FIREHOSE
        )
    }

    /// "Part 2 of 3 (4 of the 11 items)", for a digest in several messages.
    pub fn part_line(&self) -> Option<String> {
        let (index, total) = self.part;
        (total > 1).then(|| {
            format!(
                "Part {index} of {total} ({} of the {} items).",
                self.items, self.total_items
            )
        })
    }

    /// The footer's sentences.
    pub fn footer_lines(&self) -> Vec<String> {
        let f = self.footer;
        let mut lines = vec![format!(
            "Sent by feedwatch on {} for the rules in {}.",
            f.host, f.config
        )];
        if let Some(next) = &f.next {
            lines.push(format!(
                "The next \"{}\" digest is due {next}.",
                self.digest
            ));
        }
        // Only where a story can be in several sections.
        if self.sections.len() > 1 {
            lines.push(
                "Each item is shown in full under the first rule it matched, and pointed to under the others."
                    .into(),
            );
        }
        lines
    }

    /// The stories told most (by the most outlets, or matched by the most
    /// rules), at most three, for the top of a busy message: each with
    /// what makes it so ("3 outlets, 2 rules"). Only stories told by two
    /// outlets or matched by two rules or more.
    pub fn most_told(&self) -> Vec<(&MatchView, String)> {
        let mut stories: Vec<(&MatchView, usize, usize)> = Vec::new();
        for section in &self.sections {
            for e in &section.entries {
                if let Entry::Full(m) = e {
                    let mut feeds: Vec<&str> = vec![m.feed.as_str()];
                    feeds.extend(m.also_in.iter().map(|a| a.feed.as_str()));
                    feeds.sort_unstable();
                    feeds.dedup();
                    stories.push((m, feeds.len(), m.rules.len()));
                }
            }
        }
        stories.retain(|(_, outlets, rules)| *outlets > 1 || *rules > 1);
        stories.sort_by_key(|(_, outlets, rules)| std::cmp::Reverse((*outlets, *rules)));
        stories
            .into_iter()
            .take(3)
            .map(|(m, outlets, rules)| {
                let mut why = Vec::new();
                if outlets > 1 {
                    why.push(format!("{outlets} outlets"));
                }
                if rules > 1 {
                    why.push(format!("{rules} rules"));
                }
                (m, why.join(", "))
            })
            .collect()
    }

    /// Whether the message is busy enough for a top block: several
    /// sections, or more stories than a screen holds.
    pub fn busy(&self) -> bool {
        let stories: usize = self.sections.iter().map(|s| s.entries.len()).sum();
        self.sections.len() > 2 || stories >= 8
    }

    /// The title of the section of stories already reported.
    pub fn reported_title(&self) -> &'static str {
        if self.reported.iter().any(|r| !r.changed.is_empty()) {
            "Already reported (updates and later copies)"
        } else {
            "Already reported (later copies)"
        }
    }

    /// How an already reported story is said: where and when it was.
    pub fn reported_line(&self, r: &Reported) -> String {
        let under = if r.earlier.title == r.view.title {
            String::new()
        } else {
            format!(" as \"{}\" ({})", r.earlier.title, r.earlier.feed)
        };
        format!(
            "{} ({}; rules: {}): reported in \"{}\" on {}{under}",
            r.view.title,
            r.view.feed,
            r.view.rules.join(", "),
            r.earlier.digest,
            local(r.earlier.sent_at, self.tz)
        )
    }
}

/// Another copy's feed, with its language when that is not the shown
/// copy's: "Укрінформ (uk)".
pub(super) fn source(copy: &crate::model::AlsoIn) -> String {
    match &copy.lang {
        Some(l) => format!("{} ({l})", copy.feed),
        None => copy.feed.clone(),
    }
}
