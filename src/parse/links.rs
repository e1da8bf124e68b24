//! Parse stage: links. An item's link is made canonical (absolute, scheme
//! and host lower-cased, default port, fragment and tracking parameters
//! removed; http(s) only), because a canonical link is part of an item's
//! identity (docs/digests.md, "What is new") and what the digest links to. The rules
//! carry a version, so that stored links can follow when they change.

use feed_rs::model::Entry;
use url::Url;

/// The version of the link canonicalisation rules (`canonical_link`,
/// `TRACKING_PARAMS`). Change it with the rules: the store then makes every
/// stored link again with the new ones, so that an item identified by its
/// link does not alert twice.
pub const LINK_RULES_VERSION: u32 = 1;

/// A stored canonical link made again with the current rules.
pub fn recanonicalize(link: &str) -> Option<String> {
    canonical_link(link, &Url::parse(link).ok()?)
}

/// Query parameters that only track the reader, removed from links (docs/digests.md, "What is new").
const TRACKING_PARAMS: &[&str] = &[
    // Ad and social click ids.
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "yclid",
    "igshid",
    "rb_clickid",
    "__twitter_impression",
    "ref_src",
    "ref_url",
    // Newsletter and analytics tags.
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "_ga",
    "_gl",
    "wt.mc_id",
    "wt_mc",
    "at_medium",
    "at_campaign",
    "xtor",
    "sr_share",
    "s_cid",
    "cmpid",
    "ocid",
    "ito",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
];

pub(super) fn entry_link(e: &Entry, base: &Url) -> Option<String> {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| e.links.first())?;
    canonical_link(&link.href, base)
}

/// Canonical form of a link (docs/digests.md, "What is new"): absolute, scheme and host lower-cased,
/// default port dropped, fragment and tracking parameters removed. Only http
/// and https links are kept: anything else is not a link we would put in a mail.
pub fn canonical_link(href: &str, base: &Url) -> Option<String> {
    let mut url = base.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}
