//! `wait for event`: the waits an instance listens with, and the signals and broadcasts that end
//! them.

use std::collections::VecDeque;

use super::{Ctx, Effects, Instance, Work};
use crate::plan::NodeKind;
use crate::runtime::eval::{self, With};
use crate::runtime::event::EventKind;
use crate::value::Value;

pub(super) struct EventWait {
    pub(super) scope: u32,
    pub(super) node: u32,
    pub(super) event: String,
}

impl Instance {
    pub(super) fn end_event_wait(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        payload: Value,
        timed_out: bool,
        q: &mut VecDeque<Work>,
    ) {
        let path = self.scope(s).map(|sc| sc.path(n)).unwrap_or_default();
        self.record(
            ctx,
            EventKind::WaitEnded {
                step: path.clone(),
                timed_out,
            },
        );
        self.succeed(ctx, (s, n), path, 1, payload, false, q);
    }

    pub(super) fn filter_accepts(&self, ctx: &Ctx, s: u32, n: u32, payload: &Value) -> bool {
        let Some(scope) = self.scope(s) else { return false };
        let NodeKind::WaitEvent { filter, .. } = &scope.plan.node(n).kind else {
            return false;
        };
        let Some(filter) = filter else { return true };
        // The filter's verdict is journaled with the event it let in (or not): its clock read
        // needs no entry of its own.
        let env = self.node_env(ctx, s, n);
        let with = With {
            name: "event",
            value: payload,
            inner: &env,
        };
        eval::eval(filter, &with).is_ok_and(|v| v.is_true())
    }

    /// An event sent to this instance.
    pub(crate) fn on_signal(&mut self, ctx: &Ctx, name: &str, payload: Value) -> Effects {
        let mut fx = Effects::new();
        if self.status.is_final() {
            return fx;
        }
        self.record(
            ctx,
            EventKind::EventReceived {
                name: name.to_string(),
                payload: payload.clone(),
            },
        );
        let pos = self.event_waits.iter().position(|w| {
            w.event == name && self.active(w.scope) && self.filter_accepts(ctx, w.scope, w.node, &payload)
        });
        match pos {
            Some(i) => {
                let w = self.event_waits.remove(i);
                let mut q = VecDeque::new();
                self.end_event_wait(ctx, w.scope, w.node, payload, false, &mut q);
                self.drive(ctx, q, &mut fx);
            }
            None => self.inbox.push((name.to_string(), payload)),
        }
        fx
    }

    /// An event emitted by some instance: it ends a matching wait here, if there is one (and
    /// is otherwise not kept, unlike a signal addressed to this instance).
    pub(crate) fn on_broadcast(&mut self, ctx: &Ctx, name: &str, payload: &Value) -> Effects {
        let mut fx = Effects::new();
        if self.status.is_final() || self.event_waits.is_empty() {
            return fx;
        }
        let pos = self.event_waits.iter().position(|w| {
            w.event == name && self.active(w.scope) && self.filter_accepts(ctx, w.scope, w.node, payload)
        });
        if let Some(i) = pos {
            self.record(
                ctx,
                EventKind::EventReceived {
                    name: name.to_string(),
                    payload: payload.clone(),
                },
            );
            let w = self.event_waits.remove(i);
            let mut q = VecDeque::new();
            self.end_event_wait(ctx, w.scope, w.node, payload.clone(), false, &mut q);
            self.drive(ctx, q, &mut fx);
        }
        fx
    }
}
