//! Parser robustness, by property:
//! (a) random syntax trees printed by `flowc::syntax::print` parse back to the same tree (so the
//!     printer parenthesises by the parser's precedence and escapes what it must), and are
//!     already formatted;
//! (b) comments inserted anywhere are kept and formatting stays stable, and absurdly deep nesting
//!     is a diagnostic, not a stack overflow (random and damaged sources: the fuzz targets of
//!     `tests/fuzz.rs`).

#[path = "fuzz/guard.rs"]
mod guard;
#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fmt/support.rs"]
mod support;
#[path = "fuzz/targets.rs"]
mod targets;

use std::path::Path;

use flowc::config::Config;
use flowc::syntax::ast::*;
use flowc::syntax::{format, parse, print, Span};
use flowc::{Project, Registry};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use support::strip_spans;

fn sp() -> Span {
    Span::default()
}

fn id(name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: sp(),
    }
}

fn ex(kind: ExprKind) -> Expr {
    Expr { kind, span: sp() }
}

fn lit(value: &str) -> StrLit {
    StrLit {
        value: value.to_string(),
        span: sp(),
    }
}

// ---------------------------------------------------------------------------------------------
// (a) Generators of syntax trees

/// Names usable as values: not reserved, and not a contextual keyword that could be read as
/// the next clause (`after`, `until`, `then`...).
const NAMES: &[&str] = &[
    "a", "b", "client", "items", "total", "x1", "_tmp", "input", "entity", "error",
];
/// Field and record keys: any word, including keywords, and quoted ones.
const KEYS: &[&str] = &[
    "name",
    "status",
    "if",
    "step",
    "Full Name",
    "id",
    "a-b",
    "x",
    "none",
    "true",
    "2nd",
    "Statut ✓",
    "say \"hi\"",
    "",
];
const FUNCTIONS: &[&str] = &["lower", "len", "join", "now", "format_date", "min"];
const TEXTS: &[&str] = &[
    "hello",
    "say \"hi\"",
    "back\\slash",
    "{{ not interpolated }}",
    "{",
    "}}",
    "tab\there",
    "line one\nline two\n",
    "  indented\nflush",
    "ünïcödé ✓",
    "ends with a quote\"",
    "x",
    "",
    "   ",
    "\"\"\"",
    "a }} b {{ c",
    "ends with a backslash \\",
    // No `\r`: the language has no escape for it and `flowc fmt` writes one line ending.
    "emoji 🎉 and \u{7f}",
    "// not a comment /* nor this */",
];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(str::to_string)
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_string)
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn duration_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(250i64),
        Just(1_000),
        Just(90_000),
        Just(86_400_000),
        Just(5_400_000),
        1i64..10_000_000_000,
    ]
}

/// Number literals as written: whole ones (up to the 64-bit limit, so ids beyond 2^53 are
/// covered) and ones with a fraction, including whole doubles written `2.0`.
fn number() -> impl Strategy<Value = Num> {
    prop_oneof![
        (0i64..10_000).prop_map(Num::Int),
        (0i64..=i64::MAX).prop_map(Num::Int),
        (0u32..10_000).prop_map(|n| Num::Float(f64::from(n) / 8.0))
    ]
}

/// A literal the grammar accepts in a `match` pattern (no sign, no interpolation).
fn pattern_literal() -> impl Strategy<Value = Expr> {
    prop_oneof![
        number().prop_map(|n| ex(ExprKind::Number(n))),
        duration_ms().prop_map(|d| ex(ExprKind::Duration(d))),
        prop::sample::select(TEXTS).prop_map(|t| ex(ExprKind::Str(vec![StrPart::Text(t.to_string())]))),
        any::<bool>().prop_map(|b| ex(ExprKind::Bool(b))),
        Just(ex(ExprKind::None)),
    ]
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        1 => Just(Pattern::Wildcard(sp())),
        3 => prop::collection::vec(pattern_literal(), 1..3).prop_map(Pattern::Literals),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(ex(ExprKind::None)),
        any::<bool>().prop_map(|b| ex(ExprKind::Bool(b))),
        number().prop_map(|n| ex(ExprKind::Number(n))),
        // The parser folds `-3` into a literal.
        number()
            .prop_filter("non-zero", |n| n.as_f64() != 0.0)
            .prop_map(|n| ex(ExprKind::Number(n.negated().unwrap()))),
        duration_ms().prop_map(|d| ex(ExprKind::Duration(d))),
        duration_ms().prop_map(|d| ex(ExprKind::Duration(-d))),
        prop::sample::select(TEXTS).prop_map(|t| ex(ExprKind::Str(vec![StrPart::Text(t.to_string())]))),
        Just(ex(ExprKind::Str(Vec::new()))),
        name().prop_map(|n| ex(ExprKind::Name(n))),
    ]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Default,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::In,
    ])
}

