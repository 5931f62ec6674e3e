//! Walks a parsed project once and fills the [`Index`]: declarations first (so uses may point
//! forward and across files), then every use, resolved the way the checker resolves names.

use std::collections::HashMap;

use crate::connectors::Registry;
use crate::diagnostic::FileId;
use crate::project::Project;
use crate::syntax::ast::{self, Expr, ExprKind, Ident, Pattern, Policy, StepBody, Stmt, StrPart};
use crate::syntax::Span;

use super::index::{Index, Occurrence, Symbol, SymbolKind, Target};

/// Indexes every file of `project`.
pub(crate) fn index(project: &Project, registry: &Registry) -> Index {
    let mut indexer = Indexer {
        index: Index::default(),
        registry,
        entities: HashMap::new(),
        databases: HashMap::new(),
        settings: HashMap::new(),
        templates: HashMap::new(),
        flows: HashMap::new(),
    };
    for module in &project.modules {
        indexer.declare_items(module.file, &module.ast);
    }
    for module in &project.modules {
        let uses: HashMap<&str, FileId> = module
            .ast
            .items
            .iter()
            .filter_map(|item| match item {
                ast::Item::Use(u) => {
                    let dotted = u
                        .path
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(".");
                    project.module(&dotted).map(|m| (u.name().name.as_str(), m.file))
                }
                _ => None,
            })
            .collect();
        for item in &module.ast.items {
            indexer.use_item(module.file, item, &uses);
        }
    }
    indexer.index
}

struct Indexer<'a> {
    index: Index,
    registry: &'a Registry,
    entities: HashMap<String, usize>,
    /// (entity, database) → symbol.
    databases: HashMap<(String, String), usize>,
    /// (entity, setting) → symbol.
    settings: HashMap<(String, String), usize>,
    templates: HashMap<String, usize>,
    /// (file, flow) → symbol.
    flows: HashMap<(FileId, String), usize>,
}

/// The flow being walked: its names and the loop variables around the current expression.
struct FlowScope<'s> {
    file: FileId,
    entity: String,
    names: HashMap<String, usize>,
    loops: Vec<(String, usize)>,
    uses: &'s HashMap<&'s str, FileId>,
}

impl FlowScope<'_> {
    /// The loop variable (innermost first), step or let called `name`.
    fn local(&self, name: &str) -> Option<usize> {
        self.loops
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .or_else(|| self.names.get(name).copied())
    }
}

impl<'a> Indexer<'a> {
    fn symbol(&mut self, symbol: Symbol) -> usize {
        self.index.occurrences.push(Occurrence {
            file: symbol.file,
            span: symbol.span,
            target: Target::Symbol(self.index.symbols.len()),
            declaration: true,
            shorthand: false,
        });
        self.index.symbols.push(symbol);
        self.index.symbols.len() - 1
    }

    fn occurrence(&mut self, file: FileId, span: Span, target: Target, shorthand: bool) {
        self.index.occurrences.push(Occurrence {
            file,
            span,
            target,
            declaration: false,
            shorthand,
        });
    }

    fn declare(
        &mut self,
        kind: SymbolKind,
        file: FileId,
        name: &Ident,
        full: Span,
        docs: &[String],
    ) -> usize {
        self.symbol(Symbol {
            kind,
            name: name.name.clone(),
            file,
            span: name.span,
            full,
            docs: docs.to_vec(),
            parent: None,
            visible: None,
            database: None,
            callee: None,
            entity: None,
        })
    }

    fn declare_items(&mut self, file: FileId, module: &ast::Module) {
        for item in &module.items {
            match item {
                ast::Item::Entity(e) => {
                    let entity = self.declare(SymbolKind::Entity, file, &e.name, e.span, &e.docs);
                    self.entities.entry(e.name.name.clone()).or_insert(entity);
                    for db in &e.databases {
                        let s = self.declare(SymbolKind::Database, file, db, db.span, &[]);
                        self.index.symbols[s].parent = Some(entity);
                        self.databases.insert((e.name.name.clone(), db.name.clone()), s);
                    }
                    for setting in &e.settings {
                        let s = self.declare(
                            SymbolKind::Setting,
                            file,
                            &setting.name,
                            setting.span,
                            &setting.docs,
                        );
                        self.index.symbols[s].parent = Some(entity);
                        self.settings
                            .insert((e.name.name.clone(), setting.name.name.clone()), s);
                    }
                }
                ast::Item::Template(t) => {
                    let s = self.declare(SymbolKind::Template, file, &t.name, t.span, &t.docs);
                    self.templates.entry(t.name.name.clone()).or_insert(s);
                }
                ast::Item::Flow(f) => {
                    let s = self.declare(SymbolKind::Flow, file, &f.name, f.span, &f.docs);
                    self.index.symbols[s].entity = Some(f.entity.name.clone());
                    self.flows.entry((file, f.name.name.clone())).or_insert(s);
                }
                ast::Item::Use(_) | ast::Item::Test(_) => {}
            }
        }
    }

