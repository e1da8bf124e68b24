//! Command line: `opml import FILE` (needs no config: it prints the
//! `[[feeds]]` to paste into one) and `opml export`.

use super::CliError;
use super::output::{Out, outln};
use crate::config::Config;
use crate::opml::{self, OpmlFeed};

pub fn import(file: &std::path::Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let feeds =
        opml::parse(&text).map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let mut out = Out::new();
    outln!(
        out,
        "# {} feeds imported from {}",
        feeds.len(),
        file.display()
    );
    out.bytes(opml::to_toml(&feeds).as_bytes())
}

pub fn export(config: &Config) -> Result<(), CliError> {
    let feeds: Vec<OpmlFeed> = config
        .feeds
        .iter()
        .map(|f| OpmlFeed {
            name: f.name.clone(),
            title: f.title.clone(),
            url: f.url.to_string(),
            site: f.site.clone(),
            tags: f.tags.clone(),
            folders: f.folders.clone(),
        })
        .collect();
    Out::new().bytes(opml::export(&feeds).as_bytes())
}
