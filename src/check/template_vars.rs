//! The variables a template part uses, from a small tree of its mustaches.
//!
//! Handlebars compiles with pest, which made reading the templates' variables the largest
//! part of checking a flow file (every `send` of a template compares them with its `with:`).
//! [`scan`] reads the tree of the usual subset of handlebars (`{{name}}`, `{{helper a "b" k=v}}`,
//! `{{#if}}`/`{{#each ... as |x|}}` blocks with one `{{else}}`, comments) in one pass, and gives up
//! on anything else: a part it does not read, or that may not compile, is compiled by
//! handlebars and [`lower`]ed to the same tree, so both roads give the same variables and every
//! syntax error is still handlebars' own. A test holds the two roads equal on every template of
//! the repository and on generated ones.

use std::collections::BTreeSet;

use handlebars::template::{BlockParam, HelperTemplate, Parameter, Template, TemplateElement};

/// What of a template matters for its variables.
#[derive(Debug, PartialEq)]
pub(super) enum Element {
    /// `{{name}}` or `{{helper args}}`.
    Call(Call),
    /// `{{#name args as |locals|}}body{{else}}inverse{{/name}}`.
    Block(Block),
    /// The body of a decorator or partial block, read in the surrounding context.
    Nested(Vec<Element>),
}

#[derive(Debug, PartialEq)]
pub(super) struct Call {
    name: Arg,
    /// The positional arguments, then the hash's values by key.
    args: Vec<Arg>,
    /// `{{name}}` alone is a variable; with arguments, or as a block, `name` is a helper.
    helper: bool,
}

#[derive(Debug, PartialEq)]
pub(super) struct Block {
    call: Call,
    locals: Vec<String>,
    body: Option<Vec<Element>>,
    inverse: Option<Vec<Element>>,
}

#[derive(Debug, PartialEq)]
enum Arg {
    /// A name or a path, as written (`client.name`, `../title`, `@index`).
    Path(String),
    Literal,
    Sub(Box<Call>),
}

/// The top-level variables `elements` use (`client` for `{{client.name}}`), added to `vars`.
pub(super) fn collect(elements: &[Element], locals: &mut Vec<String>, vars: &mut BTreeSet<String>) {
    for element in elements {
        match element {
            Element::Call(call) => collect_call(call, locals, vars),
            Element::Nested(inner) => collect(inner, locals, vars),
            Element::Block(block) => {
                collect_call(&block.call, locals, vars);
                let added = block.locals.len();
                locals.extend(block.locals.iter().cloned());
                if let Some(body) = &block.body {
                    // Inside `#each` and `#with` the context changes: names there are fields of
                    // the item, not top-level variables; `../name` escapes to the outer context.
                    if matches!(&block.call.name, Arg::Path(name) if name == "each" || name == "with") {
                        let mut inner = BTreeSet::new();
                        collect(body, locals, &mut inner);
                        vars.extend(
                            inner
                                .into_iter()
                                .filter_map(|v| v.strip_prefix("../").map(str::to_string)),
                        );
                    } else {
                        collect(body, locals, vars);
                    }
                }
                if let Some(inverse) = &block.inverse {
                    collect(inverse, locals, vars);
                }
                locals.truncate(locals.len() - added);
            }
        }
    }
}

fn collect_call(call: &Call, locals: &[String], vars: &mut BTreeSet<String>) {
    if !call.helper {
        collect_arg(&call.name, locals, vars);
    }
    for arg in &call.args {
        collect_arg(arg, locals, vars);
    }
}

fn collect_arg(arg: &Arg, locals: &[String], vars: &mut BTreeSet<String>) {
    match arg {
        Arg::Path(raw) => add_var(raw, locals, vars),
        Arg::Sub(call) => collect_call(call, locals, vars),
        Arg::Literal => {}
    }
}

fn add_var(raw: &str, locals: &[String], vars: &mut BTreeSet<String>) {
    if let Some(outer) = raw.strip_prefix("../") {
        vars.insert(format!("../{}", first_segment(outer)));
        return;
    }
    if raw.is_empty() || raw.starts_with('@') || raw.starts_with('.') || raw.starts_with("this") {
        return;
    }
    let first = first_segment(raw);
    if first.is_empty() || locals.iter().any(|l| l == first) {
        return;
    }
    vars.insert(first.to_string());
}

