//! The syntax tree of a `.flow` file, with a [`Span`] on everything a diagnostic may point at.
//!
//! The tree is what the author wrote, nothing resolved: names are plain identifiers and the
//! checker decides what they mean.

use serde::{Deserialize, Serialize};

use super::Span;

mod expr;
mod test;

pub use expr::*;
pub use test::*;

/// A parsed `.flow` file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Item {
    /// `use stdlib.contacts`
    Use(Use),
    /// `entity the_7_space { ... }`
    Entity(Entity),
    /// `flow name for entity { ... }`
    Flow(Flow),
    /// `template name { subject ... }`
    Template(Template),
    /// `test "name" for flow { ... }`
    Test(Test),
}

impl Item {
    /// The span of the whole item.
    pub fn span(&self) -> Span {
        match self {
            Item::Use(u) => u.span,
            Item::Entity(e) => e.span,
            Item::Flow(f) => f.span,
            Item::Template(t) => t.span,
            Item::Test(t) => t.span,
        }
    }
}

/// A name with its position.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A string literal used as a name or a setting (no interpolation allowed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrLit {
    /// The unescaped text.
    pub value: String,
    /// Where it is written, quotes included.
    pub span: Span,
}

/// A duration literal (`2d`, `1h30m`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurationLit {
    /// Milliseconds.
    pub ms: i64,
    /// Where it is written.
    pub span: Span,
}

/// `use stdlib.contacts as people`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Use {
    /// The dotted module path, relative to the project root (`stdlib.contacts` → `stdlib/contacts.flow`).
    pub path: Vec<Ident>,
    /// The name the module's flows are called through; the last path segment by default.
    pub alias: Option<Ident>,
    /// The whole declaration.
    pub span: Span,
}

impl Use {
    /// The name flows of this module are called through.
    pub fn name(&self) -> &Ident {
        self.alias
            .as_ref()
            .or_else(|| self.path.last())
            .expect("the grammar requires at least one path segment")
    }
}

/// One of the businesses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The entity's name (`the_7_space`).
    pub name: Ident,
    /// The display name (`"The 7 Space"`).
    pub title: Option<StrLit>,
    /// Logical database names, in the order written.
    pub databases: Vec<Ident>,
    /// What other entities may do with this entity's databases.
    pub grants: Vec<Grant>,
    /// Named constants (`setting reply_within = 24h`).
    pub settings: Vec<Setting>,
    /// The whole declaration.
    pub span: Span,
}

/// `grant read ContactProfile, Task to higherself`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// What is allowed.
    pub access: GrantAccess,
    /// The granting entity's databases it covers.
    pub databases: Vec<Ident>,
    /// The entities it is granted to.
    pub to: Vec<Ident>,
    /// The whole grant.
    pub span: Span,
}

/// The access a grant gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantAccess {
    /// `read`
    Read,
    /// `write`
    Write,
    /// `read_write`
    ReadWrite,
}

/// `setting name = value`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The setting's name.
    pub name: Ident,
    /// Its value (a constant expression).
    pub value: Expr,
    /// The whole line.
    pub span: Span,
}

/// A notification template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The name steps refer to (`template: "booking_confirmation"`).
    pub name: Ident,
    /// Subject, text, HTML, SMS and Slack parts.
    pub parts: Vec<TemplatePart>,
    /// `example { ... }`: values of its variables, to render it with at check time.
    pub example: Option<TemplateExample>,
    /// The whole declaration.
    pub span: Span,
}

/// One part of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplatePart {
    /// Which part.
    pub kind: TemplatePartKind,
    /// The handlebars source.
    pub body: String,
    /// The span of the body, quotes included.
    pub body_span: Span,
    /// Byte offset of the body's first character in the file (for handlebars error positions).
    pub body_offset: u32,
    /// The whole part.
    pub span: Span,
}

/// `example { name: "Maya", ... }` in a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateExample {
    /// The values (a record, to be a constant).
    pub value: Expr,
    /// The whole `example ...`.
    pub span: Span,
}

/// Template part names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplatePartKind {
    /// `subject`
    Subject,
    /// `text`
    Text,
    /// `html`
    Html,
    /// `sms`: the text message (sms.send)
    Sms,
    /// `slack`: the Slack message, in Slack's mrkdwn (slack.post)
    Slack,
}

