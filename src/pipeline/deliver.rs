//! Pipeline, deliver side: compose each digest (`compose.rs`), then mail
//! (send) → store (mark sent), plus retention.
//! A message's failure is recorded on its outbox row and retried; it never
//! stops the others (docs/digests.md, "Delivery").

use chrono::Utc;

use super::Context;
use crate::config::{Config, DigestConfig, DigestSchedule, SmtpSecurity, Transport};
use crate::mail::{self, Mailer, SmtpSettings};
use crate::store::StoreError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliverReport {
    /// Messages written to the outbox by this run.
    pub queued: usize,
    /// Messages the server accepted (earlier ones retried, and new ones).
    pub sent: usize,
    /// Messages that stay queued after this run (each counted once).
    pub failed: usize,
    /// Items the new messages carry whose stored text cannot be read
    /// (damage: shown by their title and link, recorded for `status`).
    pub unreadable: usize,
}

/// Prunes what is older than `retention` (docs/operations.md, "Operations"); identities stay.
pub async fn prune(ctx: &Context) -> Result<crate::store::Pruned, StoreError> {
    let retention =
        chrono::Duration::from_std(ctx.config.retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    // In steps, each its own call: the store serves the lanes, the watchdog
    // and `status` between them, and a stop ends pruning between two.
    let mut pruned = crate::store::Pruned::default();
    loop {
        let step = ctx
            .db
            .call(move |s| s.prune_some(cutoff, crate::store::PRUNE_BATCH))
            .await?;
        let last = step.last_step();
        pruned += step;
        if last || ctx.shutting_down() {
            break;
        }
    }
    if pruned.items > 0 || pruned.messages > 0 {
        tracing::info!(
            items = pruned.items,
            messages = pruned.messages,
            "pruned what is older than retention"
        );
    }
    Ok(pruned)
}

/// The mailer for the configured transport.
pub fn mailer(config: &Config) -> Result<Mailer, mail::MailError> {
    match &config.email.transport {
        Transport::Stdout => Ok(Mailer::Stdout),
        Transport::Sendmail(program) => Ok(Mailer::sendmail(program.as_deref())),
        Transport::Maildir(dir) => Ok(Mailer::Maildir(dir.clone())),
        Transport::Smtp(s) => Mailer::smtp(&SmtpSettings {
            host: &s.host,
            port: s.port,
            security: match s.security {
                SmtpSecurity::Implicit => mail::Security::Implicit,
                // A password never crosses the network in clear text,
                // unless the config says so for a relay on this host.
                SmtpSecurity::Opportunistic if s.user.is_some() && !s.insecure_auth => {
                    mail::Security::RequiredForPassword
                }
                SmtpSecurity::Opportunistic => mail::Security::Opportunistic,
                SmtpSecurity::Required => mail::Security::Required,
            },
            user: s.user.as_deref(),
            password: super::check::password_places(config),
            ca_file: s.ca_file.as_deref(),
        }),
    }
}

/// Backoff before retrying a message that failed `attempts` times.
fn retry_delay(attempts: i64, permanent: bool) -> chrono::Duration {
    let minutes = if permanent {
        360
    } else {
        (1i64 << attempts.clamp(0, 9)).min(360)
    };
    chrono::Duration::minutes(minutes)
}

/// Which queued messages a delivery run retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Those whose backoff has passed (the daemon).
    Due,
    /// Every unsent one now: a command run by hand or by a timer does not
    /// wait out the daemon's backoff.
    All,
}

/// Why nothing could be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transport cannot be set up (no password, a bad CA file): nothing
    /// is composed, so the matches stay pending until it can.
    #[error("cannot set up mail delivery: {0}; the matches stay pending")]
    Mailer(mail::MailError),
}

/// Sends the outbox rows `due` returns; each is marked sent only once the
/// server has accepted it (docs/digests.md, "Delivery"). Returns (sent, failed).
async fn send_rows(
    ctx: &Context,
    mailer: &Mailer,
    rows: Vec<crate::model::OutboxEntry>,
) -> Result<(usize, usize), StoreError> {
    let (mut sent, mut failed) = (0, 0);
    for entry in rows {
        // Shutdown: no new message is started; the rest stay queued.
        if ctx.shutting_down() {
            break;
        }
        let Some(result) = send_one(ctx, mailer, &entry).await else {
            break;
        };
        ctx.heartbeat.beat();
        let id = entry.id;
        match result {
            Ok(()) => {
                ctx.db.call(move |s| s.mark_sent(id, Utc::now())).await?;
                tracing::info!(digest = %entry.digest, message_id = %entry.message_id, "digest sent");
                sent += 1;
            }
            Err(e) => {
                let permanent = matches!(e, mail::MailError::Permanent(_));
                let retry_at = Utc::now() + retry_delay(entry.attempts, permanent);
                let msg = e.to_string();
                tracing::warn!(digest = %entry.digest, message_id = %entry.message_id, error = %msg, %retry_at, "digest not delivered");
                ctx.db
                    .call(move |s| s.mark_failed(id, &msg, retry_at))
                    .await?;
                failed += 1;
            }
        }
    }
    Ok((sent, failed))
}

