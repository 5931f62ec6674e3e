//! Parsing declarations: `use`, entities and their grants, templates, flows with their
//! triggers, input and output fields, and types.

use super::*;

impl<'s> Parser<'s> {
    pub(super) fn parse_docs(
        &self,
        pairs: &mut std::iter::Peekable<impl Iterator<Item = Pair<'s, Rule>>>,
    ) -> Vec<String> {
        let mut docs = Vec::new();
        while let Some(p) = pairs.peek() {
            if p.as_rule() != Rule::doc {
                break;
            }
            let text = pairs
                .next()
                .and_then(|d| d.into_inner().next())
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            docs.push(text.strip_prefix(' ').unwrap_or(&text).trim_end().to_string());
        }
        docs
    }

    pub(super) fn parse_ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span(&pair),
        }
    }

    pub(super) fn presume_ident(&self, pair: Option<Pair<'_, Rule>>, around: Span) -> Ident {
        match pair {
            Some(p) => self.parse_ident(p),
            None => Ident {
                name: String::new(),
                span: around,
            },
        }
    }

    pub(super) fn parse_use(&self, pair: Pair<'s, Rule>) -> Use {
        let whole = span(&pair);
        let mut path = Vec::new();
        let mut alias = None;
        for p in children(pair) {
            match p.as_rule() {
                Rule::module_path => path = p.into_inner().map(|i| self.parse_ident(i)).collect(),
                Rule::ident => alias = Some(self.parse_ident(p)),
                _ => {}
            }
        }
        Use {
            path,
            alias,
            span: whole,
        }
    }

    pub(super) fn parse_entity(&self, pair: Pair<'s, Rule>) -> Entity {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let mut entity = Entity {
            docs,
            name,
            title: None,
            databases: Vec::new(),
            grants: Vec::new(),
            settings: Vec::new(),
            span: whole,
        };
        let mut in_bad_run = false;
        for p in inner {
            let rule = p.as_rule();
            match rule {
                Rule::string => entity.title = Some(self.parse_str_lit(p)),
                Rule::databases => entity.databases.extend(children(p).map(|i| self.parse_ident(i))),
                Rule::grant => entity.grants.push(self.parse_grant(p)),
                Rule::setting => {
                    let s = span(&p);
                    let mut parts = children(p).peekable();
                    let docs = self.parse_docs(&mut parts);
                    let name = self.presume_ident(parts.next(), s);
                    let value = self.presume_expr(parts.next(), s);
                    entity.settings.push(Setting {
                        docs,
                        name,
                        value,
                        span: s,
                    });
                }
                Rule::bad_line => {
                    self.diagnose_bad_line(&p, Rule::probe_entity_item, in_bad_run);
                }
                _ => {}
            }
            in_bad_run = rule == Rule::bad_line;
        }
        entity
    }

    pub(super) fn parse_grant(&self, pair: Pair<'s, Rule>) -> Grant {
        let whole = span(&pair);
        let mut access = GrantAccess::Read;
        let mut lists = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::access => {
                    access = match p.as_str() {
                        "write" => GrantAccess::Write,
                        "read_write" => GrantAccess::ReadWrite,
                        _ => GrantAccess::Read,
                    }
                }
                Rule::ident_list => lists.push(self.parse_ident_list(p)),
                _ => {}
            }
        }
        let mut lists = lists.into_iter();
        Grant {
            access,
            databases: lists.next().unwrap_or_default(),
            to: lists.next().unwrap_or_default(),
            span: whole,
        }
    }

    pub(super) fn parse_ident_list(&self, pair: Pair<'s, Rule>) -> Vec<Ident> {
        children(pair).map(|i| self.parse_ident(i)).collect()
    }

    pub(super) fn parse_template(&self, pair: Pair<'s, Rule>) -> Template {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let mut parts = Vec::new();
        let mut example = None;
        for p in inner {
            if p.as_rule() == Rule::template_example {
                let example_span = span(&p);
                if let Some(value) = children(p).find(|c| c.as_rule() == Rule::expr) {
                    example = Some(TemplateExample {
                        value: self.parse_expr(value),
                        span: example_span,
                    });
                }
                continue;
            }
            if p.as_rule() != Rule::template_part {
                continue;
            }
            let part_span = span(&p);
            let mut kind = TemplatePartKind::Text;
            let mut body = String::new();
            let mut body_span = part_span;
            let mut body_offset = part_span.start;
            for c in children(p) {
                match c.as_rule() {
                    Rule::template_part_kind => {
                        kind = match c.as_str() {
                            "subject" => TemplatePartKind::Subject,
                            "html" => TemplatePartKind::Html,
                            "sms" => TemplatePartKind::Sms,
                            "slack" => TemplatePartKind::Slack,
                            _ => TemplatePartKind::Text,
                        }
                    }
                    Rule::raw_string => {
                        body_span = span(&c);
                        if let Some(raw) = c.into_inner().next() {
                            body_offset = raw.as_span().start() as u32;
                            body = dedent(raw.as_str());
                        }
                    }
                    Rule::template_string => {
                        body_span = span(&c);
                        if let Some(raw) = c.into_inner().next() {
                            body_offset = raw.as_span().start() as u32;
                            body = raw.as_str().replace("\\\"", "\"");
                        }
                    }
                    _ => {}
                }
            }
            parts.push(TemplatePart {
                kind,
                body,
                body_span,
                body_offset,
                span: part_span,
            });
        }
        Template {
            docs,
            name,
            parts,
            example,
            span: whole,
        }
    }

    pub(super) fn parse_flow(&self, pair: Pair<'s, Rule>) -> Flow {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let entity = self.presume_ident(inner.next(), whole);
        let mut flow = Flow {
            docs,
            name,
            entity,
            triggers: Vec::new(),
            input: None,
            body: Vec::new(),
            output: None,
            on_error: None,
            span: whole,
        };
        let mut in_bad_run = false;
        for p in inner {
            let rule = p.as_rule();
            match rule {
                Rule::trigger => flow.triggers.push(self.parse_trigger(p)),
                Rule::input_decl => {
                    let s = span(&p);
                    let fields = self.parse_fields(p);
                    if let Some(first) = &flow.input {
                        self.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                self.file,
                                s,
                                "a flow has one `input` block",
                            )
                            .label("second `input` block")
                            .with(first.span, "first `input` block")
                            .help("move these fields into the first `input` block"),
                        );
                    } else {
                        flow.input = Some(InputDecl { fields, span: s });
                    }
                }
                Rule::output_decl => {
                    let s = span(&p);
                    let value = self.presume_expr(children(p).next(), s);
                    if let Some(first) = &flow.output {
                        self.push(
                            Diagnostic::new(Code::DuplicateName, self.file, s, "a flow has one `output`")
                                .label("second `output`")
                                .with(first.span, "first `output`")
                                .help("merge the two into one `output` record"),
                        );
                    } else {
                        flow.output = Some(Output { value, span: s });
                    }
                }
                Rule::error_handler => {
                    let s = span(&p);
                    let block = children(p)
                        .next()
                        .map(|b| self.parse_block(b))
                        .unwrap_or_default();
                    if let Some(first) = &flow.on_error {
                        self.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                self.file,
                                s,
                                "a flow has one `on error` handler",
                            )
                            .label("second handler")
                            .with(first.span, "first handler")
                            .help("merge the two handlers into one"),
                        );
                    } else {
                        flow.on_error = Some(block);
                    }
                }
                Rule::bad_line => {
                    self.diagnose_bad_line(&p, Rule::probe_flow_item, in_bad_run);
                }
                _ => {
                    if let Some(stmt) = self.parse_stmt(p) {
                        flow.body.push(stmt);
                    }
                }
            }
            in_bad_run = rule == Rule::bad_line;
        }
        flow
    }

    pub(super) fn parse_trigger(&self, pair: Pair<'s, Rule>) -> Trigger {
        let whole = span(&pair);
        let kind = match children(pair).next() {
            Some(p) => {
                let rule = p.as_rule();
                let unverified = p.clone().into_inner().any(|c| c.as_rule() == Rule::kw_unverified);
                let mut parts = children(p).peekable();
                match rule {
                    Rule::webhook_trigger => TriggerKind::Webhook {
                        path: self.presume_str_lit(parts.next(), whole),
                        verified_by: parts.next().map(|i| self.parse_ident(i)),
                        unverified,
                    },
                    Rule::notion_trigger => {
                        let database = self.presume_ident(parts.next(), whole);
                        let (property, to) = match parts.next() {
                            Some(ev) if ev.as_rule() == Rule::notion_changed => {
                                let mut ev = children(ev);
                                let property = Some(self.presume_str_lit(ev.next(), whole));
                                let to = ev.next().map(|e| self.parse_expr(e));
                                (property, to)
                            }
                            _ => (None, None),
                        };
                        TriggerKind::Notion {
                            database,
                            property,
                            to,
                        }
                    }
                    Rule::schedule_trigger => TriggerKind::Schedule {
                        cron: self.presume_str_lit(parts.next(), whole),
                        timezone: parts.next().map(|s| self.parse_str_lit(s)),
                    },
                    Rule::event_trigger => TriggerKind::Event {
                        name: self.presume_str_lit(parts.next(), whole),
                    },
                    _ => TriggerKind::Manual,
                }
            }
            None => TriggerKind::Manual,
        };
        Trigger { kind, span: whole }
    }

    pub(super) fn parse_fields(&self, pair: Pair<'s, Rule>) -> Vec<FieldDecl> {
        children(pair)
            .filter(|p| p.as_rule() == Rule::field_decl)
            .map(|p| self.parse_field(p))
            .collect()
    }

    pub(super) fn parse_field(&self, pair: Pair<'s, Rule>) -> FieldDecl {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_ident(inner.next(), whole);
        let ty = match inner.next() {
            Some(t) => self.parse_type(t),
            None => TypeExpr {
                kind: TypeExprKind::Named(Ident {
                    name: "any".into(),
                    span: whole,
                }),
                optional: false,
                span: whole,
            },
        };
        let default = inner.next().map(|e| self.parse_expr(e));
        FieldDecl {
            docs,
            name,
            ty,
            default,
            span: whole,
        }
    }

    pub(super) fn parse_type(&self, pair: Pair<'s, Rule>) -> TypeExpr {
        let whole = span(&pair);
        if !self.enter(1, whole) {
            return TypeExpr {
                kind: TypeExprKind::Named(Ident {
                    name: "any".into(),
                    span: whole,
                }),
                optional: false,
                span: whole,
            };
        }
        let ty = self.parse_type_inner(pair, whole);
        self.leave(1);
        ty
    }

    pub(super) fn parse_type_inner(&self, pair: Pair<'s, Rule>, whole: Span) -> TypeExpr {
        let mut optional = false;
        let mut kind = TypeExprKind::Named(Ident {
            name: "any".into(),
            span: whole,
        });
        for p in children(pair) {
            match p.as_rule() {
                Rule::optional => optional = true,
                Rule::named_type => {
                    kind = TypeExprKind::Named(self.presume_ident(p.into_inner().next(), whole))
                }
                Rule::list_type => {
                    if let Some(t) = children(p).next() {
                        kind = TypeExprKind::List(Box::new(self.parse_type(t)));
                    }
                }
                Rule::record_type => kind = TypeExprKind::Record(self.parse_fields(p)),
                _ => {}
            }
        }
        TypeExpr {
            kind,
            optional,
            span: whole,
        }
    }
}
