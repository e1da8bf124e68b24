//! Digest stage: a message's HTML part — inline styles only, one fluid
//! column that reads on a phone, nothing remote. Everything from a feed is
//! escaped here; the only markup is ours, and the snippet's match markers
//! become highlights after escaping. Pure.

use std::fmt::Write as _;

use super::attention;
use super::coverage;
use super::lang;
use super::layout::{Entry, IN_ARTICLE, Layout, fragment, local, section_count, snippet, when};
use crate::model::{AlsoIn, MARK_END, MARK_START, MatchView};

/// Grey for secondary text, dark enough to read (6:1 on white, past WCAG AA).
const MUTED: &str = "color:#5f6368";

/// Dark mode, for clients that honour `prefers-color-scheme` (Apple Mail,
/// iOS, Outlook for Mac, Thunderbird): inline styles are the light ones,
/// so each colour is overridden by class. Contrast on #121212: text 15:1,
/// secondary 10:1, links 8.9:1, marked words white on #6b5900 7:1, alerts
/// 7.6:1. Clients that invert colours themselves get explicit colours on
/// marks (text and background both set) and underlined links, so neither
/// depends on a hue alone.
const DARK: &str = "<style>\
:root{color-scheme:light dark;supported-color-schemes:light dark}\
@media (prefers-color-scheme:dark){\
body,.fw-body{background:#121212!important}\
.fw{color:#e8eaed!important}\
.fw-m{color:#bdc1c6!important}\
.fw-c{color:#e8eaed!important}\
.fw a{color:#8ab4f8!important}\
.fw mark{background:#6b5900!important;color:#ffffff!important}\
.fw-alert{color:#f28b82!important}\
.fw h2{border-color:#5f6368!important}\
}</style>";

pub(super) fn html(l: &Layout<'_>) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><meta name=\"supported-color-schemes\" content=\"light dark\">\
         <title>{}</title>{DARK}</head>\
         <body class=\"fw-body\" style=\"margin:0;padding:0;background:#ffffff\">\
         <div class=\"fw\" style=\"max-width:640px;margin:0 auto;padding:16px;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#202124\">\n",
        escape(&l.heading())
    );
    let _ = writeln!(
        out,
        "<h1 style=\"font-size:20px;margin:0 0 12px 0\">{}</h1>",
        escape(&l.heading())
    );
    let _ = writeln!(
        out,
        "<p class=\"fw-m\" style=\"font-size:14px;{MUTED};margin:0 0 8px 0\">{}</p>",
        escape(&l.window_line())
    );
    if let Some(part) = l.part_line() {
        let _ = writeln!(
            out,
            "<p class=\"fw-m\" style=\"font-size:14px;{MUTED}\">{}</p>",
            escape(&part)
        );
    }
    if let Some(n) = l.news {
        out.push_str(&coverage::news_html(n, l.tz));
    }
    if let Some(c) = l.coverage {
        out.push_str(&coverage::coverage_html(c, l.total_items));
    }
    if l.busy() {
        top(&mut out, l);
    }
    sections(&mut out, l);
    reported(&mut out, l);
    if let Some(a) = l.attention {
        out.push_str(&attention::html(a, l.tz));
    }
    let footer: Vec<String> = l.footer_lines().iter().map(|f| escape(f)).collect();
    let _ = writeln!(
        out,
        "<p class=\"fw-m\" style=\"font-size:14px;{MUTED};margin-top:24px\">{}</p></div></body></html>",
        footer.join("<br>")
    );
    out
}

/// The top of a busy message: the stories told most, and links to the
/// sections with their counts.
fn top(out: &mut String, l: &Layout<'_>) {
    let told = l.most_told();
    if !told.is_empty() {
        out.push_str("<h2 style=\"font-size:15px;margin:16px 0 8px 0\">Told most</h2><ul style=\"font-size:14px;padding-left:20px;margin:0 0 12px 0\">");
        for (m, why) in told {
            let _ = write!(
                out,
                "<li>{} <span class=\"fw-m\" style=\"{MUTED}\">({})</span></li>",
                linked_marked(&m.title_marked, m.link.as_deref()),
                escape(&why)
            );
        }
        out.push_str("</ul>\n");
    }
    if l.sections.len() < 2 {
        return;
    }
    let links: Vec<String> = l
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{} <span class=\"fw-m\" style=\"{MUTED}\">({})</span>",
                linked(s.rule, Some(&format!("#section-{i}"))),
                escape(&section_count(s))
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<p style=\"font-size:14px;margin:0 0 12px 0\">Sections: {}</p>",
        links.join(" &middot; ")
    );
}

