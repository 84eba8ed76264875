//! Finding where a field is written: the line and column of the key (or
//! list item) at a field path such as `spec.ports[1].name`, and of its value
//! when it is on the same line.
//!
//! serde_yaml gives positions only for the first error of a document, and
//! none for a [`Value`](serde_yaml::Value) already parsed; so the loader
//! locates fields in the document text with a small indentation-based
//! search, good for the block style manifests are written in (and for keys
//! of flow mappings on one line), falling back to the nearest enclosing key
//! found.

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A list index.
    Index(usize),
}

/// Where a field path was found: 0-based line and column of its key or
/// list item (or of the deepest enclosing one found).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spot {
    /// 0-based line in the document.
    pub line: usize,
    /// 0-based column of the key or the item's `-`.
    pub col: usize,
    /// 0-based column of the value, when the whole path was found and its
    /// value starts on the same line.
    pub value_col: Option<usize>,
}

/// `spec.ports[1].name` -> [Key(spec), Key(ports), Index(1), Key(name)].
/// The last key may contain dots (env names, labels): it is not split
/// further once the path is inside `spec.env`, `spec.labels` or
/// `metadata.labels`/`annotations`.
pub fn parse_field_path(path: &str) -> Vec<Seg<'_>> {
    let mut segs = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if matches!(segs.as_slice(), [Seg::Key("spec"), Seg::Key("env" | "labels")])
            || matches!(
                segs.as_slice(),
                [Seg::Key("metadata"), Seg::Key("labels" | "annotations")]
            )
        {
            segs.push(Seg::Key(rest));
            break;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            if let Ok(i) = r[..end].parse() {
                segs.push(Seg::Index(i));
            }
            rest = r.get(end + 1..).unwrap_or("");
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        segs.push(Seg::Key(&rest[..end]));
        rest = &rest[end..];
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    segs
}

/// A block of lines in which to look for a key: lines `start..end` of the
/// document, the first of which has its content at column `first_col`.
#[derive(Clone, Copy, Debug)]
struct Block {
    start: usize,
    end: usize,
    first_col: usize,
}

/// A key or item found: its position, the column of its value if that is on
/// the same line, and the block of its value otherwise.
struct Hit {
    pos: (usize, usize),
    value_col: Option<usize>,
    inner: Option<Block>,
}

