//! Digest stage: from pending matches to stories. Every copy of the same
//! story (docs/digests.md, "What is new") becomes one entry: the fullest copy shown,
//! every other one listed under "also in" with its link. A story a digest
//! already reported (remembered for `story_memory`) is set apart as
//! "already reported", not presented as new. Pure.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::same_event;
use super::same_story::{self, Fingerprint};
use crate::model::{AlsoIn, MatchView, SentStory};

/// Recent items of each feed of a digest's matches, (title, text): what a
/// feed repeats across its items is its boilerplate, not a story's text.
pub type Recent = HashMap<String, Vec<(String, String)>>;

/// One story of a digest: the copy shown (with the others in `also_in`),
/// and the fingerprint of every copy.
#[derive(Debug, Clone)]
pub(super) struct Story {
    pub view: MatchView,
    pub prints: Vec<(Option<String>, Fingerprint)>,
    /// The boilerplate of the shown copy's feed (what is no change).
    pub boilerplate: HashSet<u64>,
}

/// A pending story a digest reported already, and that report.
#[derive(Debug, Clone)]
pub(super) struct Reported {
    pub view: MatchView,
    pub earlier: SentStory,
    /// What this copy says that the report did not (an update), if anything.
    pub changed: Vec<String>,
    /// The fingerprint of each copy, as `Story::prints`: an update is
    /// remembered, so that a later copy of it is not told again.
    pub prints: Vec<(Option<String>, Fingerprint)>,
}

/// The most sentences said of what an update changed.
const CHANGED_SHOWN: usize = 3;

/// Merges every copy of the same story into one entry (see `stories`).
pub fn merge_same_story(matches: &[MatchView], recent: &Recent) -> Vec<MatchView> {
    stories(matches, recent)
        .into_iter()
        .map(|s| s.view)
        .collect()
}