/// One section per rule: stories in full, pointers to where a story is.
fn sections(out: &mut String, l: &Layout<'_>) {
    for (i, section) in l.sections.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h2 id=\"section-{i}\" style=\"font-size:15px;margin:20px 0 10px 0;padding-bottom:4px;border-bottom:1px solid #dadce0\">{} <span class=\"fw-m\" style=\"font-weight:normal;{MUTED}\">({})</span></h2>",
            escape(section.rule),
            section_count(section)
        );
        for entry in &section.entries {
            match entry {
                Entry::Full(m) => out.push_str(&entry_html(m, l.tz)),
                Entry::Pointer { story, under } => {
                    let _ = writeln!(
                        out,
                        "<div style=\"margin:0 0 12px 0;font-size:14px\"><span{}>{}</span>{} <span class=\"fw-m\" style=\"font-size:14px;{MUTED}\">&middot; in full under &ldquo;{}&rdquo;</span></div>",
                        lang::attr(&story.title, &story.summary),
                        linked_marked(&story.title_marked, story.link.as_deref()),
                        fragment(story, section.rule).map_or(String::new(), |f| format!(
                            "<div style=\"font-size:14px;line-height:1.45\">&ldquo;{}&rdquo;</div>",
                            marked(&f)
                        )),
                        escape(under)
                    );
                }
                Entry::More {
                    feed,
                    items,
                    stories,
                } => {
                    let lines: String = stories
                        .iter()
                        .map(|m| {
                            let copies: String =
                                m.also_in.iter().map(|c| also_in(c, m, l.tz)).collect();
                            format!(
                                "<li><span{}>{}</span>{copies}</li>",
                                lang::attr(&m.title, &m.summary),
                                linked_marked(&m.title_marked, m.link.as_deref())
                            )
                        })
                        .collect();
                    let _ = writeln!(
                        out,
                        "<div style=\"margin:0 0 12px 0;font-size:14px\"><div class=\"fw-m\" style=\"{MUTED}\">{}</div><ul style=\"padding-left:20px;margin:4px 0 0 0\">{lines}</ul></div>",
                        escape(&l.more_line(section.rule, feed, *items, stories))
                    );
                }
            }
        }
    }
}

/// Later copies of stories reported in earlier digests, one line each.
fn reported(out: &mut String, l: &Layout<'_>) {
    if !l.reported.is_empty() {
        out.push_str(&format!(
            "<h2 class=\"fw-m\" style=\"font-size:15px;margin:24px 0 8px 0;{MUTED}\">{}</h2><ul class=\"fw-m\" style=\"font-size:14px;padding-left:20px;{MUTED}\">",
            l.reported_title()
        ));
        for r in l.reported {
            let changed = if r.changed.is_empty() {
                String::new()
            } else {
                format!(
                    "<br><span style=\"color:#202124\" class=\"fw-c\">What changed: {}</span>",
                    escape(&r.changed.join(" "))
                )
            };
            let _ = write!(
                out,
                "<li>{}{changed}</li>",
                linked(&l.reported_line(r), r.view.link.as_deref())
            );
        }
        out.push_str("</ul>\n");
    }
}

/// A story in full: its linked title (matched words marked), where and
/// when, the snippet, and a line for each other copy, linked to that feed's
/// copy.
pub(super) fn entry_html(m: &MatchView, tz: chrono_tz::Tz) -> String {
    // The entry's language, on its headline and its snippet: the lines
    // around them are the digest's own (feed, time, rules, other copies),
    // and a Persian entry's right-to-left would reorder their dates.
    let lang = lang::attr(&m.title, &m.summary);
    let snippet = snippet(m).map_or(String::new(), |s| {
        format!(
            "<div{lang} style=\"font-size:14px;line-height:1.45\">{}</div>",
            marked(s)
        )
    });
    let copies: String = m.also_in.iter().map(|c| also_in(c, m, tz)).collect();
    format!(
        "<div style=\"margin:0 0 18px 0\"><div{lang} style=\"font-size:16px;font-weight:600;line-height:1.35\">{}</div>\
         <div class=\"fw-m\" style=\"font-size:14px;{MUTED};margin:2px 0 4px 0\">{} &middot; {} &middot; rules: {}</div>\
         {}{snippet}{copies}</div>\n",
        linked_marked(&m.title_marked, m.link.as_deref()),
        isolated(&m.feed),
        escape(&when(m, tz)),
        escape(&m.rules.join(", ")),
        if m.in_article {
            format!(
                "<div class=\"fw-m\" style=\"font-size:14px;font-style:italic;color:#3c4043;margin:0 0 4px 0\">{}</div>",
                escape(IN_ARTICLE)
            )
        } else {
            String::new()
        },
    )
}