    fn use_item(&mut self, file: FileId, item: &ast::Item, uses: &HashMap<&str, FileId>) {
        match item {
            ast::Item::Use(u) => {
                if let Some(&target) = uses.get(u.name().name.as_str()) {
                    if let (Some(first), Some(last)) = (u.path.first(), u.path.last()) {
                        self.occurrence(file, first.span.to(last.span), Target::Module(target), false);
                    }
                }
            }
            ast::Item::Entity(e) => {
                for grant in &e.grants {
                    for db in &grant.databases {
                        self.database_ref(file, &e.name.name, db);
                    }
                    for to in &grant.to {
                        self.entity_ref(file, to);
                    }
                }
                for setting in &e.settings {
                    let scope = FlowScope {
                        file,
                        entity: e.name.name.clone(),
                        names: HashMap::new(),
                        loops: Vec::new(),
                        uses,
                    };
                    self.expr(&scope, &setting.value);
                }
            }
            ast::Item::Flow(f) => self.flow(file, f, uses),
            ast::Item::Test(t) => self.test(file, t),
            ast::Item::Template(_) => {}
        }
    }

    fn entity_ref(&mut self, file: FileId, name: &Ident) {
        if let Some(&s) = self.entities.get(&name.name) {
            self.occurrence(file, name.span, Target::Symbol(s), false);
        }
    }

    /// A database named in `entity`'s context: its own declaration, else the first entity that
    /// declares one of that name.
    fn database_ref(&mut self, file: FileId, entity: &str, name: &Ident) {
        if let Some(s) = self.database_symbol(entity, &name.name) {
            self.occurrence(file, name.span, Target::Symbol(s), false);
        }
    }

    fn database_symbol(&self, entity: &str, name: &str) -> Option<usize> {
        self.databases
            .get(&(entity.to_string(), name.to_string()))
            .or_else(|| {
                self.databases
                    .iter()
                    .filter(|((_, db), _)| db == name)
                    .map(|(_, s)| s)
                    .min()
            })
            .copied()
    }

    fn flow(&mut self, file: FileId, f: &ast::Flow, uses: &HashMap<&str, FileId>) {
        let Some(&flow) = self.flows.get(&(file, f.name.name.clone())) else {
            return;
        };
        self.entity_ref(file, &f.entity);
        let mut scope = FlowScope {
            file,
            entity: f.entity.name.clone(),
            names: HashMap::new(),
            loops: Vec::new(),
            uses,
        };
        if let Some(input) = &f.input {
            for field in &input.fields {
                let s = self.declare(SymbolKind::Input, file, &field.name, field.span, &field.docs);
                self.index.symbols[s].parent = Some(flow);
                scope.names.insert(format!("input.{}", field.name.name), s);
            }
        }
        // Steps and lets share one namespace per flow, nested blocks included, and may be used
        // before the line declaring them.
        self.declare_block(&f.body, flow, &mut scope);
        if let Some(handler) = &f.on_error {
            self.declare_block(&handler.stmts, flow, &mut scope);
        }
        for trigger in &f.triggers {
            match &trigger.kind {
                ast::TriggerKind::Notion { database, to, .. } => {
                    self.database_ref(file, &f.entity.name, database);
                    if let Some(to) = to {
                        self.expr(&scope, to);
                    }
                }
                ast::TriggerKind::Webhook { .. }
                | ast::TriggerKind::Schedule { .. }
                | ast::TriggerKind::Manual
                | ast::TriggerKind::Event { .. } => {}
            }
        }
        if let Some(input) = &f.input {
            for field in input.fields.iter().filter_map(|f| f.default.as_ref()) {
                self.expr(&scope, field);
            }
        }
        self.block(&mut scope, &f.body);
        if let Some(handler) = &f.on_error {
            self.block(&mut scope, &handler.stmts);
        }
        if let Some(output) = &f.output {
            self.expr(&scope, &output.value);
        }
    }