/// The stories of `matches`: the fullest copy of each (the longest text;
/// the earliest on a tie) is shown, every other one — another feed's, or a
/// repeat in the same feed — is listed in `also_in` with its link; the
/// entry carries every match row and rule of its copies. Nothing is
/// dropped: a copy is shown or listed.
pub(super) fn stories(matches: &[MatchView], recent: &Recent) -> Vec<Story> {
    let boilerplate = boilerplate(matches, recent);
    let prints: Vec<Fingerprint> = matches
        .iter()
        .map(|m| same_story::fingerprint(&m.title, &m.summary, &boilerplate[m.feed.as_str()]))
        .collect();
    let links: Vec<Option<&str>> = matches.iter().map(|m| m.link.as_deref()).collect();
    let roots = same_event::join(&same_story::group(&links, &prints), |i| {
        same_event::event(&matches[i].title, &matches[i].summary)
    });
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (i, root) in roots.iter().enumerate() {
        let k = *slot.entry(*root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[k].push(i);
    }
    let mut stories: Vec<Story> = groups
        .iter()
        .map(|g| {
            let (mut view, order) = shown(matches, g, &boilerplate);
            if let Some(own) = boilerplate
                .get(view.feed.as_str())
                .and_then(|b| super::snippet::own_news(&view, b))
            {
                view.snippet = own;
            }
            Story {
                boilerplate: boilerplate
                    .get(view.feed.as_str())
                    .cloned()
                    .unwrap_or_default(),
                view,
                prints: order
                    .iter()
                    .map(|&i| (matches[i].link.clone(), prints[i].clone()))
                    .collect(),
            }
        })
        .collect();
    // Newest first by the time each entry shows (the copy shown in full may
    // be older than the copy that placed its group): order and shown times
    // agree. Undated entries last, in the order they came.
    stories.sort_by_key(|s| std::cmp::Reverse(s.view.published));
    stories
}

/// Each matched feed's boilerplate, from its recent items and its pending
/// ones (the same text stored and pending counts once).
fn boilerplate<'a>(matches: &'a [MatchView], recent: &'a Recent) -> HashMap<&'a str, HashSet<u64>> {
    let feeds: HashSet<&str> = matches.iter().map(|m| m.feed.as_str()).collect();
    feeds
        .into_iter()
        .map(|feed| {
            let stored = recent.get(feed).into_iter().flatten();
            let pending = matches.iter().filter(|m| m.feed == feed);
            let mut seen = HashSet::new();
            let texts: Vec<(&str, &str)> = stored
                .map(|(t, s)| (t.as_str(), s.as_str()))
                .chain(pending.map(|m| (m.title.as_str(), m.summary.as_str())))
                .filter(|t| seen.insert(*t))
                .collect();
            (feed, same_story::boilerplate(texts))
        })
        .collect()
}

/// One group's entry: its fullest copy, with the others as `also_in`; and
/// the copies in that order (the shown one first).
fn shown(
    matches: &[MatchView],
    group: &[usize],
    boilerplate: &HashMap<&str, HashSet<u64>>,
) -> (MatchView, Vec<usize>) {
    let fullest = group
        .iter()
        .copied()
        .max_by(|&a, &b| {
            let (x, y) = (&matches[a], &matches[b]);
            x.summary
                .chars()
                .count()
                .cmp(&y.summary.chars().count())
                .then_with(|| y.published.cmp(&x.published))
        })
        .unwrap_or(group[0]);
    let mut shown = matches[fullest].clone();
    let shown_lang = super::lang::of(&shown.title, &shown.summary);
    let shown_text = same_story::shingles(&shown.title, &shown.summary);
    let mut order = vec![fullest];
    for &i in group.iter().filter(|&&i| i != fullest) {
        order.push(i);
        let m = &matches[i];
        shown.match_ids.extend(&m.match_ids);
        for rule in &m.rules {
            if !shown.rules.contains(rule) {
                shown.rules.push(rule.clone());
            }
        }
        for (rule, snippet) in &m.rule_snippets {
            if !shown.rule_snippets.iter().any(|(r, _)| r == rule) {
                shown.rule_snippets.push((rule.clone(), snippet.clone()));
            }
        }
        shown.fetched_at = shown.fetched_at.min(m.fetched_at);
        let own_lang = super::lang::of(&m.title, &m.summary);
        let lang = own_lang
            .filter(|l| Some(*l) != shown_lang)
            .map(str::to_string);
        // A later copy that says what the shown one does not is an update;
        // a version in another language (one event, `same_event`) says
        // nothing new by having other words. Other only when both are
        // known: an undetected language is no reason to drop an update.
        let translated = matches!((own_lang, shown_lang), (Some(a), Some(b)) if a != b);
        let later = m.published.is_some() && m.published > shown.published;
        let changed = if later && !translated {
            let none = HashSet::new();
            same_story::changed_sentences(
                &m.summary,
                (&shown_text, &shown.title),
                boilerplate.get(m.feed.as_str()).unwrap_or(&none),
                CHANGED_SHOWN,
            )
        } else {
            Vec::new()
        };
        shown.also_in.push(AlsoIn {
            lang,
            feed: m.feed.clone(),
            title: m.title.clone(),
            link: m.link.clone(),
            updated: m.published.filter(|_| !changed.is_empty()),
            changed,
        });
    }
    (shown, order)
}

/// Splits `stories` into the new ones and those this digest already
/// reported: a copy arrived at most `memory` after the digest sent a story
/// with its text, or with its link and a text that does not tell another
/// story (`same_story::same_at_link`). (Another digest's reports do not
/// count: it may go to other people.)
pub(super) fn reported(
    stories: Vec<Story>,
    digest: &str,
    sent: &[SentStory],
    memory: chrono::Duration,
) -> (Vec<Story>, Vec<Reported>) {
    let mut new = Vec::new();
    let mut reported = Vec::new();
    for story in stories {
        let arrived = story.view.fetched_at;
        let told = |s: &SentStory| {
            s.digest == digest
                && arrived - s.sent_at <= memory
                && story.prints.iter().any(|(link, print)| {
                    let sent = Fingerprint {
                        all: s.shingles.clone(),
                        lede: s.lede.clone(),
                    };
                    (link.is_some() && *link == s.link && same_story::same_at_link(print, &sent))
                        || same_story::same_story(print, &sent)
                })
        };
        let matching: Vec<&SentStory> = sent.iter().filter(|s| told(s)).collect();
        match matching.first() {
            Some(e) => {
                // What every report of it said (an update sent since is
                // one of them), against its text, not its headline: a late
                // copy's edited headline is no news (the line shows it).
                let mut known: Vec<u64> = matching
                    .iter()
                    .flat_map(|s| s.shingles.iter().copied())
                    .collect();
                known.sort_unstable();
                known.dedup();
                reported.push(Reported {
                    changed: same_story::changed_sentences(
                        &story.view.summary,
                        (&known, &e.title),
                        &story.boilerplate,
                        CHANGED_SHOWN,
                    ),
                    earlier: (*e).clone(),
                    prints: story.prints,
                    view: story.view,
                })
            }
            None => new.push(story),
        }
    }
    (new, reported)
}

/// A story told, and the fingerprint of each of its copies (link, print).
type Told<'a> = (&'a MatchView, &'a [(Option<String>, Fingerprint)]);

/// What to remember of the stories a digest reports now: every copy.
pub(super) fn remember(stories: &[&Story], digest: &str, at: DateTime<Utc>) -> Vec<SentStory> {
    let told: Vec<Told<'_>> = stories
        .iter()
        .map(|s| (&s.view, s.prints.as_slice()))
        .collect();
    remember_told(&told, digest, at)
}

/// What to remember of the updates a digest reports now: what they
/// changed, so that a later copy says only what is new since.
pub(super) fn remember_updates(
    reported: &[Reported],
    digest: &str,
    at: DateTime<Utc>,
) -> Vec<SentStory> {
    let told: Vec<Told<'_>> = reported
        .iter()
        .filter(|r| !r.changed.is_empty())
        .map(|r| (&r.view, r.prints.as_slice()))
        .collect();
    remember_told(&told, digest, at)
}

fn remember_told(told: &[Told<'_>], digest: &str, at: DateTime<Utc>) -> Vec<SentStory> {
    told.iter()
        .flat_map(|(view, prints)| {
            let copies = std::iter::once((view.feed.as_str(), view.title.as_str())).chain(
                view.also_in
                    .iter()
                    .map(|a| (a.feed.as_str(), a.title.as_str())),
            );
            copies
                .zip(prints.iter())
                .map(move |((feed, title), (link, print))| SentStory {
                    digest: digest.to_string(),
                    sent_at: at,
                    feed: feed.to_string(),
                    title: title.to_string(),
                    link: link.clone(),
                    shingles: print.all.clone(),
                    lede: print.lede.clone(),
                })
        })
        .collect()
}
