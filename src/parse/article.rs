//! Parse stage: an article page's main text, for `full_text` feeds (docs/fetching.md,
//! "Full text"). dom_smoothie (a port of readability.js, Firefox's reader
//! view) finds the article and drops menus, sidebars, comments and
//! footers. It was chosen over the `readability` crate after both read the
//! pages in `tests/fixtures/articles/` (a news site, a blog, a portal heavy
//! with navigation): both found the article on every page, but
//! `readability` runs the paragraphs together ("coast.Debris"), which
//! spoils the digest's snippets, and dom_smoothie is the one still
//! maintained. About 0.5 ms a page here. Pure.

use dom_smoothie::{Config, Readability, TextMode};
use url::Url;

use super::bounds::{BoundsError, PageLimits, check_page};
use super::decode::{http_charset, to_utf8};
use super::text::clean;

/// The most article text kept, in characters: a long read is matched on
/// its first 50,000 characters.
const MAX_ARTICLE_TEXT: usize = 50_000;

/// Less than this is not an article: a paywall, a cookie wall, a page of
/// links.
const MIN_ARTICLE_TEXT: usize = 200;

/// Why a page gave no article text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArticleError {
    #[error("not an HTML page ({0})")]
    NotHtml(String),
    #[error("no article text found on the page")]
    NoText,
    #[error("only {0} characters of text on the page (a paywall?)")]
    TooShort(usize),
    /// Says its cause, and keeps it typed rather than as `source()`
    /// (docs/DESIGN.md §5).
    #[error("not read: {0}")]
    OutOfBounds(BoundsError),
}

/// The main text of the page `html`, fetched from `url` with the HTTP
/// `Content-Type` `content_type`: paragraphs as lines, whitespace folded,
/// at most `MAX_ARTICLE_TEXT` characters. A page beyond `limits` is refused
/// before it is parsed (`bounds`).
pub fn article_text(
    html: &[u8],
    content_type: Option<&str>,
    url: &Url,
    limits: PageLimits,
) -> Result<String, ArticleError> {
    if let Some(ct) = content_type {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(mime.is_empty() || mime == "text/html" || mime == "application/xhtml+xml") {
            return Err(ArticleError::NotHtml(mime));
        }
    }
    if html.contains(&0) {
        return Err(ArticleError::NotHtml("binary data".into()));
    }
    check_page(html, limits).map_err(ArticleError::OutOfBounds)?;
    let charset = content_type
        .and_then(http_charset)
        .or_else(|| meta_charset(html));
    let utf8 = to_utf8(html, charset);
    let page = String::from_utf8_lossy(&utf8);
    let config = Config {
        text_mode: TextMode::Formatted,
        ..Config::default()
    };
    let text = Readability::new(page.as_ref(), Some(url.as_str()), Some(config))
        .and_then(|mut r| r.parse())
        .map(|article| article.text_content.to_string())
        .map_err(|_| ArticleError::NoText)?;
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| clean(p, MAX_ARTICLE_TEXT))
        .filter(|p| !p.is_empty())
        .collect();
    let text = clean_paragraphs(&paragraphs);
    match text.chars().count() {
        0 => Err(ArticleError::NoText),
        n if n < MIN_ARTICLE_TEXT => Err(ArticleError::TooShort(n)),
        _ => Ok(text),
    }
}