/// Interpolated strings: text and `{{ expr }}` parts, never two texts in a row (the parser
/// merges them) and never an empty text.
fn interpolated(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = Expr> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(TEXTS).prop_map(|t| StrPart::Text(t.to_string())),
            inner.prop_map(StrPart::Expr),
        ],
        1..4,
    )
    .prop_map(|parts| {
        let mut merged: Vec<StrPart> = Vec::new();
        for part in parts {
            match (merged.last_mut(), part) {
                // The parser never makes an empty text part: there is no text between the braces.
                (_, StrPart::Text(t)) if t.is_empty() => {}
                (Some(StrPart::Text(last)), StrPart::Text(t)) => last.push_str(&t),
                (_, part) => merged.push(part),
            }
        }
        ex(ExprKind::Str(merged))
    })
}

fn record_field(value: BoxedStrategy<Expr>) -> impl Strategy<Value = RecordField> {
    (key(), value, any::<bool>()).prop_map(|(k, value, shorthand)| {
        if shorthand && is_name(&k) {
            RecordField {
                value: ex(ExprKind::Name(k.clone())),
                name: id(&k),
                shorthand: true,
            }
        } else {
            RecordField {
                name: id(&k),
                value,
                shorthand: false,
            }
        }
    })
}

fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 48, 4, |inner| {
            prop_oneof![
                (inner.clone(), key()).prop_map(|(e, k)| ex(ExprKind::Field(Box::new(e), id(&k)))),
                (inner.clone(), inner.clone())
                    .prop_map(|(e, i)| ex(ExprKind::Index(Box::new(e), Box::new(i)))),
                (
                    prop::sample::select(FUNCTIONS),
                    prop::collection::vec(inner.clone(), 0..3)
                )
                    .prop_map(|(f, args)| ex(ExprKind::Call(id(f), args))),
                prop::collection::vec(inner.clone(), 0..4).prop_map(|items| ex(ExprKind::List(items))),
                prop::collection::vec(record_field(inner.clone()), 0..4)
                    .prop_map(|fields| ex(ExprKind::Record(fields))),
                inner
                    .clone()
                    .prop_map(|e| ex(ExprKind::Unary(UnaryOp::Not, Box::new(e)))),
                // `-` on a literal number or duration is folded into the literal by the parser.
                inner
                    .clone()
                    .prop_filter("not a literal", |e| !matches!(
                        e.kind,
                        ExprKind::Number(_) | ExprKind::Duration(_)
                    ))
                    .prop_map(|e| ex(ExprKind::Unary(UnaryOp::Neg, Box::new(e)))),
                (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| ex(ExprKind::Binary(
                    op,
                    Box::new(l),
                    Box::new(r)
                ))),
                (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| ex(ExprKind::If(
                    Box::new(c),
                    Box::new(a),
                    Box::new(b)
                ))),
                (
                    inner.clone(),
                    prop::collection::vec((pattern(), inner.clone()), 0..3)
                )
                    .prop_map(|(v, arms)| ex(ExprKind::Match(Box::new(v), arms))),
                interpolated(inner.clone()),
            ]
        })
        .boxed()
}

fn record_expr() -> impl Strategy<Value = Expr> {
    prop::collection::vec(record_field(expr()), 0..4).prop_map(|fields| ex(ExprKind::Record(fields)))
}

fn duration_lit() -> impl Strategy<Value = DurationLit> {
    duration_ms().prop_map(|ms| DurationLit { ms, span: sp() })
}

fn docs() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec!["Does a thing.", "", " indented", "`code` and *stars*"]),
        0..2,
    )
    .prop_map(|d| d.into_iter().map(str::to_string).collect())
}

fn idents(pool: &'static [&'static str], n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Ident>> {
    prop::collection::vec(prop::sample::select(pool), n).prop_map(|v| v.into_iter().map(id).collect())
}

const CLASSES: &[&str] = &["transient", "rate_limited", "permanent"];
const STEPS: &[&str] = &["s1", "s2", "lookup"];

