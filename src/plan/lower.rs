//! Lowering: a checked flow's AST to a [`Bundle`] of span-less DAGs, resolving names, calls,
//! retry policies, triggers and templates.
//!
//! [`compile`] refuses a project the checker finds errors in; what lowering still meets (a
//! project compiled without checking) is an error value, never a panic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::block_graph::{Builder, Pending};
use super::compile::{err, PlanError};
use super::expr::Expr;
use super::input_type::{InputField, InputType, Shape};
use super::lower_expr::Scope;
use super::names::{expr_names, BlockNames};
use super::plan::*;
use super::trigger::{NotionChange, Trigger, WebhookAuth};
use crate::connectors::{ErrorClass, Registry};
use crate::diagnostic::FileId;
use crate::project::{ParsedModule, Project};
use crate::syntax::ast::{self, Item, Policy, StepBody, Stmt};
use crate::time_zone::Zone;
use crate::types::Type;

/// Compiles `flow` of a project already checked (or that the caller accepts unchecked).
pub(crate) fn compile_checked(
    project: &Project,
    registry: &Registry,
    file: Option<FileId>,
    flow: &str,
) -> Result<Bundle, PlanError> {
    let (module, entry) = find_flow(project, file, flow)?;
    let (entities, databases) = project_names(project);
    let mut lowerer = Lowerer {
        project,
        registry,
        templates: BTreeSet::new(),
        queue: VecDeque::new(),
        queued: BTreeSet::new(),
        entities,
        databases,
        locals: BTreeSet::new(),
    };
    let entry_key = flow_key(module, &entry.name.name);
    lowerer.queued.insert(entry_key.clone());
    lowerer.queue.push_back((module, entry));
    let mut flows = BTreeMap::new();
    while let Some((module, flow)) = lowerer.queue.pop_front() {
        let plan = lowerer.lower_flow(module, flow)?;
        flows.insert(plan.key.clone(), plan);
    }
    let templates = lowerer.collect_templates()?;
    let entities = lowerer.collect_entities()?;
    let mut bundle = Bundle {
        format_version: FORMAT_VERSION,
        hash: String::new(),
        entry: entry_key,
        flows,
        templates,
        entities,
    };
    bundle.hash = super::hash::content_hash(&bundle);
    Ok(bundle)
}

/// The key of a flow in a bundle: module path with dots, then the flow name.
pub(crate) fn flow_key(module: &ParsedModule, flow: &str) -> String {
    let path = module.module_path.replace('/', ".");
    if path.is_empty() {
        flow.to_string()
    } else {
        format!("{path}.{flow}")
    }
}

fn find_flow<'p>(
    project: &'p Project,
    file: Option<FileId>,
    name: &str,
) -> Result<(&'p ParsedModule, &'p ast::Flow), PlanError> {
    let mut found = Vec::new();
    for module in &project.modules {
        if file.is_some_and(|f| f != module.file) {
            continue;
        }
        for item in &module.ast.items {
            if let Item::Flow(flow) = item {
                if flow.name.name == name {
                    found.push((module, flow));
                }
            }
        }
    }
    match found.len() {
        0 => err(format!("no flow called `{name}`")),
        1 => Ok(found[0]),
        _ => err(format!(
            "several flows are called `{name}`; name the file that holds the one to use"
        )),
    }
}

/// The entities and logical databases of the project: names an expression may read.
fn project_names(project: &Project) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut entities = BTreeSet::new();
    let mut databases = BTreeSet::new();
    for module in &project.modules {
        for item in &module.ast.items {
            if let Item::Entity(e) = item {
                entities.insert(e.name.name.clone());
                databases.extend(e.databases.iter().map(|d| d.name.clone()));
            }
        }
    }
    (entities, databases)
}

struct Lowerer<'p> {
    project: &'p Project,
    registry: &'p Registry,
    templates: BTreeSet<String>,
    queue: VecDeque<(&'p ParsedModule, &'p ast::Flow)>,
    queued: BTreeSet<String>,
    entities: BTreeSet<String>,
    databases: BTreeSet<String>,
    /// Steps, lets and loop variables of the flow being lowered.
    locals: BTreeSet<String>,
}