/// The encoding a page names in its `<meta charset>` (or `http-equiv`
/// Content-Type), within its first 2 KiB as HTML requires.
fn meta_charset(html: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&html[..html.len().min(2048)]).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// Paragraphs one per line, cut at `MAX_ARTICLE_TEXT` characters.
fn clean_paragraphs(paragraphs: &[String]) -> String {
    let mut out = String::new();
    let mut count = 0;
    for p in paragraphs {
        let n = p.chars().count();
        if count + n > MAX_ARTICLE_TEXT {
            let rest = MAX_ARTICLE_TEXT.saturating_sub(count);
            out.extend(p.chars().take(rest));
            break;
        }
        if !out.is_empty() {
            out.push('\n');
            count += 1;
        }
        out.push_str(p);
        count += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/articles/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }

    fn url() -> Url {
        Url::parse("https://news.example/a/1").unwrap()
    }

    const LIMITS: PageLimits = PageLimits::DEFAULT;

    fn article_text(html: &[u8], ct: Option<&str>, url: &Url) -> Result<String, ArticleError> {
        super::article_text(html, ct, url, LIMITS)
    }

    /// Each page's paragraphs are kept, each on its own line; its menus,
    /// sidebars, comments and footers are not.
    #[test]
    fn the_article_is_kept_and_the_page_around_it_dropped() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "news.html",
                &[
                    "Russia launched 35 Iranian-made Shahed drones",
                    "Debris from the downed drones damaged a grain terminal",
                    "Iran's foreign ministry denied on Monday",
                    "a plant in Tatarstan",
                    "target Iranian companies making drone engines",
                ],
                &[
                    "Subscribe",
                    "Most read",
                    "newsletter",
                    "Cookie",
                    "picnic",
                    "All rights reserved",
                    "Grain deal talks stall",
                ],
            ),
            (
                "blog.html",
                &[
                    "Іранські дрони «Шахед» летять низько",
                    "Мобільні вогневі групи",
                    "десятки іранських дронів",
                    "Волонтери збирають гроші",
                ],
                &["Про автора", "Архів", "Дякую, дуже корисно", "WordPress"],
            ),
            (
                "heavy-nav.html",
                &[
                    "подписали соглашение о совместном производстве беспилотников",
                    "иранские инженеры помогут",
                    "В Киеве заявили",
                ],
                &[
                    "Гороскоп",
                    "Курсы валют",
                    "Кредит за 5 минут",
                    "Звёзды на красной",
                    "Вакансии",
                    "новый вид бабочек",
                ],
            ),
        ];
        for (name, kept, dropped) in cases {
            let text = article_text(&page(name), Some("text/html; charset=utf-8"), &url())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for k in *kept {
                assert!(text.contains(k), "{name} keeps {k:?}:\n{text}");
            }
            for d in *dropped {
                assert!(!text.contains(d), "{name} drops {d:?}:\n{text}");
            }
            assert!(
                text.lines().count() >= kept.len(),
                "{name}: a line per paragraph:\n{text}"
            );
        }
    }

    #[test]
    fn a_page_in_windows_1251_is_read_by_its_meta_charset() {
        let text = "Иранские беспилотники атаковали Одессу этой ночью. ".repeat(8);
        let html = format!(
            "<html><head><meta charset=\"windows-1251\"><title>t</title></head>\
             <body><article><p>{text}</p><p>{text}</p></article></body></html>"
        );
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&html);
        let got = article_text(&bytes, Some("text/html"), &url()).unwrap();
        assert!(got.contains("Иранские беспилотники"), "{got}");
    }

    #[test]
    fn what_is_not_an_article_says_why() {
        assert_eq!(
            article_text(b"%PDF-1.7", Some("application/pdf"), &url()),
            Err(ArticleError::NotHtml("application/pdf".into()))
        );
        assert_eq!(
            article_text(b"\x00\x01\x02binary", None, &url()),
            Err(ArticleError::NotHtml("binary data".into()))
        );
        let paywall = b"<html><body><nav><a href=/>Home</a></nav>\
            <p>Subscribe to read this article.</p></body></html>";
        assert!(matches!(
            article_text(paywall, Some("text/html"), &url()),
            Err(ArticleError::TooShort(_) | ArticleError::NoText)
        ));
    }

    /// An attacker's page nested 30,000 `<div>`s deep overflowed the
    /// reader's stack and aborted the daemon; it is refused unparsed now.
    #[test]
    fn a_page_nested_too_deep_is_refused_before_it_is_parsed() {
        let story = "<p>Iran sent more drones to Russia, officials in Kyiv said.</p>".repeat(10);
        let page = format!("<html><body>{}{story}", "<div>".repeat(30_000));
        let e = article_text(page.as_bytes(), Some("text/html"), &url()).unwrap_err();
        assert_eq!(e, ArticleError::OutOfBounds(BoundsError::TooDeep(512)));
        assert_eq!(
            e.to_string(),
            "not read: the page nests elements more than 512 deep (max_article_depth)"
        );
    }
}
