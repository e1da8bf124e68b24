//! The feed farm's documents: deterministic RSS and Atom feeds of 1–3 KB
//! items in ordinary news vocabulary, about 2% of them the example story,
//! and the 100 rules the benchmark matches them with.

use std::fmt::Write as _;
use std::sync::Arc;

const VOCAB: &[&str] = &[
    "government",
    "minister",
    "parliament",
    "election",
    "economy",
    "market",
    "bank",
    "inflation",
    "energy",
    "gas",
    "oil",
    "pipeline",
    "army",
    "border",
    "talks",
    "summit",
    "sanctions",
    "trade",
    "export",
    "import",
    "court",
    "police",
    "protest",
    "strike",
    "union",
    "health",
    "hospital",
    "vaccine",
    "school",
    "teachers",
    "climate",
    "flood",
    "storm",
    "drought",
    "harvest",
    "grain",
    "port",
    "shipping",
    "railway",
    "airport",
    "airline",
    "technology",
    "software",
    "hackers",
    "satellite",
    "space",
    "research",
    "university",
    "museum",
    "festival",
    "football",
    "league",
    "coach",
    "player",
    "record",
    "mayor",
    "city",
    "village",
    "region",
    "province",
    "president",
    "prime",
    "committee",
    "report",
    "budget",
    "tax",
    "reform",
    "pension",
    "housing",
    "rent",
    "investment",
    "company",
    "factory",
    "workers",
    "jobs",
    "wages",
    "prices",
    "fuel",
    "electricity",
    "grid",
    "missile",
    "defence",
    "navy",
    "aircraft",
    "soldiers",
    "ceasefire",
    "negotiations",
    "diplomats",
    "embassy",
    "refugees",
    "aid",
    "charity",
    "volunteers",
    "earthquake",
    "wildfire",
    "drought",
    "coast",
    "river",
    "bridge",
];

/// One generated feed document, as the server serves it.
#[derive(Clone)]
pub struct Doc {
    pub body: Arc<Vec<u8>>,
    pub etag: String,
    pub last_modified: String,
}

