//! Parsing `test` blocks: inputs, start times, stubs, events sent and expectations.

use super::*;

impl<'s> Parser<'s> {
    pub(super) fn parse_test(&self, pair: Pair<'s, Rule>) -> Test {
        let whole = span(&pair);
        let mut inner = children(pair).peekable();
        let docs = self.parse_docs(&mut inner);
        let name = self.presume_str_lit(inner.next(), whole);
        let flow = self.presume_ident(inner.next(), whole);
        let mut items = Vec::new();
        let mut in_bad_run = false;
        for p in inner {
            let rule = p.as_rule();
            let s = span(&p);
            match rule {
                Rule::test_input => items.push(TestItem::Input(self.presume_expr(children(p).next(), s))),
                Rule::test_start => items.push(TestItem::Start(self.presume_str_lit(children(p).next(), s))),
                Rule::stub => items.push(TestItem::Stub(self.parse_stub(p))),
                Rule::test_event => {
                    let mut name = None;
                    let mut payload = None;
                    let mut after = None;
                    for c in children(p) {
                        match c.as_rule() {
                            Rule::string => name = Some(self.parse_str_lit(c)),
                            Rule::expr => payload = Some(self.parse_expr(c)),
                            Rule::duration => after = Some(self.parse_duration_lit(&c)),
                            Rule::spaced_duration => after = Some(self.parse_spaced_duration(&c)),
                            Rule::bad_duration => {
                                after = Some(DurationLit {
                                    ms: self.push_bad_duration(&c),
                                    span: span(&c),
                                });
                            }
                            _ => {}
                        }
                    }
                    items.push(TestItem::Event(TestEvent {
                        name: name.unwrap_or(StrLit {
                            value: String::new(),
                            span: s,
                        }),
                        payload,
                        after,
                        span: s,
                    }));
                }
                Rule::expect => {
                    let kind = match children(p).next() {
                        Some(e) => match e.as_rule() {
                            Rule::expect_step => {
                                let mut parts = children(e);
                                let step = self.presume_ident(parts.next(), s);
                                let state = match parts.next().map(|x| x.as_str().to_string()).as_deref() {
                                    Some("skipped") => StepState::Skipped,
                                    Some("failed") => StepState::Failed,
                                    _ => StepState::Ran,
                                };
                                ExpectKind::Step(step, state)
                            }
                            Rule::expect_call => {
                                let mut action = Vec::new();
                                let mut times = None;
                                let mut with = None;
                                for c in children(e) {
                                    match c.as_rule() {
                                        Rule::qualified => {
                                            action = c.into_inner().map(|i| self.parse_ident(i)).collect()
                                        }
                                        Rule::int => times = Some(self.parse_int(&c)),
                                        Rule::expr => with = Some(self.parse_expr(c)),
                                        _ => {}
                                    }
                                }
                                ExpectKind::Call { action, times, with }
                            }
                            Rule::expect_no_call => ExpectKind::NoCall(
                                children(e)
                                    .next()
                                    .map(|q| q.into_inner().map(|i| self.parse_ident(i)).collect())
                                    .unwrap_or_default(),
                            ),
                            _ => ExpectKind::That(self.parse_expr(e)),
                        },
                        None => ExpectKind::That(none_expr(s)),
                    };
                    items.push(TestItem::Expect(Expect { kind, span: s }));
                }
                Rule::bad_line => {
                    self.diagnose_bad_line(&p, Rule::probe_test_item, in_bad_run);
                }
                _ => {}
            }
            in_bad_run = rule == Rule::bad_line;
        }
        Test {
            docs,
            name,
            flow,
            items,
            span: whole,
        }
    }

    pub(super) fn parse_stub(&self, pair: Pair<'s, Rule>) -> Stub {
        let whole = span(&pair);
        let mut target = StubTarget::Action(Vec::new());
        let mut outcomes = Vec::new();
        for p in children(pair) {
            match p.as_rule() {
                Rule::stub_target => {
                    if let Some(t) = children(p).next() {
                        target = match t.as_rule() {
                            Rule::ident => StubTarget::Step(self.parse_ident(t)),
                            _ => StubTarget::Action(t.into_inner().map(|i| self.parse_ident(i)).collect()),
                        };
                    }
                }
                Rule::stub_outcome => {
                    if let Some(o) = children(p).next() {
                        let s = span(&o);
                        let outcome = match o.as_rule() {
                            Rule::stub_returns => {
                                StubOutcome::Returns(self.presume_expr(children(o).next(), s))
                            }
                            Rule::stub_fails => {
                                let mut class = None;
                                let mut message = None;
                                let mut times = None;
                                for c in children(o) {
                                    match c.as_rule() {
                                        Rule::ident => class = Some(self.parse_ident(c)),
                                        Rule::string => message = Some(self.parse_str_lit(c)),
                                        Rule::int => times = Some(self.parse_int(&c)),
                                        _ => {}
                                    }
                                }
                                StubOutcome::Fails {
                                    class: class.unwrap_or_else(|| self.presume_ident(None, s)),
                                    message,
                                    times,
                                    span: s,
                                }
                            }
                            _ => StubOutcome::Hangs(s),
                        };
                        outcomes.push(outcome);
                    }
                }
                _ => {}
            }
        }
        Stub {
            target,
            outcomes,
            span: whole,
        }
    }
}
