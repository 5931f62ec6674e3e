//! Running one node of a plan: lets, branches, waits, fan-outs, calls, `emit`, `fail`, `yield`,
//! `output`.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use super::{ChildCall, Ctx, Effect, Effects, EventWait, Instance, NextAttempt, PreparedCall, Work};
use crate::connectors::{ActionCall, ConnectorError, ErrorClass, IdempotencyKey};
use crate::plan::{ArmTest, CallTarget, NodeKind, StepPath, WaitUntil};
use crate::runtime::eval;
use crate::runtime::event::EventKind;
use crate::runtime::scheduler::NState;
use crate::value::Value;

impl Instance {
    /// Suspends node `n` of scope `s`: it listens for `event` (a `wait for event`) and/or wakes at
    /// `until`. The instance holds no task while suspended; the timer effect is the engine's job.
    pub(super) fn arm_wait(
        &mut self,
        s: u32,
        n: u32,
        event: Option<&str>,
        until: Option<DateTime<Utc>>,
        path: StepPath,
        fx: &mut Effects,
    ) {
        if let Some(event) = event {
            self.event_waits.push(EventWait {
                scope: s,
                node: n,
                event: event.to_string(),
            });
        }
        if let Some(at) = until {
            fx.push(Effect::Timer {
                at,
                scope: s,
                node: n,
                order: self.timer_order(&path),
                step: path,
            });
        }
    }

