//! Redis channels every node listens on for the life of the process (live
//! events, wake-ups), with one reconnecting loop for all of them.

use std::time::Duration;

use futures::StreamExt as _;

/// Subscribes to `channel` until the process ends, handing each text
/// message to `on_message`; when the subscription is lost (Redis restarted,
/// the network cut) it connects again, backing off up to 5 s. `what` names
/// the channel's use in the log.
pub fn listen<F>(client: redis::Client, channel: String, what: &'static str, on_message: F)
where
    F: Fn(String) + Send + Sync + 'static,
{
    tokio::spawn(async move {
        let mut wait = Duration::from_millis(250);
        loop {
            match subscribe(&client, &channel, &on_message).await {
                Ok(()) => wait = Duration::from_millis(250),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "{what}: Redis subscription lost; retrying"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    });
}

async fn subscribe(client: &redis::Client, channel: &str, on_message: &(dyn Fn(String) + Send + Sync)) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut pubsub = client.get_async_pubsub().await.context("connecting")?;
    pubsub.subscribe(channel).await.context("subscribing")?;
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        match msg.get_payload::<String>() {
            Ok(p) => on_message(p),
            Err(e) => tracing::warn!(error = %e, channel, "a message with a non-text payload"),
        }
    }
    anyhow::bail!("the subscription ended")
}

/// Publishes `payload` on `channel`; says why not on failure.
pub async fn publish(conn: &redis::aio::ConnectionManager, channel: &str, payload: String) -> redis::RedisResult<()> {
    let mut conn = conn.clone();
    redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<i64>(&mut conn).await.map(drop)
}
