//! Tests of the nesting scanner: each kind of level, each kind of text
//! that only looks like structure, and nested structures generated at
//! random, checked against the parser's own count.

mod generate;

use proptest::prelude::*;

use super::*;
use crate::load::yaml::{NESTING_MESSAGE, parse_bounded};

const MAX: usize = MAX_NESTING;

/// Where `text` is refused, as (line, col).
fn refused(text: &str) -> Option<(usize, usize)> {
    check_depth(text).err().map(|e| (e.line, e.col))
}

/// Whether the parser (which counts exactly) agrees with `expect_ok`.
fn parser_agrees(text: &str, expect_ok: bool) {
    match parse_bounded(text) {
        Ok(_) => assert!(expect_ok, "parser accepts:\n{text}"),
        Err(e) => {
            assert!(!expect_ok, "parser refuses: {e}\n{text}");
            assert!(e.to_string().contains(NESTING_MESSAGE), "{e}\n{text}");
        }
    }
}

/// `n` levels of `open`, then `close`s.
fn nested(n: usize, open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn flow_lists_and_mappings() {
    let ok = nested(MAX, "[", "x", "]");
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deep = nested(MAX + 1, "[", "x", "]");
    assert_eq!(refused(&deep), Some((1, MAX + 1)));
    parser_agrees(&deep, false);

    let ok = nested(MAX, "{\"a\":", "1", "}");
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deep = nested(MAX + 1, "{\"a\":", "1", "}");
    assert_eq!(refused(&deep), Some((1, 5 * MAX + 1)));
    parser_agrees(&deep, false);

    // Siblings do not add up.
    let wide = format!("[{}]", vec![nested(MAX - 1, "[", "", "]"); 50].join(", "));
    assert_eq!(refused(&wide), None);
    // Unclosed: refused as soon as too deep.
    assert_eq!(refused(&"[".repeat(100_000)), Some((1, MAX + 1)));
}

#[test]
fn implicit_pairs_in_flow_lists_are_levels() {
    // [k: [k: …]]: a list and a mapping per level.
    let ok = nested(MAX / 2, "[k: ", "x", "]");
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deep = format!("[{}]", nested(MAX / 2, "[k: ", "x", "]"));
    assert!(refused(&deep).is_some());
    parser_agrees(&deep, false);
    // The key of a pair is its whole entry, whatever ends it.
    assert!(refused(&format!("{}]a: x", "[".repeat(MAX))).is_some());
    // A pair ends with its entry.
    let flat = format!("[{}]", vec!["a: b"; 100].join(", "));
    assert_eq!(refused(&flat), None);
    // An explicit key, and a flow collection as the key: the pair wraps
    // what was counted already.
    let ok = format!("[? {}]", nested(MAX - 2, "[", "x", "]"));
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let key = format!("[{}: v]", nested(MAX - 1, "[", "x", "]"));
    assert_eq!(refused(&key), Some((1, MAX)));
    parser_agrees(&key, false);
    let key = format!("[{}: v]", nested(MAX - 2, "[", "x", "]"));
    assert_eq!(refused(&key), None);
    parser_agrees(&key, true);
}

#[test]
fn compact_block_collections() {
    let ok = format!("{}x\n", "- ".repeat(MAX));
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deep = format!("{}x\n", "- ".repeat(MAX + 1));
    assert_eq!(refused(&deep), Some((1, 2 * MAX + 1)));
    parser_agrees(&deep, false);

    let ok = format!("{}x\n", "? ".repeat(MAX));
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    assert_eq!(refused(&format!("{}x\n", "? ".repeat(MAX + 1))), Some((1, 2 * MAX + 1)));

    // `- a: - x` is not YAML, but `- a:` then a nested list is: two
    // levels a line.
    let lines: String = (0..MAX / 2).map(|i| format!("{}- a:\n", "    ".repeat(i))).collect();
    let ok = format!("{lines}{}x\n", " ".repeat(2 * MAX));
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deeper = format!("{lines}{}- x\n", " ".repeat(2 * MAX));
    assert_eq!(refused(&deeper), Some((MAX / 2 + 1, 2 * MAX + 1)));
    parser_agrees(&deeper, false);
}

#[test]
fn indented_block_mappings_and_lists() {
    let maps = |n: usize| (0..n).map(|i| format!("{}a:\n", " ".repeat(i))).collect::<String>() + &" ".repeat(n) + "x\n";
    assert_eq!(refused(&maps(MAX)), None);
    parser_agrees(&maps(MAX), true);
    assert_eq!(refused(&maps(MAX + 1)), Some((MAX + 1, MAX + 1)));
    parser_agrees(&maps(MAX + 1), false);

    // Siblings after a deep branch are back at their own level.
    let text = format!("{}b: 1\nc:\n  d: [x]\n", maps(MAX));
    assert_eq!(refused(&text), None);
    parser_agrees(&text, true);

    // Lists at their key's column (indentless) are a level: four a pair
    // of lines here.
    let lines: String = (0..MAX / 4)
        .map(|i| format!("{0}- k:\n{0}  - l:\n", "    ".repeat(i)))
        .collect();
    let ok = format!("{lines}{}x\n", " ".repeat(MAX + 2));
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deeper = format!("{lines}{}- x\n", " ".repeat(MAX + 2));
    assert_eq!(refused(&deeper), Some((MAX / 2 + 1, MAX + 3)));
    parser_agrees(&deeper, false);
    let indentless = "a:\n- b:\n  - c\nd: 1\n";
    assert_eq!(refused(indentless), None);
}

#[test]
fn block_and_flow_add_up() {
    let block: String = (0..MAX / 2).map(|i| format!("{}a:\n", "  ".repeat(i))).collect();
    let ok = format!(
        "{block}{}b: {}\n",
        "  ".repeat(MAX / 2),
        nested(MAX / 2 - 1, "{c: ", "x", "}")
    );
    assert_eq!(refused(&ok), None);
    parser_agrees(&ok, true);
    let deep = format!(
        "{block}{}b: {}\n",
        "  ".repeat(MAX / 2),
        nested(MAX / 2, "{c: ", "x", "}")
    );
    assert_eq!(refused(&deep), Some((MAX / 2 + 1, MAX + 4 * (MAX / 2 - 1) + 4)));
    parser_agrees(&deep, false);
    // `a: {` lines, a flow mapping spread over lines.
    let lines: String = (0..MAX + 1).map(|_| "a: {\n").collect();
    assert_eq!(refused(&lines), Some((MAX, 4)));
}

#[test]
fn quoted_scalars_are_text() {
    let brackets = "[{".repeat(200);
    for text in [
        format!("a: \"{brackets}\"\n"),
        format!("a: '{brackets}'\n"),
        format!("a: 'it''s {brackets}'\n"),
        format!("a: \"say \\\"{brackets}\\\" \\\\\"\n"),
        format!("a: \"first line\n  {brackets}\n  - last\"\n"),
        format!("a: 'first ''\n  {brackets}'\n"),
        format!("\"x{brackets}\": x\n'y{brackets}': y\n"),
        format!("[\"{brackets}\", '{brackets}', {{\"k\": \"{brackets}\"}}]\n"),
    ] {
        assert_eq!(refused(&text), None, "{text}");
        parser_agrees(&text, true);
    }
    // What follows a closed quote is structure again.
    let text = format!("a: \"x\"\nb: '''' \nc: {}\n", nested(MAX, "[", "", "]"));
    assert_eq!(refused(&text), Some((3, 4 + MAX - 1)));
}

#[test]
fn comments_are_text() {
    let brackets = "[{".repeat(200);
    for text in [
        format!("# {brackets}\na: 1\n"),
        format!("a: 1 # {brackets}\n"),
        format!("a: [1, # {brackets}\n  2]\n"),
        format!("a: [1,# {brackets}\n  2]\n"),
        format!("- x\n    # {brackets}\n- y\n"),
        format!("a: \"q\" # {brackets}\n"),
    ] {
        assert_eq!(refused(&text), None, "{text}");
        parser_agrees(&text, true);
    }
    // A comment line closes nothing: what follows is as deep as before it.
    let mut text: String = (0..MAX).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
    text.push_str("# back at column 0\n");
    text.push_str(&format!("{}b: [x]\n", " ".repeat(MAX)));
    assert_eq!(refused(&text), Some((MAX + 2, MAX + 1)));
    parser_agrees(&text, false);
}

#[test]
fn plain_scalars_are_text() {
    let brackets = "[{".repeat(200);
    for text in [
        format!("command: echo {brackets} }}]\n"),
        "command: echo [a] {b}\n".to_string(),
        format!("- it's {brackets}\n"),
        format!("a: b#{brackets}\n"),
        format!("a: x:{brackets}\n"),
        format!("- -x {brackets}\n"),
        // Continuation lines, more indented than the key.
        format!("command: echo a\n  {brackets}\n  - b\n  'c\n"),
        format!("- first\n  {brackets}\n- second\n"),
        // In a flow collection, quotes inside a plain scalar are text.
        format!("[it's, a\"b, c'd, {}]\n", nested(MAX - 1, "[", "", "]")),
        format!("[a\n'b, {}]\n", nested(MAX - 1, "[", "", "]")),
    ] {
        assert_eq!(refused(&text), None, "{text}");
        parser_agrees(&text, true);
    }
    // Not a continuation: at the key's column, inside the mapping.
    let text = format!("a: b\n{}\n", nested(MAX + 1, "[", "", "]"));
    assert_eq!(refused(&text), Some((2, MAX)));
}

#[test]
fn block_scalars_are_text() {
    let lines = format!(
        "  {}\n  - - - - - x\n  a: {{\n  \"unclosed\n  # not a comment\n\n  ---x\n",
        "[{".repeat(200)
    );
    for header in [
        "|",
        ">",
        "|-",
        ">+",
        "|2",
        "|2-",
        "|+2",
        ">2 # comment",
        "| # {[",
        "!!str |",
    ] {
        for (prefix, indent) in [
            ("a: ", ""),
            ("- ", ""),
            ("a:\n  b: ", "  "),
            ("- a: ", "  "),
            ("--- ", ""),
        ] {
            let body: String = lines
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        "\n".to_string()
                    } else {
                        format!("{indent}{l}\n")
                    }
                })
                .collect();
            let text = format!("{prefix}{header}\n{body}");
            assert_eq!(refused(&text), None, "{text}");
            parser_agrees(&text, true);
        }
    }
    // The scalar ends at a line indented less than its content.
    let text = format!("a: |\n  text\nb: {}\n", nested(MAX, "[", "", "]"));
    assert_eq!(refused(&text), Some((3, 4 + MAX - 1)));
    // Its indentation is its first line's, or its widest leading blank
    // line's (as libyaml reads it).
    let text = format!("a: |\n      \n  {}\n", nested(MAX + 1, "[", "", "]"));
    assert!(refused(&text).is_some());
    // With an indentation indicator, relative to the enclosing collection.
    let text = format!("- a: |1\n   {}\n", nested(MAX + 1, "[", "", "]"));
    assert_eq!(refused(&text), None);
    parser_agrees(&text, true);
}

