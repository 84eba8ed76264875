//! `sextant get events [NAME] [--kind K] [-w]`: the controller's events,
//! as a table or JSON; with `-w`, followed live over the server-sent event
//! stream (reconnecting with `Last-Event-ID` when it breaks).

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use sextant_controller::events::Event;

use crate::cli::GetOutput;

pub async fn print(http: &reqwest::Client, url: &str, output: GetOutput, watch: bool) -> Result<()> {
    let body = crate::commands::client::get(http, url).await?;
    let events: Vec<Event> = serde_json::from_str(&body).with_context(|| format!("unexpected answer from {url}"))?;
    let mut last = 0;
    if output == GetOutput::Table || output == GetOutput::Wide {
        println!("{}", header());
    }
    for e in &events {
        show(e, output)?;
        last = e.id;
    }
    if !watch {
        return Ok(());
    }
    loop {
        match follow(http, url, &mut last, output).await {
            Ok(()) => {}
            Err(e) => eprintln!("event stream broke ({e:#}); reconnecting"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads the stream from after `last` until it ends.
async fn follow(http: &reqwest::Client, url: &str, last: &mut u64, output: GetOutput) -> Result<()> {
    let response = http
        .get(url)
        .header("accept", "text/event-stream")
        .header("last-event-id", last.to_string())
        .send()
        .await?
        .error_for_status()?;
    let mut body = response.bytes_stream();
    let mut pending = String::new();
    while let Some(chunk) = body.next().await {
        pending.push_str(&String::from_utf8_lossy(&chunk?));
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n");
            if data.is_empty() {
                continue;
            }
            let e: Event = serde_json::from_str(&data).context("an event that is not JSON")?;
            *last = e.id;
            show(&e, output)?;
        }
    }
    Ok(())
}

fn header() -> String {
    format!(
        "{:<6} {:<20} {:<10} {:<24} {:<20} MESSAGE",
        "ID", "TIME", "KIND", "APP", "REASON"
    )
}

fn show(e: &Event, output: GetOutput) -> Result<()> {
    match output {
        GetOutput::Json => println!("{}", serde_json::to_string(e)?),
        GetOutput::Yaml => print!("---\n{}", serde_yaml::to_string(e)?),
        GetOutput::Name => println!("event/{}", e.id),
        GetOutput::Table | GetOutput::Wide => println!(
            "{:<6} {:<20} {:<10} {:<24} {:<20} {}",
            e.id,
            e.time,
            e.kind,
            e.app.as_deref().or(e.source.as_deref()).unwrap_or("-"),
            e.reason,
            e.message
        ),
    }
    Ok(())
}