fn policy() -> BoxedStrategy<Policy> {
    let backoff = (
        duration_lit(),
        duration_lit(),
        prop::option::of(prop_oneof![Just(2.0f64), Just(1.5), Just(3.0)]),
    )
        .prop_map(|(min, max, factor)| Backoff {
            min,
            max,
            factor: factor.map(|f| (f, sp())),
            span: sp(),
        });
    prop_oneof![
        (
            1u32..10,
            prop::option::of(backoff),
            prop::option::of(any::<bool>()),
            idents(CLASSES, 0..3)
        )
            .prop_map(|(attempts, backoff, jitter, on)| Policy::Retry(Retry {
                attempts,
                attempts_span: sp(),
                backoff,
                jitter,
                on,
                span: sp(),
            })),
        duration_lit().prop_map(Policy::Timeout),
        expr().prop_map(|e| Policy::Fallback(Fallback::Value(e))),
        record_expr().prop_map(|e| Policy::Fallback(Fallback::Value(e))),
        idents(STEPS, 1..3).prop_map(Policy::After),
    ]
    .boxed()
}

fn call() -> impl Strategy<Value = Call> {
    let arg = (
        prop::sample::select(vec!["to", "db", "with", "where", "template", "a"]),
        expr(),
        any::<bool>(),
    )
        .prop_map(|(n, value, shorthand)| Arg {
            name: id(n),
            value: if shorthand {
                ex(ExprKind::Name(n.to_string()))
            } else {
                value
            },
            shorthand,
            span: sp(),
        });
    (
        prop::sample::select(vec![
            vec!["email", "send"],
            vec!["notion", "query_one"],
            vec!["find"],
            vec!["a", "b", "c"],
        ]),
        prop::collection::vec(arg, 0..4),
    )
        .prop_map(|(callee, args)| Call {
            callee: callee.into_iter().map(id).collect(),
            args,
            span: sp(),
        })
}

fn block(stmt: BoxedStrategy<Stmt>) -> impl Strategy<Value = Block> {
    prop::collection::vec(stmt, 0..3).prop_map(|stmts| Block { stmts, span: sp() })
}

fn stmt() -> BoxedStrategy<Stmt> {
    let simple = prop_oneof![
        (docs(), name(), expr()).prop_map(|(docs, n, value)| Stmt::Let(Let {
            docs,
            name: id(&format!("{n}_v")),
            value,
            span: sp(),
        })),
        (docs(), expr()).prop_map(|(docs, e)| Stmt::Wait(Wait {
            docs,
            kind: WaitKind::For(e),
            span: sp()
        })),
        expr().prop_map(|e| Stmt::Wait(Wait {
            docs: Vec::new(),
            kind: WaitKind::Until(e),
            span: sp()
        })),
        (
            docs(),
            prop::sample::select(TEXTS),
            prop::option::of(record_expr())
        )
            .prop_map(|(docs, event, payload)| {
                Stmt::Emit(Emit {
                    docs,
                    event: lit(&event.replace('\n', " ")),
                    payload,
                    span: sp(),
                })
            }),
        (docs(), expr()).prop_map(|(docs, message)| Stmt::Fail(Fail {
            docs,
            message,
            span: sp()
        })),
        expr().prop_map(|value| Stmt::Yield(Yield {
            docs: Vec::new(),
            value,
            span: sp()
        })),
        (docs(), call(), prop::collection::vec(policy(), 0..3)).prop_map(|(docs, c, policies)| Stmt::Step(
            Step {
                docs,
                name: id("s1"),
                body: StepBody::Call(c),
                policies,
                span: sp(),
            }
        )),
        (prop::sample::select(TEXTS), prop::option::of(expr())).prop_map(|(event, filter)| Stmt::Step(
            Step {
                docs: Vec::new(),
                name: id("reply"),
                body: StepBody::WaitEvent(WaitEvent {
                    event: lit(event),
                    filter,
                    span: sp(),
                }),
                policies: Vec::new(),
                span: sp(),
            }
        )),
    ];
    simple
        .prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                (
                    docs(),
                    prop::collection::vec((expr(), block(inner.clone())), 1..3),
                    prop::option::of(block(inner.clone()))
                )
                    .prop_map(|(docs, branches, otherwise)| Stmt::If(If {
                        docs,
                        branches,
                        otherwise,
                        span: sp(),
                    })),
                (
                    docs(),
                    expr(),
                    prop::collection::vec((docs(), pattern(), block(inner.clone())), 0..3)
                )
                    .prop_map(|(docs, value, arms)| {
                        Stmt::Match(Match {
                            docs,
                            value,
                            arms: arms
                                .into_iter()
                                .map(|(docs, pattern, body)| MatchArm {
                                    docs,
                                    pattern,
                                    body,
                                    span: sp(),
                                })
                                .collect(),
                            span: sp(),
                        })
                    }),
                (
                    name(),
                    expr(),
                    prop::option::of(1u32..50),
                    block(inner.clone()),
                    block(inner.clone())
                )
                    .prop_map(|(var, over, concurrency, body, fallback)| Stmt::Step(Step {
                        docs: Vec::new(),
                        name: id("each"),
                        body: StepBody::FanOut(FanOut {
                            var: id(&format!("{var}_item")),
                            over,
                            concurrency: concurrency.map(|n| (n, sp())),
                            body,
                            span: sp(),
                        }),
                        policies: vec![Policy::Fallback(Fallback::Block(fallback))],
                        span: sp(),
                    })),
            ]
        })
        .boxed()
}

