//! The fast path of parsing: a hand-written recursive-descent parser for well-formed files.
//!
//! The grammar (`grammar/flow.pest`) stays the definition of the language and the only parser
//! of broken text: its recovery rules and probes make the diagnostics. But pest pays a
//! bookkeeping cost on every rule call (its call counter and stack guard), which made parsing
//! five times as costly as checking. Most files a checker sees are well formed, so this parser
//! reads them straight into the same tree, and gives up ([`Bail`]) at the first thing it is not
//! sure the grammar would read the same way: any syntax error, any habit the grammar reads and
//! reports (`&&`, `null`, `2 days`...), anything unusual. Giving up is always safe, since the
//! grammar then parses the file as before; only a tree this parser does return must be the
//! grammar's, span for span, and a test holds it to that on every file of the repository and
//! on thousands of damaged copies of them.

mod cursor;
mod expressions;
mod items;
mod statements;
mod test_blocks;
#[cfg(test)]
mod tests;

use super::ast::{Item, Module};
use super::Span;

/// The parser is not sure the grammar would read the text the same way, or knows it would
/// report something: the grammar's parser takes over.
#[derive(Debug)]
pub(super) struct Bail;

type Parse<T> = Result<T, Bail>;

/// Reads a well-formed file; `None` when the grammar's parser must (see the module's comment).
pub(super) fn parse(source: &str) -> Option<Module> {
    let mut descent = Descent::new(source);
    let module = descent.module().ok()?;
    // The grammar's parser refuses to nest past its depth bound, with a diagnostic.
    (descent.deepest <= super::parser::MAX_DEPTH).then_some(module)
}

/// A position in the text, and what nesting the tree read so far needs.
struct Descent<'s> {
    source: &'s str,
    bytes: &'s [u8],
    /// The next byte to read.
    pos: usize,
    /// Where the last token taken ends: a construct's span ends there, before the blanks and
    /// comments after it, as the grammar's spans do.
    end: usize,
    /// The deepest nesting of expressions, blocks and types read so far, counted as the
    /// grammar's parser counts it (an expression weighs its operators and operands), so that
    /// a file it would refuse as too deep is left to it.
    deepest: usize,
    /// How many nested reads are under way: bounded, so that absurdly deep text cannot
    /// overflow the stack here (the grammar's parser reports it).
    depth: usize,
}

impl<'s> Descent<'s> {
    fn new(source: &'s str) -> Descent<'s> {
        Descent {
            source,
            bytes: source.as_bytes(),
            pos: 0,
            end: 0,
            deepest: 0,
            depth: 0,
        }
    }

    fn module(&mut self) -> Parse<Module> {
        let mut items = Vec::new();
        loop {
            self.skip()?;
            if self.pos >= self.bytes.len() {
                return Ok(Module { items });
            }
            items.push(self.item()?);
        }
    }

    fn item(&mut self) -> Parse<Item> {
        let start = self.pos;
        if self.peek_word() == "use" {
            return Ok(Item::Use(self.use_decl()?));
        }
        let docs = self.docs()?;
        Ok(match self.peek_word() {
            "entity" => Item::Entity(self.entity(start, docs)?),
            "flow" => Item::Flow(self.flow(start, docs)?),
            "template" => Item::Template(self.template(start, docs)?),
            "test" => Item::Test(self.test(start, docs)?),
            _ => return Err(Bail),
        })
    }

    /// The span from `start` to the end of the last token taken.
    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.end)
    }

    /// Reads something that the grammar's parser counts `weight` levels deep (a block or a
    /// type: 1), keeping [`Descent::deepest`].
    fn nested<T>(&mut self, weight: usize, read: impl FnOnce(&mut Self) -> Parse<T>) -> Parse<T> {
        let outer = std::mem::take(&mut self.deepest);
        let value = self.deeper(read)?;
        self.deepest = outer.max(self.deepest + weight);
        Ok(value)
    }

    /// Reads something that nests: past [`MAX_DEPTH`](super::parser::MAX_DEPTH) nested reads,
    /// the grammar's parser would refuse the text as too deep, or might (an `else if` chain
    /// does not count there), so it is left to it.
    fn deeper<T>(&mut self, read: impl FnOnce(&mut Self) -> Parse<T>) -> Parse<T> {
        if self.depth >= super::parser::MAX_DEPTH {
            return Err(Bail);
        }
        self.depth += 1;
        let value = read(self)?;
        self.depth -= 1;
        Ok(value)
    }
}
