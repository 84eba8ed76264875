//! A JSON answer kept in pieces until it is written: the text around the
//! lists, and each task's kept text shared (`Arc<str>`), not copied, so
//! that `/master/state` at 5,000 tasks (3.5 MB) is never joined into one
//! buffer. The body goes out in chunks of about 64 KiB, built as the
//! connection takes them: one copy of each byte into a chunk the
//! allocator reuses, where the joined text took two copies and 7 MB of
//! fresh memory (its pages faulted in, then unmapped) per answer.
//!
//! Built by `splice`: a text with `"key":null` placeholders (a quote
//! inside a JSON string is escaped, so only a key can match), each
//! replaced by a list of items, themselves text or pieces.

use std::sync::Arc;

use axum::body::Body;
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::Response;
use bytes::{Bytes, BytesMut};

/// Bytes per chunk of the body.
const CHUNK: usize = 64 * 1024;

#[derive(Debug)]
enum Piece {
    Text(String),
    Shared(Arc<str>),
}

impl Piece {
    fn as_str(&self) -> &str {
        match self {
            Piece::Text(text) => text,
            Piece::Shared(text) => text,
        }
    }
}

/// A JSON text in pieces; `len` is its length in bytes.
#[derive(Debug, Default)]
pub struct JsonPieces {
    pieces: Vec<Piece>,
    len: usize,
}

/// A list to put in place of a `"key":null` placeholder.
pub enum Items {
    /// Texts kept elsewhere (tasks').
    Shared(Vec<Arc<str>>),
    /// Texts made for this answer.
    Texts(Vec<String>),
    /// Objects in pieces (frameworks').
    Nested(Vec<JsonPieces>),
}

impl JsonPieces {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, piece: Piece) {
        let len = piece.as_str().len();
        if len > 0 {
            self.len += len;
            self.pieces.push(piece);
        }
    }

    fn push_str(&mut self, text: &str) {
        match self.pieces.last_mut() {
            // Short joints (`,`, `]`) go onto the text before them.
            Some(Piece::Text(last)) => {
                last.push_str(text);
                self.len += text.len();
            }
            _ => self.push(Piece::Text(text.to_string())),
        }
    }

    fn append(&mut self, other: JsonPieces) {
        for piece in other.pieces {
            match piece {
                Piece::Text(text) => self.push_str(&text),
                shared => self.push(shared),
            }
        }
    }

    /// `text` with each `"key":null` of `lists` replaced by
    /// `"key":[items…]`; a key not found in `text` is left out.
    pub fn splice(text: &str, lists: Vec<(&str, Items)>) -> JsonPieces {
        let mut found: Vec<(usize, String, Items)> = lists
            .into_iter()
            .filter_map(|(key, items)| {
                let placeholder = format!("\"{key}\":null");
                text.find(&placeholder).map(|at| (at, placeholder, items))
            })
            .collect();
        found.sort_by_key(|(at, _, _)| *at);
        let mut out = JsonPieces::default();
        let mut from = 0;
        for (at, placeholder, items) in found {
            if at < from {
                continue; // overlapping placeholders: not ours to make
            }
            out.push_str(&text[from..at]);
            // `"key":null` without its `null`, then the list.
            out.push_str(&placeholder[..placeholder.len() - 4]);
            out.push_str("[");
            match items {
                Items::Shared(texts) => {
                    for (i, text) in texts.into_iter().enumerate() {
                        if i > 0 {
                            out.push_str(",");
                        }
                        out.push(Piece::Shared(text));
                    }
                }
                Items::Texts(texts) => {
                    for (i, text) in texts.iter().enumerate() {
                        if i > 0 {
                            out.push_str(",");
                        }
                        out.push_str(text);
                    }
                }
                Items::Nested(objects) => {
                    for (i, object) in objects.into_iter().enumerate() {
                        if i > 0 {
                            out.push_str(",");
                        }
                        out.append(object);
                    }
                }
            }
            out.push_str("]");
            from = at + placeholder.len();
        }
        out.push_str(&text[from..]);
        out
    }

    /// The whole text, joined.
    #[cfg(test)]
    fn to_text(&self) -> String {
        let mut text = String::with_capacity(self.len);
        for piece in &self.pieces {
            text.push_str(piece.as_str());
        }
        text
    }

    /// The chunks of the body, each about `CHUNK` bytes, made as they are
    /// asked for.
    fn chunks(self) -> impl Iterator<Item = Bytes> {
        let mut pieces = self.pieces.into_iter().peekable();
        std::iter::from_fn(move || {
            pieces.peek()?;
            let mut chunk = BytesMut::with_capacity(CHUNK);
            while let Some(piece) = pieces.peek() {
                let text = piece.as_str();
                if !chunk.is_empty() && chunk.len() + text.len() > CHUNK {
                    break;
                }
                chunk.extend_from_slice(text.as_bytes());
                pieces.next();
            }
            Some(chunk.freeze())
        })
    }

    /// A `200 application/json` response whose body is this text.
    pub fn into_response(self) -> Response {
        let length = self.len;
        let chunks = self.chunks().map(Ok::<_, std::convert::Infallible>);
        let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
        let headers = response.headers_mut();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(texts: &[&str]) -> Items {
        Items::Shared(texts.iter().map(|t| Arc::from(*t)).collect())
    }

    #[test]
    fn placeholders_become_lists_in_the_order_of_the_text() {
        let inner = JsonPieces::splice(
            r#"{"id":"f","tasks":null}"#,
            vec![("tasks", shared(&[r#"{"t":1}"#, "{}"]))],
        );
        let outer = JsonPieces::splice(
            r#"{"completed":null,"frameworks":null,"x":"\"frameworks\":null"}"#,
            vec![
                (
                    "frameworks",
                    Items::Nested(vec![inner, JsonPieces::splice("{}", Vec::new())]),
                ),
                ("completed", Items::Texts(Vec::new())),
                ("absent", Items::Texts(vec!["1".into()])),
            ],
        );
        let text = outer.to_text();
        assert_eq!(
            text,
            r#"{"completed":[],"frameworks":[{"id":"f","tasks":[{"t":1},{}]},{}],"x":"\"frameworks\":null"}"#
        );
        assert_eq!(outer.len(), text.len());
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["frameworks"][0]["tasks"][0]["t"], 1);
    }

    #[test]
    fn chunks_hold_every_byte_once_in_order_and_are_bounded() {
        let texts: Vec<String> = (0..5_000).map(|i| format!("{{\"task\":\"{i:0>700}\"}}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let pieces = JsonPieces::splice(r#"{"tasks":null}"#, vec![("tasks", shared(&refs))]);
        let whole = pieces.to_text();
        let chunks: Vec<Bytes> = pieces.chunks().collect();
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK), "no chunk above {CHUNK} bytes");
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(joined, whole.as_bytes());
    }
}
