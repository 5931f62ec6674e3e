//! The text being scanned: the cursor, the line it is on, and the comments read so far.

pub(super) struct Text<'s> {
    pub source: &'s str,
    pub bytes: &'s [u8],
    pub at: usize,
    /// The line of the cursor (from 1); it moves only through `newline`.
    pub line: usize,
    pub line_start: usize,
    /// Byte ranges of comments, in order (for placing a repair outside them).
    pub comments: Vec<(usize, usize)>,
}

impl<'s> Text<'s> {
    pub fn new(source: &'s str) -> Text<'s> {
        Text {
            source,
            bytes: source.as_bytes(),
            at: 0,
            line: 1,
            line_start: 0,
            comments: Vec::new(),
        }
    }

    pub fn starts(&self, s: &[u8]) -> bool {
        self.bytes[self.at..].starts_with(s)
    }

    pub fn line_end(&self, from: usize) -> usize {
        self.bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |i| from + i)
    }

    /// Indentation (in bytes) of the cursor's line.
    pub fn indent(&self) -> usize {
        self.bytes[self.line_start..]
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count()
    }

    pub fn newline(&mut self) {
        self.at += 1;
        self.line += 1;
        self.line_start = self.at;
    }

    /// Moves the cursor to `end`, counting the lines on the way.
    pub fn skip_to(&mut self, end: usize) {
        while self.at < end {
            if self.bytes[self.at] == b'\n' {
                self.newline();
            } else {
                self.at += 1;
            }
        }
    }
}
