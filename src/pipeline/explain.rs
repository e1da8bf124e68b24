//! Pipeline, explaining one item (`feedwatch explain`, docs/reference.md, "Commands"):
//! config (rules, backfill, digests' schedules) + store (the item, its
//! matches, their messages, the archive index) → why it did or did not
//! alert. Each rule is decided clause by clause on the archive index
//! (`rules::decide`), the index `search` asks, so `explain` agrees with
//! `search --rule`. Reads only.

use chrono::{DateTime, Utc};

use crate::config::{Config, DigestSchedule};
use crate::rules::decide::{Decision, decide};
use crate::store::{ItemFacts, MatchFacts, Store, StoreError};

/// Whether an item could alert when it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// It came after its feed's first fetch, or in it and recent enough.
    Yes { first_fetch: bool },
    /// It came in its feed's first fetch and was published before the
    /// backfill window (or undated): stored for `search`, never matched.
    Backfill {
        backfill: std::time::Duration,
        cutoff: DateTime<Utc>,
    },
    /// Held for its article (`full_text`): matched once the article is read
    /// or given up.
    Held,
}

/// What one rule says of the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The rule reads other feeds only.
    NotItsFeed { feeds: Vec<String> },
    /// Decided on the item now; `recorded` when a match of it is stored.
    Decided { decision: Decision, recorded: bool },
    /// The archive index cannot answer (damage): said, not guessed.
    Unknown { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVerdict {
    pub rule: String,
    pub digest: String,
    pub verdict: Verdict,
}

/// Where a match of the item is: waiting for its digest (and when that is
/// due), or in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub facts: MatchFacts,
    /// For a pending match: when its digest is next due (`None`: after the
    /// next poll, for an immediate one; or its schedule has no next date).
    pub due: Option<DateTime<Utc>>,
    pub immediate: bool,
}

/// Everything said of one stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemExplanation {
    pub facts: ItemFacts,
    pub eligible: Eligibility,
    pub rules: Vec<RuleVerdict>,
    /// Its matches, also those of rules the config no longer has.
    pub deliveries: Vec<Delivery>,
    /// Other stored items with the same link: (id, feed).
    pub same_link: Vec<(i64, String)>,
}

/// What `explain` found for what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub items: Vec<ItemExplanation>,
    /// For a link no stored item has: the feeds that have seen it (its item
    /// was pruned by retention; it never alerts again).
    pub remembered_by: Vec<String>,
    /// The forms of the link looked for (as given, canonical).
    pub links: Vec<String>,
}

/// Explains `item` (an item id, or a link) at `now`.
pub fn explain(config: &Config, item: &str, now: DateTime<Utc>) -> Result<Explanation, StoreError> {
    let store = Store::open_read_only(&config.state_dir)?;
    let item = item.trim();
    let id = item.parse::<i64>().ok();
    let mut links = Vec::new();
    if id.is_none() {
        links.push(item.to_string());
        if let Ok(base) = url::Url::parse(item)
            && let Some(canonical) = crate::parse::canonical_link(item, &base)
            && canonical != item
        {
            links.push(canonical);
        }
    }
    let ids = store.items_named(id, &links)?;
    let mut items = Vec::new();
    let mut all = Vec::new();
    for id in &ids {
        all.extend(store.item_facts(*id)?);
    }
    for facts in &all {
        // The others at its link, by id and feed.
        let same_link = all
            .iter()
            .filter(|o| o.id != facts.id)
            .map(|o| (o.id, o.feed.clone()))
            .collect();
        items.push(explain_item(config, &store, facts.clone(), same_link, now)?);
    }
    let remembered_by = if items.is_empty() && !links.is_empty() {
        store.feeds_remembering(&links)?
    } else {
        Vec::new()
    };
    Ok(Explanation {
        items,
        remembered_by,
        links,
    })
}

fn explain_item(
    config: &Config,
    store: &Store,
    facts: ItemFacts,
    same_link: Vec<(i64, String)>,
    now: DateTime<Utc>,
) -> Result<ItemExplanation, StoreError> {
    let matches = store.item_matches(facts.id)?;
    // A match stored is proof: the backfill is decided on the fetch's own
    // clock and the config of its day, which this can only approximate.
    let eligible = match eligibility(config, &facts) {
        Eligibility::Backfill { .. } if !matches.is_empty() => {
            Eligibility::Yes { first_fetch: true }
        }
        e => e,
    };
    let mut rules = Vec::new();
    for rule in &config.rules {
        let verdict = if !rule.applies_to(&facts.feed) {
            Verdict::NotItsFeed {
                feeds: rule.feeds.clone().unwrap_or_default(),
            }
        } else {
            let mut ask = |fts: &str| store.index_finds(facts.id, fts);
            match decide(&rule.query, &mut ask) {
                Ok(decision) => Verdict::Decided {
                    decision,
                    recorded: matches.iter().any(|m| m.rule == rule.name),
                },
                Err(e) => Verdict::Unknown {
                    error: e.to_string(),
                },
            }
        };
        rules.push(RuleVerdict {
            rule: rule.name.clone(),
            digest: rule.digest.clone(),
            verdict,
        });
    }
    let deliveries = matches
        .into_iter()
        .map(|m| {
            let schedule = config.digest(&m.digest).map(|d| &d.schedule);
            let immediate = schedule == Some(&DigestSchedule::Immediate);
            let due = match schedule {
                Some(DigestSchedule::Cron(s)) if m.message.is_none() => {
                    s.next_after(config.timezone, now)
                }
                _ => None,
            };
            Delivery {
                facts: m,
                due,
                immediate,
            }
        })
        .collect();
    Ok(ItemExplanation {
        facts,
        eligible,
        rules,
        deliveries,
        same_link,
    })
}

/// As ingest decides it (`store::may_alert`): an item of a
/// feed's first fetch alerts only when published within `backfill` of it.
fn eligibility(config: &Config, f: &ItemFacts) -> Eligibility {
    if f.held {
        return Eligibility::Held;
    }
    let first_fetch = f.first_fetch_at == Some(f.fetched_at);
    if let Some(backfill) = config.poll.backfill {
        let cutoff = chrono::Duration::from_std(backfill)
            .ok()
            .and_then(|d| f.fetched_at.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        if !crate::store::may_alert(first_fetch, Some(cutoff), f.published) {
            return Eligibility::Backfill { backfill, cutoff };
        }
    }
    Eligibility::Yes { first_fetch }
}
