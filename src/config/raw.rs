//! Config stage, first half: the TOML text as serde structs, exactly as
//! written, with spans kept on every value we validate so that errors name
//! the line and column. Unknown keys are refused here (`deny_unknown_fields`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub state_dir: Option<S<String>>,
    pub timezone: Option<S<String>>,
    pub retention: Option<S<String>>,
    pub story_memory: Option<S<String>>,
    pub poll: Option<RawPoll>,
    pub email: Option<S<RawEmail>>,
    #[serde(default)]
    pub feeds: Vec<S<RawFeed>>,
    #[serde(default)]
    pub rules: Vec<S<RawRule>>,
    #[serde(default)]
    pub terms: BTreeMap<String, S<Vec<S<String>>>>,
    #[serde(default)]
    pub digests: Vec<S<RawDigest>>,
    pub languages: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    pub schedule: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
    pub per_host: Option<S<i64>>,
    pub timeout: Option<S<String>>,
    pub max_body: Option<S<String>>,
    pub backfill: Option<S<String>>,
    pub max_items: Option<S<i64>>,
    pub max_article: Option<S<String>>,
    pub article_wait: Option<S<String>>,
    pub article_delay: Option<S<String>>,
    pub max_article_depth: Option<S<i64>>,
    pub max_article_elements: Option<S<i64>>,
    pub article_parse_time: Option<S<String>>,
    pub failing_after: Option<S<i64>>,
    #[serde(default)]
    pub allow_internal: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    pub from: Option<S<String>>,
    #[serde(default)]
    pub to: Vec<S<String>>,
    pub smtp: Option<S<String>>,
    pub starttls: Option<S<String>>,
    pub insecure_auth: Option<S<bool>>,
    pub password_file: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub transport: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub name: S<String>,
    pub title: Option<S<String>>,
    pub url: S<String>,
    #[serde(default)]
    pub tags: Vec<S<String>>,
    pub schedule: Option<S<String>>,
    pub full_text: Option<S<bool>>,
    pub site: Option<S<String>>,
    #[serde(default)]
    pub folders: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: S<String>,
    pub query: Option<S<String>>,
    #[serde(default)]
    pub all: Vec<S<String>>,
    #[serde(default)]
    pub any: Vec<S<String>>,
    #[serde(default)]
    pub none: Vec<S<String>>,
    pub feeds: Option<Vec<S<String>>>,
    pub digest: Option<S<String>>,
    pub languages: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    pub name: S<String>,
    pub schedule: Option<S<String>>,
    pub to: Option<Vec<S<String>>>,
    pub subject: Option<S<String>>,
    pub title: Option<S<String>>,
    pub send_when_quiet: Option<S<bool>>,
}