    fn declare_block(&mut self, stmts: &[Stmt], flow: usize, scope: &mut FlowScope<'_>) {
        for stmt in stmts {
            match stmt {
                Stmt::Step(step) => {
                    let s = self.declare(SymbolKind::Step, scope.file, &step.name, step.span, &step.docs);
                    self.index.symbols[s].parent = Some(flow);
                    if let StepBody::Call(call) = &step.body {
                        self.index.symbols[s].callee = Some(call.callee_name());
                        self.index.symbols[s].database = call
                            .args
                            .iter()
                            .find(|a| a.name.name == "db")
                            .and_then(|a| a.value.as_name())
                            .map(str::to_string);
                    }
                    scope.names.entry(step.name.name.clone()).or_insert(s);
                    if let StepBody::FanOut(fan_out) = &step.body {
                        let v = self.declare(
                            SymbolKind::LoopVar,
                            scope.file,
                            &fan_out.var,
                            fan_out.var.span,
                            &[],
                        );
                        self.index.symbols[v].parent = Some(flow);
                        self.index.symbols[v].visible = Some(fan_out.body.span);
                        // Over a Notion query's pages, the loop variable is a page of its
                        // database: its fields are that database's properties.
                        self.index.symbols[v].database = fan_out
                            .over
                            .as_name()
                            .and_then(|list| scope.names.get(list))
                            .and_then(|&list| self.index.symbols[list].database.clone());
                        self.declare_block(&fan_out.body.stmts, flow, scope);
                    }
                    for policy in &step.policies {
                        if let Policy::Fallback(ast::Fallback::Block(block)) = policy {
                            self.declare_block(&block.stmts, flow, scope);
                        }
                    }
                }
                Stmt::Let(l) => {
                    let s = self.declare(SymbolKind::Let, scope.file, &l.name, l.span, &l.docs);
                    self.index.symbols[s].parent = Some(flow);
                    scope.names.entry(l.name.name.clone()).or_insert(s);
                }
                Stmt::If(i) => {
                    for (_, block) in &i.branches {
                        self.declare_block(&block.stmts, flow, scope);
                    }
                    if let Some(block) = &i.otherwise {
                        self.declare_block(&block.stmts, flow, scope);
                    }
                }
                Stmt::Match(m) => {
                    for arm in &m.arms {
                        self.declare_block(&arm.body.stmts, flow, scope);
                    }
                }
                Stmt::Wait(_) | Stmt::Emit(_) | Stmt::Fail(_) | Stmt::Yield(_) => {}
            }
        }
    }

    fn block(&mut self, scope: &mut FlowScope<'_>, stmts: &[Stmt]) {
        for stmt in stmts {
            self.stmt(scope, stmt);
        }
    }

    fn stmt(&mut self, scope: &mut FlowScope<'_>, stmt: &Stmt) {
        match stmt {
            Stmt::Step(step) => self.step(scope, step),
            Stmt::Let(l) => self.expr(scope, &l.value),
            Stmt::If(i) => {
                for (cond, block) in &i.branches {
                    self.expr(scope, cond);
                    self.block(scope, &block.stmts);
                }
                if let Some(block) = &i.otherwise {
                    self.block(scope, &block.stmts);
                }
            }
            Stmt::Match(m) => {
                self.expr(scope, &m.value);
                for arm in &m.arms {
                    self.pattern(scope, &arm.pattern);
                    self.block(scope, &arm.body.stmts);
                }
            }
            Stmt::Wait(w) => match &w.kind {
                ast::WaitKind::For(e) | ast::WaitKind::Until(e) => self.expr(scope, e),
            },
            Stmt::Emit(e) => {
                if let Some(payload) = &e.payload {
                    self.expr(scope, payload);
                }
            }
            Stmt::Fail(f) => self.expr(scope, &f.message),
            Stmt::Yield(y) => self.expr(scope, &y.value),
        }
    }

