//! `sextant get events [NAME] [--kind K] [-w]`: the controller's events,
//! as a table or JSON; with `-w`, followed live over the server-sent event
//! stream (reconnecting with `Last-Event-ID` when it breaks).

use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use sextant_api::client::{Client, EventFilter};
use sextant_api::wire::Event;

use crate::cli::GetOutput;

pub async fn print(client: &Client, mut filter: EventFilter, output: GetOutput, watch: bool) -> Result<()> {
    let events = client.events(&filter).await?;
    if output == GetOutput::Table || output == GetOutput::Wide {
        outln!("{}", header());
    }
    for e in &events {
        show(e, output)?;
        filter.after = e.id;
    }
    if !watch {
        return Ok(());
    }
    loop {
        if let Err(e) = follow(client, &mut filter, output).await {
            eprintln!("event stream broke ({e:#}); reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reads the stream from after `filter.after` until it ends.
async fn follow(client: &Client, filter: &mut EventFilter, output: GetOutput) -> Result<()> {
    let mut events = std::pin::pin!(client.watch_events(filter).await?);
    while let Some(e) = events.next().await {
        let e = e?;
        filter.after = e.id;
        show(&e, output)?;
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
        GetOutput::Json => outln!("{}", serde_json::to_string(e)?),
        GetOutput::Yaml => out!("---\n{}", serde_yaml::to_string(e)?),
        GetOutput::Name => outln!("event/{}", e.id),
        GetOutput::Table | GetOutput::Wide => outln!(
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
