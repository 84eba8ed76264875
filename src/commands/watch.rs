//! `-w` for `get apps` and `get tasks`, kubectl style: the list once, then
//! every row that changes, as it changes. Changes are learnt from the
//! event stream (`GET /api/v1/events`, resumed with `Last-Event-ID` when it
//! breaks); after each burst of events the list is read again and only the
//! rows whose content changed are printed (no header again). Ends with
//! Ctrl-C, or quietly when stdout closes.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use sextant_api::client::{Client, EventFilter};

/// Events closer together than this are one burst: one re-read.
const BURST: Duration = Duration::from_millis(300);
/// Pause before reconnecting a broken stream.
const RECONNECT: Duration = Duration::from_secs(1);

/// Follows `kinds` of events; after each burst, `rows()` gives the rows as
/// (key, content, line): a line is printed when its key's content changed
/// (content leaves out what changes by itself, such as an age).
pub async fn follow<F, Fut>(client: &Client, kinds: &[&str], mut rows: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<(String, String, String)>>>,
{
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    for (key, content, _) in rows().await? {
        shown.insert(key, content);
    }
    let mut filter = EventFilter {
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        // Only what happens from now on.
        after: client.events(&EventFilter::default()).await?.last().map_or(0, |e| e.id),
        ..EventFilter::default()
    };
    loop {
        let mut events = match client.watch_events(&filter).await {
            Ok(stream) => Box::pin(stream),
            Err(e) => {
                eprintln!("event stream: {e}; reconnecting");
                tokio::time::sleep(RECONNECT).await;
                continue;
            }
        };
        while let Some(event) = events.next().await {
            match event {
                Ok(e) => filter.after = e.id,
                Err(e) => {
                    eprintln!("event stream broke ({e}); reconnecting");
                    break;
                }
            }
            // Let the burst pass, then read once.
            while let Ok(Some(Ok(e))) = tokio::time::timeout(BURST, events.next()).await {
                filter.after = e.id;
            }
            for (key, content, line) in rows().await? {
                if shown.get(&key) != Some(&content) {
                    outln!("{line}");
                    shown.insert(key, content);
                }
            }
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
