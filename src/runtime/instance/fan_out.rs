//! A fan-out (`for x in list`) as a state machine: which items run (up to the concurrency
//! limit), their results, and when the step is done. The instance opens a scope for each item it
//! hands out and reports each item's end.

use std::collections::VecDeque;

use super::{Ctx, Instance, Work};
use crate::plan::{FanOutNode, StepPath};
use crate::runtime::event::EventKind;
use crate::runtime::scheduler::ScopeKind;
use crate::value::Value;

/// One fan-out step under way.
pub(super) struct FanOut {
    items: Vec<Value>,
    results: Vec<Value>,
    /// The next item to hand out.
    next: usize,
    /// Items handed out and not ended.
    active: usize,
    done: usize,
    limit: usize,
    var: String,
    path: StepPath,
}

/// An item to run: its position, the loop variable bound to it, its step paths' prefix.
pub(super) struct Item {
    pub(super) index: usize,
    pub(super) local: (String, Value),
    pub(super) prefix: String,
}

impl FanOut {
    /// A fan-out of `node` over `items` (not empty), at step `path`.
    pub(super) fn new(node: &FanOutNode, items: Vec<Value>, path: StepPath) -> FanOut {
        let len = items.len();
        FanOut {
            results: vec![Value::Null; len],
            items,
            next: 0,
            active: 0,
            done: 0,
            limit: node.concurrency.map(|c| c.max(1) as usize).unwrap_or(len),
            var: node.var.clone(),
            path,
        }
    }

    /// The next item to run, while the concurrency limit allows one.
    pub(super) fn next_item(&mut self) -> Option<Item> {
        if self.active >= self.limit || self.next >= self.items.len() {
            return None;
        }
        let index = self.next;
        self.next += 1;
        self.active += 1;
        Some(Item {
            index,
            local: (self.var.clone(), self.items[index].clone()),
            prefix: format!("{}[{index}].", self.path),
        })
    }

    /// Item `index` ended with `value`; whether every item has.
    pub(super) fn item_done(&mut self, index: usize, value: Value) -> bool {
        if let Some(slot) = self.results.get_mut(index) {
            *slot = value;
        }
        self.active = self.active.saturating_sub(1);
        self.done += 1;
        self.done == self.items.len()
    }

    /// The step's path and value (the items' results, in order), once every item ended.
    pub(super) fn finish(self) -> (StepPath, Value) {
        (self.path, Value::List(self.results))
    }
}

impl Instance {
    /// Fan-out node `n` of scope `s` runs over `items`.
    pub(super) fn start_fan_out(
        &mut self,
        ctx: &Ctx,
        (s, n): (u32, u32),
        node: &FanOutNode,
        items: Vec<Value>,
        path: StepPath,
        q: &mut VecDeque<Work>,
    ) {
        self.record(ctx, EventKind::StepScheduled { step: path.clone() });
        if items.is_empty() {
            self.succeed(ctx, (s, n), path, 1, Value::List(Vec::new()), false, q);
            return;
        }
        self.set_running(s, n);
        self.fanouts.insert((s, n), FanOut::new(node, items, path));
        self.open_items(s, n, q);
    }

    /// Opens a scope for each item the fan-out at node `n` of scope `s` lets run now.
    fn open_items(&mut self, s: u32, n: u32, q: &mut VecDeque<Work>) {
        let Some(body) = self.scope(s).and_then(|sc| sc.plan.children.get(&n).cloned()) else {
            return;
        };
        let in_handler = self.scope(s).is_some_and(|sc| sc.in_handler);
        while let Some(item) = self.fanouts.get_mut(&(s, n)).and_then(FanOut::next_item) {
            self.open_scope(
                body.clone(),
                Some((s, n)),
                ScopeKind::Item(item.index),
                in_handler,
                item.prefix,
                Some(item.local),
                q,
            );
        }
    }

    /// Item `index` of the fan-out at node `n` of scope `s` ended with `value`: the step
    /// succeeds once every item has, or the next items run.
    pub(super) fn fan_item_done(
        &mut self,
        ctx: &Ctx,
        (s, n): (u32, u32),
        index: usize,
        value: Value,
        q: &mut VecDeque<Work>,
    ) {
        let Some(fan) = self.fanouts.get_mut(&(s, n)) else {
            return;
        };
        if !fan.item_done(index, value) {
            self.open_items(s, n, q);
            return;
        }
        let Some((path, value)) = self.fanouts.remove(&(s, n)).map(FanOut::finish) else {
            return;
        };
        self.succeed(ctx, (s, n), path, 1, value, false, q);
    }
}