    pub(super) fn run_node(&mut self, ctx: &Ctx, s: u32, n: u32, q: &mut VecDeque<Work>, fx: &mut Effects) {
        if !self.active(s) {
            return;
        }
        let Some(scope) = self.scope(s) else { return };
        let plan = scope.plan.clone();
        let node = plan.node(n);
        let path = scope.path(n);
        if let Some(g) = node.gate {
            let b = g.branch;
            let taken = scope.state(b) == NState::Done && *scope.value(b) == Value::Int(g.arm as i64);
            if !taken {
                if node.kind.keyword() == "step" {
                    self.record(ctx, EventKind::StepSkipped { step: path });
                }
                q.push_back(Work::finish(s, n, NState::Skipped, Value::Null));
                return;
            }
        }
        if let Some(replay) = &self.replay {
            let is_step = matches!(
                node.kind,
                NodeKind::Call(_) | NodeKind::FanOut(_) | NodeKind::WaitEvent { .. }
            );
            if is_step {
                if let Some(v) = replay.results.get(&path) {
                    q.push_back(Work::finish(s, n, NState::Done, v.clone()));
                    return;
                }
                if let Some(e) = replay.failed.get(&path) {
                    let e = e.clone();
                    self.set_running(s, n);
                    self.step_failed(ctx, s, n, e, 1, q, fx);
                    return;
                }
            }
            if matches!(node.kind, NodeKind::Wait { .. } | NodeKind::WaitEvent { .. }) {
                if replay.wait_ended.contains(&path) {
                    q.push_back(Work::finish(s, n, NState::Done, Value::Null));
                    return;
                }
                if let Some(until) = replay.wait_until.get(&path).copied() {
                    self.set_running(s, n);
                    let event = match &node.kind {
                        NodeKind::WaitEvent { event, .. } => Some(event.as_str()),
                        _ => None,
                    };
                    self.arm_wait(s, n, event, until, path, fx);
                    return;
                }
            }
        }
        let eval_or_fail = |inst: &mut Instance,
                            q: &mut VecDeque<Work>,
                            fx: &mut Effects,
                            e: &crate::plan::Expr|
         -> Option<Value> {
            match inst.eval(ctx, s, n, e) {
                Ok(v) => Some(v),
                Err(msg) => {
                    inst.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                    None
                }
            }
        };
        match &node.kind {
            NodeKind::Let { value } => {
                if let Some(v) = eval_or_fail(self, q, fx, value) {
                    q.push_back(Work::finish(s, n, NState::Done, v));
                }
            }
            NodeKind::Branch(b) => {
                let subject = match &b.subject {
                    Some(e) => match eval_or_fail(self, q, fx, e) {
                        Some(v) => Some(v),
                        None => return,
                    },
                    None => None,
                };
                let mut taken = Value::Null;
                for (i, arm) in b.arms.iter().enumerate() {
                    let hit = match arm {
                        ArmTest::Else => true,
                        ArmTest::Cond(c) => match eval_or_fail(self, q, fx, c) {
                            Some(v) => v.is_true(),
                            None => return,
                        },
                        ArmTest::Pattern(p) => {
                            let v = subject.clone().unwrap_or(Value::Null);
                            let (matched, read) = {
                                let env = self.node_env(ctx, s, n);
                                let matched = eval::pattern_matches(p, &v, &env);
                                (matched, env.read_clock.get().then_some(env.now))
                            };
                            self.journal_clock(ctx, s, n, read);
                            match matched {
                                Ok(hit) => hit,
                                Err(e) => {
                                    self.fail_instance(ctx, &path, &e.0, ErrorClass::Permanent, q, fx);
                                    return;
                                }
                            }
                        }
                    };
                    if hit {
                        taken = Value::Int(i as i64);
                        break;
                    }
                }
                q.push_back(Work::finish(s, n, NState::Done, taken));
            }
            NodeKind::Emit { event, payload } => {
                let payload = match payload {
                    Some(p) => match eval_or_fail(self, q, fx, p) {
                        Some(v) => v,
                        None => return,
                    },
                    None => Value::Null,
                };
                self.record(
                    ctx,
                    EventKind::Emitted {
                        name: event.clone(),
                        payload: payload.clone(),
                    },
                );
                fx.push(Effect::Emit {
                    name: event.clone(),
                    payload,
                });
                q.push_back(Work::finish(s, n, NState::Done, Value::Null));
            }
            NodeKind::Fail { message } => {
                if let Some(v) = eval_or_fail(self, q, fx, message) {
                    self.fail_instance(ctx, &path, &v.to_string(), ErrorClass::Permanent, q, fx);
                }
            }
            NodeKind::Yield { value } => {
                if let Some(v) = eval_or_fail(self, q, fx, value) {
                    if let Some(Some(scope)) = self.scopes.get_mut(s as usize) {
                        scope.yielded = v.clone();
                    }
                    q.push_back(Work::finish(s, n, NState::Done, v));
                }
            }
            NodeKind::Output { value } => {
                if let Some(v) = eval_or_fail(self, q, fx, value) {
                    let v = std::sync::Arc::new(v);
                    self.record(ctx, EventKind::Output { value: v.clone() });
                    let redactor = self.redactor(ctx);
                    self.output = Some(if redactor.is_empty() {
                        v
                    } else {
                        std::sync::Arc::new(redactor.value(Value::clone(&v)))
                    });
                    // Nothing reads the `output` statement's node value (it has no name).
                    q.push_back(Work::finish(s, n, NState::Done, Value::Null));
                }
            }
            NodeKind::Wait { until } => {
                let at = match until {
                    WaitUntil::For(e) => match eval_or_fail(self, q, fx, e) {
                        Some(Value::Duration(ms)) => eval::add_ms(ctx.now, ms),
                        Some(Value::Null) => ctx.now,
                        Some(v) => {
                            let msg = format!("`wait` needs a duration, not a {}", v.kind());
                            self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                            return;
                        }
                        None => return,
                    },
                    WaitUntil::Until(e) => match eval_or_fail(self, q, fx, e) {
                        Some(Value::DateTime(t)) => t.with_timezone(&Utc),
                        Some(Value::Date(d)) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
                        Some(Value::Null) => ctx.now,
                        Some(v) => {
                            let msg = format!("`wait until` needs a date-time, not a {}", v.kind());
                            self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                            return;
                        }
                        None => return,
                    },
                };
                self.record(
                    ctx,
                    EventKind::WaitStarted {
                        step: path.clone(),
                        until: Some(at),
                    },
                );
                if at <= ctx.now {
                    self.record(
                        ctx,
                        EventKind::WaitEnded {
                            step: path,
                            timed_out: false,
                        },
                    );
                    q.push_back(Work::finish(s, n, NState::Done, Value::Null));
                } else {
                    self.set_running(s, n);
                    self.arm_wait(s, n, None, Some(at), path, fx);
                }
            }
            NodeKind::WaitEvent {
                event,
                timeout_ms,
                timeout,
                ..
            } => {
                let timeout_ms = match self.step_timeout(ctx, s, n, *timeout_ms, timeout.as_ref()) {
                    Ok(t) => t,
                    Err(msg) => {
                        self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                        return;
                    }
                };
                let until = timeout_ms.map(|ms| eval::add_ms(ctx.now, ms));
                self.record(
                    ctx,
                    EventKind::WaitStarted {
                        step: path.clone(),
                        until,
                    },
                );
                self.set_running(s, n);
                // An event that arrived before the wait began is not lost.
                let pos = (0..self.inbox.len())
                    .find(|&i| self.inbox[i].0 == *event && self.filter_accepts(ctx, s, n, &self.inbox[i].1));
                if let Some(i) = pos {
                    let (_, payload) = self.inbox.remove(i);
                    self.end_event_wait(ctx, s, n, payload, false, q);
                    return;
                }
                self.arm_wait(s, n, Some(event.as_str()), until, path, fx);
            }
            NodeKind::FanOut(f) => {
                let items = match eval_or_fail(self, q, fx, &f.over) {
                    Some(Value::List(items)) => items,
                    Some(Value::Null) => Vec::new(),
                    Some(v) => {
                        let msg = format!("`for` needs a list, not a {}", v.kind());
                        self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx);
                        return;
                    }
                    None => return,
                };
                self.start_fan_out(ctx, (s, n), f, items, path, q);
            }
            NodeKind::Call(call) => {
                let mut args = BTreeMap::new();
                for (name, e) in &call.args {
                    match self.eval(ctx, s, n, e) {
                        Ok(v) => {
                            args.insert(name.clone(), v);
                        }
                        Err(msg) => {
                            self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                            self.step_failed(ctx, s, n, ConnectorError::permanent(msg), 1, q, fx);
                            return;
                        }
                    }
                }
                for param in &call.template_params {
                    let Some(name) = args.get(param).and_then(|v| v.as_str()).map(str::to_string) else {
                        continue;
                    };
                    let vars = args
                        .get("with")
                        .cloned()
                        .unwrap_or(Value::Record(BTreeMap::new()));
                    match self.flow.templates.render(&name, &vars) {
                        Ok(r) => {
                            let parts = [
                                ("subject", r.subject),
                                ("text", r.text),
                                ("html", r.html),
                                ("sms", r.sms),
                                ("slack", r.slack),
                            ];
                            for (k, v) in parts {
                                if let Some(v) = v {
                                    args.insert(k.to_string(), Value::Text(v));
                                }
                            }
                        }
                        Err(msg) => {
                            self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                            self.step_failed(ctx, s, n, ConnectorError::permanent(msg), 1, q, fx);
                            return;
                        }
                    }
                }
                let timeout_ms = match self.step_timeout(ctx, s, n, call.timeout_ms, call.timeout.as_ref()) {
                    Ok(t) => t,
                    Err(msg) => {
                        self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                        self.step_failed(ctx, s, n, ConnectorError::permanent(msg), 1, q, fx);
                        return;
                    }
                };
                self.set_running(s, n);
                self.record(ctx, EventKind::StepScheduled { step: path.clone() });
                match &call.target {
                    CallTarget::Flow { key } => {
                        self.child_calls.insert(
                            (s, n),
                            ChildCall {
                                key: key.clone(),
                                input: Value::Record(args),
                                timeout_ms,
                                attempt: 0,
                                deadline: None,
                                retry_at: None,
                            },
                        );
                        // After a restart, the attempts carry on where the journal says.
                        let next = self
                            .replay
                            .as_ref()
                            .and_then(|r| r.next_attempt.get(&path))
                            .copied();
                        // A pending retry goes through its timer even when already due, so
                        // that retries due at the same instant fire in the order they did live.
                        match next {
                            Some(NextAttempt::Due(attempt, due)) => {
                                if let Some(cc) = self.child_calls.get_mut(&(s, n)) {
                                    cc.attempt = attempt.saturating_sub(1);
                                    cc.retry_at = Some(due);
                                }
                                fx.push(Effect::Timer {
                                    at: due,
                                    scope: s,
                                    node: n,
                                    order: self.timer_order(&path),
                                    step: path,
                                });
                            }
                            Some(NextAttempt::Started(attempt)) => {
                                self.start_child_attempt(ctx, s, n, attempt, fx)
                            }
                            None => self.start_child_attempt(ctx, s, n, 1, fx),
                        }
                    }
                    CallTarget::Action { .. } => {
                        let entity = match args.get("entity") {
                            Some(Value::Text(t)) => t.as_str().into(),
                            Some(v @ Value::Record(_)) => v.get("name").to_string().into(),
                            _ => self.entity.clone(),
                        };
                        let (attempt, not_before) = self
                            .replay
                            .as_ref()
                            .and_then(|r| r.next_attempt.get(&path).copied())
                            .map(|next| match next {
                                NextAttempt::Due(attempt, due) => (attempt, Some(due)),
                                NextAttempt::Started(attempt) => (attempt, None),
                            })
                            .unwrap_or((1, None));
                        let action = match &call.target {
                            CallTarget::Action { action, .. } => action.clone(),
                            CallTarget::Flow { .. } => "".into(),
                        };
                        let action_call = ActionCall {
                            action,
                            args,
                            entity,
                            flow_entity: self.entity.clone(),
                            instance: self.id.clone(),
                            step: path.clone(),
                            attempt,
                            idempotency_key: IdempotencyKey::of_step(&self.id, &path),
                        };
                        let pc = PreparedCall {
                            scope: s,
                            node: n,
                            plan: plan.clone(),
                            call: std::sync::Mutex::new(action_call),
                            step: path,
                            timeout_ms,
                            attempt,
                            not_before,
                            abandon: None,
                        };
                        if self.running < ctx.globals.per_instance_limit {
                            self.running += 1;
                            self.launch(ctx, pc, fx);
                        } else {
                            self.queue.push_back(Box::new(pc));
                        }
                    }
                }
            }
        }
    }
}