#[test]
fn libyaml_line_breaks_and_bom() {
    let deep = nested(MAX + 1, "[", "", "]");
    for brk in ["\r", "\u{85}", "\u{2028}", "\u{2029}"] {
        let text = format!("# comment{brk}{deep}\n");
        assert!(refused(&text).is_some(), "{text:?}");
        parser_agrees(&text, false);
    }
    // A BOM at column 0 is skipped by libyaml: what follows is structure.
    let text = format!("# c\n\u{feff}{deep}\n");
    assert_eq!(refused(&text), Some((2, MAX + 2)));
    let text = format!("a: 1\r\nb:\r\n  c: {}\r\n", nested(MAX - 2, "[", "", "]"));
    assert_eq!(refused(&text), None);
    parser_agrees(&text, true);
}

#[test]
fn documents_are_counted_apart() {
    let half = nested(MAX - 1, "[", "", "]");
    let text = format!("{half}\n---\n{half}\n--- {half}\n...\n{half}\n");
    assert_eq!(refused(&text), None);
    let text = format!("a: \"unclosed\n--- {}\n", nested(MAX + 1, "[", "", "]"));
    assert_eq!(refused(&text), Some((2, MAX + 5)));
}

#[test]
fn columns_are_characters() {
    let text = format!("é: \"日本\"\nb: [ü, {}]\n", nested(MAX, "[", "", "]"));
    // The mapping and the outer list, then the 63rd nested list.
    assert_eq!(refused(&text), Some((2, 8 + MAX - 2)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Nested structures of every style: at most MAX_NESTING deep is never
    /// refused, deeper always is, and the parser agrees.
    #[test]
    fn depth_is_exact_on_generated_yaml(doc in generate::document()) {
        let (text, depth) = generate::render(&doc);
        let scanned = check_depth(&text);
        prop_assert_eq!(scanned.is_ok(), depth <= MAX, "depth {}: {:?}\n{}", depth, scanned, text);
        if let Err(at) = scanned {
            prop_assert!(at.line >= 1 && at.line <= text.lines().count() && at.col >= 1, "{:?}", at);
        }
        match parse_bounded(&text) {
            Ok(_) => prop_assert!(depth <= MAX, "parser accepts depth {}\n{}", depth, text),
            Err(e) => {
                prop_assert!(depth > MAX, "parser refuses depth {}: {}\n{}", depth, e, text);
                prop_assert!(e.to_string().contains(NESTING_MESSAGE), "{}\n{}", e, text);
            }
        }
    }
}

/// Text made of YAML's indicators and look-alikes, after `prefix` levels
/// of nesting: mostly not YAML at all.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "[", "]", "{", "}", ", ", ",", ": ", ":", "- ", "-", "? ", "'", "''", "\"", "\\\"", "\\", "# ", "#", "\n",
        "\n  ", "\n    ", " ", "\t", "|", "|2", ">-", "a", "b c", "x:", "\r\n", "\r", "\u{2028}", "\u{85}", "---\n",
        "...\n", "\n---", "%", "&a ", "\u{feff}", "é", "k: ", "- k: ", "? [", "[k: ", "\n- ", "\n  - ", "  - ", "k:\n",
        "|\n", "  x\n", "- |\n", "]: ", "}: ", "\"k\": ", "'k': ", "x #", "a\n b", "\n ", "k2:", ">\n  ", "\n:",
        "\n? ",
    ]);
    let prefix = prop::sample::select(vec!["[", "{a: ", "- ", "[k: ", "? "]);
    (
        prefix,
        0usize..70,
        any::<bool>(),
        proptest::collection::vec(token, 0..150),
    )
        .prop_map(|(p, n, indented, tokens)| {
            let prefix = if indented {
                (0..n).map(|i| format!("{}a:\n", " ".repeat(i))).collect()
            } else {
                p.repeat(n)
            };
            format!("{prefix}{}", tokens.concat())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// On arbitrary text without tags or aliases (levels only the parser
    /// counts), the parser, which counts exactly, never finds nesting
    /// deeper than the limit where the scanner found none, and never
    /// accepts what the scanner refused.
    #[test]
    fn random_text_agrees_with_the_parser(text in yamlish()) {
        let scanned = check_depth(&text);
        let parsed = parse_bounded(&text);
        if scanned.is_ok()
            && let Err(e) = &parsed
        {
            prop_assert!(!e.to_string().contains(NESTING_MESSAGE), "under-count: {}\n{:?}", e, text);
        }
        if parsed.is_ok() {
            prop_assert!(scanned.is_ok(), "valid refused: {:?}\n{:?}", scanned, text);
        }
    }
}
