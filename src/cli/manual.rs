//! Command line: `completions SHELL` and `man [DIR]`, generated from the
//! CLI's own definition (clap_complete, clap_mangen), so they say what
//! `--help` says. Neither needs a config.

use std::path::Path;

use clap::CommandFactory;

use super::output::Out;
use super::{Cli, CliError};

/// The completion script for `shell`, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "feedwatch", &mut script);
    Out::new().bytes(&script)
}

/// The man page `feedwatch.1` on stdout; with `dir`, it and one page per
/// command (`feedwatch-check.1`…) written there.
pub fn man(dir: Option<&Path>) -> Result<(), CliError> {
    let command = Cli::command();
    let Some(dir) = dir else {
        return Out::new().bytes(&page(command)?);
    };
    let write = |name: &str, bytes: Vec<u8>| -> Result<(), CliError> {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, bytes).map_err(|e| {
            CliError::Runtime(anyhow::Error::new(e).context(format!("writing {}", path.display())))
        })
    };
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("feedwatch-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(name.replace('-', " "));
        write(&name, page(sub)?)?;
    }
    write("feedwatch", page(command)?)
}

fn page(command: clap::Command) -> Result<Vec<u8>, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(|e| CliError::Runtime(anyhow::Error::new(e).context("rendering the man page")))?;
    Ok(out)
}
