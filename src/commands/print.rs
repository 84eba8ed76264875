//! How the listing commands print the API's objects: JSON or YAML (one
//! object alone when one was named), and bytes to stdout at once. JSON
//! keys come out sorted, as `serde_json::Value` holds them: each object
//! goes through a `Value` of its own, and a long list is written on a few
//! threads, the same text as `to_string_pretty(&to_value(list))`.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::cli::GetOutput;

/// Writes `bytes` to stdout at once.
pub fn write_out(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    crate::commands::on_write(out.write_all(bytes).and_then(|()| out.flush()))
}

/// Prints the API's objects as JSON or YAML; one object alone when one
/// was named. Keys come out sorted (each object goes through
/// `serde_json::Value`).
pub fn print_objects<T: Serialize + Sync>(items: &[&T], one: bool, output: GetOutput) -> Result<()> {
    if output == GetOutput::Json && !(one && items.len() == 1) {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let written = write_json_list(&mut out, items);
        if let Err(e) = &written
            && let Some(io) = e.downcast_ref::<std::io::Error>()
        {
            return crate::commands::on_write(Err(std::io::Error::new(io.kind(), io.to_string())));
        }
        if let Err(e) = written {
            // serde_json wraps the write's error.
            if e.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            {
                std::process::exit(0);
            }
            return Err(e);
        }
        return crate::commands::on_write(out.write_all(b"\n").and_then(|()| out.flush()));
    }
    let value = match (one, items) {
        (true, [only]) => serde_json::to_value(only)?,
        _ => serde_json::to_value(items)?,
    };
    if output == GetOutput::Yaml {
        write_out(serde_yaml::to_string(&value)?.as_bytes())
    } else {
        write_out(format!("{}\n", serde_json::to_string_pretty(&value)?).as_bytes())
    }
}

/// Elements a thread of [`write_json_list`] takes at least.
const JSON_ITEMS_PER_THREAD: usize = 1_000;

/// `items` as `to_string_pretty(&to_value(items))` writes them, a long
/// list on up to four threads: each writes its part as an array of its
/// own (`[\n  …\n]`), and the parts are joined, the first opening the
/// list, the last closing it, a comma between two.
fn write_json_list<T: Serialize + Sync>(out: &mut impl Write, items: &[&T]) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(4)
        .min(items.len() / JSON_ITEMS_PER_THREAD);
    if threads < 2 {
        serde_json::to_writer_pretty(out, &AsValues(items))?;
        return Ok(());
    }
    let parts: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| {
                s.spawn(move || {
                    let mut text = Vec::with_capacity(1 << 20);
                    serde_json::to_writer_pretty(&mut text, &AsValues(part)).map(|()| text)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(text) => Ok(text?),
                Err(_) => Err(anyhow::anyhow!("a thread writing the JSON failed")),
            })
            .collect::<Result<_>>()
    })?;
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        let start = if i == 0 { 0 } else { 1 };
        let end = if i == last {
            part.len()
        } else {
            part.len().saturating_sub(2)
        };
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(part.get(start..end).unwrap_or_default())?;
    }
    Ok(())
}

/// A list serialized as `serde_json::to_value` of it would be (every
/// object's keys sorted), one element turned into a `Value` at a time:
/// the same text as `to_string_pretty(&to_value(items))`, without holding
/// thousands of values at once.
struct AsValues<'a, T>(&'a [&'a T]);

impl<T: Serialize> Serialize for AsValues<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&serde_json::to_value(item).map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use sextant_api::wire::AppView;

    use super::*;

    fn app_view(name: &str, status: bool) -> AppView {
        AppView {
            name: name.into(),
            namespace: "default".into(),
            instances: 3,
            running: 2,
            available: 1,
            revision: "0123456789".into(),
            status: status.then(|| sextant_api::AppStatus {
                running: 2,
                conditions: vec![sextant_api::Condition {
                    type_: "Available".into(),
                    status: "False".into(),
                    reason: None,
                    message: Some("1 of 3 \"available\"".into()),
                }],
                ..Default::default()
            }),
            source: "dir:/m".into(),
            created_at: Some("2026-11-25T09:00:00Z".into()),
            conditions: vec![sextant_api::Condition {
                type_: "Progressing".into(),
                status: "True".into(),
                reason: Some("RolloutInProgress".into()),
                message: Some("revision 0123456789: 1 of 3 tasks available".into()),
            }],
            summary: "Progressing 1/3".into(),
            labels: [("tier".to_string(), "web".to_string())].into(),
        }
    }

    /// Guards `-o json`'s text: element by element, it is what
    /// `to_string_pretty(&to_value(list))` printed (keys sorted).
    #[test]
    fn json_lists_print_as_values_would() {
        let (a, mut b) = (app_view("web", true), app_view("db", false));
        b.labels.clear();
        for items in [vec![], vec![&a], vec![&a, &b]] {
            let by_value = serde_json::to_string_pretty(&serde_json::to_value(&items).expect("value")).expect("text");
            let streamed = serde_json::to_string_pretty(&AsValues(&items)).expect("text");
            assert_eq!(streamed, by_value);
        }
        // Long enough for parts on threads (where there are several cores).
        let many: Vec<&AppView> = (0..2 * JSON_ITEMS_PER_THREAD + 7)
            .map(|i| if i % 3 == 0 { &a } else { &b })
            .collect();
        let by_value = serde_json::to_string_pretty(&serde_json::to_value(&many).expect("value")).expect("text");
        let mut joined = Vec::new();
        write_json_list(&mut joined, &many).expect("written");
        assert_eq!(String::from_utf8(joined).expect("utf-8"), by_value);
    }
}
