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

/// Indents JSON text as `serde_json::to_string_pretty` does (two spaces,
/// `": "`, `[]` and `{}` when empty), keeping its key order: a reformat
/// of the bytes, with no value built. `raw` must be valid JSON (it came
/// through the parser); `depth` is the indentation it starts at.
pub fn indent_json(raw: &str, depth: usize, out: &mut String) {
    let bytes = raw.as_bytes();
    let mut depth = depth;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            // Copy the whole run up to the next quote or backslash at once.
            let start = i;
            while i < bytes.len() && (escaped || (bytes[i] != b'"' && bytes[i] != b'\\')) {
                escaped = false;
                i += 1;
            }
            out.push_str(&raw[start..i]);
            if i < bytes.len() {
                if bytes[i] == b'\\' {
                    escaped = true;
                    out.push('\\');
                } else {
                    in_string = false;
                    out.push('"');
                }
                i += 1;
            }
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                out.push('"');
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < bytes.len() && bytes[j] == close {
                    out.push(c as char);
                    out.push(close as char);
                    i = j + 1;
                    continue;
                }
                out.push(c as char);
                depth += 1;
                newline(out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(out, depth);
                out.push(c as char);
            }
            b',' => {
                out.push(',');
                newline(out, depth);
            }
            b':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            _ => {
                // A number, true, false or null: up to the next delimiter.
                let start = i;
                while i < bytes.len()
                    && !matches!(bytes[i], b',' | b'}' | b']' | b':')
                    && !bytes[i].is_ascii_whitespace()
                {
                    i += 1;
                }
                out.push_str(&raw[start..i]);
                continue;
            }
        }
        i += 1;
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

    /// Guards the reformat of `get apps -o json`: the same text as
    /// serde_json's pretty printer, for every kind of value and string.
    #[test]
    fn indenting_json_text_is_what_the_pretty_printer_writes() {
        let value = serde_json::json!({
            "a": [],
            "b": {},
            "c": [1, -2.5e3, true, false, null, "x"],
            "d": {"e": "quote \" and \\ backslash, unicode é, escapes \n\t\u{0001}", "f": [{"g": []}, {}]},
            "h": "{[,:]}",
        });
        let compact = serde_json::to_string(&value).expect("compact");
        let mut out = String::new();
        indent_json(&compact, 0, &mut out);
        assert_eq!(out, serde_json::to_string_pretty(&value).expect("pretty"));
        // Whitespace in the input does not matter.
        let spaced = serde_json::to_string_pretty(&value).expect("pretty");
        let mut again = String::new();
        indent_json(&spaced, 0, &mut again);
        assert_eq!(again, spaced);
    }

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
