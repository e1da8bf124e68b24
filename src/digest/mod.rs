//! Digest stage: pending matches → subject, plain text and HTML, split into
//! parts so that each HTML part stays under the size where webmail clips
//! (README, "Delivery"). Pure: no I/O, no clock (the caller passes the time zone).
//! Everything from a feed is escaped here; the only markup in the HTML part
//! is ours, and the snippet's match markers are replaced after escaping.

mod attention;
pub mod same_story;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono_tz::Tz;

use crate::model::{AlsoIn, Attention, MARK_END, MARK_START, MatchView};

/// Budget for the match entries of one HTML part; the frame adds ~2 KB, so a
/// part stays well under the 100 KB where common webmail clips a message.
const HTML_BUDGET: usize = 90_000;

/// One message's worth of a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The match rows this part carries (they leave "pending" with it).
    pub match_ids: Vec<i64>,
}

/// Recent items of each feed of a digest's matches, (title, text): what a
/// feed repeats across its items is its boilerplate, not a story's text.
pub type Recent = HashMap<String, Vec<(String, String)>>;

/// Merges every copy of the same story (README, "What is new") into one
/// entry: the fullest copy (the longest text; the earliest on a tie) is
/// shown, and lists every other copy — another feed's or its own feed's —
/// in `also_in`, with its link; the entry carries every match row and rule
/// of the group. Nothing is dropped: a copy is either shown or listed.
pub fn merge_same_story(matches: &[MatchView], recent: &Recent) -> Vec<MatchView> {
    let boilerplate: HashMap<&str, HashSet<u64>> = matches
        .iter()
        .map(|m| m.feed.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .map(|feed| {
            let stored = recent.get(feed).into_iter().flatten();
            let pending = matches.iter().filter(|m| m.feed == feed);
            let texts = stored
                .map(|(t, s)| (t.as_str(), s.as_str()))
                .chain(pending.map(|m| (m.title.as_str(), m.summary.as_str())));
            (feed, same_story::boilerplate(unique(texts)))
        })
        .collect();
    let prints: Vec<same_story::Fingerprint> = matches
        .iter()
        .map(|m| same_story::fingerprint(&m.title, &m.summary, &boilerplate[m.feed.as_str()]))
        .collect();
    let links: Vec<Option<&str>> = matches.iter().map(|m| m.link.as_deref()).collect();
    let roots = same_story::group(&links, &prints);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (i, root) in roots.iter().enumerate() {
        let k = *slot.entry(*root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[k].push(i);
    }
    groups.iter().map(|g| story(matches, g)).collect()
}

/// The same text twice (an item stored and pending) is one text.
fn unique<'a>(texts: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut seen = HashSet::new();
    texts.filter(|t| seen.insert(*t)).collect()
}

/// One group's entry: its fullest copy, with the others as `also_in`.
fn story(matches: &[MatchView], group: &[usize]) -> MatchView {
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
    for &i in group.iter().filter(|&&i| i != fullest) {
        let m = &matches[i];
        shown.match_ids.extend(&m.match_ids);
        for rule in &m.rules {
            if !shown.rules.contains(rule) {
                shown.rules.push(rule.clone());
            }
        }
        shown.also_in.push(AlsoIn {
            feed: m.feed.clone(),
            title: m.title.clone(),
            link: m.link.clone(),
        });
    }
    shown
}

/// Renders a digest of `matches` (the same story once, with "also in"), in
/// as many parts as the size limit needs; the last part ends with what needs
/// the reader's attention.
pub fn render(
    digest: &str,
    subject_template: &str,
    matches: &[MatchView],
    tz: Tz,
    attention: &Attention,
    recent: &Recent,
) -> Vec<Rendered> {
    let matches = &merge_same_story(matches, recent)[..];
    let mut parts: Vec<Vec<&MatchView>> = vec![Vec::new()];
    let mut size = 0;
    for m in matches {
        let entry = html_entry(m, tz).len();
        if size + entry > HTML_BUDGET && parts.last().is_some_and(|p| !p.is_empty()) {
            parts.push(Vec::new());
            size = 0;
        }
        size += entry;
        if let Some(last) = parts.last_mut() {
            last.push(m);
        }
    }
    let total = parts.len();
    let all_rules = rule_names(matches.iter());
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let mut subject = subject_template
                .replace("{count}", &matches.len().to_string())
                .replace("{digest}", digest)
                .replace("{rules}", &all_rules.join(", "));
            if total > 1 {
                let _ = write!(subject, " (part {} of {total})", i + 1);
            }
            let attention = (i + 1 == total && !attention.is_empty()).then_some(attention);
            Rendered {
                subject: one_line(&subject),
                text: text_part(digest, part, tz, (i + 1, total), attention),
                html: html_part(digest, part, tz, (i + 1, total), attention),
                match_ids: part
                    .iter()
                    .flat_map(|m| m.match_ids.iter().copied())
                    .collect(),
            }
        })
        .collect()
}