impl TemplatePartKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            TemplatePartKind::Subject => "subject",
            TemplatePartKind::Text => "text",
            TemplatePartKind::Html => "html",
            TemplatePartKind::Sms => "sms",
            TemplatePartKind::Slack => "slack",
        }
    }
}

/// A flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The flow's name.
    pub name: Ident,
    /// The entity it belongs to.
    pub entity: Ident,
    /// What starts it.
    pub triggers: Vec<Trigger>,
    /// Its typed input (also the parameters when called as a sub-flow).
    pub input: Option<InputDecl>,
    /// Statements in source order.
    pub body: Vec<Stmt>,
    /// The output record.
    pub output: Option<Output>,
    /// `on error { ... }`
    pub on_error: Option<Block>,
    /// The whole declaration.
    pub span: Span,
}

/// `on ...`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// What kind of trigger.
    pub kind: TriggerKind,
    /// The whole line.
    pub span: Span,
}

/// Trigger kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TriggerKind {
    /// `on webhook "/hooks/bookings" verified by amelia`
    Webhook {
        /// The URL path.
        path: StrLit,
        /// The signature scheme.
        verified_by: Option<Ident>,
        /// `unverified`: the author says, in the source, that anyone may post here.
        unverified: bool,
    },
    /// `on notion ContactProfile created` / `changed "Status" to "Client"`
    Notion {
        /// The logical database.
        database: Ident,
        /// `None` for page created; otherwise the property that changed.
        property: Option<StrLit>,
        /// The value it changed to, if constrained.
        to: Option<Expr>,
    },
    /// `on schedule "*/5 * * * *" in "Europe/London"`
    Schedule {
        /// The cron expression.
        cron: StrLit,
        /// The IANA time zone.
        timezone: Option<StrLit>,
    },
    /// `on manual`
    Manual,
    /// `on event "contact.created"`
    Event {
        /// The event name.
        name: StrLit,
    },
}

/// `input { ... }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputDecl {
    /// The fields.
    pub fields: Vec<FieldDecl>,
    /// The whole block.
    pub span: Span,
}

/// `name: type = default`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDecl {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The field's name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
    /// Its default value.
    pub default: Option<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// A written type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypeExpr {
    /// The shape.
    pub kind: TypeExprKind,
    /// Followed by `?`.
    pub optional: bool,
    /// Where it is written.
    pub span: Span,
}

/// Type shapes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TypeExprKind {
    /// `text`, `email`, ...
    Named(Ident),
    /// `[T]`
    List(Box<TypeExpr>),
    /// `{ a: T }`
    Record(Vec<FieldDecl>),
}

/// `output { ... }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The value.
    pub value: Expr,
    /// The whole statement.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// Braces included.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stmt {
    /// `step name = ...`
    Step(Step),
    /// `let name = expr`
    Let(Let),
    /// `if ... { } else { }`
    If(If),
    /// `match value { pattern => { } }`
    Match(Match),
    /// `wait 2d` / `wait until t`
    Wait(Wait),
    /// `emit "event" { ... }`
    Emit(Emit),
    /// `fail "message"`
    Fail(Fail),
    /// `yield value` (the value of a fallback or fan-out block)
    Yield(Yield),
}

impl Stmt {
    /// The whole statement's span.
    pub fn span(&self) -> Span {
        match self {
            Stmt::Step(s) => s.span,
            Stmt::Let(s) => s.span,
            Stmt::If(s) => s.span,
            Stmt::Match(s) => s.span,
            Stmt::Wait(s) => s.span,
            Stmt::Emit(s) => s.span,
            Stmt::Fail(s) => s.span,
            Stmt::Yield(s) => s.span,
        }
    }
}

/// `step name = body policies`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The step's name; later steps use its result through it.
    pub name: Ident,
    /// What it does.
    pub body: StepBody,
    /// retry, timeout, fallback, after, in source order.
    pub policies: Vec<Policy>,
    /// The whole statement.
    pub span: Span,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StepBody {
    /// `connector.action(args)` or `flow(args)` / `module.flow(args)`
    Call(Call),
    /// `wait for event "name" where cond`
    WaitEvent(WaitEvent),
    /// `for x in list concurrency 5 { ... }`
    FanOut(FanOut),
}

/// A call with named arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The dotted callee.
    pub callee: Vec<Ident>,
    /// Named arguments.
    pub args: Vec<Arg>,
    /// The whole call.
    pub span: Span,
}

