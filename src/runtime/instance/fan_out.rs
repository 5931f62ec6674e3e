//! A fan-out (`for x in list`): the items' scopes, opened up to the concurrency limit.

use std::collections::VecDeque;

use super::{Instance, Work};
use crate::runtime::scheduler::ScopeKind;
use crate::value::Value;

pub(super) struct FanState {
    pub(super) items: Vec<Value>,
    pub(super) results: Vec<Value>,
    pub(super) next: usize,
    pub(super) active: usize,
    pub(super) done: usize,
    pub(super) limit: usize,
    pub(super) var: String,
    pub(super) path: String,
}

impl Instance {
    pub(super) fn open_items(&mut self, s: u32, n: u32, q: &mut VecDeque<Work>) {
        let Some(body) = self.scope(s).and_then(|sc| sc.plan.children.get(&n).cloned()) else {
            return;
        };
        let in_handler = self.scope(s).is_some_and(|sc| sc.in_handler);
        loop {
            let Some(fan) = self.fanouts.get_mut(&(s, n)) else {
                return;
            };
            if fan.active >= fan.limit || fan.next >= fan.items.len() {
                return;
            }
            let i = fan.next;
            fan.next += 1;
            fan.active += 1;
            let local = Some((fan.var.clone(), fan.items[i].clone()));
            let prefix = format!("{}[{i}].", fan.path);
            self.open_scope(
                body.clone(),
                Some((s, n)),
                ScopeKind::Item(i),
                in_handler,
                prefix,
                local,
                q,
            );
        }
    }
}
