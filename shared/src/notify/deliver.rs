//! Delivering one notification (the `Deliver` job on the notify queue).
//!
//! The notification's row decides everything, so a job may arrive any number of times: a
//! delivered or given-up notification ends the job at once, a notification not yet due is put
//! back on the queue for when it is, and a delivery first claims the row so two copies never both
//! send. A failed attempt schedules the next one with exponential backoff and jitter (30 seconds
//! doubling to an hour, spread ±25 %) by queueing the job again with a delay; SQS delays at most
//! 15 minutes, so a longer wait takes several hops. After about 24 hours of failures the
//! notification is given up and the channel closed with the reason recorded (a Smart Invite
//! callback has no channel: it is only given up). A destination that is not allowed (not public,
//! not HTTPS) is given up at once. Each attempt is logged for the application with its status and
//! latency, never its body.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::payload::{Kind, body};
use super::sign::signature;
use crate::adapters::QueueName;
use crate::domain::{ApplicationId, ChannelId};
use crate::jobs::{JobError, JobOutcome, NotifyJob};
use crate::state::AppState;
use crate::store::{AttemptRecord, Notification};

/// How long one delivery may hold its notification.
const CLAIM: chrono::Duration = chrono::Duration::minutes(2);
/// The first retry's delay; it doubles per attempt.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The longest wait between attempts.
const MAX_RETRY: Duration = Duration::from_secs(60 * 60);
/// How long failing deliveries are retried before the channel is closed.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// SQS's longest message delay.
const MAX_QUEUE_DELAY: Duration = Duration::from_secs(15 * 60);

/// The wait after the `attempts`-th failed attempt of notification `id`: doubling from 30 seconds
/// up to an hour, spread by ±25 % (stable for one attempt, different between notifications).
pub fn retry_delay(id: &str, attempts: u32) -> Duration {
    let base = FIRST_RETRY.saturating_mul(1u32 << attempts.saturating_sub(1).min(16)).min(MAX_RETRY);
    let digest = Sha256::digest(format!("{id}:{attempts}").as_bytes());
    let fraction = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / 65_536.0;
    base.mul_f64(0.75 + fraction / 2.0)
}

/// Delivers notification `id`; see the module doc.
#[tracing::instrument(skip_all, fields(notification_id = %id))]
pub async fn deliver(state: &AppState, id: &str) -> Result<JobOutcome, JobError> {
    let now = state.clock.now();
    let Some(notification) = state.store.get_notification(id).await? else {
        return Ok(JobOutcome::Skipped("notification no longer exists"));
    };
    if notification.delivered_at.is_some() {
        return Ok(JobOutcome::Skipped("already delivered"));
    }
    if notification.abandoned_at.is_some() {
        return Ok(JobOutcome::Skipped("delivery was given up"));
    }
    if let Some(due) = notification.next_attempt_at.filter(|due| *due > now) {
        requeue(state, id, due - now).await?;
        return Ok(JobOutcome::Skipped("not due yet"));
    }
    let destination = match destination(state, &notification).await? {
        Ok(destination) => destination,
        Err(reason) => {
            state.store.abandon_notification(id, now).await?;
            return Ok(JobOutcome::Skipped(reason));
        }
    };
    if !state.store.claim_notification(id, now + CLAIM, now).await? {
        // Another copy is delivering it right now; whatever it achieves stands.
        return Ok(JobOutcome::Skipped("being delivered by another worker"));
    }

    // Sign with every live secret of the application.
    let mut secrets = Vec::new();
    let application = &destination.application_id;
    for sealed in state.store.signing_secrets(application, now).await? {
        match state.vault.open_secret(application, &sealed) {
            Ok(secret) => secrets.push(secret),
            Err(e) => tracing::error!(error.message = %e, "a sealed client secret could not be opened"),
        }
    }
    if secrets.is_empty() {
        // Created before secrets were sealed: an unsigned notification would teach the
        // application to skip verification, so none is sent until the secret is rotated.
        let attempt = AttemptRecord {
            status: "no_signing_secret",
            latency_ms: 0,
            at: now,
            delivered: false,
            next_attempt_at: None,
            abandoned: true,
        };
        state.store.record_notification_attempt(id, &attempt).await?;
        tracing::warn!(application_id = %application, "notification not sent: rotate the client secret to sign it");
        return Ok(JobOutcome::Skipped("no sealed client secret to sign with"));
    }
    let signed = signature(&secrets, &destination.body);
    let attempt = state.callbacks.deliver(&destination.callback_url, destination.body, &signed).await;

    // Record the attempt and decide what follows.
    let attempts = u32::try_from(notification.attempts).unwrap_or(0) + 1;
    let expired = now - notification.created_at >= GIVE_UP_AFTER;
    let give_up = !attempt.delivered && (attempt.refused || expired);
    let next = (!attempt.delivered && !give_up).then(|| retry_delay(id, attempts));
    let record = AttemptRecord {
        status: &attempt.status,
        latency_ms: i32::try_from(attempt.latency.as_millis()).unwrap_or(i32::MAX),
        at: now,
        delivered: attempt.delivered,
        next_attempt_at: next.and_then(|wait| chrono::Duration::from_std(wait).ok()).map(|wait| now + wait),
        abandoned: give_up,
    };
    state.store.record_notification_attempt(id, &record).await?;
    tracing::info!(
        application_id = %application,
        channel_id = destination.channel.as_ref().map(ChannelId::as_str),
        kind = %notification.kind,
        status = %attempt.status,
        latency_ms = record.latency_ms,
        attempt = attempts,
        "notification delivery"
    );
    if attempt.delivered {
        return Ok(JobOutcome::Done);
    }
    if give_up {
        let Some(channel) = &destination.channel else {
            tracing::warn!(application_id = %application, "smart invite callback given up");
            return Ok(JobOutcome::Skipped("delivery given up"));
        };
        let reason = if attempt.refused {
            "the callback URL leads to an address that is not allowed"
        } else {
            "the callback endpoint kept failing for 24 hours"
        };
        state.store.close_channel_for(channel, reason, now).await?;
        tracing::warn!(application_id = %application, channel_id = %channel, reason, "channel closed");
        return Ok(JobOutcome::Skipped("delivery given up; channel closed"));
    }
    if let Some(wait) = next {
        requeue(state, id, chrono::Duration::from_std(wait).unwrap_or(GIVE_UP_AFTER)).await?;
    }
    Ok(JobOutcome::Skipped("delivery failed; retry scheduled"))
}

