//! Phone numbers written in a flow: a literal `to:` of `sms.send` must be E.164 (E0309), with the
//! fixed number in the help when it can be told. Computed values are checked when the step runs.

use std::collections::BTreeMap;

use crate::contract::phone_number::{is_e164, suggest_e164};
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast;

use super::flow::FlowChecker;

impl<'a> FlowChecker<'_, 'a> {
    /// E0309 on each literal phone number among the arguments of a `connector` call.
    pub(super) fn check_phone_numbers(&mut self, connector: &str, args: &BTreeMap<&str, &'a ast::Arg>) {
        if connector != "sms" {
            return;
        }
        let Some(arg) = args.get("to") else {
            return;
        };
        let Some(number) = arg.value.as_plain_str() else {
            return;
        };
        if is_e164(&number) {
            return;
        }
        let help = match suggest_e164(&number) {
            Some(fixed) => format!("write `\"{fixed}\"`: E.164 has no spaces or punctuation"),
            None => "write `+`, the country code and the number without spaces, e.g. `\"+14155550123\"`"
                .to_string(),
        };
        self.push(
            Diagnostic::new(
                Code::NotAPhoneNumber,
                self.file,
                arg.value.span,
                format!("`{number}` is not a phone number in E.164 form"),
            )
            .label("not E.164")
            .help(help),
        );
    }
}