/// Sends one message. At shutdown, one already handed over gets
/// `ctx.stop_grace` to finish; after that it is abandoned (`None`) and stays
/// queued, to be sent again with the same Message-ID.
async fn send_one(
    ctx: &Context,
    mailer: &Mailer,
    entry: &crate::model::OutboxEntry,
) -> Option<Result<(), mail::MailError>> {
    let send = mailer.send(&entry.from, &entry.recipients, &entry.message);
    tokio::pin!(send);
    tokio::select! {
        result = &mut send => Some(result),
        () = ctx.shutdown_requested() => {
            let finished = tokio::time::timeout(ctx.stop_grace, &mut send).await.ok();
            if finished.is_none() {
                tracing::warn!(digest = %entry.digest, message_id = %entry.message_id, "stopping: the message was not finished; it stays queued");
            }
            finished
        }
    }
}

/// The digests `run --once` composes at `now`: an immediate one always, a
/// scheduled one when an occurrence of its schedule has come since it last
/// had a message written, or when it never had one (docs/reference.md, "Commands": a
/// cron job every 15 minutes sends the 07:00 digest once a day, not at
/// every run).
pub async fn digests_due(
    ctx: &Context,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<DigestConfig>, StoreError> {
    let mut due = Vec::new();
    for digest in &ctx.config.digests {
        let schedule = match &digest.schedule {
            DigestSchedule::Immediate => {
                due.push(digest.clone());
                continue;
            }
            DigestSchedule::Cron(s) => s.clone(),
        };
        let name = digest.name.clone();
        let last = ctx.db.call(move |s| s.last_composed(&name)).await?;
        let tz = ctx.config.timezone;
        if last.is_none_or(|last| schedule.next_after(tz, last).is_some_and(|t| t <= now)) {
            due.push(digest.clone());
        }
    }
    Ok(due)
}

/// The transport, set up; a failure is kept beside the database for
/// `status` until it can be set up (docs/operations.md, "Monitoring").
fn set_up(ctx: &Context) -> Result<Mailer, DeliverError> {
    match mailer(&ctx.config) {
        Ok(m) => {
            super::health::mail_set_up(&ctx.config.state_dir);
            Ok(m)
        }
        Err(e) => {
            super::health::mail_failed(&ctx.config.state_dir, &e.to_string(), Utc::now());
            Err(DeliverError::Mailer(e))
        }
    }
}

/// Retries the queued messages of `digests` (of every digest with `None`)
/// that `retry` selects.
pub async fn flush_outbox(
    ctx: &Context,
    digests: Option<Vec<String>>,
    retry: Retry,
) -> Result<(usize, usize), DeliverError> {
    let until = match retry {
        Retry::All => chrono::DateTime::<Utc>::MAX_UTC,
        Retry::Due => Utc::now(),
    };
    let due = ctx
        .db
        .call(move |s| s.due(until, digests.as_deref()))
        .await?;
    if due.is_empty() {
        return Ok((0, 0));
    }
    let mailer = set_up(ctx)?;
    Ok(send_rows(ctx, &mailer, due).await?)
}

/// Composes and sends `digests`, and retries their queued messages that
/// `retry` selects; nothing of another digest is touched. Earlier messages
/// go first, so that what still fails is what the new digests report as
/// undelivered. The transport is set up first: when it cannot be (no
/// password), nothing is composed and the matches stay pending.
pub async fn deliver(
    ctx: &Context,
    digests: &[DigestConfig],
    retry: Retry,
) -> Result<DeliverReport, DeliverError> {
    let mailer = set_up(ctx)?;
    let names: Vec<String> = digests.iter().map(|d| d.name.clone()).collect();
    let until = match retry {
        Retry::All => chrono::DateTime::<Utc>::MAX_UTC,
        Retry::Due => Utc::now(),
    };
    let earlier = ctx.db.call(move |s| s.due(until, Some(&names))).await?;
    let (sent_before, failed_before) = send_rows(ctx, &mailer, earlier).await?;
    let (mut queued, mut unreadable) = (Vec::new(), 0);
    for digest in digests {
        // Shutdown: the matches stay pending for the next start.
        if ctx.shutting_down() {
            break;
        }
        match super::compose::compose(ctx, digest).await {
            Ok(composed) => {
                queued.extend(composed.queued);
                unreadable += composed.unreadable;
            }
            // Another process took these matches first: they are on their way.
            Err(StoreError::Conflict) => {
                tracing::info!(digest = %digest.name, "matches taken by another process")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let new_rows = {
        let (ids, names) = (
            queued.clone(),
            digests.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
        );
        ctx.db
            .call(move |s| {
                let due = s.due(chrono::DateTime::<Utc>::MAX_UTC, Some(&names))?;
                Ok(due.into_iter().filter(|e| ids.contains(&e.id)).collect())
            })
            .await?
    };
    let (sent, failed) = send_rows(ctx, &mailer, new_rows).await?;
    Ok(DeliverReport {
        queued: queued.len(),
        sent: sent + sent_before,
        failed: failed + failed_before,
        unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_grows_and_caps() {
        assert_eq!(retry_delay(0, false), chrono::Duration::minutes(1));
        assert_eq!(retry_delay(3, false), chrono::Duration::minutes(8));
        assert_eq!(retry_delay(8, false), chrono::Duration::minutes(256));
        assert_eq!(
            retry_delay(50, false),
            chrono::Duration::minutes(360),
            "up to 6 hours"
        );
        assert_eq!(retry_delay(0, true), chrono::Duration::minutes(360));
    }
}