/// Where a notification goes, what it says, and the channel to close should it never arrive.
struct Destination {
    application_id: ApplicationId,
    callback_url: String,
    body: Vec<u8>,
    /// `None` for a Smart Invite callback, which has no channel.
    channel: Option<ChannelId>,
}

/// The destination of `notification`: its open channel's, or the Smart Invite callback's own; or
/// why it can no longer be sent.
async fn destination(
    state: &AppState,
    notification: &Notification,
) -> Result<Result<Destination, &'static str>, JobError> {
    let Some(kind) = Kind::from_stored(&notification.kind, notification.changes_since) else {
        return Ok(Err("unknown notification type"));
    };
    if let Some(channel_id) = &notification.channel_id {
        return Ok(match state.store.get_channel(channel_id).await? {
            Some(channel) if channel.closed_at.is_none() => Ok(Destination {
                application_id: channel.application_id.clone(),
                body: body(kind, &channel),
                callback_url: channel.callback_url,
                channel: Some(channel.id),
            }),
            _ => Err("channel is closed or gone"),
        });
    }
    Ok(match (&notification.callback_url, &notification.body) {
        (Some(url), Some(body)) => Ok(Destination {
            application_id: notification.application_id.clone(),
            callback_url: url.clone(),
            body: body.clone().into_bytes(),
            channel: None,
        }),
        _ => Err("the notification has no destination"),
    })
}

/// How long a pending notification may wait for its job before the sweep queues another.
const STRANDED_AFTER: chrono::Duration = chrono::Duration::minutes(30);
/// Notifications requeued by one sweep.
const SWEEP_LIMIT: i64 = 1000;

/// Queues a delivery job again for notifications whose job was lost: the row is written before
/// its job is queued, and a queue failure in between (or after a failed attempt) would otherwise
/// strand it. A job that was only slow arrives as a second copy, which the claim and the
/// delivered check make harmless. Runs with the periodic poll.
pub async fn requeue_stranded(state: &AppState) -> Result<usize, JobError> {
    let stale = state.clock.now() - STRANDED_AFTER;
    let ids = state.store.stranded_notifications(stale, SWEEP_LIMIT).await?;
    for id in &ids {
        requeue(state, id, chrono::Duration::zero()).await?;
    }
    if !ids.is_empty() {
        tracing::warn!(count = ids.len(), "requeued notifications whose delivery job was lost");
    }
    Ok(ids.len())
}

/// Puts the job back on the queue, due after `wait` (or after SQS's longest delay, when the wait
/// is longer: the job then finds the notification not yet due and waits again).
async fn requeue(state: &AppState, id: &str, wait: chrono::Duration) -> Result<(), JobError> {
    let delay = wait.to_std().unwrap_or_default().min(MAX_QUEUE_DELAY);
    let body = serde_json::to_string(&NotifyJob::Deliver { notification_id: id.to_owned() })
        .map_err(|e| JobError::Retryable(e.into()))?;
    state.queue.send(QueueName::Notify, body, Some(delay)).await.map_err(|e| JobError::Retryable(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_thirty_seconds_to_an_hour_within_a_quarter_either_way() {
        for (attempts, base) in [(1u32, 30.0), (2, 60.0), (3, 120.0), (7, 1920.0), (8, 3600.0), (30, 3600.0)] {
            let wait = retry_delay("ntf_x", attempts).as_secs_f64();
            assert!((base * 0.75..base * 1.25).contains(&wait), "attempt {attempts}: {wait}s");
        }
    }
}