impl Call {
    /// The callee as written (`notion.create_page`).
    pub fn callee_name(&self) -> String {
        self.callee
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The span of the callee.
    pub fn callee_span(&self) -> Span {
        match (self.callee.first(), self.callee.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => self.span,
        }
    }
}

/// `name: value`, or `name` alone for `name: name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arg {
    /// The parameter.
    pub name: Ident,
    /// The value.
    pub value: Expr,
    /// Written as `name` alone.
    pub shorthand: bool,
    /// The whole argument.
    pub span: Span,
}

/// `wait for event "name" where cond`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaitEvent {
    /// The event's name.
    pub event: StrLit,
    /// A condition on `event` that must hold.
    pub filter: Option<Expr>,
    /// The whole body.
    pub span: Span,
}

/// `for var in list concurrency N { ... yield value }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FanOut {
    /// The loop variable.
    pub var: Ident,
    /// The list (or list of entities) iterated.
    pub over: Expr,
    /// At most this many items at once.
    pub concurrency: Option<(u32, Span)>,
    /// The body run per item.
    pub body: Block,
    /// The whole body.
    pub span: Span,
}

/// A per-step policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Policy {
    /// `retry 3 backoff 2s..1m jitter on transient`
    Retry(Retry),
    /// `timeout 30s`
    Timeout(DurationLit),
    /// `timeout input.deadline - now()`: a duration computed when the step starts.
    TimeoutExpr(Expr),
    /// `fallback value` / `fallback { ... yield value }`
    Fallback(Fallback),
    /// `after a, b`
    After(Vec<Ident>),
}

/// `retry N times backoff MIN..MAX factor F (no) jitter on classes`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: u32,
    /// Where the count is written.
    pub attempts_span: Span,
    /// `backoff min..max factor f`
    pub backoff: Option<Backoff>,
    /// `jitter` (Some(true)) or `no jitter` (Some(false)).
    pub jitter: Option<bool>,
    /// Error classes retried.
    pub on: Vec<Ident>,
    /// The whole policy.
    pub span: Span,
}

/// `backoff 2s..1m factor 2`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// First delay.
    pub min: DurationLit,
    /// Largest delay.
    pub max: DurationLit,
    /// Growth factor and its span.
    pub factor: Option<(f64, Span)>,
    /// The whole clause.
    pub span: Span,
}

/// A fallback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Fallback {
    /// `fallback value`
    Value(Expr),
    /// `fallback { steps... yield value }`
    Block(Block),
}

/// `let name = value`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Let {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The name.
    pub name: Ident,
    /// The value.
    pub value: Expr,
    /// The whole statement.
    pub span: Span,
}

/// `if c { } else if c { } else { }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct If {
    /// `///` lines.
    pub docs: Vec<String>,
    /// Conditions and their blocks, in order.
    pub branches: Vec<(Expr, Block)>,
    /// The `else` block.
    pub otherwise: Option<Block>,
    /// The whole statement.
    pub span: Span,
}

/// `match value { pattern => { } }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The value matched.
    pub value: Expr,
    /// The arms in order; the first that matches runs.
    pub arms: Vec<MatchArm>,
    /// The whole statement.
    pub span: Span,
}

/// `"a" | "b" => { ... }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchArm {
    /// `///` lines.
    pub docs: Vec<String>,
    /// What it matches.
    pub pattern: Pattern,
    /// What runs.
    pub body: Block,
    /// The whole arm.
    pub span: Span,
}

/// A match pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Pattern {
    /// `_`
    Wildcard(Span),
    /// One or more literals separated by `|`.
    Literals(Vec<Expr>),
}

/// `wait 2d` / `wait until t`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    /// `///` lines.
    pub docs: Vec<String>,
    /// For how long or until when.
    pub kind: WaitKind,
    /// The whole statement.
    pub span: Span,
}

/// Wait kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WaitKind {
    /// `wait 2d`
    For(Expr),
    /// `wait until input.starts_at - 24h`
    Until(Expr),
}

/// `emit "event" { payload }`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Emit {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The event's name.
    pub event: StrLit,
    /// The payload record.
    pub payload: Option<Expr>,
    /// The whole statement.
    pub span: Span,
}

/// `fail "message"`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fail {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The message.
    pub message: Expr,
    /// The whole statement.
    pub span: Span,
}

/// `yield value`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Yield {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The value.
    pub value: Expr,
    /// The whole statement.
    pub span: Span,
}
