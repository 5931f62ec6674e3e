//! Flow tests: `test "NAME" for FLOW { ... }` with their inputs, stubs, events and expectations.

use serde::{Deserialize, Serialize};

use super::*;

/// A flow test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Test {
    /// `///` lines.
    pub docs: Vec<String>,
    /// The test's name.
    pub name: StrLit,
    /// The flow under test.
    pub flow: Ident,
    /// Input, stubs, events and expectations in order.
    pub items: Vec<TestItem>,
    /// The whole declaration.
    pub span: Span,
}

/// A line of a test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TestItem {
    /// `input { ... }`
    Input(Expr),
    /// `start at "2026-01-05T09:00:00Z"`
    Start(StrLit),
    /// `stub ... returns ... then fails ...`
    Stub(Stub),
    /// `send event "name" { ... } after 2d`
    Event(TestEvent),
    /// `expect ...`
    Expect(Expect),
}

/// `stub step name ...` / `stub connector.action ...`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stub {
    /// What is replaced.
    pub target: StubTarget,
    /// What successive calls do; the last repeats.
    pub outcomes: Vec<StubOutcome>,
    /// The whole line.
    pub span: Span,
}

/// What a stub replaces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StubTarget {
    /// Every call made by one step.
    Step(Ident),
    /// Every call of a connector action (or sub-flow).
    Action(Vec<Ident>),
}

/// One outcome of a stub.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StubOutcome {
    /// `returns value`
    Returns(Expr),
    /// `fails class "message" N times`
    Fails {
        /// The error class.
        class: Ident,
        /// The message.
        message: Option<StrLit>,
        /// How many calls fail this way (default 1).
        times: Option<u32>,
        /// The whole outcome.
        span: Span,
    },
    /// `hangs` (never answers; for timeouts)
    Hangs(Span),
}

/// `send event "name" { payload } after 2d`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestEvent {
    /// The event's name.
    pub name: StrLit,
    /// The payload.
    pub payload: Option<Expr>,
    /// Virtual time after start at which it is sent.
    pub after: Option<DurationLit>,
    /// The whole line.
    pub span: Span,
}

/// `expect ...`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expect {
    /// What is expected.
    pub kind: ExpectKind,
    /// The whole line.
    pub span: Span,
}

/// Expectation kinds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ExpectKind {
    /// `expect output.x == 1` (names: `output`, `status`, and step names)
    That(Expr),
    /// `expect step name ran|skipped|failed`
    Step(Ident, StepState),
    /// `expect call email.send 2 times with { to: "a@b.c" }`
    Call {
        /// The action.
        action: Vec<Ident>,
        /// Exact number of calls.
        times: Option<u32>,
        /// Arguments that must match (a subset).
        with: Option<Expr>,
    },
    /// `expect no call email.send`
    NoCall(Vec<Ident>),
}

/// Step outcomes a test can expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepState {
    /// It succeeded (possibly through its fallback).
    Ran,
    /// Its branch was not taken.
    Skipped,
    /// It failed.
    Failed,
}