fn rule_names<'a>(matches: impl Iterator<Item = &'a MatchView>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in matches {
        for r in &m.rules {
            if !names.contains(r) {
                names.push(r.clone());
            }
        }
    }
    names
}

/// Groups by each item's first rule, in order of first appearance.
fn groups<'a>(part: &[&'a MatchView]) -> Vec<(String, Vec<&'a MatchView>)> {
    let mut out: Vec<(String, Vec<&MatchView>)> = Vec::new();
    for m in part {
        let rule = m.rules.first().cloned().unwrap_or_default();
        match out.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, list)) => list.push(m),
            None => out.push((rule, vec![m])),
        }
    }
    out
}

/// Headers are one line: feed text can never start a new header (README, "Bad input").
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{85}')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn when(m: &MatchView, tz: Tz) -> String {
    m.published
        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|| "undated".into())
}

fn counted(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}es")
    }
}

fn text_part(
    digest: &str,
    part: &[&MatchView],
    tz: Tz,
    (index, total): (usize, usize),
    attention: Option<&Attention>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "feedwatch digest \"{digest}\": {}",
        counted(part.len(), "match")
    );
    if total > 1 {
        let _ = writeln!(out, "Part {index} of {total}.");
    }
    for (rule, items) in groups(part) {
        let heading = format!("{rule} ({})", items.len());
        let _ = write!(
            out,
            "\n{heading}\n{}\n",
            "-".repeat(heading.chars().count())
        );
        for m in items {
            out.push('\n');
            out.push_str(&wrap(&m.title, "* ", "  "));
            if let Some(link) = &m.link {
                let _ = writeln!(out, "  {link}");
            }
            let mut meta = format!(
                "{} | {} | rules: {}",
                m.feed,
                when(m, tz),
                m.rules.join(", ")
            );
            if !m.also_in.is_empty() {
                let feeds: Vec<&str> = m.also_in.iter().map(|a| a.feed.as_str()).collect();
                let _ = write!(meta, " | also in: {}", feeds.join(", "));
            }
            out.push_str(&wrap(&meta, "  ", "  "));
            for copy in &m.also_in {
                if let Some(link) = &copy.link {
                    out.push_str(&wrap(&format!("{}: {link}", copy.feed), "  - ", "    "));
                }
            }
            if !m.snippet.is_empty() {
                let snippet: String = m
                    .snippet
                    .chars()
                    .map(|c| {
                        if c == MARK_START || c == MARK_END {
                            '*'
                        } else {
                            c
                        }
                    })
                    .collect();
                out.push_str(&wrap(&snippet, "  ", "  "));
            }
        }
    }
    if let Some(a) = attention {
        out.push_str(&attention::text(a, tz));
    }
    out.push_str(
        "\n-- \nSent by feedwatch. Matches are listed once;\nedit the rules in its config file.\n",
    );
    out
}