/// Where the key at `path` is in `text` (see [`Spot`]), or the deepest
/// enclosing key found; None for a document without content.
pub fn locate(text: &str, path: &[Seg<'_>]) -> Option<Spot> {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| !is_filler(l))?;
    let mut block = Block {
        start: first,
        end: lines.len(),
        first_col: indent(lines[first]),
    };
    let mut found = Spot {
        line: first,
        col: indent(lines[first]),
        value_col: Some(indent(lines[first])),
    };
    let mut inline = false;
    for seg in path {
        if inline {
            // The enclosing value is on its key's line: a flow mapping?
            let from = found.value_col.unwrap_or(found.col);
            let flow = match seg {
                Seg::Key(k) => lines.get(found.line).and_then(|l| find_flow_key(l, from, k)),
                Seg::Index(_) => None,
            };
            match flow {
                Some((col, value_col)) => {
                    found = Spot {
                        line: found.line,
                        col,
                        value_col: Some(value_col),
                    };
                    continue;
                }
                None => {
                    return Some(Spot {
                        value_col: None,
                        ..found
                    });
                }
            }
        }
        let next = match seg {
            Seg::Key(k) => find_key(&lines, block, k),
            Seg::Index(i) => find_item(&lines, block, *i),
        };
        let Some(hit) = next else {
            return Some(Spot {
                value_col: None,
                ..found
            });
        };
        found = Spot {
            line: hit.pos.0,
            col: hit.pos.1,
            value_col: hit.value_col,
        };
        match hit.inner {
            Some(b) => block = b,
            None => inline = true,
        }
    }
    Some(found)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The column where `line`'s content starts when it is the first line of
/// `block`, else its indentation.
fn content_col(lines: &[&str], block: Block, i: usize) -> usize {
    if i == block.start {
        block.first_col
    } else {
        indent(lines[i])
    }
}

/// Finds `key:` at the top level of `block`.
fn find_key(lines: &[&str], block: Block, key: &str) -> Option<Hit> {
    let mut level = None;
    for i in block.start..block.end.min(lines.len()) {
        if is_filler(lines[i]) {
            continue;
        }
        let col = content_col(lines, block, i);
        let level = *level.get_or_insert(col);
        if col != level {
            continue;
        }
        let content = lines[i].get(col..).unwrap_or("");
        let Some(after) = strip_key(content, key) else {
            continue;
        };
        let value = after.trim();
        let value_col = col + content.len() - after.trim_start().len();
        if !value.is_empty() && !value.starts_with('#') && !value.starts_with(['|', '>', '&', '!']) {
            return Some(Hit {
                pos: (i, col),
                value_col: Some(value_col),
                inner: None,
            });
        }
        // The value block: following lines indented deeper, or at the same
        // indentation when they are list items.
        let mut end = i + 1;
        while end < block.end.min(lines.len()) {
            let l = lines[end];
            if !is_filler(l) {
                let ind = indent(l);
                let item = is_item(l.trim_start_matches(' '));
                if ind < level || (ind == level && !item) {
                    break;
                }
            }
            end += 1;
        }
        let value_col = (!value.is_empty() && !value.starts_with('#')).then_some(value_col);
        let Some(start) = (i + 1..end).find(|&j| !is_filler(lines[j])) else {
            return Some(Hit {
                pos: (i, col),
                value_col,
                inner: None,
            });
        };
        return Some(Hit {
            pos: (i, col),
            value_col,
            inner: Some(Block {
                start,
                end,
                first_col: indent(lines[start]),
            }),
        });
    }
    None
}

/// 1-based (line, column) of the second `key:` of the block mapping that
/// starts at 1-based `line`, `col` of `text`.
pub fn second_key(text: &str, line: usize, col: usize, key: &str) -> Option<(usize, usize)> {
    let level = col.checked_sub(1)?;
    let mut seen = 0;
    for (i, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        if is_filler(l) {
            continue;
        }
        let first = i + 1 == line;
        if !first && indent(l) < level {
            break;
        }
        if (first || indent(l) == level) && strip_key(l.get(level..).unwrap_or(""), key).is_some() {
            seen += 1;
            if seen == 2 {
                return Some((i + 1, col));
            }
        }
    }
    None
}

/// Finds the `index`-th `- ` item at the top level of `block`.
fn find_item(lines: &[&str], block: Block, index: usize) -> Option<Hit> {
    let mut level = None;
    let mut items = Vec::new();
    for i in block.start..block.end.min(lines.len()) {
        if is_filler(lines[i]) {
            continue;
        }
        let col = content_col(lines, block, i);
        let level = *level.get_or_insert(col);
        let content = lines[i].get(col..).unwrap_or("");
        if col == level && is_item(content) {
            items.push(i);
        } else if col < level {
            break;
        }
    }
    let &start = items.get(index)?;
    let end = items.get(index + 1).copied().unwrap_or(block.end.min(lines.len()));
    let col = content_col(lines, block, start);
    let after_dash = lines[start].get(col + 1..).unwrap_or("");
    let pad = after_dash.len() - after_dash.trim_start_matches(' ').len();
    let item_col = col + 1 + pad;
    if after_dash.trim().is_empty() {
        let inner = (start + 1..end).find(|&j| !is_filler(lines[j])).map(|s| Block {
            start: s,
            end,
            first_col: indent(lines[s]),
        });
        return Some(Hit {
            pos: (start, col),
            value_col: None,
            inner,
        });
    }
    // A flow collection (`- {name: a}`) is searched on its line.
    let flow = after_dash.trim_start().starts_with(['{', '[']);
    Some(Hit {
        pos: (start, col),
        value_col: Some(item_col),
        inner: (!flow).then_some(Block {
            start,
            end,
            first_col: item_col,
        }),
    })
}

fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// If `content` starts with `key:` (plain or quoted) followed by a space or
/// the end, the text after the colon.
fn strip_key<'a>(content: &'a str, key: &str) -> Option<&'a str> {
    for quote in ["", "\"", "'"] {
        if let Some(rest) = content
            .strip_prefix(quote)
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix(quote))
            .and_then(|r| r.strip_prefix(':'))
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            return Some(rest);
        }
    }
    None
}

