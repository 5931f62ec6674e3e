"""An aiosmtpd handler for flowc's email tests.

Started by tests/support/smtp_server.rs as
    python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_recorder.Recorder FOLDER
Each accepted message is written to FOLDER as NNNN.eml (the raw bytes) plus NNNN.json (the
envelope and the parsed headers and parts), so the Rust tests need no MIME parser.
Recipients whose local part starts with "reject" are refused with 550 (permanent), those
starting with "defer" with 451 (transient).
"""

import json
import os
from email import message_from_bytes
from email.policy import default as default_policy


class Recorder:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("usage: -c smtp_recorder.Recorder FOLDER")
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        if local.startswith("defer"):
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.folder, f"{self.count:04d}")
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=default_policy)
        parts = {}
        for part in message.walk():
            if part.is_multipart():
                continue
            parts[part.get_content_type()] = part.get_content()
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            # STARTTLS sets session.ssl; with implicit TLS (smtps) only the transport knows.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "content_type": message.get_content_type(),
            "headers": {k: str(v) for k, v in message.items()},
            "parts": parts,
        }
        with open(name + ".json.tmp", "w") as f:
            json.dump(summary, f)
        with open(name + ".eml", "wb") as f:
            f.write(raw)
        # The .json appears last and whole: tests wait for it.
        os.replace(name + ".json.tmp", name + ".json")
        return "250 Message accepted for delivery"
