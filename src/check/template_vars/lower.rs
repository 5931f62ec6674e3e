//! Handlebars' compiled template, lowered to the tree of what matters for its variables.

use handlebars::template::{BlockParam, HelperTemplate, Parameter, Template, TemplateElement};

use super::{Arg, Block, Call, Element};

/// The tree of a template handlebars compiled.
pub(in crate::check) fn lower(template: &Template) -> Vec<Element> {
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