/// Columns of `key:` (plain or quoted) inside a flow mapping on `line`,
/// after column `from`, and of its value.
fn find_flow_key(line: &str, from: usize, key: &str) -> Option<(usize, usize)> {
    let hay = line.get(from..)?;
    if key.is_empty() {
        return None;
    }
    let mut search = 0;
    while let Some(i) = hay.get(search..).and_then(|h| h.find(key)) {
        let at = search + i;
        let quote = hay[..at].chars().last().filter(|c| matches!(c, '"' | '\''));
        let start = at - quote.map_or(0, char::len_utf8);
        let before = hay[..start].chars().last();
        let mut rest = &hay[at + key.len()..];
        if let Some(q) = quote {
            rest = rest.strip_prefix(q).unwrap_or("");
        }
        if matches!(before, Some('{' | ',' | ' ' | '\t'))
            && let Some(value) = rest.strip_prefix(':')
        {
            let value_col = line.len() - value.trim_start().len();
            return Some((from + start, value_col));
        }
        search = at + key.len();
    }
    None
}

/// Whether a line carries no content: blank, a comment, a directive or a
/// document marker.
pub fn is_filler(line: &str) -> bool {
    let t = line.trim();
    t.is_empty()
        || t.starts_with('#')
        || line.starts_with('%')
        || (is_marker(line.trim_end(), "---") && line.trim_end()[3..].trim().is_empty())
        || is_marker(line.trim_end(), "...")
}

/// Whether `line` is the document marker `marker` (`---` or `...`),
/// possibly followed by content after a space.
pub fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths() {
        assert_eq!(
            parse_field_path("spec.ports[1].name"),
            vec![Seg::Key("spec"), Seg::Key("ports"), Seg::Index(1), Seg::Key("name")]
        );
        assert_eq!(
            parse_field_path("spec.env.a.b"),
            vec![Seg::Key("spec"), Seg::Key("env"), Seg::Key("a.b")]
        );
        assert_eq!(
            parse_field_path("spec.labels.sextant.app"),
            vec![Seg::Key("spec"), Seg::Key("labels"), Seg::Key("sextant.app")]
        );
        assert_eq!(parse_field_path(""), vec![]);
        assert_eq!(parse_field_path("[x"), vec![]);
    }

    #[test]
    fn locate_keys() {
        let text = "a:\n  b:\n  - x: 1\n    y: 2\n  -\n    x: 3\n  c: {d: 1, \"e\":  2}\n  f: 'v' # c\n";
        let at = |path: &str| locate(text, &parse_field_path(path)).map(|s| (s.line, s.col, s.value_col));
        assert_eq!(at("a"), Some((0, 0, None)));
        assert_eq!(at("a.b[0].y"), Some((3, 4, Some(7))));
        assert_eq!(at("a.b[1].x"), Some((5, 4, Some(7))));
        assert_eq!(at("a.b[0].x"), Some((2, 4, Some(7))));
        assert_eq!(at("a.b[0]"), Some((2, 2, Some(4))));
        assert_eq!(at("a.b[1]"), Some((4, 2, None)));
        assert_eq!(at("a.c.d"), Some((6, 6, Some(9))));
        assert_eq!(at("a.c.e"), Some((6, 12, Some(18))));
        assert_eq!(at("a.c.zz"), Some((6, 2, None)));
        assert_eq!(at("a.f"), Some((7, 2, Some(5))));
        assert_eq!(at("a.zz"), Some((0, 0, None)));
        assert_eq!(at("a.b[7]"), Some((1, 2, None)));
        let flow = "l:\n- {k: 1, v: 2}\n";
        assert_eq!(
            locate(flow, &parse_field_path("l[0].v")).map(|s| (s.line, s.col, s.value_col)),
            Some((1, 9, Some(12)))
        );
        assert_eq!(locate("# only\n", &[]), None);
    }

    #[test]
    fn second_keys() {
        let text = "a: 1\nb:\n  c: 1\n  c: 2\n";
        assert_eq!(second_key(text, 3, 3, "c"), Some((4, 3)));
        assert_eq!(second_key(text, 0, 3, "c"), None);
    }
}