    fn step(&mut self, scope: &mut FlowScope<'_>, step: &ast::Step) {
        match &step.body {
            StepBody::Call(call) => self.call(scope, call),
            StepBody::WaitEvent(w) => {
                if let Some(filter) = &w.filter {
                    self.expr(scope, filter);
                }
            }
            StepBody::FanOut(fan_out) => {
                self.expr(scope, &fan_out.over);
                let var = self.index.symbols.iter().rposition(|s| {
                    s.kind == SymbolKind::LoopVar && s.span == fan_out.var.span && s.file == scope.file
                });
                if let Some(var) = var {
                    scope.loops.push((fan_out.var.name.clone(), var));
                }
                self.block(scope, &fan_out.body.stmts);
                if var.is_some() {
                    scope.loops.pop();
                }
            }
        }
        for policy in &step.policies {
            match policy {
                Policy::After(names) => {
                    for name in names {
                        if let Some(&s) = scope.names.get(&name.name) {
                            self.occurrence(scope.file, name.span, Target::Symbol(s), false);
                        }
                    }
                }
                Policy::TimeoutExpr(e) | Policy::Fallback(ast::Fallback::Value(e)) => self.expr(scope, e),
                Policy::Fallback(ast::Fallback::Block(block)) => self.block(scope, &block.stmts),
                Policy::Retry(_) | Policy::Timeout(_) => {}
            }
        }
    }

    fn call(&mut self, scope: &FlowScope<'_>, call: &ast::Call) {
        let callee: Vec<&str> = call.callee.iter().map(|i| i.name.as_str()).collect();
        // `alias.flow(...)` through a `use`, `flow(...)` in the same file, or `connector.action(...)`.
        let mut flow_target = None;
        match callee.as_slice() {
            [alias, flow] if scope.uses.contains_key(alias) => {
                let module = scope.uses[alias];
                self.occurrence(scope.file, call.callee[0].span, Target::Module(module), false);
                flow_target = self.flows.get(&(module, flow.to_string())).copied();
                if let Some(s) = flow_target {
                    self.occurrence(scope.file, call.callee[1].span, Target::Symbol(s), false);
                }
            }
            [connector, action] if self.registry.action(connector, action).is_some() => {
                let target = Target::Action {
                    connector: connector.to_string(),
                    action: action.to_string(),
                };
                self.occurrence(scope.file, call.callee_span(), target, false);
            }
            [flow] => {
                flow_target = self.flows.get(&(scope.file, flow.to_string())).copied();
                if let Some(s) = flow_target {
                    self.occurrence(scope.file, call.callee[0].span, Target::Symbol(s), false);
                }
            }
            _ => {}
        }
        let database = call
            .args
            .iter()
            .find(|a| a.name.name == "db")
            .and_then(|a| a.value.as_name());
        for arg in &call.args {
            if let Some(flow) = flow_target {
                let input = self.index.symbols.iter().position(|s| {
                    s.kind == SymbolKind::Input && s.parent == Some(flow) && s.name == arg.name.name
                });
                if let Some(input) = input {
                    self.occurrence(scope.file, arg.name.span, Target::Symbol(input), false);
                }
            }
            if arg.name.name == "template" {
                if let Some(name) = arg.value.as_plain_str() {
                    if let Some(&t) = self.templates.get(&name) {
                        let inner = Span::new(
                            arg.value.span.start as usize + 1,
                            (arg.value.span.end as usize).saturating_sub(1),
                        );
                        self.occurrence(scope.file, inner, Target::Symbol(t), false);
                    }
                }
            }
            // Property records (`properties:`, `where:`): their keys are the database's properties.
            if let (Some(db), ExprKind::Record(fields)) = (database, &arg.value.kind) {
                if matches!(arg.name.name.as_str(), "properties" | "where" | "match") {
                    for field in fields {
                        let target = Target::Property {
                            entity: scope.entity.clone(),
                            database: db.to_string(),
                            property: field.name.name.clone(),
                        };
                        self.occurrence(scope.file, field.name.span, target, false);
                    }
                }
            }
            if arg.shorthand {
                self.name(scope, &arg.value, true);
            } else {
                self.expr(scope, &arg.value);
            }
        }
    }

    fn pattern(&mut self, scope: &FlowScope<'_>, pattern: &Pattern) {
        if let Pattern::Literals(items) = pattern {
            for item in items {
                self.expr(scope, item);
            }
        }
    }

