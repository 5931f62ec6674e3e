//! Printing the declarations: the module, entities, templates, flows (with their parts in
//! the layout's order), triggers, field lists and types, tests and stubs.

use super::*;

impl Printer<'_> {
    pub(super) fn module(&mut self, module: &Module) {
        let mut previous: Option<&Item> = None;
        for item in &module.items {
            match (previous, item) {
                (Some(Item::Use(_)), Item::Use(_)) => self.keep_blank(item.span().start),
                (Some(_), _) => self.blank(),
                (None, _) => {}
            }
            self.element(item.span().start);
            match item {
                Item::Use(u) => {
                    self.w(&format!("use {}", path(&u.path)));
                    if let Some(alias) = &u.alias {
                        self.w(&format!(" as {}", alias.name));
                    }
                }
                Item::Entity(e) => self.entity(e),
                Item::Flow(f) => self.flow(f),
                Item::Template(t) => self.template(t),
                Item::Test(t) => self.test(t),
            }
            let end = self.end(item.span());
            self.newline(end);
            previous = Some(item);
        }
    }

    pub(super) fn docs(&mut self, docs: &[String], name: &Ident) {
        self.docs_before(docs, name.span.start);
    }

    /// Doc lines, then the comments that stand between them and the construct at `pos`.
    pub(super) fn docs_before(&mut self, docs: &[String], pos: u32) {
        for doc in docs {
            if doc.is_empty() {
                self.w("///");
            } else {
                self.w(&format!("/// {doc}"));
            }
            self.finish_line();
        }
        if !docs.is_empty() {
            self.leading(pos);
        }
    }

    /// The body of a `{ ... }` item: `{}` when empty, else one part per line.
    pub(super) fn open_body(&mut self, header_end: u32, span: Span, empty: bool) -> bool {
        let brace = self.after(header_end, b'{');
        if empty && !self.has_comment_in(Span::new(brace as usize, span.end as usize)) {
            self.w(" {}");
            return false;
        }
        self.w(" {");
        self.open(brace);
        self.indent += 1;
        true
    }

    pub(super) fn close_body(&mut self, span: Span) {
        self.close(self.end(span).saturating_sub(1));
        self.indent -= 1;
        self.w("}");
    }

    pub(super) fn entity(&mut self, e: &Entity) {
        self.docs(&e.docs, &e.name);
        self.w(&format!("entity {}", e.name.name));
        let mut header_end = e.name.span.end;
        if let Some(title) = &e.title {
            self.w(&format!(" {}", quoted(&title.value)));
            header_end = title.span.end;
        }
        let mut parts = Vec::new();
        if let (Some(first), Some(last)) = (e.databases.first(), e.databases.last()) {
            let start = self.keyword_before(first.span.start, "databases");
            parts.push((EntityPart::Databases(&e.databases), start, last.span.end));
        }
        for g in &e.grants {
            parts.push((EntityPart::Grant(g), g.span.start, self.end(g.span)));
        }
        for s in &e.settings {
            parts.push((EntityPart::Setting(s), s.span.start, self.end(s.span)));
        }
        if !self.open_body(header_end, e.span, parts.is_empty()) {
            return;
        }
        let outer = self.window;
        let bounds: Vec<(u32, u32)> = parts.iter().map(|p| (p.1, p.2)).collect();
        let windows = self.windows(self.after(header_end, b'{'), &bounds);
        for ((part, start, end), window) in parts.iter().zip(windows) {
            self.window = window;
            self.element(*start);
            match part {
                EntityPart::Databases(dbs) => self.w(&format!("databases {}", names(dbs))),
                EntityPart::Grant(g) => {
                    let access = match g.access {
                        GrantAccess::Read => "read",
                        GrantAccess::Write => "write",
                        GrantAccess::ReadWrite => "read_write",
                    };
                    self.w(&format!(
                        "grant {access} {} to {}",
                        names(&g.databases),
                        names(&g.to)
                    ));
                }
                EntityPart::Setting(s) => {
                    self.docs_before(&s.docs, self.keyword_before(s.name.span.start, "setting"));
                    self.w(&format!("setting {} = ", s.name.name));
                    self.expr(&s.value, 0);
                }
            }
            self.newline(*end);
            self.leading(window.1);
        }
        self.window = outer;
        self.close_body(e.span);
    }

    pub(super) fn template(&mut self, t: &Template) {
        self.docs(&t.docs, &t.name);
        self.w(&format!("template {}", t.name.name));
        if !self.open_body(t.name.span.end, t.span, t.parts.is_empty() && t.example.is_none()) {
            return;
        }
        for part in &t.parts {
            self.element(part.span.start);
            self.w(part.kind.keyword());
            self.w(" ");
            let raw = self.written_raw(part.body_span);
            let body = &part.body;
            // Keep the author's quotes; without a source, multi-line bodies are raw strings.
            let raw_wanted = raw.unwrap_or_else(|| body.contains('\n'));
            let as_string = if raw_wanted { None } else { template_string(body) };
            match as_string {
                Some(s) => self.w(&s),
                None => self.raw_text(body, true),
            }
            let end = self.end(part.span);
            self.newline(end);
        }
        if let Some(example) = &t.example {
            self.element(example.span.start);
            self.w("example ");
            self.expr(&example.value, 0);
            let end = self.end(example.span);
            self.newline(end);
        }
        self.close_body(t.span);
    }

    pub(super) fn flow(&mut self, f: &Flow) {
        self.docs(&f.docs, &f.name);
        self.w(&format!("flow {} for {}", f.name.name, f.entity.name));
        let mut parts: Vec<(FlowPart, u32, u32)> = Vec::new();
        for t in &f.triggers {
            parts.push((FlowPart::Trigger(t), t.span.start, self.end(t.span)));
        }
        if let Some(input) = &f.input {
            parts.push((FlowPart::Input(input), input.span.start, self.end(input.span)));
        }
        for s in &f.body {
            parts.push((FlowPart::Stmt(s), s.span().start, self.end(s.span())));
        }
        if let Some(output) = &f.output {
            parts.push((FlowPart::Output(output), output.span.start, self.end(output.span)));
        }
        if let Some(block) = &f.on_error {
            let error = self.keyword_before(block.span.start, "error");
            let start = self.keyword_before(error, "on");
            parts.push((FlowPart::OnError(block), start, self.end(block.span)));
        }
        if !self.open_body(f.entity.span.end, f.span, parts.is_empty()) {
            return;
        }
        let outer = self.window;
        let bounds: Vec<(u32, u32)> = parts.iter().map(|p| (p.1, p.2)).collect();
        let windows = self.windows(self.after(f.entity.span.end, b'{'), &bounds);
        for ((part, start, end), window) in parts.iter().zip(windows) {
            self.window = window;
            self.element(*start);
            match part {
                FlowPart::Trigger(t) => self.trigger(t),
                FlowPart::Input(input) => {
                    self.w("input ");
                    self.fields(&input.fields, input.span);
                }
                FlowPart::Stmt(s) => self.stmt(s),
                FlowPart::Output(o) => {
                    self.w("output ");
                    self.expr(&o.value, 0);
                }
                FlowPart::OnError(block) => {
                    self.w("on error ");
                    self.block(block);
                }
            }
            self.newline(*end);
            self.leading(window.1);
        }
        self.window = outer;
        self.close_body(f.span);
    }

    pub(super) fn trigger(&mut self, t: &Trigger) {
        match &t.kind {
            TriggerKind::Webhook {
                path,
                verified_by,
                unverified,
            } => {
                self.w(&format!("on webhook {}", quoted(&path.value)));
                if let Some(v) = verified_by {
                    self.w(&format!(" verified by {}", v.name));
                } else if *unverified {
                    self.w(" unverified");
                }
            }
            TriggerKind::Notion {
                database,
                property,
                to,
            } => {
                self.w(&format!("on notion {}", database.name));
                match property {
                    None => self.w(" created"),
                    Some(p) => {
                        self.w(&format!(" changed {}", quoted(&p.value)));
                        if let Some(to) = to {
                            self.w(" to ");
                            self.expr(to, 0);
                        }
                    }
                }
            }
            TriggerKind::Schedule { cron, timezone } => {
                self.w(&format!("on schedule {}", quoted(&cron.value)));
                if let Some(tz) = timezone {
                    self.w(&format!(" in {}", quoted(&tz.value)));
                }
            }
            TriggerKind::Manual => self.w("on manual"),
            TriggerKind::Event { name } => self.w(&format!("on event {}", quoted(&name.value))),
        }
    }

    /// `{ name: type, ... }` of an input or a record type; `span` ends at its `}` (or `?`).
    pub(super) fn fields(&mut self, fields: &[FieldDecl], span: Span) {
        let close = self
            .source
            .and_then(|src| src.get(span.start as usize..self.end(span) as usize))
            .and_then(|s| s.rfind('}'))
            .map_or(span.end.saturating_sub(1), |i| span.start + i as u32);
        let brace = self.after(span.start, b'{');
        let inside = Span::new(brace as usize, close as usize);
        let flat = self.flat_fields(fields);
        if let Some(flat) = flat.filter(|f| !self.has_comment_in(inside) && self.fits(f)) {
            self.w(&flat);
            return;
        }
        self.w("{");
        self.open(brace);
        self.indent += 1;
        for f in fields {
            self.element(f.span.start);
            self.docs(&f.docs, &f.name);
            self.field(f);
            self.w(",");
            let end = self.end(f.span);
            self.newline(end);
        }
        self.close(close);
        self.indent -= 1;
        self.w("}");
    }

    pub(super) fn flat_fields(&self, fields: &[FieldDecl]) -> Option<String> {
        if fields.is_empty() {
            return Some("{}".into());
        }
        let mut parts = Vec::new();
        for f in fields {
            if !f.docs.is_empty() {
                return None;
            }
            let mut s = format!("{}: {}", key(&f.name.name), self.flat_type(&f.ty)?);
            if let Some(d) = &f.default {
                s.push_str(" = ");
                s.push_str(&self.flat(d, 0)?);
            }
            parts.push(s);
        }
        Some(format!("{{ {} }}", parts.join(", ")))
    }

    pub(super) fn flat_type(&self, t: &TypeExpr) -> Option<String> {
        let mut s = match &t.kind {
            TypeExprKind::Named(n) => n.name.clone(),
            TypeExprKind::List(inner) => format!("[{}]", self.flat_type(inner)?),
            TypeExprKind::Record(fields) => self.flat_fields(fields)?,
        };
        if t.optional {
            s.push('?');
        }
        Some(s)
    }

    pub(super) fn field(&mut self, f: &FieldDecl) {
        self.w(&format!("{}: ", key(&f.name.name)));
        self.ty(&f.ty);
        if let Some(d) = &f.default {
            self.w(" = ");
            self.expr(d, 0);
        }
    }

    pub(super) fn ty(&mut self, t: &TypeExpr) {
        match &t.kind {
            TypeExprKind::Named(n) => self.w(&n.name),
            TypeExprKind::List(inner) => {
                self.w("[");
                self.ty(inner);
                self.w("]");
            }
            TypeExprKind::Record(fields) => self.fields(fields, t.span),
        }
        if t.optional {
            self.w("?");
        }
    }

    pub(super) fn test(&mut self, t: &Test) {
        let name = Ident {
            name: String::new(),
            span: t.name.span,
        };
        self.docs(&t.docs, &name);
        self.w(&format!("test {} for {}", quoted(&t.name.value), t.flow.name));
        if !self.open_body(t.flow.span.end, t.span, t.items.is_empty()) {
            return;
        }
        for item in &t.items {
            let span = match item {
                TestItem::Input(e) => e.span,
                TestItem::Start(s) => s.span,
                TestItem::Stub(s) => s.span,
                TestItem::Event(e) => e.span,
                TestItem::Expect(e) => e.span,
            };
            let start = match item {
                TestItem::Input(_) => self.keyword_before(span.start, "input"),
                TestItem::Start(_) => self.keyword_before(span.start, "start"),
                _ => span.start,
            };
            self.element(start);
            match item {
                TestItem::Input(e) => {
                    self.w("input ");
                    self.expr(e, 0);
                }
                TestItem::Start(s) => self.w(&format!("start at {}", quoted(&s.value))),
                TestItem::Stub(s) => self.stub(s),
                TestItem::Event(e) => {
                    self.w(&format!("send event {}", quoted(&e.name.value)));
                    if let Some(p) = &e.payload {
                        self.w(" ");
                        self.expr(p, 0);
                    }
                    if let Some(after) = &e.after {
                        self.w(&format!(" after {}", self.duration(after.ms, after.span)));
                    }
                }
                TestItem::Expect(e) => {
                    self.w("expect ");
                    match &e.kind {
                        ExpectKind::That(x) => self.expr(x, 0),
                        ExpectKind::Step(step, state) => {
                            let state = match state {
                                StepState::Ran => "ran",
                                StepState::Skipped => "skipped",
                                StepState::Failed => "failed",
                            };
                            self.w(&format!("step {} {state}", step.name));
                        }
                        ExpectKind::Call { action, times, with } => {
                            self.w(&format!("call {}", path(action)));
                            if let Some(n) = times {
                                self.w(&format!(" {n} times"));
                            }
                            if let Some(with) = with {
                                self.w(" with ");
                                self.expr(with, 0);
                            }
                        }
                        ExpectKind::NoCall(action) => self.w(&format!("no call {}", path(action))),
                    }
                }
            }
            let end = self.end(span);
            self.newline(end);
        }
        self.close_body(t.span);
    }

    pub(super) fn stub(&mut self, s: &Stub) {
        match &s.target {
            StubTarget::Step(step) => self.w(&format!("stub step {}", step.name)),
            StubTarget::Action(action) => self.w(&format!("stub {}", path(action))),
        }
        for (i, outcome) in s.outcomes.iter().enumerate() {
            self.w(if i == 0 { " " } else { " then " });
            match outcome {
                StubOutcome::Returns(e) => {
                    self.w("returns ");
                    self.expr(e, 0);
                }
                StubOutcome::Fails {
                    class,
                    message,
                    times,
                    ..
                } => {
                    self.w(&format!("fails {}", class.name));
                    if let Some(m) = message {
                        self.w(&format!(" {}", quoted(&m.value)));
                    }
                    if let Some(n) = times {
                        self.w(&format!(" {n} times"));
                    }
                }
                StubOutcome::Hangs(_) => self.w("hangs"),
            }
        }
    }
}
