//! Bounding nesting before a document reaches the YAML parser.
//!
//! libyaml (under serde_yaml) can spend time quadratic in the depth of
//! flow collections, and serde_yaml turns a whole document into events
//! before [`parse_bounded`](super::yaml::parse_bounded) sees the first one:
//! 1 MiB of nested `{"a":` took six minutes to refuse. [`check_depth`]
//! reads a document's text once, in linear time, following libyaml's rules
//! for what is structure and what is text, and stops where nesting first
//! goes deeper than [`MAX_NESTING`].
//!
//! Counted as a level, as the parser counts them: a flow `[` or `{`; the
//! implicit single-pair mapping of a flow list entry (`[a: b]`); a block
//! list (at the column of its `-`); a block mapping (at the column of its
//! first key, `?` or `:`), compact forms included (`- - x`, `- a: 1`,
//! `? - x`). Skipped as text: quoted scalars (`''` and `\"` escapes, over
//! several lines), comments (`#` where a token may start), plain scalars
//! and their continuation lines (`command: echo [a] {b}`, `it's`), and
//! block scalars (`|`, `>`, with indentation and chomping indicators),
//! whose lines may hold anything. Line breaks are libyaml's: `\n`, `\r`,
//! U+0085, U+2028 and U+2029.
//!
//! Where the count differs from the parser's:
//! - Tags (`!t [..]`) and aliases (`*a` repeating a nested anchor) are
//!   levels for [`parse_bounded`] but not here: it still refuses them, and
//!   they cost the parser nothing.
//! - After something libyaml refuses (a tab as indentation, a stray `]`,
//!   `a: b: c`, an unclosed quote…) the scanner reads on where the parser
//!   stops. In such invalid documents only, it may count levels the parser
//!   would never reach, and report nesting instead of the syntax error.
//!
//! Valid documents nested at most [`MAX_NESTING`] deep are never refused.

use super::yaml::MAX_NESTING;

/// Where a document first nests deeper than [`MAX_NESTING`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TooDeep {
    /// 1-based line in the document (counting `\n`).
    pub(super) line: usize,
    /// 1-based column, in characters.
    pub(super) col: usize,
}

/// Checks the nesting of `text`, one YAML document (or several, separated
/// by `---`, each checked on its own).
pub(super) fn check_depth(text: &str) -> Result<(), TooDeep> {
    let mut scanner = Scanner {
        s: text.as_bytes(),
        i: 0,
        col_base: 0,
        block: Vec::new(),
        flow: Vec::new(),
        mode: Mode::Tokens,
        plain: false,
        node_start: true,
        key: None,
        key_deepest: None,
    };
    scanner.run().map_err(|at| position(text, at))
}

