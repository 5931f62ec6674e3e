//! One outgoing message built from an `email.send` call: addresses, the rendered parts and a
//! Message-ID derived from the idempotency key (so every attempt of a step sends the same message).

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::sent_log::{SentRecord, Stage};
use super::settings::Senders;
use crate::connectors::{ActionCall, ConnectorError};
use crate::value::Value;

/// A message ready to deliver, with what `send` returns.
pub(crate) struct Outgoing {
    pub(crate) message: Message,
    pub(crate) message_id: String,
    pub(crate) to: String,
    pub(crate) subject: String,
}

impl Outgoing {
    /// What the action returns: `{ message_id, to, subject }`.
    pub(crate) fn result(&self) -> Value {
        Value::record([
            ("message_id", Value::text(&self.message_id)),
            ("to", Value::text(&self.to)),
            ("subject", Value::text(&self.subject)),
        ])
    }

    /// The sent-log line saying this message reached `stage`, now.
    pub(crate) fn record(&self, key: &str, stage: Stage) -> SentRecord {
        SentRecord {
            key: key.to_string(),
            stage,
            message_id: self.message_id.clone(),
            to: self.to.clone(),
            subject: self.subject.clone(),
            sent_at: chrono::Utc::now().to_rfc3339(),
        }
    }
}

/// Builds the message for `call` (args `to`, `template`, `subject`, `text`, `html`, `cc`, `reply_to`).
pub(crate) fn build(
    call: &ActionCall,
    senders: &Senders,
    message_id_domain: Option<&str>,
) -> Result<Outgoing, ConnectorError> {
    let template = call.arg("template").as_str().unwrap_or("?");
    let subject = call.arg("subject").as_str().ok_or_else(|| {
        ConnectorError::permanent(format!(
            "template not rendered: `email.send` got no `subject` for template `{template}` (the runtime renders templates before sending)"
        ))
    })?;
    let to_text = call
        .arg("to")
        .as_str()
        .ok_or_else(|| ConnectorError::permanent("`to` must be an email address"))?;
    let to = mailbox(to_text, "to")?;
    let from = senders.sender_for(&call.entity).ok_or_else(|| {
        ConnectorError::permanent(format!(
            "no sender address for entity `{}`; set `email_from` in `[entities.{}]` or `from` in `[connectors.email]`",
            call.entity, call.entity
        ))
    })?;
    let reply_to = match call.arg("reply_to") {
        Value::Null => senders.reply_to_for(&call.entity).cloned(),
        Value::Text(text) => Some(mailbox(text, "reply_to")?),
        other => {
            return Err(ConnectorError::permanent(format!(
                "`reply_to` must be an email address, not a {}",
                other.kind()
            )))
        }
    };
    if call.idempotency_key.is_empty() {
        return Err(ConnectorError::permanent(
            "the call has no idempotency key to derive the Message-ID from",
        ));
    }
    let domain = message_id_domain.unwrap_or_else(|| from.email.domain());
    let message_id = message_id(&call.idempotency_key, domain);

    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(message_id.clone()));
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to);
    }
    match call.arg("cc") {
        Value::Null => {}
        Value::List(items) => {
            for item in items {
                let text = item
                    .as_str()
                    .ok_or_else(|| ConnectorError::permanent("`cc` must be a list of email addresses"))?;
                builder = builder.cc(mailbox(text, "cc")?);
            }
        }
        other => {
            return Err(ConnectorError::permanent(format!(
                "`cc` must be a list of email addresses, not a {}",
                other.kind()
            )))
        }
    }
    let text = call.arg("text").as_str().map(str::to_string);
    let html = call.arg("html").as_str().map(str::to_string);
    let message = match (text, html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
        (Some(text), None) => builder.singlepart(SinglePart::plain(text)),
        (None, Some(html)) => {
            builder.singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html))
        }
        (None, None) => {
            return Err(ConnectorError::permanent(format!(
                "template `{template}` rendered neither `text` nor `html`; give the template a body"
            )))
        }
    }
    .map_err(|e| ConnectorError::permanent(format!("cannot build the message: {e}")))?;
    Ok(Outgoing {
        message,
        message_id,
        to: to_text.to_string(),
        subject: subject.to_string(),
    })
}

fn mailbox(text: &str, param: &str) -> Result<Mailbox, ConnectorError> {
    text.parse::<Mailbox>()
        .map_err(|e| ConnectorError::permanent(format!("`{param}` is not an email address (`{text}`: {e})")))
}

/// `<KEY@DOMAIN>` where KEY is the idempotency key with every byte that may not appear in a
/// Message-ID (RFC 5322 `dot-atom-text`, minus `.` and `=`) written `=XX`: readable and one-to-one.
pub(crate) fn message_id(key: &str, domain: &str) -> String {
    let mut left = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_+!#$%&'*/?^`{|}~".contains(&byte) {
            left.push(byte as char);
        } else {
            left.push_str(&format!("={byte:02X}"));
        }
    }
    format!("<{left}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_escape_what_rfc_5322_forbids() {
        assert_eq!(message_id("inst-1/send", "x.example"), "<inst-1/send@x.example>");
        assert_eq!(
            message_id("a b:c.d=e", "x.example"),
            "<a=20b=3Ac=2Ed=3De@x.example>"
        );
        assert_ne!(message_id("a=20", "d"), message_id("a ", "d"));
    }
}
