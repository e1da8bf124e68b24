//! Digest stage: a message's plain-text part, wrapped at 72 columns so that
//! plain-text readers (and the stdout transport) show short lines; matched
//! words between `*`. Pure.

use std::fmt::Write as _;

use super::attention;
use super::coverage;
use super::layout::{Entry, IN_ARTICLE, Layout, fragment, local, section_count, snippet, when};
use crate::model::{MARK_END, MARK_START, MatchView};

pub(super) fn text(l: &Layout<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", l.heading());
    let _ = writeln!(out, "{}", l.window_line());
    if let Some(part) = l.part_line() {
        let _ = writeln!(out, "{part}");
    }
    if let Some(n) = l.news {
        out.push_str(&coverage::news_text(n, l.tz));
    }
    if let Some(c) = l.coverage {
        out.push_str(&coverage::coverage_text(c, l.total_items));
    }
    if l.busy() {
        top(&mut out, l);
    }
    for section in &l.sections {
        let heading = format!("{} ({})", section.rule, section_count(section));
        let _ = write!(
            out,
            "\n{heading}\n{}\n",
            "-".repeat(heading.chars().count())
        );
        for entry in &section.entries {
            out.push('\n');
            match entry {
                Entry::Full(m) => full(&mut out, m, l),
                Entry::Pointer { story, under } => {
                    out.push_str(&wrap(&story.title, "* ", "  "));
                    if let Some(f) = fragment(story, section.rule) {
                        out.push_str(&wrap(
                            &format!("\u{201c}{}\u{201d}", starred(&f)),
                            "  ",
                            "  ",
                        ));
                    }
                    out.push_str(&wrap(&format!("(in full under \"{under}\")"), "  ", "  "));
                }
                Entry::More {
                    feed,
                    items,
                    stories,
                } => {
                    out.push_str(&wrap(
                        &l.more_line(section.rule, feed, *items, stories),
                        "* ",
                        "  ",
                    ));
                    for story in stories {
                        out.push_str(&wrap(&story.title, "  - ", "    "));
                        if let Some(link) = &story.link {
                            let _ = writeln!(out, "    {link}");
                        }
                        // Its other copies too: nothing is left out.
                        copies(&mut out, story, l, "  ");
                    }
                }
            }
        }
    }
    if !l.reported.is_empty() {
        let title = l.reported_title();
        let _ = write!(out, "\n{title}\n{}\n", "-".repeat(title.len()));
        for r in l.reported {
            out.push_str(&wrap(&l.reported_line(r), "* ", "  "));
            if let Some(link) = &r.view.link {
                let _ = writeln!(out, "  {link}");
            }
            if !r.changed.is_empty() {
                out.push_str(&wrap(
                    &format!("What changed: {}", r.changed.join(" ")),
                    "  ",
                    "  ",
                ));
            }
        }
    }
    if let Some(a) = l.attention {
        out.push_str(&attention::text(a, l.tz));
    }
    out.push_str("\n-- \n");
    for line in l.footer_lines() {
        out.push_str(&wrap(&line, "", ""));
    }
    out
}

/// The top of a busy message: the stories told most, and the sections
/// with their counts.
fn top(out: &mut String, l: &Layout<'_>) {
    let told = l.most_told();
    if !told.is_empty() {
        let title = "Told most";
        let _ = write!(out, "\n{title}\n{}\n", "-".repeat(title.len()));
        for (m, why) in told {
            out.push_str(&wrap(&format!("{} ({why})", m.title), "* ", "  "));
        }
    }
    if l.sections.len() < 2 {
        return;
    }
    let sections: Vec<String> = l
        .sections
        .iter()
        .map(|s| format!("{} ({})", s.rule, section_count(s)))
        .collect();
    out.push_str(&wrap(
        &format!("Sections: {}", sections.join(" · ")),
        "\n",
        "",
    ));
}

/// A story in full: title, link, where and when, the snippet, and a line
/// for each other copy.
fn full(out: &mut String, m: &MatchView, l: &Layout<'_>) {
    // The headline as written: in plain text the marks are the snippet's.
    out.push_str(&wrap(&m.title, "* ", "  "));
    if let Some(link) = &m.link {
        let _ = writeln!(out, "  {link}");
    }
    let meta = format!(
        "{} | {} | rules: {}",
        m.feed,
        when(m, l.tz),
        m.rules.join(", ")
    );

    out.push_str(&wrap(&meta, "  ", "  "));
    if m.in_article {
        out.push_str(&wrap(IN_ARTICLE, "  ", "  "));
    }
    if let Some(snippet) = snippet(m) {
        out.push_str(&wrap(&starred(snippet), "  ", "  "));
    }
    copies(out, m, l, "");
}

/// A line for each other copy of `m` (its feed, its headline, its link,
/// and for an update what changed), indented by `indent`.
fn copies(out: &mut String, m: &MatchView, l: &Layout<'_>, indent: &str) {
    let (first, rest) = (format!("{indent}  + "), format!("{indent}    "));
    for copy in &m.also_in {
        // A headline word for word the one above is not said again.
        let line = match (copy.updated, copy.title == m.title) {
            (Some(at), _) => format!(
                "updated {} in {}: {}",
                local(at, l.tz),
                super::layout::source(copy),
                copy.title
            ),
            (None, true) => format!("also in {}", super::layout::source(copy)),
            (None, false) => format!("also in {}: {}", super::layout::source(copy), copy.title),
        };
        out.push_str(&wrap(&line, &first, &rest));
        match &copy.link {
            Some(link) if m.link.as_ref() != Some(link) => out.push_str(&wrap(link, &rest, &rest)),
            Some(_) => {
                let _ = writeln!(out, "{rest}(the same page)");
            }
            None => {}
        }
        for sentence in &copy.changed {
            out.push_str(&wrap(&format!("\u{201c}{sentence}\u{201d}"), &rest, &rest));
        }
    }
}

/// Marked words between `*`.
fn starred(marked: &str) -> String {
    marked.replace([MARK_START, MARK_END], "*")
}

/// Wraps at 72 columns; words longer than a line stay whole.
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
