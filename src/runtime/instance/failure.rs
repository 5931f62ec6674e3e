//! A step that failed for good: its fallback, else the instance's `on error` handler, else the end.

use std::collections::VecDeque;

use super::{error_record, Ctx, Effects, Instance, InstanceStatus, Work};
use crate::connectors::{ConnectorError, ErrorClass};
use crate::plan::{FallbackPlan, NodeKind};
use crate::runtime::event::EventKind;
use crate::runtime::scheduler::{NState, ScopeKind};
use crate::value::Value;

impl Instance {
    pub(super) fn fail_for_good(&mut self, ctx: &Ctx, fx: &mut Effects) {
        let err = self.error.clone().unwrap_or(Value::Null);
        let status = InstanceStatus::Failed {
            step: err.get("step").to_string(),
            message: err.get("message").to_string(),
            class: err.get("class").to_string(),
        };
        if let InstanceStatus::Failed { step, message, class } = &status {
            self.record(
                ctx,
                EventKind::InstanceFailed {
                    step: step.as_str().into(),
                    message: message.clone(),
                    class: class.clone(),
                },
            );
        }
        let class = ErrorClass::from_name(&err.get("class").to_string()).unwrap_or(ErrorClass::Permanent);
        let message = format!("{}: {}", err.get("step"), err.get("message"));
        self.status = status;
        self.finished(Err(ConnectorError::new(class, message)), fx);
    }

    pub(super) fn fail_instance(
        &mut self,
        ctx: &Ctx,
        step: &str,
        message: &str,
        class: ErrorClass,
        q: &mut VecDeque<Work>,
        fx: &mut Effects,
    ) {
        let redactor = self.redactor(ctx);
        let message = redactor.text(message);
        match self.status {
            InstanceStatus::Running => {
                self.error = Some(error_record(step, &message, class));
                match self.flow.handler.clone() {
                    Some(handler) => {
                        self.status = InstanceStatus::Failing;
                        self.open_scope(
                            handler,
                            None,
                            ScopeKind::Handler,
                            true,
                            "on_error.".into(),
                            None,
                            q,
                        );
                    }
                    None => self.fail_for_good(ctx, fx),
                }
            }
            // A failure inside the handler ends it; the original error is what is reported.
            InstanceStatus::Failing => self.fail_for_good(ctx, fx),
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn step_failed(
        &mut self,
        ctx: &Ctx,
        s: u32,
        n: u32,
        error: ConnectorError,
        attempt: u32,
        q: &mut VecDeque<Work>,
        fx: &mut Effects,
    ) {
        let Some(scope) = self.scope(s) else { return };
        let path = scope.path(n);
        let plan = scope.plan.clone();
        let fallback = match &plan.node(n).kind {
            NodeKind::Call(c) => c.fallback.clone(),
            _ => None,
        };
        match fallback {
            Some(FallbackPlan::Value(e)) => match self.eval(ctx, s, n, &e) {
                Ok(v) => self.succeed(ctx, (s, n), path, attempt, v, true, q),
                Err(msg) => self.fail_instance(ctx, &path, &msg, ErrorClass::Permanent, q, fx),
            },
            Some(FallbackPlan::Block(_)) => {
                let Some(body) = plan.children.get(&n).cloned() else {
                    return;
                };
                let in_handler = self.scope(s).is_some_and(|sc| sc.in_handler);
                let prefix = format!("{path}.fallback.");
                self.open_scope(
                    body,
                    Some((s, n)),
                    ScopeKind::Fallback,
                    in_handler,
                    prefix,
                    None,
                    q,
                );
            }
            None => {
                if let Some(Some(scope)) = self.scopes.get_mut(s as usize) {
                    scope.set_state(n, NState::Failed);
                }
                self.fail_instance(ctx, &path, &error.message, error.class, q, fx);
            }
        }
    }
}
