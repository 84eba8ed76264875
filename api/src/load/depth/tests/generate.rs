//! Random nested YAML for the scanner's property test: a spine of block
//! levels then flow levels, each with sibling values of every kind that
//! may hide brackets (plain scalars and their continuation lines, quoted
//! scalars over several lines, block scalars, comments), rendered to text
//! with the depth the parser counts.

use proptest::collection::vec;
use proptest::prelude::*;

/// A generated document.
#[derive(Clone, Debug)]
pub(super) struct Doc {
    block: Vec<BlockLevel>,
    flow: Vec<FlowLevel>,
    marker: bool,
    comment: bool,
}

/// A block mapping or list, holding the next level among its values.
#[derive(Clone, Debug)]
struct BlockLevel {
    seq: bool,
    /// A list: the nested collection starts on the `- ` line. A mapping:
    /// a nested list sits at the key's column.
    compact: bool,
    quoted_keys: bool,
    before: Vec<Leaf>,
    after: Vec<Leaf>,
    comments: bool,
}

/// A flow mapping or list, holding the next level among its values.
#[derive(Clone, Debug)]
struct FlowLevel {
    seq: bool,
    /// A list: the nested collection is the value of a `key: ` pair.
    pair: bool,
    before: Vec<FlowLeaf>,
    after: Vec<FlowLeaf>,
    breaks: bool,
}

/// A value of a block collection.
#[derive(Clone, Debug)]
struct Leaf {
    value: BlockValue,
    prefix: &'static str,
    comment: bool,
    /// In a mapping: written `? key` / `: value`.
    explicit: bool,
}

#[derive(Clone, Debug)]
enum BlockValue {
    Empty,
    /// First line, then continuation lines.
    Plain(String, Vec<String>),
    Single(Vec<String>),
    Double(Vec<String>),
    /// Header, then lines (`None` blank), each with extra indentation.
    Literal(&'static str, Vec<(usize, Option<String>)>),
    EmptyFlow(bool),
}

/// A value of a flow collection.
#[derive(Clone, Debug)]
enum FlowLeaf {
    Plain(String),
    Single(Vec<String>),
    Double(Vec<String>),
    EmptyFlow(bool),
    /// `key: value` (a single-pair mapping in a list).
    Pair(String),
}

fn sanitize_plain(s: &str) -> String {
    let mut s = s.to_string();
    while s.contains(": ") || s.contains(" #") {
        s = s.replace(": ", ":_").replace(" #", " _");
    }
    while s.ends_with([' ', ':']) {
        s.pop();
    }
    s
}

fn block_plain() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/.(][a-zA-Z0-9 \\[\\]{}(),'\"#!&*|>%@=.-]{0,12}".prop_map(|s| sanitize_plain(&s))
}

fn continuation() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9\\[\\]{}'\"&!|%?-][a-zA-Z0-9 \\[\\]{}(),'\"#!&*|>%@=.-]{0,12}".prop_map(|s| sanitize_plain(&s))
}

fn flow_plain() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/.(][a-zA-Z0-9 ()'\"#!&*|>%@=.-]{0,12}".prop_map(|s| sanitize_plain(&s))
}

fn quoted_lines() -> impl Strategy<Value = Vec<String>> {
    vec("[ -~]{0,12}", 1..3)
}

fn block_value() -> impl Strategy<Value = BlockValue> {
    let header = prop::sample::select(vec!["|", ">", "|-", ">+", "|2", ">2-", "|+2", "| # c [{'", "|+"]);
    let line = (0usize..3, prop::option::weighted(0.8, "[!-~][ -~]{0,16}"));
    prop_oneof![
        Just(BlockValue::Empty),
        (block_plain(), vec(continuation(), 0..3)).prop_map(|(p, c)| BlockValue::Plain(p, c)),
        quoted_lines().prop_map(BlockValue::Single),
        quoted_lines().prop_map(BlockValue::Double),
        (header, vec(line, 0..4)).prop_map(|(h, l)| BlockValue::Literal(h, l)),
        any::<bool>().prop_map(BlockValue::EmptyFlow),
    ]
}

fn leaf() -> impl Strategy<Value = Leaf> {
    (
        block_value(),
        prop::sample::select(vec!["", "", "&a ", "!!str "]),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(value, prefix, comment, explicit)| {
            // Properties go on scalars only (`!!str []` is not a string).
            let prefix = match value {
                BlockValue::Plain(..) | BlockValue::Single(_) | BlockValue::Double(_) => prefix,
                _ => "",
            };
            Leaf {
                value,
                prefix,
                comment,
                explicit,
            }
        })
}

