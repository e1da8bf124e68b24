//! Command line: `digest [NAME] [--dry-run]`. Only the named digest is
//! touched (its pending matches, its queued messages); without a name,
//! every digest. Exit 1 when a message stays queued, or when a digest
//! carried items whose text cannot be read (sent all the same: damage the
//! operator must hear of).

use super::output::Out;
use super::{CliError, plural};
use crate::pipeline::{self, Context, Retry};

pub async fn digest(ctx: &Context, name: Option<&str>, dry_run: bool) -> Result<(), CliError> {
    let digests: Vec<_> = match name {
        Some(n) => vec![
            ctx.config
                .digest(n)
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("no digest named '{n}'")))?,
        ],
        None => ctx.config.digests.clone(),
    };
    if dry_run {
        let mut out = Out::new();
        let mut count = 0;
        for d in &digests {
            for msg in pipeline::dry_run(ctx, d).await? {
                out.bytes(&msg)?;
                out.bytes(b"\n")?;
                count += 1;
            }
        }
        if count == 0 {
            eprintln!("nothing to send: no pending matches, and nothing to say of its feeds");
        }
        return Ok(());
    }
    let r = pipeline::deliver(ctx, &digests, Retry::All)
        .await
        .map_err(|e| CliError::Runtime(e.into()))?;
    eprintln!(
        "{} queued, {} sent, {} not delivered",
        plural(r.queued, "message"),
        r.sent,
        r.failed
    );
    if r.failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{} not delivered; they stay queued and are retried",
            plural(r.failed, "message")
        )));
    }
    super::poll::damage_said(None, r.unreadable)
}