fn type_expr() -> impl Strategy<Value = TypeExpr> {
    let named = (
        prop::sample::select(vec!["text", "email", "number", "datetime"]),
        any::<bool>(),
    )
        .prop_map(|(n, optional)| TypeExpr {
            kind: TypeExprKind::Named(id(n)),
            optional,
            span: sp(),
        });
    named.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            (inner.clone(), any::<bool>()).prop_map(|(t, optional)| TypeExpr {
                kind: TypeExprKind::List(Box::new(t)),
                optional,
                span: sp(),
            }),
            (
                prop::collection::vec((prop::sample::select(vec!["id", "at", "if"]), inner), 0..3),
                any::<bool>()
            )
                .prop_map(|(fields, optional)| TypeExpr {
                    kind: TypeExprKind::Record(
                        fields
                            .into_iter()
                            .map(|(n, ty)| FieldDecl {
                                docs: Vec::new(),
                                name: id(n),
                                ty,
                                default: None,
                                span: sp(),
                            })
                            .collect()
                    ),
                    optional,
                    span: sp(),
                }),
        ]
    })
}

fn trigger() -> impl Strategy<Value = Trigger> {
    let kind = prop_oneof![
        (
            prop::sample::select(vec!["/hooks/a", "/b"]),
            prop::option::of(Just("amelia")),
            any::<bool>()
        )
            .prop_map(|(p, v, unverified)| {
                TriggerKind::Webhook {
                    path: lit(p),
                    unverified: v.is_none() && unverified,
                    verified_by: v.map(id),
                }
            }),
        Just(TriggerKind::Notion {
            database: id("ContactProfile"),
            property: None,
            to: None
        }),
        prop::option::of(expr()).prop_map(|to| TriggerKind::Notion {
            database: id("Task"),
            property: Some(lit("Status")),
            to,
        }),
        prop::option::of(Just("Europe/London")).prop_map(|tz| TriggerKind::Schedule {
            cron: lit("*/5 * * * *"),
            timezone: tz.map(lit),
        }),
        Just(TriggerKind::Manual),
        Just(TriggerKind::Event {
            name: lit("x.created")
        }),
    ];
    kind.prop_map(|kind| Trigger { kind, span: sp() })
}

fn flow() -> impl Strategy<Value = Flow> {
    let field = (
        docs(),
        prop::sample::select(vec!["email", "name", "count", "if"]),
        type_expr(),
        prop::option::of(expr()),
    )
        .prop_map(|(docs, n, ty, default)| FieldDecl {
            docs,
            name: id(n),
            ty,
            default,
            span: sp(),
        });
    (
        docs(),
        prop::collection::vec(trigger(), 0..3),
        prop::option::of(prop::collection::vec(field, 0..4)),
        prop::collection::vec(stmt(), 0..5),
        prop::option::of(expr()),
        prop::option::of(block(stmt())),
    )
        .prop_map(|(docs, triggers, input, body, output, on_error)| Flow {
            docs,
            name: id("generated"),
            entity: id("the_7_space"),
            triggers,
            input: input.map(|fields| InputDecl { fields, span: sp() }),
            body,
            output: output.map(|value| Output { value, span: sp() }),
            on_error,
            span: sp(),
        })
}

