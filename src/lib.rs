//! feedwatch: watches news feeds, matches new items against watch rules and
//! emails digests of the matches. Two pipelines meet at SQLite:
//!
//! ```text
//! poll    (poll schedule):   fetch ─▶ parse ─▶ store (insert new only) ─▶ match ─▶ store (pending matches)
//! deliver (digest schedule): store (take pending) ─▶ digest (group, render) ─▶ store (outbox row) ─▶ mail (send) ─▶ store (mark sent)
//! ```
//!
//! - `model`: plain data exchanged between the stages.
//! - `config`: TOML → validated `Config`, errors with line and column.
//! - `lexicon`: the concepts the news names in eight languages, and their forms.
//! - `rules`: rule syntax → AST (errors with positions) → concepts expanded → FTS5 query.
//! - `fetch`: HTTP(S)/file fetching with limits, conditional GET and the SSRF guard.
//! - `parse`: feed bytes → items with our own identity and plain text.
//! - `store`: SQLite: migrations, dedup (`store/ingest.rs`), the match
//!   step (`store/matching.rs`: the live matcher evaluates each rule's
//!   query tree on a new item's tokens, from the archive's own FTS5
//!   tokenizer; FTS5 marks the snippets), the packed text, outbox, search.
//! - `digest`: pending matches → subject, text and HTML (pure).
//! - `mail`: RFC 5322 messages and their transports (SMTP, sendmail,
//!   Maildir, stdout).
//! - `pipeline`: the only composer of stages: poll, match, deliver.
//! - `daemon`: schedules → ticks → pipeline; signals; systemd.
//! - `opml`: feed lists in and out of OPML.
//! - `cli`: the commands, a file per group, and how they print and log.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod digest;
pub mod fetch;
pub mod lexicon;
pub mod mail;
pub mod model;
pub mod opml;
pub mod parse;
pub mod pipeline;
pub mod rules;
pub mod store;