fn first_segment(raw: &str) -> &str {
    raw.split(['.', '/', '[']).next().unwrap_or("")
}

// ---- From handlebars' compiled template ----

/// The tree of a template handlebars compiled.
pub(super) fn lower(template: &Template) -> Vec<Element> {
    template.elements.iter().filter_map(lower_element).collect()
}

fn lower_element(element: &TemplateElement) -> Option<Element> {
    match element {
        TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
            Some(Element::Call(lower_call(h)))
        }
        TemplateElement::HelperBlock(h) => {
            let locals = match &h.block_param {
                Some(BlockParam::Single(p)) => local(p).into_iter().collect(),
                Some(BlockParam::Pair((a, b))) => local(a).into_iter().chain(local(b)).collect(),
                _ => Vec::new(),
            };
            Some(Element::Block(Block {
                call: lower_call(h),
                locals,
                body: h.template.as_ref().map(lower),
                inverse: h.inverse.as_ref().map(lower),
            }))
        }
        TemplateElement::DecoratorBlock(d) | TemplateElement::PartialBlock(d) => {
            d.template.as_ref().map(|t| Element::Nested(lower(t)))
        }
        _ => None,
    }
}

fn lower_call(h: &HelperTemplate) -> Call {
    let mut hash: Vec<(&String, &Parameter)> = h.hash.iter().collect();
    hash.sort_by(|a, b| a.0.cmp(b.0));
    Call {
        name: lower_arg(&h.name),
        args: h
            .params
            .iter()
            .chain(hash.into_iter().map(|(_, p)| p))
            .map(lower_arg)
            .collect(),
        helper: !h.params.is_empty() || !h.hash.is_empty() || h.template.is_some(),
    }
}

fn lower_arg(p: &Parameter) -> Arg {
    match p {
        Parameter::Name(n) => Arg::Path(n.clone()),
        Parameter::Path(path) => Arg::Path(path_raw(path).to_string()),
        Parameter::Literal(_) => Arg::Literal,
        Parameter::Subexpression(sub) => match sub.as_element() {
            TemplateElement::Expression(h) => Arg::Sub(Box::new(lower_call(h))),
            _ => Arg::Literal,
        },
        _ => Arg::Literal,
    }
}

fn local(p: &Parameter) -> Option<String> {
    match p {
        Parameter::Name(n) => Some(n.clone()),
        Parameter::Path(path) => Some(path_raw(path).to_string()),
        _ => None,
    }
}

fn path_raw(path: &handlebars::Path) -> &str {
    match path {
        handlebars::Path::Relative((_, raw)) => raw,
        handlebars::Path::Local((_, _, raw)) => raw,
    }
}

// ---- The fast road: the usual subset, read directly ----

/// The tree of `body` when it is in the subset this reads and certainly compiles; `None` sends
/// it to handlebars.
pub(super) fn scan(body: &str) -> Option<Vec<Element>> {
    let mut scanner = Scanner {
        text: body.as_bytes(),
        at: 0,
    };
    let (elements, end) = scanner.elements()?;
    matches!(end, End::Eof).then_some(elements)
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

/// What ended a run of elements.
enum End {
    Eof,
    Else,
    Close(String),
}

/// Handlebars' `symbol_char`: what names are made of (any non-ASCII character too).
fn symbol_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$' | b':') || b >= 0x80
}

fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn starts(&self, s: &[u8]) -> bool {
        self.text[self.at..].starts_with(s)
    }

    fn blanks(&mut self) {
        while self.peek().is_some_and(blank) {
            self.at += 1;
        }
    }

    fn find(&self, s: &[u8], from: usize) -> Option<usize> {
        self.text[from..]
            .windows(s.len())
            .position(|w| w == s)
            .map(|i| from + i)
    }

    fn elements(&mut self) -> Option<(Vec<Element>, End)> {
        let mut elements = Vec::new();
        loop {
            let Some(open) = self.find(b"{{", self.at) else {
                self.at = self.text.len();
                return Some((elements, End::Eof));
            };
            // `\{{` is an escape: not in the subset.
            if open > 0 && self.text[open - 1] == b'\\' {
                return None;
            }
            self.at = open + 2;
            if self.starts(b"!") {
                self.comment(open)?;
                continue;
            }
            if self.peek() == Some(b'~') {
                self.at += 1;
            }
            self.blanks();
            match self.peek()? {
                b'#' => {
                    self.at += 1;
                    elements.push(Element::Block(self.block()?));
                }
                b'/' => {
                    self.at += 1;
                    let name = self.identifier()?;
                    self.close()?;
                    return Some((elements, End::Close(name)));
                }
                _ if self.starts(b"else") => {
                    self.at += 4;
                    self.close()?;
                    return Some((elements, End::Else));
                }
                // Anything else is a call, which gives up on what does not start with a path.
                _ => elements.push(Element::Call(self.call()?)),
            }
        }
    }

    /// `{{!...}}` or `{{!-- ... --}}`, from just after `{{`.
    fn comment(&mut self, open: usize) -> Option<()> {
        if self.starts(b"!--") {
            if let Some(end) = self.find(b"--}}", open + 5) {
                self.at = end + 4;
                return Some(());
            }
        }
        self.at = self.find(b"}}", open + 3)? + 2;
        Some(())
    }

    /// The end of a mustache: blanks, an optional `~`, `}}`.
    fn close(&mut self) -> Option<()> {
        self.blanks();
        if self.peek() == Some(b'~') {
            self.at += 1;
        }
        self.starts(b"}}").then(|| self.at += 2)
    }

    /// `{{#name args as |a b|}}body{{else}}inverse{{/name}}`, from just after `#`.
    fn block(&mut self) -> Option<Block> {
        let name = self.identifier()?;
        let mut args = Vec::new();
        let mut hash = Vec::new();
        let mut locals = Vec::new();
        loop {
            let before = self.at;
            self.blanks();
            if self.starts(b"~}}") || self.starts(b"}}") {
                break;
            }
            if self.at == before {
                return None;
            }
            if self.word_is(b"as") {
                self.at += 2;
                locals = self.block_params()?;
                break;
            }
            self.argument(&mut args, &mut hash)?;
        }
        self.close()?;
        let (body, end) = self.elements()?;
        let (inverse, end) = match end {
            End::Else => {
                let (inverse, end) = self.elements()?;
                (Some(inverse), end)
            }
            end => (None, end),
        };
        match end {
            End::Close(closing) if closing == name => {}
            _ => return None,
        }
        hash.sort_by(|a: &(String, Arg), b| a.0.cmp(&b.0));
        args.extend(hash.into_iter().map(|(_, a)| a));
        Some(Block {
            call: Call {
                name: Arg::Path(name),
                args,
                helper: true,
            },
            locals,
            body: Some(body),
            inverse,
        })
    }

    /// `|a|` or `|a b|`, after `as`.
    fn block_params(&mut self) -> Option<Vec<String>> {
        self.blanks();
        if self.peek() != Some(b'|') {
            return None;
        }
        self.at += 1;
        let mut names = Vec::new();
        loop {
            self.blanks();
            if self.peek() == Some(b'|') {
                self.at += 1;
                break;
            }
            names.push(self.identifier()?);
        }
        (1..=2).contains(&names.len()).then_some(names)
    }

    /// `{{name}}` or `{{helper args}}`, from the name.
    fn call(&mut self) -> Option<Call> {
        let start = self.at;
        let path = self.path()?;
        let mut args = Vec::new();
        let mut hash = Vec::new();
        loop {
            let before = self.at;
            self.blanks();
            if self.starts(b"~}}") || self.starts(b"}}") {
                break;
            }
            // Arguments follow only a plain name, after a blank.
            if self.at == before || path.bytes().any(|b| !symbol_char(b)) {
                return None;
            }
            self.argument(&mut args, &mut hash)?;
        }
        self.close()?;
        // A name alone that handlebars would read as a keyword or a literal is not in the subset.
        if args.is_empty() && hash.is_empty() && (path == "else" || path == "as" || self.literal_word(start))
        {
            return None;
        }
        let helper = !args.is_empty() || !hash.is_empty();
        hash.sort_by(|a: &(String, Arg), b| a.0.cmp(&b.0));
        args.extend(hash.into_iter().map(|(_, a)| a));
        Some(Call {
            name: Arg::Path(path),
            args,
            helper,
        })
    }

    /// Whether the word at `start` is `true`, `false`, `null` or a number.
    fn literal_word(&self, start: usize) -> bool {
        let end = self.text[start..]
            .iter()
            .position(|&b| !symbol_char(b))
            .map_or(self.text.len(), |i| start + i);
        let word = &self.text[start..end];
        matches!(word, b"true" | b"false" | b"null")
            || word.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-')
    }

    /// Whether the next word is exactly `word`.
    fn word_is(&self, word: &[u8]) -> bool {
        self.starts(word)
            && !self
                .text
                .get(self.at + word.len())
                .copied()
                .is_some_and(symbol_char)
    }

    /// One positional argument or `key=value`.
    fn argument(&mut self, args: &mut Vec<Arg>, hash: &mut Vec<(String, Arg)>) -> Option<()> {
        if self.word_is(b"as") || self.word_is(b"else") {
            return None;
        }
        let start = self.at;
        let end = self.text[start..]
            .iter()
            .position(|&b| !symbol_char(b))
            .map_or(self.text.len(), |i| start + i);
        let mut after = end;
        while self.text.get(after).copied().is_some_and(blank) {
            after += 1;
        }
        if end > start && self.text.get(after) == Some(&b'=') {
            let key = std::str::from_utf8(&self.text[start..end]).ok()?.to_string();
            // A key given twice: handlebars keeps the last; not in the subset.
            if hash.iter().any(|(k, _)| *k == key) {
                return None;
            }
            self.at = after + 1;
            self.blanks();
            let value = self.value()?;
            hash.push((key, value));
        } else {
            args.push(self.value()?);
        }
        Some(())
    }

    /// A string, a number, `true`/`false`/`null`, or a path.
    fn value(&mut self) -> Option<Arg> {
        match self.peek()? {
            b'"' => {
                // Plain strings only: escapes and control characters go to handlebars.
                let end = self.at + 1 + self.text[self.at + 1..].iter().position(|&b| b == b'"')?;
                let inner = &self.text[self.at + 1..end];
                if inner.iter().any(|&b| b == b'\\' || b < 0x20) {
                    return None;
                }
                self.at = end + 1;
                self.ends_token().then_some(Arg::Literal)
            }
            b'0'..=b'9' | b'-' => {
                // A whole number as JSON writes it; anything else goes to handlebars.
                if self.peek() == Some(b'-') {
                    self.at += 1;
                }
                let digits = self.at;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.at += 1;
                }
                let n = self.at - digits;
                let ok =
                    n > 0 && (n == 1 || self.text[digits] != b'0') && !self.peek().is_some_and(symbol_char);
                (ok && self.ends_token()).then_some(Arg::Literal)
            }
            _ if self.word_is(b"true") || self.word_is(b"false") || self.word_is(b"null") => {
                while self.peek().is_some_and(symbol_char) {
                    self.at += 1;
                }
                self.ends_token().then_some(Arg::Literal)
            }
            _ => {
                let path = self.path()?;
                self.ends_token().then_some(Arg::Path(path))
            }
        }
    }

    /// Whether the cursor is at a blank, `~` or `}}`: the end of an argument.
    fn ends_token(&self) -> bool {
        self.peek().is_some_and(|b| blank(b) || b == b'~') || self.starts(b"}}")
    }

    fn identifier(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(symbol_char) {
            self.at += 1;
        }
        self.text_from(start).filter(|s| !s.is_empty())
    }

    fn text_from(&self, start: usize) -> Option<String> {
        std::str::from_utf8(&self.text[start..self.at])
            .ok()
            .map(str::to_string)
    }

    /// A path as handlebars' `path_inline` reads it: `this.`/`./`, `@root.`, `@`, `../`s, then
    /// names joined by `.` or `/` (`[key]` segments go to handlebars).
    fn path(&mut self) -> Option<String> {
        let start = self.at;
        if self.starts(b"this.") || self.starts(b"this/") {
            self.at += 5;
        } else if self.starts(b"./") {
            self.at += 2;
        }
        if self.starts(b"@root.") || self.starts(b"@root/") {
            self.at += 6;
        }
        if self.peek() == Some(b'@') {
            self.at += 1;
        }
        // `..` and a separator: `../` (or `...`, which handlebars reads the same way).
        while self.starts(b"../") || self.starts(b"...") {
            self.at += 3;
        }
        loop {
            let segment = self.at;
            while self.peek().is_some_and(symbol_char) {
                self.at += 1;
            }
            if self.at == segment {
                return None;
            }
            match (self.peek(), self.text.get(self.at + 1).copied()) {
                (Some(b'.' | b'/'), Some(next)) if symbol_char(next) => self.at += 1,
                (Some(b'.' | b'/' | b'['), _) => return None,
                _ => break,
            }
        }
        self.text_from(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both roads, when the fast one reads `body`: the fast one must agree with handlebars.
    fn same(body: &str) -> Option<bool> {
        let fast = scan(body)?;
        match Template::compile(body) {
            Ok(t) => Some(lower(&t) == fast),
            Err(_) => Some(false),
        }
    }

    #[test]
    fn reads_the_usual_subset_as_handlebars_does() {
        for body in [
            "Hi {{name}}, your {{service.title}} starts {{format_date starts \"%A %-d %B\"}}.",
            "{{#if ok}}yes{{else}}no {{reason}}{{/if}}",
            "{{~#each rows as |row i|~}} {{row.id}} {{../title}} {{@index}} {{this}}{{/each~}}",
            "{{#with person}}{{age}}{{/with}}{{! a comment }}{{!-- a }} comment --}}",
            "{{upper greeting}} {{join items sep=\", \" max=3}} {{eq a -1}} {{x true}} {{y null}}",
            "{{eq a 0}} {{join items sep=\", \"~}} {{~eq b -20~}}",
            "{{#unless done}}{{/unless}}{{#if}}{{/if}}{{ spaced }}{{this.name}}{{./x}}{{@root.y}}",
        ] {
            assert_eq!(same(body), Some(true), "{body}");
        }
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for body in [
            "{{{raw}}}",
            "{{& raw}}",
            "{{> partial}}",
            "\\{{escaped}}",
            "{{#if (gt a 1)}}x{{/if}}",
            "{{else}}",
            "{{elsewhere}}",
            "{{#if a}}{{else if b}}{{/if}}",
            "{{#if a}}x{{/each}}",
            "{{#if a}}x",
            "{{x 'single'}}",
            "{{x \"a\\\"b\"}}",
            "{{x 01}}",
            "{{x 1.5}}",
            "{{x k=a k=b}}",
            "{{x -}}",
            "{{x -a}}",
            "{{a.b c}}",
            "{{a..b}}",
            "{{a.[0]}}",
            "{{true}}",
            "{{unclosed",
            "{{#each x as |a b c|}}{{/each}}",
        ] {
            assert_eq!(scan(body), None, "{body}");
        }
    }

    #[test]
    fn each_and_with_hide_the_names_inside() {
        let mut vars = BTreeSet::new();
        let tree = scan("{{#each items}}{{name}} {{../title}}{{/each}}{{#with p}}{{age}}{{/with}}")
            .expect("in the subset");
        collect(&tree, &mut Vec::new(), &mut vars);
        assert_eq!(vars.into_iter().collect::<Vec<_>>(), ["items", "p", "title"]);
    }

    /// Every template part of the repository's `.flow` files (the businesses', the standard
    /// library's, and the tests' broken ones), with whether it is one of the businesses'.
    fn repository_templates() -> Vec<(String, bool)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "flow") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut bodies = Vec::new();
        for dir in ["flows", "stdlib", "examples", "tests"] {
            let mut files = Vec::new();
            walk(&root.join(dir), &mut files);
            for file in files {
                let text = std::fs::read_to_string(&file).expect("readable");
                let parsed = crate::syntax::parse_recovering(&text, crate::diagnostic::FileId(0));
                for item in &parsed.module.items {
                    if let crate::syntax::ast::Item::Template(t) = item {
                        bodies.extend(
                            t.parts
                                .iter()
                                .map(|p| (p.body.clone(), dir == "flows" || dir == "stdlib")),
                        );
                    }
                }
            }
        }
        bodies
    }

    #[test]
    fn every_template_of_the_repository_reads_as_handlebars_reads_it() {
        let bodies = repository_templates();
        assert!(bodies.len() > 50, "found {} templates", bodies.len());
        for (body, business) in &bodies {
            match same(body) {
                Some(same) => assert!(same, "the fast road differs from handlebars on {body:?}"),
                // The businesses' templates are in the subset: checking them stays fast.
                None => assert!(!business, "not read by the fast road: {body:?}"),
            }
        }
    }

    const FRAGMENTS: &[&str] = &[
        "{{",
        "}}",
        "{{#if ",
        "{{#each ",
        "{{#with ",
        "{{/if}}",
        "{{/each}}",
        "{{/with}}",
        "{{else}}",
        "{{else",
        "{{~",
        "~}}",
        "{{!",
        "{{!--",
        "--}}",
        "{{{",
        "}}}",
        "{{&",
        "{{>",
        "name",
        "a.b",
        "a/b",
        "../x",
        "./y",
        "this",
        "this.z",
        "@index",
        "@root.r",
        "...",
        " ",
        "\n",
        "\"s\"",
        "\"}}\"",
        "'q'",
        "1",
        "01",
        "-2",
        "1.5",
        "true",
        "null",
        "k=",
        "=",
        "~",
        "as |x|",
        "as |x y|",
        " as ",
        "text",
        "{",
        "}",
        "(",
        ")",
        "|",
        "\\",
        ".",
        "/",
        "[0]",
        "else",
        "é",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Whatever the fast road reads, handlebars compiles to the same tree.
        #[test]
        fn the_fast_road_never_reads_what_handlebars_would_not(
            parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..14)
        ) {
            let body = parts.concat();
            if let Some(fast) = scan(&body) {
                let compiled = Template::compile(&body);
                proptest::prop_assert!(compiled.is_ok(), "handlebars refuses {:?}", body);
                if let Ok(t) = compiled {
                    proptest::prop_assert_eq!(lower(&t), fast, "{:?}", body);
                }
            }
        }
    }

    /// Templates near the subset: mustaches, blocks and comments, then one character changed.
    fn near_subset() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let path = proptest::sample::select(
            &[
                "name", "a.b", "../x", "@index", "this", "this.z", "1x", "é", "as", "true",
            ][..],
        );
        let arg = proptest::sample::select(
            &[
                "name",
                "a.b",
                "\"s\"",
                "\"}}\"",
                "1",
                "-2",
                "01",
                "1.5",
                "true",
                "null",
                "k=v",
                "k = \"v\"",
                "'q'",
                "as",
                "else",
                "(x)",
            ][..],
        );
        let tilde = proptest::sample::select(&["", "~"][..]);
        let expr = (
            tilde.clone(),
            path,
            proptest::collection::vec(arg.clone(), 0..3),
            tilde.clone(),
        )
            .prop_map(|(a, p, args, b)| {
                format!(
                    "{{{{{a}{p}{}{b}}}}}",
                    args.iter().map(|x| format!(" {x}")).collect::<String>()
                )
            });
        let leaf = prop_oneof![
            expr,
            proptest::sample::select(&["text ", "{{! c }}", "{{!-- c }} --}}", "{{else}}", "\n"][..])
                .prop_map(str::to_string),
        ];
        let tree = leaf.prop_recursive(3, 24, 4, move |inner| {
            let helper = proptest::sample::select(&["if", "each", "with", "unless"][..]);
            let close = proptest::sample::select(&["", "", "", "if"][..]);
            let params = proptest::sample::select(&["", " as |x|", " as |x y|"][..]);
            (
                helper,
                arg.clone(),
                params,
                proptest::collection::vec(inner.clone(), 0..3),
                proptest::option::of(proptest::collection::vec(inner, 0..2)),
                close,
            )
                .prop_map(|(h, a, bp, body, inverse, close)| {
                    let close = if close.is_empty() { h } else { close };
                    let inverse = inverse
                        .map(|i| format!("{{{{else}}}}{}", i.concat()))
                        .unwrap_or_default();
                    format!("{{{{#{h} {a}{bp}}}}}{}{inverse}{{{{/{close}}}}}", body.concat())
                })
        });
        (
            proptest::collection::vec(tree, 1..4),
            any::<usize>(),
            proptest::sample::select(&["", "{", "}", " ", "~", "/", "#", "\\", "|", "."][..]),
        )
            .prop_map(|(parts, at, insert)| {
                let body = parts.concat();
                let at = body
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(at % (body.chars().count() + 1))
                    .unwrap_or(body.len());
                format!("{}{insert}{}", &body[..at], &body[at..])
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// The same, on templates built to be near the subset.
        #[test]
        fn near_the_subset_the_fast_road_agrees_with_handlebars(body in near_subset()) {
            if let Some(fast) = scan(&body) {
                let compiled = Template::compile(&body);
                proptest::prop_assert!(compiled.is_ok(), "handlebars refuses {:?}", body);
                if let Ok(t) = compiled {
                    proptest::prop_assert_eq!(lower(&t), fast, "{:?}", body);
                }
            }
        }
    }
}