fn entity() -> impl Strategy<Value = Entity> {
    (
        docs(),
        prop::option::of(Just("The 7 Space")),
        idents(&["ContactProfile", "Task"], 0..3),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    GrantAccess::Read,
                    GrantAccess::Write,
                    GrantAccess::ReadWrite,
                ]),
                idents(&["Task"], 1..3),
            ),
            0..2,
        ),
        prop::collection::vec(expr(), 0..3),
    )
        .prop_map(|(docs, title, databases, grants, settings)| Entity {
            docs,
            name: id("the_7_space"),
            title: title.map(lit),
            databases,
            grants: grants
                .into_iter()
                .map(|(access, databases)| Grant {
                    access,
                    databases,
                    to: vec![id("higherself")],
                    span: sp(),
                })
                .collect(),
            settings: settings
                .into_iter()
                .enumerate()
                .map(|(i, value)| Setting {
                    docs: Vec::new(),
                    name: id(&format!("setting_{i}")),
                    value,
                    span: sp(),
                })
                .collect(),
            span: sp(),
        })
}

fn template() -> impl Strategy<Value = Template> {
    let part = (
        prop::sample::select(vec![
            TemplatePartKind::Subject,
            TemplatePartKind::Text,
            TemplatePartKind::Html,
            TemplatePartKind::Sms,
            TemplatePartKind::Slack,
        ]),
        prop::sample::select(vec![
            "Hi {{name}}",
            "say \"hi\"",
            "<p>Hi {{client.name}},</p>\n<p>bye</p>\n",
            "first\n  second\n",
            "a \\ b",
        ]),
    )
        .prop_map(|(kind, body)| TemplatePart {
            kind,
            body: body.to_string(),
            body_span: sp(),
            body_offset: 0,
            span: sp(),
        });
    (docs(), prop::collection::vec(part, 0..3)).prop_map(|(docs, parts)| Template {
        docs,
        name: id("note"),
        parts,
        example: None,
        span: sp(),
    })
}

fn test_decl() -> impl Strategy<Value = Test> {
    let outcome = prop_oneof![
        expr().prop_map(StubOutcome::Returns),
        (
            prop::sample::select(CLASSES),
            prop::option::of(Just("boom")),
            prop::option::of(1u32..4)
        )
            .prop_map(|(class, message, times)| StubOutcome::Fails {
                class: id(class),
                message: message.map(lit),
                times,
                span: sp(),
            }),
        Just(StubOutcome::Hangs(sp())),
    ];
    let item = prop_oneof![
        expr().prop_map(TestItem::Input),
        Just(TestItem::Start(lit("2026-01-05T09:00:00Z"))),
        (any::<bool>(), prop::collection::vec(outcome, 1..3)).prop_map(|(step, outcomes)| TestItem::Stub(
            Stub {
                target: if step {
                    StubTarget::Step(id("s1"))
                } else {
                    StubTarget::Action(vec![id("email"), id("send")])
                },
                outcomes,
                span: sp(),
            }
        )),
        // A payload is a record in practice (and may not start with a test item's keyword).
        (prop::option::of(record_expr()), prop::option::of(duration_lit())).prop_map(|(payload, after)| {
            TestItem::Event(TestEvent {
                name: lit("lead.replied"),
                payload,
                after,
                span: sp(),
            })
        }),
        expr().prop_map(|e| TestItem::Expect(Expect {
            kind: ExpectKind::That(e),
            span: sp()
        })),
        prop::sample::select(vec![StepState::Ran, StepState::Skipped, StepState::Failed]).prop_map(|state| {
            TestItem::Expect(Expect {
                kind: ExpectKind::Step(id("s1"), state),
                span: sp(),
            })
        }),
        (prop::option::of(1u32..5), prop::option::of(expr())).prop_map(|(times, with)| TestItem::Expect(
            Expect {
                kind: ExpectKind::Call {
                    action: vec![id("email"), id("send")],
                    times,
                    with,
                },
                span: sp(),
            }
        )),
        Just(TestItem::Expect(Expect {
            kind: ExpectKind::NoCall(vec![id("notion"), id("create_page")]),
            span: sp(),
        })),
    ];
    (docs(), prop::collection::vec(item, 0..5)).prop_map(|(docs, items)| Test {
        docs,
        name: lit("a \"quoted\" test"),
        flow: id("generated"),
        items,
        span: sp(),
    })
}