/// Item `n` of feed `f`: 1–3 KB of HTML; about 2% mention Iran, drones and
/// Ukraine (the example rule), the rest is ordinary news vocabulary.
fn item(rng: &mut fastrand::Rng, f: usize, n: usize) -> (String, String) {
    let words = |rng: &mut fastrand::Rng, k: usize| -> String {
        (0..k)
            .map(|_| VOCAB[rng.usize(..VOCAB.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Three of 2,000 rarer topic words per item: what rules look for.
    let topics = format!(
        "topic{} topic{} topic{}",
        rng.usize(..2000),
        rng.usize(..2000),
        rng.usize(..2000)
    );
    let mut title = format!("{} {topics} {} {}", words(rng, 5), f, n);
    let paragraphs = rng.usize(3..9);
    let mut html = String::new();
    for _ in 0..paragraphs {
        let _ = write!(
            html,
            "<p>{} <a href=\"https://example.org/{f}/{n}\">{}</a> {}.</p>",
            words(rng, 25),
            words(rng, 3),
            words(rng, 20)
        );
    }
    if rng.u8(..100) < 2 {
        title = format!("Iranian drones over Ukraine: {title}");
        html.push_str("<p>Iran supplied the drones used against Ukraine, officials said.</p>");
    }
    (title, html)
}

pub fn feed_doc(f: usize, first: usize, count: usize, version: u32) -> Doc {
    let mut rng = fastrand::Rng::with_seed((f as u64) << 20 | first as u64);
    let atom = f % 2 == 1;
    let mut out = String::with_capacity(count * 2500);
    if atom {
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Feed {f}</title><id>urn:feed:{f}</id><updated>2026-11-20T10:00:00Z</updated>"
        );
    } else {
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Feed {f}</title><link>https://example.org/{f}</link><description>d</description>"
        );
    }
    for n in (first..first + count).rev() {
        let (title, html) = item(&mut rng, f, n);
        let escaped = html
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let day = 1 + n % 28;
        if atom {
            let _ = write!(
                out,
                "<entry><id>urn:feed:{f}:item:{n}</id><title>{title}</title><link href=\"https://example.org/{f}/{n}\"/><updated>2026-11-{day:02}T08:00:00Z</updated><summary type=\"html\">{escaped}</summary></entry>"
            );
        } else {
            let _ = write!(
                out,
                "<item><guid>https://example.org/{f}/{n}</guid><title>{title}</title><link>https://example.org/{f}/{n}</link><pubDate>Fri, {day:02} Nov 2026 08:00:00 GMT</pubDate><description>{escaped}</description></item>"
            );
        }
    }
    out.push_str(if atom { "</feed>" } else { "</channel></rss>" });
    Doc {
        body: Arc::new(out.into_bytes()),
        etag: format!("\"{f}-{version}\""),
        last_modified: format!("Fri, 20 Nov 2026 10:{:02}:00 GMT", version % 60),
    }
}

/// Items in each teaser feed (`/af/N.xml`).
pub const TEASERS_PER_FEED: usize = 10;

/// Teaser feed `f` (a `full_text` feed): `count` items of a headline and
/// one sentence, each linking, relatively, to its article on the farm.
pub fn teaser_doc(f: usize, count: usize) -> Doc {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Teasers {f}</title><link>/</link><description>d</description>"
    );
    for n in 0..count {
        let _ = write!(
            out,
            "<item><guid>teaser-{f}-{n}</guid><title>Headline {f} {n}</title><link>/art/{f}/{n}.html</link><description>One sentence about story {n}.</description></item>"
        );
    }
    out.push_str("</channel></rss>");
    Doc {
        body: Arc::new(out.into_bytes()),
        etag: format!("\"af-{f}\""),
        last_modified: "Fri, 20 Nov 2026 10:00:00 GMT".into(),
    }
}

/// The article page of item `n` of teaser feed `f`: a news page of about
/// 8 KB, its article among navigation, related links and a footer.
pub fn article_page(f: usize, n: usize) -> Doc {
    let mut rng = fastrand::Rng::with_seed(((f as u64) << 20) | n as u64 | 1 << 40);
    let words = |rng: &mut fastrand::Rng, k: usize| -> String {
        (0..k)
            .map(|_| VOCAB[rng.usize(..VOCAB.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut page = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Story</title></head><body>\
         <header><nav><ul>",
    );
    for s in 0..20 {
        let _ = write!(page, "<li><a href=\"/s/{s}\">Section {s}</a></li>");
    }
    let _ = write!(
        page,
        "</ul></nav></header><main><article><h1>Headline {f} {n}</h1>"
    );
    for _ in 0..rng.usize(5..10) {
        let _ = write!(page, "<p>{}.</p>", words(&mut rng, 60));
    }
    page.push_str("</article><aside><h2>Most read</h2><ol>");
    for r in 0..10 {
        let _ = write!(
            page,
            "<li><a href=\"/r/{r}\">{}</a></li>",
            words(&mut rng, 6)
        );
    }
    page.push_str("</ol></aside></main><footer>© Farm News · Privacy · Cookies · Terms</footer></body></html>");
    Doc {
        body: Arc::new(page.into_bytes()),
        etag: format!("\"art-{f}-{n}\""),
        last_modified: "Fri, 20 Nov 2026 10:00:00 GMT".into(),
    }
}

/// The example rule, written the plain way (its words expand into their
/// concepts' forms in seven languages), and 99 more, in every form of the
/// rule language, each matching well under 1% of items (as watch rules
/// do): they look for the farm's rarer topic words, alone or with common
/// vocabulary, and one in ten with a concept (docs/reference.md, "Concepts").
pub fn rules(n: usize) -> String {
    rules_as(n, true)
}

/// `rules`, or (`concepts` false) the same rules with no word expanded:
/// every plain word exact (`=word`) and the example rule as its prefixes,
/// as rules were before concepts. The two match the farm's items alike
/// (its text is English vocabulary); what differs is the cost.
pub fn rules_as(n: usize, concepts: bool) -> String {
    let mut rng = fastrand::Rng::with_seed(7);
    let exact = if concepts { "" } else { "=" };
    let mut out = String::from(if concepts {
        "[[rules]]\nname = \"r0\"\nquery = 'iran AND drone AND ukraine'\n"
    } else {
        "[[rules]]\nname = \"r0\"\nquery = 'iran* AND drone* AND ukrain*'\n"
    });
    const CONCEPTS: [&str; 10] = [
        "drone",
        "missile",
        "ceasefire",
        "sanctions",
        "kyiv",
        "gaza",
        "\"air defence\"",
        "grain",
        "odesa",
        "kharkiv",
    ];
    for i in 1..n {
        let t = |rng: &mut fastrand::Rng| format!("topic{}", rng.usize(..2000));
        let w = format!("{exact}{}", VOCAB[rng.usize(..VOCAB.len())]);
        if i % 10 == 9 {
            let c = CONCEPTS[(i / 10) % CONCEPTS.len()];
            let _ = write!(
                out,
                "[[rules]]\nname = \"r{i}\"\nquery = '{} AND {exact}{c}'\n",
                t(&mut rng)
            );
            continue;
        }
        let q = match i % 5 {
            0 => format!("{} OR {}", t(&mut rng), t(&mut rng)),
            1 => format!("{} AND {w}", t(&mut rng)),
            2 => format!("NEAR({} {w}, 10)", t(&mut rng)),
            3 => format!("title:{}", t(&mut rng)),
            _ => format!("{} -{}", t(&mut rng), t(&mut rng)),
        };
        let _ = write!(out, "[[rules]]\nname = \"r{i}\"\nquery = '{q}'\n");
    }
    out
}