impl<'p> Lowerer<'p> {
    fn scope(&self, event: bool) -> Scope<'_> {
        Scope {
            locals: &self.locals,
            entities: &self.entities,
            databases: &self.databases,
            event,
            free: false,
        }
    }

    fn expr(&self, expr: &ast::Expr) -> Result<Expr, PlanError> {
        self.scope(false).lower(expr)
    }

    fn lower_flow(&mut self, module: &'p ParsedModule, flow: &'p ast::Flow) -> Result<FlowPlan, PlanError> {
        let key = flow_key(module, &flow.name.name);
        let mut names = BlockNames::default();
        names.block_stmts(&flow.body);
        if let Some(handler) = &flow.on_error {
            names.block(handler);
        }
        self.locals = names.defined;
        let mut builder = Builder::default();
        self.add_block(module, &mut builder, &flow.body, None)?;
        if let Some(output) = &flow.output {
            let mut reads = BTreeSet::new();
            expr_names(&output.value, &mut reads);
            builder.nodes.push(Pending {
                node: Node {
                    name: None,
                    kind: NodeKind::Output {
                        value: self.expr(&output.value)?,
                    },
                    gate: None,
                },
                reads,
                after: Vec::new(),
            });
            // The output is the block's last statement: it comes after every top-level wait.
            let out = builder.nodes.len() - 1;
            let waits: Vec<usize> = (0..out)
                .filter(|&i| {
                    builder.nodes[i].node.gate.is_none()
                        && matches!(builder.nodes[i].node.kind, NodeKind::Wait { .. })
                })
                .collect();
            for w in waits {
                builder.barriers.push((w, out));
            }
        }
        let body = builder.finish(&format!("flow `{}`", flow.name.name))?;
        let on_error = match &flow.on_error {
            Some(block) => Some(self.lower_sub(module, &block.stmts, "the error handler")?),
            None => None,
        };
        let input = match &flow.input {
            Some(i) => self.input_fields(&i.fields)?,
            None => Vec::new(),
        };
        let triggers = flow
            .triggers
            .iter()
            .map(|t| self.trigger(&t.kind))
            .collect::<Result<_, _>>()?;
        Ok(FlowPlan {
            key,
            name: flow.name.name.clone(),
            entity: flow.entity.name.clone(),
            input,
            body,
            on_error,
            triggers,
        })
    }

    fn input_fields(&self, fields: &[ast::FieldDecl]) -> Result<Vec<InputField>, PlanError> {
        fields
            .iter()
            .map(|f| {
                Ok(InputField {
                    name: f.name.name.clone(),
                    ty: self.input_type(&f.ty)?,
                    default: f.default.as_ref().map(|d| self.expr(d)).transpose()?,
                })
            })
            .collect()
    }

    fn input_type(&self, ty: &ast::TypeExpr) -> Result<InputType, PlanError> {
        let shape = match &ty.kind {
            ast::TypeExprKind::Named(name) => match Shape::named(&name.name) {
                Some(shape) => shape,
                None => return err(format!("unknown type `{}`", name.name)),
            },
            ast::TypeExprKind::List(of) => Shape::List(Box::new(self.input_type(of)?)),
            ast::TypeExprKind::Record(fields) => Shape::Record(self.input_fields(fields)?),
        };
        Ok(InputType {
            shape,
            optional: ty.optional,
        })
    }

    fn trigger(&self, kind: &ast::TriggerKind) -> Result<Trigger, PlanError> {
        Ok(match kind {
            ast::TriggerKind::Manual => Trigger::Manual,
            ast::TriggerKind::Webhook {
                path, verified_by, ..
            } => Trigger::Webhook {
                path: path.value.clone(),
                auth: match verified_by {
                    Some(v) => WebhookAuth::VerifiedBy(v.name.clone()),
                    None => WebhookAuth::Unverified,
                },
            },
            ast::TriggerKind::Schedule { cron, timezone } => Trigger::Schedule {
                cron: cron.value.clone(),
                zone: timezone
                    .as_ref()
                    .map(|z| Zone::parse(&z.value).map_err(PlanError::new))
                    .transpose()?,
            },
            ast::TriggerKind::Notion {
                database,
                property,
                to,
            } => Trigger::Notion {
                database: database.name.clone(),
                change: match property {
                    None => NotionChange::Created,
                    Some(p) => NotionChange::Changed {
                        property: p.value.clone(),
                        to: to.as_ref().map(|e| self.expr(e)).transpose()?,
                    },
                },
            },
            ast::TriggerKind::Event { name } => Trigger::Event {
                name: name.value.clone(),
            },
        })
    }

    fn collect_entities(&self) -> Result<BTreeMap<String, EntityPlan>, PlanError> {
        let no_locals = BTreeSet::new();
        let constants = Scope {
            locals: &no_locals,
            entities: &self.entities,
            databases: &self.databases,
            event: false,
            free: false,
        };
        let mut out = BTreeMap::new();
        for module in &self.project.modules {
            for item in &module.ast.items {
                if let Item::Entity(e) = item {
                    let settings = e
                        .settings
                        .iter()
                        .map(|s| {
                            constants
                                .lower(&s.value)
                                .map(|v| (s.name.name.clone(), v))
                                .map_err(|e| {
                                    PlanError::new(format!("setting `{}`: {}", s.name.name, e.message))
                                })
                        })
                        .collect::<Result<_, _>>()?;
                    out.insert(
                        e.name.name.clone(),
                        EntityPlan {
                            title: e.title.as_ref().map(|t| t.value.clone()),
                            databases: e.databases.iter().map(|d| d.name.clone()).collect(),
                            settings,
                            secrets: self
                                .project
                                .config
                                .entities
                                .get(&e.name.name)
                                .map(|c| c.secrets.clone())
                                .unwrap_or_default(),
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    fn lower_sub(
        &mut self,
        module: &'p ParsedModule,
        stmts: &'p [Stmt],
        what: &str,
    ) -> Result<SubPlan, PlanError> {
        let mut builder = Builder::default();
        self.add_block(module, &mut builder, stmts, None)?;
        builder.finish(what)
    }

    /// Adds the statements of one block; returns, per statement, the indexes of its node and
    /// of every node nested in it (for wait barriers).
    fn add_block(
        &mut self,
        module: &'p ParsedModule,
        b: &mut Builder,
        stmts: &'p [Stmt],
        gate: Option<Gate>,
    ) -> Result<Vec<usize>, PlanError> {
        let mut all = Vec::new();
        let mut per_stmt: Vec<(usize, Vec<usize>, bool)> = Vec::new();
        for stmt in stmts {
            let first = b.nodes.len();
            let top = self.add_stmt(module, b, stmt, gate)?;
            let covered: Vec<usize> = (first..b.nodes.len()).collect();
            per_stmt.push((top, covered, matches!(stmt, Stmt::Wait(_))));
        }
        for (i, (top, _, is_wait)) in per_stmt.iter().enumerate() {
            if !is_wait {
                continue;
            }
            for (_, covered, _) in &per_stmt[..i] {
                for &n in covered {
                    b.barriers.push((n, *top));
                }
            }
            for (later, _, _) in &per_stmt[i + 1..] {
                b.barriers.push((*top, *later));
            }
        }
        for (_, covered, _) in per_stmt {
            all.extend(covered);
        }
        Ok(all)
    }

    fn add_stmt(
        &mut self,
        module: &'p ParsedModule,
        b: &mut Builder,
        stmt: &'p Stmt,
        gate: Option<Gate>,
    ) -> Result<usize, PlanError> {
        let mut reads = BTreeSet::new();
        let mut after = Vec::new();
        let (name, kind) = match stmt {
            Stmt::Step(step) => {
                for p in &step.policies {
                    if let Policy::After(names) = p {
                        after.extend(names.iter().map(|n| n.name.clone()));
                    }
                }
                let kind = self.lower_step(module, step, &mut reads)?;
                (Some(step.name.name.clone()), kind)
            }
            Stmt::Let(l) => {
                expr_names(&l.value, &mut reads);
                (
                    Some(l.name.name.clone()),
                    NodeKind::Let {
                        value: self.expr(&l.value)?,
                    },
                )
            }
            Stmt::If(i) => {
                let mut arms = Vec::new();
                for (c, _) in &i.branches {
                    expr_names(c, &mut reads);
                    arms.push(ArmTest::Cond(self.expr(c)?));
                }
                if i.otherwise.is_some() {
                    arms.push(ArmTest::Else);
                }
                let idx = b.push(
                    None,
                    NodeKind::Branch(BranchNode { subject: None, arms }),
                    gate,
                    reads,
                    after,
                );
                let mut blocks: Vec<&Vec<Stmt>> = i.branches.iter().map(|(_, bl)| &bl.stmts).collect();
                if let Some(o) = &i.otherwise {
                    blocks.push(&o.stmts);
                }
                self.add_arms(module, b, idx, blocks)?;
                return Ok(idx);
            }
            Stmt::Match(m) => {
                expr_names(&m.value, &mut reads);
                let arms = m
                    .arms
                    .iter()
                    .map(|a| match &a.pattern {
                        ast::Pattern::Wildcard(_) => Ok(ArmTest::Else),
                        p => self.scope(false).pattern(p).map(ArmTest::Pattern),
                    })
                    .collect::<Result<_, _>>()?;
                let idx = b.push(
                    None,
                    NodeKind::Branch(BranchNode {
                        subject: Some(self.expr(&m.value)?),
                        arms,
                    }),
                    gate,
                    reads,
                    after,
                );
                let blocks = m.arms.iter().map(|a| &a.body.stmts).collect();
                self.add_arms(module, b, idx, blocks)?;
                return Ok(idx);
            }
            Stmt::Wait(w) => {
                let until = match &w.kind {
                    ast::WaitKind::For(e) => {
                        expr_names(e, &mut reads);
                        WaitUntil::For(self.expr(e)?)
                    }
                    ast::WaitKind::Until(e) => {
                        expr_names(e, &mut reads);
                        WaitUntil::Until(self.expr(e)?)
                    }
                };
                (None, NodeKind::Wait { until })
            }
            Stmt::Emit(e) => {
                if let Some(p) = &e.payload {
                    expr_names(p, &mut reads);
                }
                (
                    None,
                    NodeKind::Emit {
                        event: e.event.value.clone(),
                        payload: e.payload.as_ref().map(|p| self.expr(p)).transpose()?,
                    },
                )
            }
            Stmt::Fail(f) => {
                expr_names(&f.message, &mut reads);
                (
                    None,
                    NodeKind::Fail {
                        message: self.expr(&f.message)?,
                    },
                )
            }
            Stmt::Yield(y) => {
                expr_names(&y.value, &mut reads);
                (
                    None,
                    NodeKind::Yield {
                        value: self.expr(&y.value)?,
                    },
                )
            }
        };
        Ok(b.push(name, kind, gate, reads, after))
    }

    fn add_arms(
        &mut self,
        module: &'p ParsedModule,
        b: &mut Builder,
        branch: usize,
        blocks: Vec<&'p Vec<Stmt>>,
    ) -> Result<(), PlanError> {
        for (arm, stmts) in blocks.into_iter().enumerate() {
            let g = Gate {
                branch: branch as u32,
                arm: arm as u32,
            };
            let first = b.nodes.len();
            self.add_block(module, b, stmts, Some(g))?;
            // Only direct members of the arm carry its gate; a nested branch's children carry
            // the nested branch's gate, and that branch is skipped when this arm is not taken.
            for n in first..b.nodes.len() {
                if b.nodes[n].node.gate == Some(g) {
                    b.gates.push((branch, n));
                }
            }
        }
        Ok(())
    }

    fn lower_step(
        &mut self,
        module: &'p ParsedModule,
        step: &'p ast::Step,
        reads: &mut BTreeSet<String>,
    ) -> Result<NodeKind, PlanError> {
        let timeout_ms = step.policies.iter().find_map(|p| match p {
            Policy::Timeout(d) => Some(d.ms),
            _ => None,
        });
        let timeout_expr = step.policies.iter().find_map(|p| match p {
            Policy::TimeoutExpr(e) => Some(e),
            _ => None,
        });
        if let Some(e) = timeout_expr {
            // The timeout is computed when the step starts: from values it must wait for.
            expr_names(e, reads);
        }
        let timeout = timeout_expr.map(|e| self.expr(e)).transpose()?;
        match &step.body {
            StepBody::WaitEvent(w) => {
                if let Some(f) = &w.filter {
                    let mut names = BTreeSet::new();
                    expr_names(f, &mut names);
                    names.remove("event");
                    reads.extend(names);
                }
                Ok(NodeKind::WaitEvent {
                    event: w.event.value.clone(),
                    filter: w.filter.as_ref().map(|f| self.scope(true).lower(f)).transpose()?,
                    timeout_ms,
                    timeout,
                })
            }
            StepBody::FanOut(f) => {
                expr_names(&f.over, reads);
                let mut names = BlockNames::default();
                names.defined.insert(f.var.name.clone());
                names.block(&f.body);
                reads.extend(names.free());
                let body = self.lower_sub(
                    module,
                    &f.body.stmts,
                    &format!("the body of step `{}`", step.name.name),
                )?;
                Ok(NodeKind::FanOut(FanOutNode {
                    var: f.var.name.clone(),
                    over: self.expr(&f.over)?,
                    concurrency: f.concurrency.map(|(n, _)| n),
                    body: Box::new(body),
                }))
            }
            StepBody::Call(call) => {
                for a in &call.args {
                    expr_names(&a.value, reads);
                }
                let (target, default_retry, template_params) = self.resolve_call(module, call)?;
                for p in &template_params {
                    if let Some(arg) = call.args.iter().find(|a| &a.name.name == p) {
                        match arg.value.as_plain_str() {
                            Some(name) => {
                                self.templates.insert(name);
                            }
                            None => {
                                return err(format!(
                                    "step `{}`: the `{p}` argument must be a template name written as a plain string",
                                    step.name.name
                                ))
                            }
                        }
                    }
                }
                let mut retry = default_retry.clone().unwrap_or_else(RetryPolicy::none);
                let mut fallback = None;
                for p in &step.policies {
                    match p {
                        Policy::Retry(r) => retry = resolve_retry(r, default_retry.as_ref())?,
                        Policy::Fallback(ast::Fallback::Value(e)) => {
                            expr_names(e, reads);
                            fallback = Some(FallbackPlan::Value(self.expr(e)?));
                        }
                        Policy::Fallback(ast::Fallback::Block(bl)) => {
                            let mut names = BlockNames::default();
                            names.block(bl);
                            reads.extend(names.free());
                            let sub = self.lower_sub(
                                module,
                                &bl.stmts,
                                &format!("the fallback of step `{}`", step.name.name),
                            )?;
                            fallback = Some(FallbackPlan::Block(Box::new(sub)));
                        }
                        Policy::Timeout(_) | Policy::TimeoutExpr(_) | Policy::After(_) => {}
                    }
                }
                Ok(NodeKind::Call(CallNode {
                    target,
                    args: call
                        .args
                        .iter()
                        .map(|a| Ok((a.name.name.clone(), self.expr(&a.value)?)))
                        .collect::<Result<_, PlanError>>()?,
                    retry,
                    timeout_ms,
                    timeout,
                    fallback,
                    template_params,
                }))
            }
        }
    }

    /// What a callee names: a sub-flow through a `use` alias, a connector action, or a flow of
    /// the same module (or, failing that, of the project).
    fn resolve_call(
        &mut self,
        module: &'p ParsedModule,
        call: &ast::Call,
    ) -> Result<(CallTarget, Option<RetryPolicy>, Vec<String>), PlanError> {
        let parts: Vec<&str> = call.callee.iter().map(|i| i.name.as_str()).collect();
        let callee = call.callee_name();
        if let [alias, flow] = parts[..] {
            for item in &module.ast.items {
                if let Item::Use(u) = item {
                    if u.name().name == alias {
                        let path: Vec<&str> = u.path.iter().map(|i| i.name.as_str()).collect();
                        let Some(target) = self.project.module(&path.join(".")) else {
                            return err(format!("no module `{}` for `{callee}`", path.join(".")));
                        };
                        return self.queue_flow(target, flow, &callee);
                    }
                }
            }
            if let Some(manifest) = self.registry.manifest(alias) {
                let Some(action) = manifest.action(flow) else {
                    return err(format!("connector `{alias}` has no action `{flow}`"));
                };
                let retry = action.default_retry.as_ref().map(|r| RetryPolicy {
                    attempts: r.attempts.max(1),
                    min_ms: r.min.as_millis() as u64,
                    max_ms: r.max.as_millis() as u64,
                    factor: r.factor,
                    jitter: r.jitter,
                    on: r.on.clone(),
                });
                let templates = action
                    .params
                    .iter()
                    .filter(|p| matches!(p.ty.strip_optional(), Type::Template))
                    .map(|p| p.name.clone())
                    .collect();
                return Ok((
                    CallTarget::Action {
                        connector: alias.to_string(),
                        action: flow.into(),
                    },
                    retry,
                    templates,
                ));
            }
            return err(format!(
                "`{callee}` is neither a connector action nor a flow of a used module"
            ));
        }
        if let [flow] = parts[..] {
            let here = module
                .ast
                .items
                .iter()
                .any(|i| matches!(i, Item::Flow(f) if f.name.name == flow));
            if here {
                return self.queue_flow(module, flow, &callee);
            }
            let project = self.project;
            let (m, _) = find_flow(project, None, flow)?;
            return self.queue_flow(m, flow, &callee);
        }
        err(format!("`{callee}` is not a connector action or a flow"))
    }

    fn queue_flow(
        &mut self,
        module: &'p ParsedModule,
        flow: &str,
        callee: &str,
    ) -> Result<(CallTarget, Option<RetryPolicy>, Vec<String>), PlanError> {
        let found = module.ast.items.iter().find_map(|i| match i {
            Item::Flow(f) if f.name.name == flow => Some(f),
            _ => None,
        });
        let Some(found) = found else {
            return err(format!("no flow `{flow}` for `{callee}`"));
        };
        let key = flow_key(module, flow);
        if self.queued.insert(key.clone()) {
            self.queue.push_back((module, found));
        }
        Ok((CallTarget::Flow { key }, None, Vec::new()))
    }

    fn collect_templates(&self) -> Result<BTreeMap<String, TemplatePlan>, PlanError> {
        let mut out = BTreeMap::new();
        for name in &self.templates {
            let found = self.project.modules.iter().find_map(|m| {
                m.ast.items.iter().find_map(|i| match i {
                    Item::Template(t) if &t.name.name == name => Some(t),
                    _ => None,
                })
            });
            let Some(t) = found else {
                return err(format!("no template called `{name}`"));
            };
            let mut plan = TemplatePlan::default();
            for part in &t.parts {
                let slot = match part.kind {
                    ast::TemplatePartKind::Subject => &mut plan.subject,
                    ast::TemplatePartKind::Text => &mut plan.text,
                    ast::TemplatePartKind::Html => &mut plan.html,
                    ast::TemplatePartKind::Sms => &mut plan.sms,
                    ast::TemplatePartKind::Slack => &mut plan.slack,
                };
                // Compiled here so that a plan never holds a template that fails to parse.
                if let Err(e) = handlebars::Template::compile(&part.body) {
                    return err(format!(
                        "template `{name}` {}: {}",
                        part.kind.keyword(),
                        e.reason()
                    ));
                }
                *slot = Some(part.body.clone());
            }
            out.insert(name.clone(), plan);
        }
        Ok(out)
    }
}

fn resolve_retry(r: &ast::Retry, default: Option<&RetryPolicy>) -> Result<RetryPolicy, PlanError> {
    let base = default.cloned().unwrap_or_else(RetryPolicy::none);
    let mut on = Vec::new();
    for class in &r.on {
        match ErrorClass::from_name(&class.name) {
            Some(c) => on.push(c),
            None => return err(format!("unknown error class `{}`", class.name)),
        }
    }
    if on.is_empty() {
        on = vec![ErrorClass::Transient, ErrorClass::RateLimited];
    }
    let (min_ms, max_ms, factor) = match &r.backoff {
        Some(b) => (
            b.min.ms.max(0) as u64,
            b.max.ms.max(0) as u64,
            b.factor.map(|(f, _)| f).unwrap_or(2.0),
        ),
        None => (base.min_ms, base.max_ms, base.factor),
    };
    Ok(RetryPolicy {
        attempts: r.attempts.max(1),
        min_ms,
        max_ms: max_ms.max(min_ms),
        factor,
        jitter: r.jitter.unwrap_or(true),
        on,
    })
}