fn module() -> impl Strategy<Value = Module> {
    let item = prop_oneof![
        (
            idents(&["stdlib", "contacts", "people"], 1..3),
            prop::option::of(Just("alias"))
        )
            .prop_map(|(path, alias)| {
                Item::Use(Use {
                    path,
                    alias: alias.map(id),
                    span: sp(),
                })
            }),
        entity().prop_map(Item::Entity),
        template().prop_map(Item::Template),
        flow().prop_map(Item::Flow),
        test_decl().prop_map(Item::Test),
    ];
    prop::collection::vec(item, 0..4).prop_map(|items| Module { items })
}

fn flow_with(body: Vec<Stmt>) -> Module {
    Module {
        items: vec![Item::Flow(Flow {
            docs: Vec::new(),
            name: id("f"),
            entity: id("e"),
            triggers: Vec::new(),
            input: None,
            body,
            output: None,
            on_error: None,
            span: sp(),
        })],
    }
}

fn round_trip(module: &Module) -> Result<(), TestCaseError> {
    let printed = print(module);
    let (parsed, diagnostics) = parse(&printed, Default::default());
    prop_assert!(
        diagnostics.is_empty(),
        "printed text does not parse: {:#?}\n{}",
        diagnostics,
        printed
    );
    prop_assert_eq!(
        strip_spans(&parsed),
        strip_spans(module),
        "the tree changed through\n{}",
        printed
    );
    let formatted = format(&printed).map_err(|d| TestCaseError::fail(format!("{d:#?}")))?;
    prop_assert_eq!(&formatted, &printed, "printing and formatting disagree");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn expressions_survive_print_and_parse(e in expr()) {
        round_trip(&flow_with(vec![Stmt::Let(Let { docs: Vec::new(), name: id("v"), value: e, span: sp() })]))?;
    }

    #[test]
    fn statements_survive_print_and_parse(body in prop::collection::vec(stmt(), 1..4)) {
        round_trip(&flow_with(body))?;
    }

    #[test]
    fn modules_survive_print_and_parse(m in module()) {
        round_trip(&m)?;
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Nothing panics or hangs (random and damaged sources: tests/fuzz.rs)

/// Runs the parser, the formatter and the checker on `source`, watched for panics and hangs (the
/// fuzz targets of `tests/fuzz.rs`, which run them on random and damaged sources).
fn survives(source: String) -> Result<(), String> {
    targets::source(source)
}

/// Comments and blank lines inserted between the tokens of a corpus file.
fn with_comments(text: &str, inserts: &[(prop::sample::Index, usize)]) -> String {
    const INSERTS: &[&str] = &["/* c */", "// c\n", "\n// c\n", "\n\n", " /* d\n e */ "];
    let gaps: Vec<usize> = text
        .char_indices()
        .filter(|(_, c)| *c == ' ' || *c == '\n')
        .map(|(i, _)| i)
        .collect();
    let mut chosen: Vec<(usize, &str)> = inserts
        .iter()
        .map(|(at, which)| (gaps[at.index(gaps.len())], INSERTS[which % INSERTS.len()]))
        .collect();
    chosen.sort();
    let mut out = text.to_string();
    for (at, insert) in chosen.into_iter().rev() {
        out.insert_str(at, insert);
    }
    out
}

proptest! {
    // Inserts inside strings often break them; those cases are skipped (rejected).
    #![proptest_config(ProptestConfig { cases: 256, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn comments_anywhere_are_kept_and_formatting_is_stable(
        file in any::<prop::sample::Index>(),
        inserts in prop::collection::vec((any::<prop::sample::Index>(), any::<usize>()), 1..8),
    ) {
        let texts = mutate::corpus_texts();
        let source = with_comments(&texts[file.index(texts.len())], &inserts);
        let (_, syntax) = parse(&source, Default::default());
        // An insert inside a string can break it; those cases say nothing about comments.
        prop_assume!(syntax.is_empty());
        let formatted = match format(&source) {
            Ok(formatted) => formatted,
            // A comment that landed inside `{{ }}` is refused on purpose.
            Err(d) if d.iter().all(|d| d.message.contains("comment inside")) => return Ok(()),
            Err(d) => return Err(TestCaseError::fail(format!("{d:#?}\n{source}"))),
        };
        prop_assert_eq!(support::comment_texts(&source), support::comment_texts(&formatted));
        prop_assert_eq!(format(&formatted).ok(), Some(formatted.clone()), "not idempotent:\n{}", formatted);
    }
}

// ---------------------------------------------------------------------------------------------
// Deep nesting: a diagnostic, never a stack overflow

fn deeply(open: &str, middle: &str, close: &str, n: usize) -> String {
    format!(
        "flow a for b {{\n  let x = {}{middle}{}\n}}\n",
        open.repeat(n),
        close.repeat(n)
    )
}

#[test]
fn deep_nesting_is_a_syntax_error_not_a_crash() {
    // Brackets are cut short by pest's stack guard; long operator chains parse (slowly in debug
    // builds, hence fewer) and are cut by the parser's own depth limit.
    let cases = [
        deeply("(", "1", ")", 10_000),
        deeply("[", "1", "]", 10_000),
        deeply("{ a: ", "1", " }", 5_000),
        deeply("f(", "1", ")", 5_000),
        deeply("not ", "a", "", 3_000),
        deeply("-", "a", "", 3_000),
        deeply("", "a", " ?? a", 3_000),
        deeply("", "a", " + a", 3_000),
        deeply("", "a", ".b", 3_000),
        deeply("", "a", "[0]", 3_000),
        deeply("\"{{ ", "1", " }}\"", 3_000),
        deeply("if a { ", "1", " } else { 2 }", 3_000),
        format!(
            "flow a for b {{\n{}\n{}\n}}\n",
            "if a {\n".repeat(5_000),
            "}\n".repeat(5_000)
        ),
        format!(
            "flow a for b {{\n  input {{ a: {}text{} }}\n}}\n",
            "[".repeat(5_000),
            "]".repeat(5_000)
        ),
    ];
    for source in cases {
        let start: String = source.chars().take(40).collect();
        survives(source.clone()).unwrap();
        let (_, diagnostics) = parse(&source, Default::default());
        assert!(
            diagnostics
                .iter()
                .any(|d| d.message == "this is nested too deeply"),
            "{start}...: {diagnostics:#?}"
        );
    }
}

#[test]
fn nesting_just_under_the_limit_formats_in_a_small_stack() {
    // The deepest trees the parser accepts must not overflow a 2 MiB thread stack in any pass.
    let cases = [
        deeply("[", "1", "]", 120),
        deeply("{ a: ", "1", " }", 120),
        deeply("f(", "1", ")", 120),
        deeply("", "a", " ?? a", 60),
        deeply("not ", "a", "", 120),
        deeply("if a { ", "1", " } else { 2 }", 40),
        format!(
            "flow a for b {{\n{}\n{}\n}}\n",
            "if a {\n".repeat(120),
            "}\n".repeat(120)
        ),
    ];
    for source in cases {
        let (_, diagnostics) = parse(&source, Default::default());
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let formatted = format(&source).map_err(|d| format!("{d:#?}"))?;
                let again = format(&formatted).map_err(|d| format!("{d:#?}"))?;
                let project =
                    Project::from_sources(Path::new("/p"), Config::default(), [("a.flow", source.as_str())]);
                let _ = flowc::check(&project, &Registry::declared_builtins());
                Ok::<bool, String>(again == formatted)
            })
            .unwrap();
        assert_eq!(handle.join().expect("no stack overflow or panic"), Ok(true));
    }
}

#[test]
fn reasonable_nesting_is_fine() {
    let source = deeply("(", "1", ")", 40);
    let (_, diagnostics) = parse(&source, Default::default());
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    assert_eq!(format(&source).unwrap(), "flow a for b {\n  let x = 1\n}\n");
    let chain = format!("flow a for b {{\n  let x = a{}\n}}\n", " + a".repeat(50));
    assert_eq!(format(&chain).unwrap(), chain);
}

#[test]
fn a_file_that_is_not_utf8_is_a_diagnostic_at_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bytes =
        b"entity b {\n  databases X\n}\n\nflow a for b {\n  on manual\n  output { place: \"Caf".to_vec();
    bytes.push(0xE9); // Latin-1 `é`
    bytes.extend_from_slice(b"\" }\n}\n");
    std::fs::write(dir.path().join("latin1.flow"), bytes).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("check")
        .arg(dir.path().join("latin1.flow"))
        .output()
        .expect("flowc runs");
    // Diagnostics go to stderr.
    let report = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.starts_with("E0112"), "{report}");
    assert!(report.contains("latin1.flow:7:"), "{report}");
    assert!(report.contains("1 error found"), "{report}");
}
