//! `test` blocks: inputs, start times, stubs, events sent and expectations.

use super::cursor::is_keyword;
use super::{Bail, Descent, Parse};
use crate::syntax::ast::*;

impl Descent<'_> {
    pub(super) fn test(&mut self, start: usize, docs: Vec<String>) -> Parse<Test> {
        self.keyword("test")?;
        let name = self.str_lit()?;
        self.keyword("for")?;
        let flow = self.ident()?;
        self.punct("{")?;
        let mut items = Vec::new();
        while !self.eat("}")? {
            let item_start = self.pos;
            let word = self.peek_word();
            if !matches!(word, "input" | "start" | "stub" | "send" | "expect") {
                return Err(Bail);
            }
            self.take(word.len());
            let item = match word {
                "input" => TestItem::Input(self.expr()?),
                "start" => {
                    self.keyword("at")?;
                    TestItem::Start(self.str_lit()?)
                }
                "stub" => TestItem::Stub(self.stub(item_start)?),
                "send" => TestItem::Event(self.test_event(item_start)?),
                _ => TestItem::Expect(self.expect(item_start)?),
            };
            items.push(item);
        }
        Ok(Test {
            docs,
            name,
            flow,
            items,
            span: self.span_from(start),
        })
    }

    fn stub(&mut self, start: usize) -> Parse<Stub> {
        let target = if self.eat_keyword("step")? {
            StubTarget::Step(self.ident()?)
        } else {
            StubTarget::Action(self.qualified()?)
        };
        let mut outcomes = vec![self.stub_outcome()?];
        let mut more = self.eat_keyword("then")?;
        while more {
            outcomes.push(self.stub_outcome()?);
            more = self.again(|p| p.eat_keyword("then"))?;
        }
        Ok(Stub {
            target,
            outcomes,
            span: self.span_from(start),
        })
    }

    fn stub_outcome(&mut self) -> Parse<StubOutcome> {
        let word = self.next_word()?;
        let start = self.pos;
        self.take(word.len());
        Ok(match word {
            "returns" => StubOutcome::Returns(self.expr()?),
            "fails" => {
                let class = self.ident()?;
                self.skip()?;
                let message = if self.byte(0) == b'"' {
                    Some(self.str_lit()?)
                } else {
                    None
                };
                let times = self.times()?;
                StubOutcome::Fails {
                    class,
                    message,
                    times,
                    span: self.span_from(start),
                }
            }
            "hangs" => StubOutcome::Hangs(self.span_from(start)),
            _ => return Err(Bail),
        })
    }

    /// `N times`, if a number follows.
    fn times(&mut self) -> Parse<Option<u32>> {
        self.skip()?;
        if !self.byte(0).is_ascii_digit() {
            self.absent();
            return Ok(None);
        }
        let (times, _) = self.int()?;
        self.keyword("times")?;
        Ok(Some(times))
    }

    /// After `send`: `event "NAME" [PAYLOAD] [after DURATION]`.
    fn test_event(&mut self, start: usize) -> Parse<TestEvent> {
        self.keyword("event")?;
        let name = self.str_lit()?;
        // Without a payload, `after` and the next item's keyword are not read as a value.
        let next = self.next_word()?;
        let payload = if matches!(next, "after" | "input" | "start" | "stub" | "send" | "expect")
            || self.byte(0) == b'}'
        {
            None
        } else {
            Some(self.expr()?)
        };
        let after = if self.eat_keyword("after")? {
            Some(self.duration()?)
        } else {
            None
        };
        Ok(TestEvent {
            name,
            payload,
            after,
            span: self.span_from(start),
        })
    }

    /// After `expect`: a step's state, a call made or not, or a condition.
    fn expect(&mut self, start: usize) -> Parse<Expect> {
        let word = self.next_word()?;
        let kind = match word {
            "step" => {
                self.take(word.len());
                let step = self.ident()?;
                let state = match self.next_word()? {
                    "ran" => StepState::Ran,
                    "skipped" => StepState::Skipped,
                    "failed" => StepState::Failed,
                    _ => return Err(Bail),
                };
                self.name()?;
                ExpectKind::Step(step, state)
            }
            "call" | "no" => {
                let at = self.pos;
                self.take(word.len());
                let call = word == "call" || self.eat_keyword("call")?;
                let next = self.next_word()?;
                if call && !next.is_empty() && !is_keyword(next) {
                    let action = self.qualified()?;
                    if word == "no" {
                        ExpectKind::NoCall(action)
                    } else {
                        let times = self.times()?;
                        let with = if self.eat_keyword("with")? {
                            Some(self.expr()?)
                        } else {
                            None
                        };
                        ExpectKind::Call { action, times, with }
                    }
                } else if word == "no" && !call {
                    // `no` is a name here (`expect no == 1`).
                    self.pos = at;
                    ExpectKind::That(self.expr()?)
                } else {
                    return Err(Bail);
                }
            }
            _ => ExpectKind::That(self.expr()?),
        };
        Ok(Expect {
            kind,
            span: self.span_from(start),
        })
    }
}
