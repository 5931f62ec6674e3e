//! What the message channels' send actions (sms.send, slack.post, email.send) share: the
//! `notification` a message is one channel of, and the `sent_by` their result names when an
//! earlier channel of that notification had sent it, so this one sent nothing.

use crate::contract::ActionSpec;
use crate::types::{Field, Type};

/// `spec` with the `notification` parameter and the `sent_by` result field.
pub(crate) fn joins_notifications(spec: ActionSpec) -> ActionSpec {
    let mut spec = spec.optional(
        "notification",
        Type::Text,
        "a name for the notification this message is one channel of (unique in the instance): when an earlier channel of it sent it, or may have, nothing is sent",
    );
    if let Type::Record { fields, .. } = &mut spec.output {
        fields.insert(
            "sent_by".to_string(),
            Field {
                ty: Type::Text,
                optional: true,
            },
        );
    }
    spec
}