fn flow_leaf() -> impl Strategy<Value = FlowLeaf> {
    prop_oneof![
        flow_plain().prop_map(FlowLeaf::Plain),
        quoted_lines().prop_map(FlowLeaf::Single),
        quoted_lines().prop_map(FlowLeaf::Double),
        any::<bool>().prop_map(FlowLeaf::EmptyFlow),
        flow_plain().prop_map(FlowLeaf::Pair),
    ]
}

fn block_level() -> impl Strategy<Value = BlockLevel> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        vec(leaf(), 0..3),
        vec(leaf(), 0..2),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(seq, compact, quoted_keys, before, after, comments)| BlockLevel {
            seq,
            compact,
            quoted_keys,
            before,
            after,
            comments,
        })
}

fn flow_level() -> impl Strategy<Value = FlowLevel> {
    (
        any::<bool>(),
        prop::bool::weighted(0.3),
        vec(flow_leaf(), 0..3),
        vec(flow_leaf(), 0..2),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(seq, pair, before, after, breaks)| FlowLevel {
            seq,
            pair,
            before,
            after,
            breaks,
        })
}

/// Documents of 1 to 90 levels, often around the limit.
pub(super) fn document() -> impl Strategy<Value = Doc> {
    prop_oneof![1usize..=90, 58usize..=70]
        .prop_flat_map(|depth| (Just(depth), 0..=depth))
        .prop_flat_map(|(depth, blocks)| {
            (
                vec(block_level(), blocks..=blocks),
                vec(flow_level(), depth - blocks..=depth - blocks),
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(|(block, flow, marker, comment)| Doc {
            block,
            flow,
            marker,
            comment,
        })
}

/// The document's text and its depth as the parser counts it.
pub(super) fn render(doc: &Doc) -> (String, usize) {
    let mut out = String::new();
    if doc.comment {
        out.push_str("# leading comment [{\n");
    }
    if doc.block.is_empty() {
        let (text, depth) = flow(&doc.flow, 0);
        if doc.marker {
            out.push_str("--- ");
        }
        out.push_str(&text);
        out.push('\n');
        (out, depth)
    } else {
        if doc.marker {
            out.push_str("---\n");
        }
        let depth = block(&doc.block, &doc.flow, 0, &mut out);
        (out, depth)
    }
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

fn key(level: &BlockLevel, i: usize) -> String {
    match (level.quoted_keys, i % 3) {
        (true, 1) => format!("\"k{i} [{{\""),
        (true, 2) => format!("'k{i} ''{{['"),
        _ => format!("k{i}"),
    }
}

/// `levels[0]` at indent `n`, holding the rest; its depth.
fn block(levels: &[BlockLevel], flows: &[FlowLevel], n: usize, out: &mut String) -> usize {
    let Some((level, rest)) = levels.split_first() else {
        return 0;
    };
    let p = pad(n);
    let mut depth = 1;
    let mut leaves: Vec<(usize, &Leaf)> = level.before.iter().enumerate().collect();
    let after: Vec<(usize, &Leaf)> = level.after.iter().enumerate().map(|(i, l)| (200 + i, l)).collect();
    let fallback = Leaf {
        value: BlockValue::Plain("x".into(), Vec::new()),
        prefix: "",
        comment: false,
        explicit: false,
    };
    if leaves.is_empty() && after.is_empty() && rest.is_empty() && flows.is_empty() {
        leaves.push((0, &fallback));
    }
    for (i, l) in leaves {
        depth = depth.max(1 + entry(level, i, l, n, out));
    }
    if let Some(child) = rest.first() {
        let mut text = String::new();
        let child_depth = if level.seq {
            if level.compact {
                let d = block(rest, flows, n + 2, &mut text);
                out.push_str(&format!("{p}- {}", &text[n + 2..]));
                d
            } else {
                out.push_str(&format!("{p}-\n"));
                block(rest, flows, n + 2, out)
            }
        } else {
            out.push_str(&format!("{p}{}:\n", key(level, 100)));
            let indent = if child.seq && level.compact { n } else { n + 2 };
            block(rest, flows, indent, out)
        };
        depth = depth.max(1 + child_depth);
    } else if !flows.is_empty() {
        let (text, d) = flow(flows, n);
        if level.seq {
            out.push_str(&format!("{p}- {text}\n"));
        } else {
            out.push_str(&format!("{p}{}: {text}\n", key(level, 100)));
        }
        depth = depth.max(1 + d);
    }
    if level.comments {
        out.push_str(&format!("{p}# comment [{{ '\n# at column 0 {{[\n"));
    }
    for (i, l) in after {
        depth = depth.max(1 + entry(level, i, l, n, out));
    }
    depth
}

/// One leaf entry of a block collection at indent `n`; the leaf's depth.
fn entry(level: &BlockLevel, i: usize, leaf: &Leaf, n: usize, out: &mut String) -> usize {
    let p = pad(n);
    if level.seq {
        out.push_str(&format!("{p}-"));
    } else if leaf.explicit {
        out.push_str(&format!("{p}? {}\n{p}:", key(level, i)));
    } else {
        out.push_str(&format!("{p}{}:", key(level, i)));
    }
    let inner = pad(n + 2);
    let comment = if leaf.comment { " # trailing [{ '" } else { "" };
    let prefix = leaf.prefix;
    match &leaf.value {
        BlockValue::Empty => out.push_str(&format!("{comment}\n")),
        BlockValue::Plain(first, more) => {
            out.push_str(&format!(" {prefix}{first}"));
            for line in more {
                out.push_str(&format!("\n{inner}{line}"));
            }
            out.push_str(&format!("{comment}\n"));
        }
        BlockValue::Single(lines) => {
            out.push_str(&format!(" {prefix}{}{comment}\n", single(lines, &inner)));
        }
        BlockValue::Double(lines) => {
            out.push_str(&format!(" {prefix}{}{comment}\n", double(lines, &inner)));
        }
        BlockValue::Literal(header, lines) => {
            out.push_str(&format!(" {header}\n"));
            // Without an indentation indicator, the first line sets it.
            let mut first = !header.contains('2');
            for (extra, line) in lines {
                match line {
                    None => out.push('\n'),
                    Some(text) => {
                        let extra = if first { 0 } else { *extra };
                        first = false;
                        out.push_str(&format!("{inner}{}{text}\n", pad(extra)));
                    }
                }
            }
        }
        BlockValue::EmptyFlow(seq) => {
            out.push_str(&format!(" {}{comment}\n", if *seq { "[]" } else { "{}" }));
            return 1;
        }
    }
    0
}

fn single(lines: &[String], inner: &str) -> String {
    let body: Vec<String> = lines.iter().map(|l| l.replace('\'', "''")).collect();
    format!("'{}'", body.join(&format!("\n{inner}")))
}

fn double(lines: &[String], inner: &str) -> String {
    let body: Vec<String> = lines
        .iter()
        .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
        .collect();
    format!("\"{}\"", body.join(&format!("\n{inner}")))
}

/// `levels[0]` as flow text, continued lines at indent `n + 2`; its depth.
fn flow(levels: &[FlowLevel], n: usize) -> (String, usize) {
    let Some((level, rest)) = levels.split_first() else {
        return (String::new(), 0);
    };
    let inner = pad(n + 2);
    let mut items: Vec<(String, usize)> = Vec::new();
    let leaf = |i: usize, l: &FlowLeaf| -> (String, usize) {
        let (text, depth) = match l {
            FlowLeaf::Plain(s) => (s.clone(), 0),
            FlowLeaf::Single(lines) => (single(lines, &inner), 0),
            FlowLeaf::Double(lines) => (double(lines, &inner), 0),
            FlowLeaf::EmptyFlow(seq) => ((if *seq { "[]" } else { "{}" }).to_string(), 1),
            FlowLeaf::Pair(v) if level.seq => return (format!("p{i}: {v}"), 1),
            FlowLeaf::Pair(v) => (v.clone(), 0),
        };
        if level.seq {
            (text, depth)
        } else {
            (format!("k{i}: {text}"), depth)
        }
    };
    for (i, l) in level.before.iter().enumerate() {
        items.push(leaf(i, l));
    }
    if !rest.is_empty() {
        let (text, depth) = flow(rest, n);
        items.push(match (level.seq, level.pair) {
            (true, true) => (format!("k100: {text}"), depth + 1),
            (true, false) => (text, depth),
            (false, _) => (format!("k100: {text}"), depth),
        });
    }
    for (i, l) in level.after.iter().enumerate() {
        items.push(leaf(200 + i, l));
    }
    let mut text = String::from(if level.seq { "[" } else { "{" });
    for (i, (item, _)) in items.iter().enumerate() {
        if i > 0 {
            text.push(',');
            if level.breaks {
                text.push_str(if i % 2 == 0 { " # c [{\n" } else { "\n" });
                text.push_str(&inner);
            } else {
                text.push(' ');
            }
        }
        text.push_str(item);
    }
    text.push(if level.seq { ']' } else { '}' });
    let depth = 1 + items.iter().map(|(_, d)| *d).max().unwrap_or(0);
    (text, depth)
}