/// Wraps at 72 columns, so that plain-text readers (and the stdout
/// transport) show short lines; words longer than a line stay whole.
pub(crate) fn wrap(text: &str, first: &str, rest: &str) -> String {
    const WIDTH: usize = 72;
    let mut out = String::from(first);
    let mut col = first.chars().count();
    let mut line_empty = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !line_empty && col + 1 + len > WIDTH {
            out.push('\n');
            out.push_str(rest);
            col = rest.chars().count();
            line_empty = true;
        }
        if !line_empty {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
        line_empty = false;
    }
    out.push('\n');
    out
}

/// HTML-escapes feed text: the only markup in a digest is ours.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes, then turns the snippet markers into highlights.
pub fn marked_html(snippet: &str) -> String {
    escape(snippet)
        .replace(
            MARK_START,
            "<mark style=\"background:#fff2a8;color:inherit\">",
        )
        .replace(MARK_END, "</mark>")
}

fn html_entry(m: &MatchView, tz: Tz) -> String {
    let title = escape(&m.title);
    // Links reach here canonicalised to http(s) only (parse stage), so an
    // href can never be javascript: or data:.
    let heading = match &m.link {
        Some(link) => format!(
            "<a href=\"{}\" style=\"color:#0b57d0;text-decoration:none\">{title}</a>",
            escape(link)
        ),
        None => title,
    };
    let also = if m.also_in.is_empty() {
        String::new()
    } else {
        let copies: Vec<String> = m.also_in.iter().map(also_in_html).collect();
        format!(" &middot; also in: {}", copies.join(", "))
    };
    format!(
        "<div style=\"margin:0 0 18px 0\"><div style=\"font-size:16px;font-weight:600;line-height:1.35\">{heading}</div>\
         <div style=\"font-size:13px;color:#5f6368;margin:2px 0 4px 0\">{} &middot; {} &middot; rules: {}{also}</div>\
         <div style=\"font-size:14px;line-height:1.45\">{}</div></div>\n",
        escape(&m.feed),
        escape(&when(m, tz)),
        escape(&m.rules.join(", ")),
        marked_html(&m.snippet),
    )
}

/// A copy's feed, linked to that feed's copy.
fn also_in_html(copy: &AlsoIn) -> String {
    match &copy.link {
        Some(link) => format!(
            "<a href=\"{}\" style=\"color:#5f6368\" title=\"{}\">{}</a>",
            escape(link),
            escape(&copy.title),
            escape(&copy.feed)
        ),
        None => escape(&copy.feed),
    }
}

fn html_part(
    digest: &str,
    part: &[&MatchView],
    tz: Tz,
    (index, total): (usize, usize),
    attention: Option<&Attention>,
) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head>\
         <body style=\"margin:0;padding:0;background:#ffffff\">\
         <div style=\"max-width:640px;margin:0 auto;padding:16px;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#202124\">\n",
    );
    let _ = writeln!(
        out,
        "<h1 style=\"font-size:20px;margin:0 0 12px 0\">feedwatch digest &ldquo;{}&rdquo;: {}</h1>",
        escape(digest),
        counted(part.len(), "match")
    );
    if total > 1 {
        let _ = writeln!(
            out,
            "<p style=\"font-size:13px;color:#5f6368\">Part {index} of {total}.</p>"
        );
    }
    for (rule, items) in groups(part) {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size:15px;margin:20px 0 10px 0;padding-bottom:4px;border-bottom:1px solid #dadce0\">{} ({})</h2>",
            escape(&rule),
            items.len()
        );
        for m in items {
            out.push_str(&html_entry(m, tz));
        }
    }
    if let Some(a) = attention {
        out.push_str(&attention::html(a, tz));
    }
    out.push_str(
        "<p style=\"font-size:12px;color:#80868b;margin-top:24px\">Sent by feedwatch. \
         Matches are listed once; edit the rules in its config file.</p></div></body></html>\n",
    );
    out
}

#[cfg(test)]
mod tests;