/// 1-based line and column of byte offset `at`.
fn position(text: &str, at: usize) -> TooDeep {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = 1 + text.get(line_start..at).map_or(at - line_start, |s| s.chars().count());
    TooDeep { line, col }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Length of the line break at `i`, 0 if none.
fn break_len(s: &[u8], i: usize) -> usize {
    match s.get(i..).unwrap_or_default() {
        [b'\r', b'\n', ..] => 2,
        [b'\r' | b'\n', ..] => 1,
        [0xC2, 0x85, ..] => 2,
        [0xE2, 0x80, 0xA8 | 0xA9, ..] => 3,
        _ => 0,
    }
}

/// Whether `i` is a space, a tab, a line break or the end.
fn blankz(s: &[u8], i: usize) -> bool {
    i >= s.len() || matches!(s[i], b' ' | b'\t') || break_len(s, i) > 0
}

/// Whether the line has nothing but blanks from `i` on.
fn rest_blank(s: &[u8], mut i: usize) -> bool {
    while i < s.len() && matches!(s[i], b' ' | b'\t') {
        i += 1;
    }
    i >= s.len() || break_len(s, i) > 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    Seq,
    Map,
}

/// An open block collection, at the column of its indicator or first key.
#[derive(Clone, Copy, Debug)]
struct Block {
    col: usize,
    kind: BlockKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlowKind {
    Seq,
    Map,
    /// The implicit mapping of one `key: value` entry of a flow list.
    Pair,
}

/// The deepest level reached, and where.
#[derive(Clone, Copy, Debug)]
struct Peak {
    depth: usize,
    at: usize,
}

impl Peak {
    fn max(self, other: Peak) -> Peak {
        if other.depth > self.depth { other } else { self }
    }
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    kind: FlowKind,
    /// Deepest level reached inside, should the collection become a key.
    deepest: Peak,
    /// For a list: where its current entry starts, should it become a
    /// pair, and the deepest level reached inside it so far.
    entry: Option<usize>,
    entry_deepest: Option<Peak>,
}

/// What the next line continues.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Tokens,
    Single,
    Double,
    /// A block scalar: its content indentation (0 until its first line
    /// sets it), the column of its parent collection, and the widest
    /// leading blank line so far (libyaml takes the widest).
    Scalar {
        indent: usize,
        parent: Option<usize>,
        widest: usize,
    },
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
    /// Offset from which columns of the current line are counted (a BOM
    /// at column 0 counts as one column, as in libyaml).
    col_base: usize,
    block: Vec<Block>,
    flow: Vec<Flow>,
    mode: Mode,
    /// Inside a plain scalar, which may go on over the next lines.
    plain: bool,
    /// In block context: a simple key may start here (line start, after
    /// `- `, `? ` or a `: ` that starts a node).
    node_start: bool,
    /// Column and offset of the node that becomes a key if `: ` follows
    /// on this line.
    key: Option<(usize, usize)>,
    /// The deepest level reached by flow collections inside that key.
    key_deepest: Option<Peak>,
}

type Scan = Result<(), usize>;

impl Scanner<'_> {
    fn run(&mut self) -> Scan {
        while self.i < self.s.len() {
            self.line()?;
        }
        Ok(())
    }

    fn depth(&self) -> usize {
        self.block.len() + self.flow.len()
    }

    /// One line, from its first byte to after its break.
    fn line(&mut self) -> Scan {
        let start = self.i;
        self.col_base = start;
        // Keys and flow keys are single-line.
        self.key = None;
        self.key_deepest = None;
        let s = self.s;
        if (s[start..].starts_with(b"---") || s[start..].starts_with(b"...")) && blankz(s, start + 3) {
            // A document marker ends everything, even a quoted scalar
            // (which libyaml refuses there).
            self.block.clear();
            self.flow.clear();
            self.mode = Mode::Tokens;
            self.plain = false;
            self.node_start = false;
            self.i = start + 3;
            return self.tokens();
        }
        match self.mode {
            Mode::Scalar { .. } => {
                if self.scalar_line() {
                    return Ok(());
                }
            }
            Mode::Single | Mode::Double => return self.tokens(),
            Mode::Tokens => {}
        }
        let mut first = start;
        while first < s.len() && matches!(s[first], b' ' | b'\t') {
            first += 1;
        }
        if first >= s.len() || break_len(s, first) > 0 {
            // Blank: changes nothing, not even a plain scalar.
            self.i = first;
            return self.tokens();
        }
        if s[first] == b'#' {
            // A comment ends a plain scalar, and closes no collection.
            self.plain = false;
            self.skip_line();
            return Ok(());
        }
        if self.plain {
            let continues = if self.flow.is_empty() {
                // libyaml: more indented than the enclosing collection.
                self.block.last().is_none_or(|b| first - start > b.col)
            } else {
                true
            };
            if continues {
                self.i = first;
                self.node_start = false;
                return self.tokens();
            }
            self.plain = false;
        }
        if s[start..].starts_with(BOM) {
            self.col_base = start + 2;
            first = start + BOM.len();
            while first < s.len() && matches!(s[first], b' ' | b'\t') {
                first += 1;
            }
            if rest_blank(s, first) || s[first] == b'#' {
                self.skip_line();
                return Ok(());
            }
        }
        self.i = first;
        if !self.flow.is_empty() {
            return self.tokens();
        }
        if first == start && s[first] == b'%' {
            // A directive.
            self.skip_line();
            return Ok(());
        }
        let col = first - self.col_base;
        while self.block.last().is_some_and(|b| b.col > col) {
            self.block.pop();
        }
        let entry = s[first] == b'-' && blankz(s, first + 1);
        if !entry
            && self
                .block
                .last()
                .is_some_and(|b| b.col == col && b.kind == BlockKind::Seq)
        {
            self.block.pop();
        }
        self.node_start = true;
        self.tokens()
    }

    /// A line while in a block scalar: whether it belongs to it (and was
    /// skipped); if not, the scalar has ended before it.
    fn scalar_line(&mut self) -> bool {
        let Mode::Scalar { indent, parent, widest } = self.mode else {
            return false;
        };
        let s = self.s;
        let start = self.i;
        let mut at = start;
        while at < s.len() && s[at] == b' ' {
            at += 1;
        }
        let spaces = at - start;
        let empty = at >= s.len() || break_len(s, at) > 0;
        let inside = if indent == 0 {
            if empty {
                self.mode = Mode::Scalar {
                    indent,
                    parent,
                    widest: widest.max(spaces),
                };
                true
            } else {
                let indent = widest.max(spaces).max(parent.map_or(1, |p| p + 1)).max(1);
                self.mode = Mode::Scalar { indent, parent, widest };
                spaces >= indent && s[at] != b'\t'
            }
        } else {
            spaces >= indent || empty
        };
        if inside {
            self.skip_line();
        } else {
            self.mode = Mode::Tokens;
        }
        inside
    }

    /// Moves past the end of the line and its break.
    fn skip_line(&mut self) {
        let s = self.s;
        while self.i < s.len() {
            let n = break_len(s, self.i);
            if n > 0 {
                self.i += n;
                return;
            }
            self.i += 1;
        }
    }

    /// The tokens of the rest of the line, and its break.
    fn tokens(&mut self) -> Scan {
        let s = self.s;
        loop {
            let ended = match self.mode {
                Mode::Single => self.single(),
                Mode::Double => self.double(),
                Mode::Scalar { .. } => return Ok(()),
                Mode::Tokens if self.plain => self.plain(),
                Mode::Tokens => true,
            };
            if !ended {
                return Ok(());
            }
            while self.i < s.len() && matches!(s[self.i], b' ' | b'\t') {
                self.i += 1;
            }
            if self.i >= s.len() {
                return Ok(());
            }
            let n = break_len(s, self.i);
            if n > 0 {
                self.i += n;
                return Ok(());
            }
            if s[self.i] == b'#' {
                while self.i < s.len() && break_len(s, self.i) == 0 {
                    self.i += 1;
                }
                continue;
            }
            if self.flow.is_empty() {
                self.block_token()?;
            } else {
                self.flow_token()?;
            }
        }
    }

    /// A token in block context, at `self.i`.
    fn block_token(&mut self) -> Scan {
        let s = self.s;
        let at = self.i;
        let col = at - self.col_base;
        let indicator = blankz(s, at + 1);
        match s[at] {
            b'-' if indicator => {
                self.ensure_block(BlockKind::Seq, col, at)?;
                self.node_start = true;
                self.i += 1;
            }
            b'?' if indicator => {
                self.ensure_block(BlockKind::Map, col, at)?;
                self.node_start = true;
                self.i += 1;
            }
            b':' if indicator => {
                if self.node_start {
                    // The value of an explicit key; it may be a compact
                    // collection.
                    self.ensure_block(BlockKind::Map, col, at)?;
                } else if let Some((key_col, key_at)) = self.key.take() {
                    self.key_map(key_col, key_at)?;
                }
                self.i += 1;
            }
            b'[' | b'{' => {
                self.candidate(col, at);
                let kind = if s[at] == b'[' { FlowKind::Seq } else { FlowKind::Map };
                self.open_flow(kind, at)?;
                self.i += 1;
            }
            b']' | b'}' | b',' => {
                // Refused by libyaml here.
                self.node_start = false;
                self.i += 1;
            }
            b'|' | b'>' => self.scalar_header(),
            b'\'' => {
                self.candidate(col, at);
                self.mode = Mode::Single;
                self.i += 1;
            }
            b'"' => {
                self.candidate(col, at);
                self.mode = Mode::Double;
                self.i += 1;
            }
            b'&' | b'*' => {
                self.candidate(col, at);
                self.i += 1;
                self.anchor();
            }
            b'!' => {
                self.candidate(col, at);
                self.i += 1;
                self.tag();
            }
            _ => {
                self.candidate(col, at);
                // Its first character, whatever it is, is the scalar's.
                self.i += 1;
                self.plain = true;
            }
        }
        Ok(())
    }

    /// A token in flow context, at `self.i`.
    fn flow_token(&mut self) -> Scan {
        let s = self.s;
        let at = self.i;
        self.i += 1;
        match s[at] {
            b'[' | b'{' => {
                self.entry(at);
                let kind = if s[at] == b'[' { FlowKind::Seq } else { FlowKind::Map };
                self.open_flow(kind, at)?;
            }
            b']' | b'}' => self.close_flow(),
            b',' => {
                self.end_pair();
                if let Some(f) = self.flow.last_mut() {
                    f.entry = None;
                    f.entry_deepest = None;
                }
            }
            // In flow context `?` and `:` are always indicators.
            b'?' => {
                self.entry(at);
                self.open_pair(at)?;
            }
            b':' => self.open_pair(at)?,
            b'-' if blankz(s, at + 1) => {}
            b'\'' => {
                self.entry(at);
                self.mode = Mode::Single;
            }
            b'"' => {
                self.entry(at);
                self.mode = Mode::Double;
            }
            b'&' | b'*' => {
                self.entry(at);
                self.anchor();
            }
            b'!' => {
                self.entry(at);
                self.tag();
            }
            _ => {
                self.entry(at);
                self.plain = true;
            }
        }
        Ok(())
    }

    /// A node starts at `at`: where a simple key may start, it is the key
    /// should `: ` follow.
    fn candidate(&mut self, col: usize, at: usize) {
        if self.node_start {
            self.key = Some((col, at));
            self.key_deepest = None;
            self.node_start = false;
        }
    }

    /// A node starts at `at` in a flow collection.
    fn entry(&mut self, at: usize) {
        if let Some(f) = self.flow.last_mut()
            && f.kind == FlowKind::Seq
            && f.entry.is_none()
        {
            f.entry = Some(at);
        }
    }

    fn ensure_block(&mut self, kind: BlockKind, col: usize, at: usize) -> Scan {
        match self.block.last() {
            Some(b) if b.col == col && b.kind == kind => Ok(()),
            _ => self.push_block(kind, col, at),
        }
    }

    fn push_block(&mut self, kind: BlockKind, col: usize, at: usize) -> Scan {
        if self.depth() >= MAX_NESTING {
            return Err(at);
        }
        self.block.push(Block { col, kind });
        Ok(())
    }

    /// `: ` after the key at `key_col`: a new block mapping unless it
    /// continues one. Flow collections in the key are one level deeper
    /// than counted.
    fn key_map(&mut self, key_col: usize, key_at: usize) -> Scan {
        if self
            .block
            .last()
            .is_some_and(|b| b.col == key_col && b.kind == BlockKind::Map)
        {
            return Ok(());
        }
        self.push_block(BlockKind::Map, key_col, key_at)?;
        match self.key_deepest.take() {
            Some(p) if p.depth >= MAX_NESTING => Err(p.at),
            _ => Ok(()),
        }
    }

    fn open_flow(&mut self, kind: FlowKind, at: usize) -> Scan {
        if self.depth() >= MAX_NESTING {
            return Err(at);
        }
        self.flow.push(Flow {
            kind,
            deepest: Peak {
                depth: self.depth() + 1,
                at,
            },
            entry: None,
            entry_deepest: None,
        });
        self.node_start = false;
        Ok(())
    }

    fn pop_flow(&mut self) -> Option<Flow> {
        let f = self.flow.pop()?;
        match self.flow.last_mut() {
            Some(parent) => {
                parent.deepest = parent.deepest.max(f.deepest);
                if parent.kind == FlowKind::Seq {
                    parent.entry_deepest = Some(parent.entry_deepest.map_or(f.deepest, |d| d.max(f.deepest)));
                }
            }
            None => self.key_deepest = Some(self.key_deepest.map_or(f.deepest, |d| d.max(f.deepest))),
        }
        Some(f)
    }

    /// An implicit pair ends with its list entry.
    fn end_pair(&mut self) {
        if self.flow.last().is_some_and(|f| f.kind == FlowKind::Pair) {
            self.pop_flow();
        }
    }

    fn close_flow(&mut self) {
        self.end_pair();
        self.pop_flow();
    }

    /// `?` or `:` in a flow list entry makes it a single-pair mapping,
    /// from the entry's start; flow collections in its key are one level
    /// deeper than counted.
    fn open_pair(&mut self, at: usize) -> Scan {
        let Some(&Flow {
            kind: FlowKind::Seq,
            entry,
            entry_deepest,
            ..
        }) = self.flow.last()
        else {
            return Ok(());
        };
        let at = entry.unwrap_or(at);
        if self.depth() >= MAX_NESTING {
            return Err(at);
        }
        let mut deepest = Peak {
            depth: self.depth() + 1,
            at,
        };
        if let Some(p) = entry_deepest {
            if p.depth >= MAX_NESTING {
                return Err(p.at);
            }
            deepest = deepest.max(Peak {
                depth: p.depth + 1,
                at: p.at,
            });
        }
        self.flow.push(Flow {
            kind: FlowKind::Pair,
            deepest,
            entry: None,
            entry_deepest: None,
        });
        Ok(())
    }

    /// Block scalar header (`|`, `>`, indicators, comment), to the end of
    /// its line.
    fn scalar_header(&mut self) {
        let s = self.s;
        self.i += 1;
        let mut increment = 0;
        for _ in 0..2 {
            match s.get(self.i) {
                Some(b'+' | b'-') => self.i += 1,
                Some(&d @ b'1'..=b'9') => {
                    increment = usize::from(d - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        self.skip_line();
        let parent = self.block.last().map(|b| b.col);
        let indent = match (increment, parent) {
            (0, _) => 0,
            (m, Some(p)) => p + m,
            (m, None) => m,
        };
        self.mode = Mode::Scalar {
            indent,
            parent,
            widest: 0,
        };
        self.node_start = false;
    }

    /// The name of an `&anchor` or `*alias`, after its indicator.
    fn anchor(&mut self) {
        let s = self.s;
        while self.i < s.len() && (s[self.i].is_ascii_alphanumeric() || matches!(s[self.i], b'_' | b'-')) {
            self.i += 1;
        }
    }

    /// The rest of a `!tag`, `!!tag`, `!h!tag` or `!<verbatim>` after its
    /// first `!`, with libyaml's URI characters.
    fn tag(&mut self) {
        let s = self.s;
        let uri = |b: u8| b.is_ascii_alphanumeric() || b";/?:@&=+$.%!~*'()_-".contains(&b);
        if s.get(self.i) == Some(&b'<') {
            self.i += 1;
            while self.i < s.len() && (uri(s[self.i]) || b",[]".contains(&s[self.i])) {
                self.i += 1;
            }
            if s.get(self.i) == Some(&b'>') {
                self.i += 1;
            }
        } else {
            while self.i < s.len() && uri(s[self.i]) {
                self.i += 1;
            }
        }
    }

    /// Inside a plain scalar: whether it ended on this line (at a token);
    /// if not, the line's break has been read.
    fn plain(&mut self) -> bool {
        let s = self.s;
        let flow = !self.flow.is_empty();
        while self.i < s.len() {
            let b = s[self.i];
            let n = break_len(s, self.i);
            if n > 0 {
                self.i += n;
                return false;
            }
            if b == b' ' || b == b'\t' {
                while self.i < s.len() && matches!(s[self.i], b' ' | b'\t') {
                    self.i += 1;
                }
                if s.get(self.i) == Some(&b'#') {
                    self.plain = false;
                    return true;
                }
                continue;
            }
            let ends = match b {
                b':' => blankz(s, self.i + 1) || (flow && s.get(self.i + 1).is_some_and(|c| b",?[]{}".contains(c))),
                b',' | b'[' | b']' | b'{' | b'}' => flow,
                _ => false,
            };
            if ends {
                self.plain = false;
                return true;
            }
            self.i += 1;
        }
        false
    }

    /// Inside a single-quoted scalar: whether it closed on this line.
    fn single(&mut self) -> bool {
        let s = self.s;
        while self.i < s.len() {
            let n = break_len(s, self.i);
            if n > 0 {
                self.i += n;
                return false;
            }
            if s[self.i] == b'\'' {
                if s.get(self.i + 1) == Some(&b'\'') {
                    self.i += 2;
                    continue;
                }
                self.i += 1;
                self.mode = Mode::Tokens;
                return true;
            }
            self.i += 1;
        }
        false
    }

    /// Inside a double-quoted scalar: whether it closed on this line.
    fn double(&mut self) -> bool {
        let s = self.s;
        while self.i < s.len() {
            let n = break_len(s, self.i);
            if n > 0 {
                self.i += n;
                return false;
            }
            match s[self.i] {
                b'"' => {
                    self.i += 1;
                    self.mode = Mode::Tokens;
                    return true;
                }
                // An escaped break is a break all the same.
                b'\\' if break_len(s, self.i + 1) == 0 => self.i += 2,
                _ => self.i += 1,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests;
