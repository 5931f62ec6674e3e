//! Expression evaluation for a node: name lookup through the scope chain, and the clock it reads
//! (journaled).

use chrono::{DateTime, Utc};

use super::{Ctx, Instance};
use crate::runtime::eval::{self, Env};
use crate::runtime::event::EventKind;
use crate::value::Value;

/// Name lookup for a node of a scope: the scope chain, then instance-wide names.
pub(super) struct NodeEnv<'a> {
    pub(super) inst: &'a Instance,
    pub(super) scope: u32,
    pub(super) ctx: &'a Ctx<'a>,
    /// What `now()` answers: the journaled instant when replaying, else the reaction's.
    pub(super) now: DateTime<Utc>,
    /// Whether `now()` was read (then the instant is journaled).
    pub(super) read_clock: std::cell::Cell<bool>,
}

impl NodeEnv<'_> {
    /// Calls `f` with the value of `name`, borrowed where it lives.
    fn with_value<R>(&self, name: &str, f: impl FnOnce(&Value) -> R) -> Option<R> {
        let mut s = Some(self.scope);
        while let Some(si) = s {
            let Some(scope) = self.inst.scopes.get(si as usize).and_then(Option::as_ref) else {
                break;
            };
            if let Some(&n) = scope.plan.names.get(name) {
                return Some(f(scope.value(n)));
            }
            if let Some((var, v)) = &scope.local {
                if var == name {
                    return Some(f(v));
                }
            }
            s = scope.parent.map(|(p, _)| p);
        }
        match name {
            "input" => Some(f(&self.inst.input)),
            "entity" => match self.ctx.globals.entities.get(&*self.inst.entity) {
                Some(e) => Some(f(e)),
                None => Some(f(&Value::record([("name", Value::text(&*self.inst.entity))]))),
            },
            "error" => Some(f(self.inst.error.as_ref().unwrap_or(&Value::Null))),
            _ => {
                if let Some(e) = self.ctx.globals.entities.get(name) {
                    Some(f(e))
                } else if self.ctx.globals.databases.contains(name) {
                    Some(f(&Value::text(name)))
                } else {
                    None
                }
            }
        }
    }
}

impl Env for NodeEnv<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.with_value(name, Value::clone)
    }

    fn lookup_path(&self, name: &str, path: &[String]) -> Option<Value> {
        // Only the field read is copied, not the whole step result.
        self.with_value(name, |v| {
            let mut v = v;
            for p in path {
                v = v.get(p);
            }
            v.clone()
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.read_clock.set(true);
        self.now
    }

    fn secret(&self, name: &str) -> Result<String, eval::EvalError> {
        let entity = &*self.inst.entity;
        let declared = self
            .ctx
            .globals
            .secrets
            .get(entity)
            .map_or(&[][..], Vec::as_slice);
        eval::read_declared_secret(entity, declared, name)
    }
}

impl Instance {
    /// The environment of node `n` of scope `s`. Its `now()` is the instant the journal holds
    /// for the node when one is there (a replay), so an instance resumed on a later clock
    /// computes what it computed before the crash.
    pub(super) fn node_env<'a>(&'a self, ctx: &'a Ctx<'a>, s: u32, n: u32) -> NodeEnv<'a> {
        let journaled = match &self.replay {
            Some(r) if !r.clock.is_empty() => self.scope(s).and_then(|sc| r.clock.get(&sc.path(n)).copied()),
            _ => None,
        };
        NodeEnv {
            inst: self,
            scope: s,
            ctx,
            now: journaled.unwrap_or(ctx.now),
            read_clock: std::cell::Cell::new(false),
        }
    }

    /// Journals the instant `now()` gave node `n` of scope `s`, when it was read (a replay
    /// that read the journaled instant records nothing new: the event is already there).
    pub(super) fn journal_clock(&mut self, ctx: &Ctx, s: u32, n: u32, read: Option<DateTime<Utc>>) {
        let Some(at) = read else { return };
        let Some(step) = self.scope(s).map(|sc| sc.path(n)) else {
            return;
        };
        self.record(ctx, EventKind::ClockRead { step, at });
    }

    /// Evaluates `expr` for node `n` of scope `s`.
    pub(super) fn eval(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        expr: &crate::plan::Expr,
    ) -> Result<Value, String> {
        let (result, read) = {
            let env = self.node_env(ctx, s, n);
            let result = eval::eval(expr, &env).map_err(|e| e.0);
            (result, env.read_clock.get().then_some(env.now))
        };
        self.journal_clock(ctx, s, n, read);
        result
    }

    /// A step's timeout in milliseconds: the written one (`timeout 30s`), or one computed now
    /// (`timeout EXPR`: `none` is no timeout, a negative duration is already over).
    pub(super) fn step_timeout(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        written: Option<i64>,
        expr: Option<&crate::plan::Expr>,
    ) -> Result<Option<i64>, String> {
        let Some(e) = expr else { return Ok(written) };
        match self.eval(ctx, s, n, e)? {
            Value::Duration(ms) => Ok(Some(ms.max(0))),
            Value::Null => Ok(None),
            v => Err(format!("`timeout` needs a duration, not a {}", v.kind())),
        }
    }
}
