//! The variables a template part uses, from a small tree of its mustaches.
//!
//! Handlebars compiles with pest, which made reading the templates' variables a tenth of
//! checking a flow file (every `send` of a template compares them with its `with:`).
//! [`scan`] reads the tree of the usual subset of handlebars (`{{name}}`, `{{helper a "b" k=v}}`,
//! `{{#if}}`/`{{#each ... as |x|}}` blocks with one `{{else}}`, comments) in one pass, and gives up
//! on anything else: a part it does not read, or that may not compile, is compiled by
//! handlebars and [`lower`]ed to the same tree, so both roads give the same variables and every
//! syntax error is still handlebars' own. A test holds the two roads equal on every template of
//! the repository and on generated ones.

use std::collections::BTreeSet;

mod lower;
mod scan;
#[cfg(test)]
mod tests;

pub(super) use lower::lower;
pub(super) use scan::scan;

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