/// Text, linked when there is a link. Links reach here canonicalised to
/// http(s) only (parse stage), so an href is never javascript: or data:.
fn linked(text: &str, link: Option<&str>) -> String {
    link_around(&escape(text), link)
}

/// Text with its matched words marked, linked when there is a link.
fn linked_marked(text: &str, link: Option<&str>) -> String {
    link_around(&marked(text), link)
}

fn link_around(html: &str, link: Option<&str>) -> String {
    match link {
        Some(link) => format!(
            "<a href=\"{}\" style=\"color:#0b57d0;text-decoration:underline\">{html}</a>",
            escape(link)
        ),
        None => html.to_string(),
    }
}

/// A line for another copy: its feed and its headline, linked to that
/// feed's copy (unless it is the very page the story links to).
/// A headline word for word the one shown is not said again: the feed's
/// name is the link then.
fn also_in(copy: &AlsoIn, shown: &MatchView, tz: chrono_tz::Tz) -> String {
    let shown_link = shown.link.as_deref();
    if let Some(at) = copy.updated {
        let sentences: String = copy
            .changed
            .iter()
            .map(|c| format!("<div class=\"fw-c\" style=\"font-size:14px;color:#202124;margin:2px 0 0 12px\">&ldquo;{}&rdquo;</div>", escape(c)))
            .collect();
        return format!(
            "<div class=\"fw-m\" style=\"font-size:14px;{MUTED};margin:4px 0 0 0\">updated {} in {}: {}{sentences}</div>",
            escape(&local(at, tz)),
            source(copy),
            linked(&copy.title, copy.link.as_deref()),
        );
    }
    if copy.title == shown.title {
        let feed = match copy.link.as_deref() {
            Some(link) if Some(link) != shown_link => link_around(&source(copy), Some(link)),
            Some(_) => format!("{} <span>(the same page)</span>", source(copy)),
            None => source(copy),
        };
        return format!(
            "<div class=\"fw-m\" style=\"font-size:14px;{MUTED};margin:4px 0 0 0\">also in {feed}</div>"
        );
    }
    let title = match copy.link.as_deref() {
        Some(link) if Some(link) != shown_link => linked(&copy.title, Some(link)),
        Some(_) => format!("{} <span>(the same page)</span>", escape(&copy.title)),
        None => escape(&copy.title),
    };
    // Its language as the digest found it from its whole text (and named
    // it beside the feed); else from its headline, only when that is clear.
    let title = match copy.lang.as_deref().or_else(|| lang::of(&copy.title, "")) {
        Some(l) => format!("<span{}>{title}</span>", lang::tag_attrs(l)),
        None => title,
    };
    format!(
        "<div class=\"fw-m\" style=\"font-size:14px;{MUTED};margin:4px 0 0 0\">also in {}: {title}</div>",
        source(copy)
    )
}

/// A copy's feed (and language), isolated when it is written right to
/// left: a feed named in Persian or Arabic ("BBC فارسی") would otherwise
/// draw the figures after it into its right-to-left run.
fn source(copy: &AlsoIn) -> String {
    isolated(&super::layout::source(copy))
}

/// `text` escaped, and isolated (`<bdi>`) when it has letters of a
/// right-to-left script.
fn isolated(text: &str) -> String {
    if lang::right_to_left(text) {
        format!("<bdi>{}</bdi>", escape(text))
    } else {
        escape(text)
    }
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
pub fn marked(snippet: &str) -> String {
    escape(snippet)
        .replace(
            MARK_START,
            "<mark style=\"background:#fff2a8;color:#202124\">",
        )
        .replace(MARK_END, "</mark>")
}
