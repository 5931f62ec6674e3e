//! The printer's state and its layout primitives: writing text and lines, indentation, blank
//! lines, handing back comments at line boundaries, and where elements end in the source.

use super::*;

pub(super) struct Printer<'s> {
    pub(super) source: Option<&'s str>,
    pub(super) comments: Vec<Comment>,
    pub(super) used: Vec<bool>,
    /// Comment end → start, to find where an element really ends (pest spans can run on over
    /// the whitespace and comments that follow).
    pub(super) comment_at_end: HashMap<u32, u32>,
    /// Only comments starting in this range may be printed now (see [`Printer::windows`]).
    pub(super) window: (u32, u32),
    pub(super) out: String,
    pub(super) line: String,
    pub(super) indent: usize,
    /// The last line opened a block: no blank line may follow it.
    pub(super) block_start: bool,
    pub(super) last_blank: bool,
}

/// A part of a flow, in the order the layout prints them.
pub(super) enum FlowPart<'a> {
    Trigger(&'a Trigger),
    Input(&'a InputDecl),
    Stmt(&'a Stmt),
    Output(&'a Output),
    OnError(&'a Block),
}

/// A line of an entity.
pub(super) enum EntityPart<'a> {
    Databases(&'a [Ident]),
    Grant(&'a Grant),
    Setting(&'a Setting),
}

impl<'s> Printer<'s> {
    pub(super) fn new(source: Option<&'s str>, comments: Vec<Comment>) -> Printer<'s> {
        let comment_at_end = comments.iter().map(|c| (c.end, c.start)).collect();
        Printer {
            source,
            used: vec![false; comments.len()],
            comments,
            comment_at_end,
            window: (0, u32::MAX),
            out: String::new(),
            line: String::new(),
            indent: 0,
            block_start: true,
            last_blank: false,
        }
    }

    pub(super) fn finish(mut self) -> String {
        self.window = (0, u32::MAX);
        self.leading(u32::MAX);
        if !self.line.is_empty() {
            self.finish_line();
        }
        self.out
    }

    // -----------------------------------------------------------------------------------------
    // Lines

    pub(super) fn w(&mut self, text: &str) {
        if self.line.is_empty() {
            self.line.push_str(&pad(self.indent));
        }
        self.line.push_str(text);
    }

    pub(super) fn col(&self) -> usize {
        if self.line.is_empty() {
            self.indent * 2
        } else {
            self.line.chars().count()
        }
    }

    pub(super) fn fits(&self, text: &str) -> bool {
        self.col() + text.chars().count() <= WIDTH
    }

    pub(super) fn finish_line(&mut self) {
        self.out.push_str(self.line.trim_end());
        self.out.push('\n');
        self.line.clear();
        self.block_start = false;
        self.last_blank = false;
    }

    /// Ends the line of an element that ends at `pos`, with the comments written inside it or
    /// after it on the same source line.
    pub(super) fn newline(&mut self, pos: u32) {
        let limit = self.trail_end(pos);
        let mut after_line_comment = false;
        for i in 0..self.comments.len() {
            if self.used[i] || !self.in_window(i) || self.comments[i].start >= limit {
                continue;
            }
            if after_line_comment {
                // Nothing may follow a `//` comment on its line: the rest wait for the next
                // element, above which they go on lines of their own at its indent.
                break;
            }
            self.used[i] = true;
            let text = self.comments[i].text.clone();
            if self.line.trim().is_empty() {
                self.w(&text);
            } else {
                self.line.push(' ');
                self.line.push_str(&text);
            }
            after_line_comment = self.comments[i].is_line();
        }
        self.finish_line();
    }

    /// Ends the line that opens a block (after `{`, `(` or `[` at `pos`).
    pub(super) fn open(&mut self, pos: u32) {
        self.newline(pos);
        self.block_start = true;
    }

    pub(super) fn blank(&mut self) {
        if !self.out.is_empty() && !self.last_blank && !self.block_start {
            self.out.push('\n');
            self.last_blank = true;
        }
    }

    /// Keeps one blank line before `pos` if the source has any.
    pub(super) fn keep_blank(&mut self, pos: u32) {
        if self.blank_before(pos) {
            self.blank();
        }
    }

    pub(super) fn in_window(&self, i: usize) -> bool {
        let start = self.comments[i].start;
        start >= self.window.0 && start < self.window.1
    }

    /// The comments before `pos`, each on its own line.
    pub(super) fn leading(&mut self, pos: u32) {
        for i in 0..self.comments.len() {
            if self.used[i] || !self.in_window(i) || self.comments[i].start >= pos {
                continue;
            }
            self.used[i] = true;
            let start = self.comments[i].start;
            if !self.line.trim().is_empty() {
                self.finish_line();
            }
            self.keep_blank(start);
            let text = self.comments[i].text.clone();
            self.w(&text);
            self.finish_line();
        }
    }

    /// Starts the line of an element at `pos`: its leading comments, and a blank line above if
    /// the source has one.
    pub(super) fn element(&mut self, pos: u32) {
        self.leading(pos);
        self.keep_blank(pos);
    }

    /// Flushes what is left inside a construct before its closing bracket at `pos`.
    pub(super) fn close(&mut self, pos: u32) {
        self.leading(pos);
    }

    // -----------------------------------------------------------------------------------------
    // Positions in the source (all neutral when printing a tree without source)

    /// Where an element really ends: its span without the whitespace and comments it ran over.
    pub(super) fn end(&self, span: Span) -> u32 {
        let Some(src) = self.source else {
            return span.end;
        };
        let bytes = src.as_bytes();
        let mut pos = (span.end as usize).min(bytes.len());
        loop {
            while pos > span.start as usize && bytes[pos - 1].is_ascii_whitespace() {
                pos -= 1;
            }
            match self.comment_at_end.get(&(pos as u32)) {
                Some(&start) if start >= span.start && (start as usize) < pos => pos = start as usize,
                _ => break,
            }
        }
        pos as u32
    }

    /// The end of the comments that follow `pos` on its line (past `,` and `;`).
    pub(super) fn trail_end(&self, pos: u32) -> u32 {
        let Some(src) = self.source else {
            return pos;
        };
        let bytes = src.as_bytes();
        let mut at = pos as usize;
        let mut reached = pos;
        loop {
            while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b',' | b';') {
                at += 1;
            }
            match self.comments.binary_search_by_key(&(at as u32), |c| c.start) {
                Ok(i) => {
                    reached = self.comments[i].end;
                    if self.comments[i].is_line() {
                        return reached;
                    }
                    at = reached as usize;
                }
                Err(_) => return reached,
            }
        }
    }

    /// Whether the source line before the one `pos` starts on is blank.
    pub(super) fn blank_before(&self, pos: u32) -> bool {
        let Some(src) = self.source else {
            return false;
        };
        let bytes = src.as_bytes();
        let mut at = (pos as usize).min(bytes.len());
        while at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
            at -= 1;
        }
        if at == 0 || bytes[at - 1] != b'\n' {
            return false;
        }
        at -= 1;
        while at > 0 && matches!(bytes[at - 1], b' ' | b'\t') {
            at -= 1;
        }
        at > 0 && bytes[at - 1] == b'\n'
    }

    /// Just past the first `ch` at or after `pos` outside comments (an opening bracket).
    pub(super) fn after(&self, pos: u32, ch: u8) -> u32 {
        let Some(src) = self.source else {
            return pos;
        };
        let bytes = src.as_bytes();
        let mut at = pos as usize;
        while at < bytes.len() {
            if let Ok(i) = self.comments.binary_search_by_key(&(at as u32), |c| c.start) {
                at = self.comments[i].end as usize;
                continue;
            }
            if bytes[at] == ch {
                return at as u32 + 1;
            }
            at += 1;
        }
        pos
    }

    /// The start of the last `word` before `pos` (a keyword the tree has no span for).
    pub(super) fn keyword_before(&self, pos: u32, word: &str) -> u32 {
        let Some(src) = self.source else {
            return pos;
        };
        if src.get(pos as usize..).is_some_and(|rest| rest.starts_with(word)) {
            return pos;
        }
        src.get(..pos as usize)
            .and_then(|before| before.rfind(word))
            .map_or(pos, |i| i as u32)
    }

    pub(super) fn has_comment_in(&self, span: Span) -> bool {
        let from = self.comments.partition_point(|c| c.start < span.start);
        self.comments.get(from).is_some_and(|c| c.start < span.end)
    }

    /// A duration as the source writes it (`24h` stays `24h`), or in canonical units.
    pub(super) fn duration(&self, ms: i64, span: Span) -> String {
        self.source
            .and_then(|src| src.get(span.range()))
            .filter(|text| !text.contains(char::is_whitespace) && parse_duration(text) == Some(ms))
            .map_or_else(|| format_duration(ms), str::to_string)
    }

    /// Whether the source writes the string at `span` with triple quotes.
    pub(super) fn written_raw(&self, span: Span) -> Option<bool> {
        self.source.map(|src| {
            src.get(span.start as usize..)
                .is_some_and(|s| s.starts_with("\"\"\""))
        })
    }

    /// For parts printed out of source order: each part may print only the comments of its own
    /// stretch of the source, from the end of the part before it (in the source) to its end.
    pub(super) fn windows(&self, lo: u32, parts: &[(u32, u32)]) -> Vec<(u32, u32)> {
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|&i| parts[i].0);
        let mut windows = vec![(0, 0); parts.len()];
        let mut prev = lo;
        for i in order {
            let hi = self.trail_end(parts[i].1).max(prev);
            windows[i] = (prev, hi);
            prev = hi;
        }
        windows
    }
}
