//! Runs the Telegram stand-in on its own, for demos and manual runs:
//! `fake-telegram --listen 127.0.0.1:8081 --bot 111:AAAA…=acme_bot`.
//! Control it over HTTP: `POST /_fake/bots`, `GET /_fake/calls`,
//! `POST /_fake/failures`, `POST /_fake/deliver`.
//!
//! As strict as Telegram, except that plain-HTTP webhooks on any port are
//! accepted so that a server on `http://127.0.0.1:8080` can register one
//! (`--strict-webhooks` refuses them, as Telegram does).

use clap::Parser;
use tikethet_tests::fake_telegram::FakeTelegram;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: String,
    /// TOKEN=USERNAME, repeatable.
    #[arg(long)]
    bot: Vec<String>,
    /// Refuse webhooks that are not HTTPS on port 443, 80, 88 or 8443.
    #[arg(long)]
    strict_webhooks: bool,
    /// Do not answer 429 when a bot exceeds Telegram's pacing.
    #[arg(long)]
    no_rate_limits: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fake = FakeTelegram::start_on(&args.listen).await?;
    fake.allow_insecure_webhooks(!args.strict_webhooks);
    fake.rate_limits(!args.no_rate_limits);
    for b in &args.bot {
        let (token, name) = b.split_once('=').ok_or_else(|| anyhow::anyhow!("--bot wants TOKEN=USERNAME"))?;
        fake.add_bot(token, name);
    }
    println!("fake Telegram Bot API on {}", fake.url);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