    /// A bare name: a loop variable, a step or let, an entity or a database.
    fn name(&mut self, scope: &FlowScope<'_>, expr: &Expr, shorthand: bool) {
        let Some(name) = expr.as_name() else {
            return self.expr(scope, expr);
        };
        let local = scope
            .local(name)
            .or_else(|| self.entities.get(name).copied())
            .or_else(|| self.database_symbol(&scope.entity, name));
        if let Some(s) = local {
            self.occurrence(scope.file, expr.span, Target::Symbol(s), shorthand);
        }
    }

    fn expr(&mut self, scope: &FlowScope<'_>, expr: &Expr) {
        match &expr.kind {
            ExprKind::Name(_) => self.name(scope, expr, false),
            ExprKind::Field(base, field) => {
                self.field(scope, base, field);
                self.expr(scope, base);
            }
            ExprKind::Index(a, b) => {
                self.expr(scope, a);
                self.expr(scope, b);
            }
            ExprKind::Call(_, args) | ExprKind::List(args) => {
                for arg in args {
                    self.expr(scope, arg);
                }
            }
            ExprKind::Record(fields) => {
                for field in fields {
                    if field.shorthand {
                        self.name(scope, &field.value, true);
                    } else {
                        self.expr(scope, &field.value);
                    }
                }
            }
            ExprKind::Str(parts) => {
                for part in parts {
                    if let StrPart::Expr(e) = part {
                        self.expr(scope, e);
                    }
                }
            }
            ExprKind::Unary(_, e) => self.expr(scope, e),
            ExprKind::Binary(_, a, b) => {
                self.expr(scope, a);
                self.expr(scope, b);
            }
            ExprKind::If(c, a, b) => {
                self.expr(scope, c);
                self.expr(scope, a);
                self.expr(scope, b);
            }
            ExprKind::Match(value, arms) => {
                self.expr(scope, value);
                for (pattern, e) in arms {
                    self.pattern(scope, pattern);
                    self.expr(scope, e);
                }
            }
            ExprKind::None | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Duration(_) => {}
        }
    }

    /// `input.x`, `entity.setting`, `page.Property`.
    fn field(&mut self, scope: &FlowScope<'_>, base: &Expr, field: &Ident) {
        let Some(base_name) = base.as_name() else {
            return;
        };
        if base_name == "input" {
            if let Some(&s) = scope.names.get(&format!("input.{}", field.name)) {
                self.occurrence(scope.file, field.span, Target::Symbol(s), false);
            }
            return;
        }
        if let Some(&s) = self.settings.get(&(base_name.to_string(), field.name.clone())) {
            self.occurrence(scope.file, field.span, Target::Symbol(s), false);
            return;
        }
        let step = scope.local(base_name);
        let database = step.and_then(|s| self.index.symbols[s].database.clone());
        if let Some(database) = database {
            let target = Target::Property {
                entity: scope.entity.clone(),
                database,
                property: field.name.clone(),
            };
            self.occurrence(scope.file, field.span, target, false);
        }
    }

    fn test(&mut self, file: FileId, t: &ast::Test) {
        let name = Ident {
            name: t.name.value.clone(),
            span: t.name.span,
        };
        let test = self.declare(SymbolKind::Test, file, &name, t.span, &t.docs);
        let flow = self
            .flows
            .iter()
            .filter(|((_, name), _)| *name == t.flow.name)
            .map(|(_, &s)| s)
            .min();
        let Some(flow) = flow else {
            return;
        };
        self.index.symbols[test].parent = None;
        self.occurrence(file, t.flow.span, Target::Symbol(flow), false);
        let step_of = |index: &Index, name: &str| {
            index
                .symbols
                .iter()
                .position(|s| s.kind == SymbolKind::Step && s.parent == Some(flow) && s.name == name)
        };
        for item in &t.items {
            let ident = match item {
                ast::TestItem::Stub(ast::Stub {
                    target: ast::StubTarget::Step(name),
                    ..
                }) => name,
                ast::TestItem::Expect(ast::Expect {
                    kind: ast::ExpectKind::Step(name, _),
                    ..
                }) => name,
                _ => continue,
            };
            if let Some(s) = step_of(&self.index, &ident.name) {
                self.occurrence(file, ident.span, Target::Symbol(s), false);
            }
        }
    }
}
