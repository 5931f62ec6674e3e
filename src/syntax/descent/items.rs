//! Declarations: `use`, entities and their grants, templates, flows with their triggers,
//! input fields and types.

use super::{Bail, Descent, Parse};
use crate::syntax::ast::*;
use crate::syntax::parser::dedent;
use crate::syntax::Span;

impl Descent<'_> {
    pub(super) fn use_decl(&mut self) -> Parse<Use> {
        let start = self.pos;
        self.keyword("use")?;
        let path = self.qualified()?;
        let alias = match self.next_word()? {
            "as" => {
                self.take(2);
                Some(self.ident()?)
            }
            // The grammar's `"as"` is not a keyword: it would read `asx` as `as x`.
            word if word.starts_with("as") => return Err(Bail),
            _ => {
                self.absent();
                None
            }
        };
        Ok(Use {
            path,
            alias,
            span: self.span_from(start),
        })
    }

    pub(super) fn entity(&mut self, start: usize, docs: Vec<String>) -> Parse<Entity> {
        self.keyword("entity")?;
        let name = self.ident()?;
        self.skip()?;
        let title = if self.byte(0) == b'"' {
            Some(self.str_lit()?)
        } else {
            None
        };
        self.punct("{")?;
        let mut entity = Entity {
            docs,
            name,
            title,
            databases: Vec::new(),
            grants: Vec::new(),
            settings: Vec::new(),
            span: Span::default(),
        };
        while !self.eat("}")? {
            let item_start = self.pos;
            let docs = self.docs()?;
            match self.peek_word() {
                "databases" if docs.is_empty() => {
                    self.take("databases".len());
                    entity.databases.push(self.ident()?);
                    // `("," ident)* ","?`: a comma followed by anything but a name ends it.
                    while self.eat(",")? {
                        let word = self.next_word()?;
                        if word.is_empty() || super::cursor::is_keyword(word) {
                            break;
                        }
                        entity.databases.push(self.ident()?);
                    }
                }
                "grant" if docs.is_empty() => entity.grants.push(self.grant(item_start)?),
                "setting" => {
                    self.take("setting".len());
                    let name = self.ident()?;
                    self.punct("=")?;
                    let value = self.expr()?;
                    entity.settings.push(Setting {
                        docs,
                        name,
                        value,
                        span: self.span_from(item_start),
                    });
                }
                _ => return Err(Bail),
            }
        }
        entity.span = self.span_from(start);
        Ok(entity)
    }

    fn grant(&mut self, start: usize) -> Parse<Grant> {
        self.keyword("grant")?;
        let access = match self.next_word()? {
            "read_write" => GrantAccess::ReadWrite,
            "read" => GrantAccess::Read,
            "write" => GrantAccess::Write,
            _ => return Err(Bail),
        };
        self.name()?;
        let databases = self.ident_list()?;
        self.keyword("to")?;
        let to = self.ident_list()?;
        Ok(Grant {
            access,
            databases,
            to,
            span: self.span_from(start),
        })
    }

    pub(super) fn template(&mut self, start: usize, docs: Vec<String>) -> Parse<Template> {
        self.keyword("template")?;
        let name = self.ident()?;
        self.punct("{")?;
        let mut parts = Vec::new();
        let mut example = None;
        while !self.eat("}")? {
            let part_start = self.pos;
            let kind = match self.peek_word() {
                "subject" => TemplatePartKind::Subject,
                "text" => TemplatePartKind::Text,
                "html" => TemplatePartKind::Html,
                "sms" => TemplatePartKind::Sms,
                "slack" => TemplatePartKind::Slack,
                "example" => {
                    self.take("example".len());
                    let value = self.expr()?;
                    example = Some(TemplateExample {
                        value,
                        span: self.span_from(part_start),
                    });
                    continue;
                }
                _ => return Err(Bail),
            };
            self.take(kind.keyword().len());
            self.skip()?;
            let body_start = self.pos;
            let (body, body_offset) = if self.at("\"\"\"") {
                let (text_start, text_end) = self.raw_text()?;
                (dedent(&self.source[text_start..text_end]), text_start)
            } else if self.byte(0) == b'"' {
                let (text_start, text_end) = self.template_text()?;
                (
                    self.source[text_start..text_end].replace("\\\"", "\""),
                    text_start,
                )
            } else {
                return Err(Bail);
            };
            parts.push(TemplatePart {
                kind,
                body,
                body_span: self.span_from(body_start),
                body_offset: body_offset as u32,
                span: self.span_from(part_start),
            });
        }
        Ok(Template {
            docs,
            name,
            parts,
            example,
            span: self.span_from(start),
        })
    }

    /// Takes a one-line template body (`"..."`, where `\` escapes any character): where its
    /// text starts and ends.
    fn template_text(&mut self) -> Parse<(usize, usize)> {
        let text_start = self.pos + 1;
        let mut at = text_start;
        loop {
            match self.bytes.get(at) {
                Some(b'"') => break,
                // Past the end, `get` finds nothing: a string left open.
                Some(b'\\') => at += 2,
                Some(b'\n' | b'\r') | None => return Err(Bail),
                Some(_) => at += 1,
            }
        }
        self.pos = at;
        self.take(1);
        Ok((text_start, at))
    }

    pub(super) fn flow(&mut self, start: usize, docs: Vec<String>) -> Parse<Flow> {
        self.keyword("flow")?;
        let name = self.ident()?;
        self.keyword("for")?;
        let entity = self.ident()?;
        self.punct("{")?;
        let mut flow = Flow {
            docs,
            name,
            entity,
            triggers: Vec::new(),
            input: None,
            body: Vec::new(),
            output: None,
            on_error: None,
            span: Span::default(),
        };
        while !self.eat("}")? {
            let item_start = self.pos;
            let docs = self.docs()?;
            if !docs.is_empty() {
                flow.body.push(self.statement(item_start, docs)?);
                continue;
            }
            match self.peek_word() {
                "on" => {
                    self.take(2);
                    if self.eat_keyword("error")? {
                        let block = self.block()?;
                        // A second handler is the grammar's parser's to report.
                        if flow.on_error.replace(block).is_some() {
                            return Err(Bail);
                        }
                    } else {
                        let kind = self.trigger()?;
                        flow.triggers.push(Trigger {
                            kind,
                            span: self.span_from(item_start),
                        });
                    }
                }
                "input" => {
                    self.take("input".len());
                    self.punct("{")?;
                    let fields = self.fields()?;
                    let input = InputDecl {
                        fields,
                        span: self.span_from(item_start),
                    };
                    if flow.input.replace(input).is_some() {
                        return Err(Bail);
                    }
                }
                "output" => {
                    self.take("output".len());
                    let value = self.expr()?;
                    let output = Output {
                        value,
                        span: self.span_from(item_start),
                    };
                    if flow.output.replace(output).is_some() {
                        return Err(Bail);
                    }
                }
                _ => flow.body.push(self.statement(item_start, docs)?),
            }
        }
        flow.span = self.span_from(start);
        Ok(flow)
    }

    /// What follows `on` in a trigger.
    fn trigger(&mut self) -> Parse<TriggerKind> {
        let word = self.next_word()?;
        let kind = match word {
            "webhook" => {
                self.take(word.len());
                let path = self.str_lit()?;
                let mut verified_by = None;
                let mut unverified = false;
                if self.eat_keyword("verified")? {
                    self.keyword("by")?;
                    verified_by = Some(self.ident()?);
                } else {
                    unverified = self.eat_keyword("unverified")?;
                }
                TriggerKind::Webhook {
                    path,
                    verified_by,
                    unverified,
                }
            }
            "notion" => {
                self.take(word.len());
                let database = self.ident()?;
                let (property, to) = if self.eat_keyword("created")? {
                    (None, None)
                } else {
                    self.keyword("changed")?;
                    let property = self.str_lit()?;
                    let to = if self.eat_keyword("to")? {
                        Some(self.expr()?)
                    } else {
                        None
                    };
                    (Some(property), to)
                };
                TriggerKind::Notion {
                    database,
                    property,
                    to,
                }
            }
            "schedule" => {
                self.take(word.len());
                let cron = self.str_lit()?;
                let timezone = if self.eat_keyword("in")? {
                    Some(self.str_lit()?)
                } else {
                    None
                };
                TriggerKind::Schedule { cron, timezone }
            }
            "manual" => {
                self.take(word.len());
                TriggerKind::Manual
            }
            "event" => {
                self.take(word.len());
                TriggerKind::Event {
                    name: self.str_lit()?,
                }
            }
            _ => return Err(Bail),
        };
        Ok(kind)
    }

    /// Field declarations up to and including the closing `}`.
    fn fields(&mut self) -> Parse<Vec<FieldDecl>> {
        let mut fields = Vec::new();
        while !self.eat("}")? {
            let start = self.pos;
            let docs = self.docs()?;
            let name = self.name()?;
            self.punct(":")?;
            let ty = self.type_expr()?;
            let default = if self.eat("=")? { Some(self.expr()?) } else { None };
            self.eat(",")?;
            fields.push(FieldDecl {
                docs,
                name,
                ty,
                default,
                span: self.span_from(start),
            });
        }
        Ok(fields)
    }

    fn type_expr(&mut self) -> Parse<TypeExpr> {
        self.nested(1, |p| {
            p.skip()?;
            let start = p.pos;
            let kind = if p.eat("[")? {
                let item = p.type_expr()?;
                p.punct("]")?;
                TypeExprKind::List(Box::new(item))
            } else if p.eat("{")? {
                TypeExprKind::Record(p.fields()?)
            } else {
                TypeExprKind::Named(p.ident()?)
            };
            let optional = p.eat("?")?;
            Ok(TypeExpr {
                kind,
                optional,
                span: p.span_from(start),
            })
        })
    }
}
