"""An SMTP server for the end-to-end tests: aiosmtpd (pinned in requirements.txt) on a free
loopback port in this process, recording every message it accepts with its envelope recipient,
parsed by Python's `email` package. Plain SMTP, or STARTTLS required with `starttls=(cert, key)`;
AUTH and implicit TLS are covered by the Rust email tests (crates/writ/tests/api/email.rs,
whose smtp_relay.py also makes the test certificates)."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Optional

from aiosmtpd.controller import Controller


@dataclass
class Mail:
    rcpt: str
    message: EmailMessage
    arrived: float
    # Whether the session had switched to TLS (STARTTLS) before the message.
    tls: bool = False

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    @property
    def event(self) -> tuple[str, str]:
        """(type, id) of the event the message is about, as its text names it."""
        found = re.search(r"^Event: (\S+) \((\S+)\)$", self.text, re.MULTILINE)
        assert found, self.text
        return found.group(1), found.group(2)


class MailSink:
    def __init__(self, starttls: Optional[tuple[str, str]] = None) -> None:
        self.lock = threading.Lock()
        self.mails: list[Mail] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink.lock:
                    for rcpt in envelope.rcpt_tos:
                        sink.mails.append(Mail(rcpt, message, time.time(), bool(session.ssl)))
                return "250 OK"

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        tls = {}
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*starttls)
            tls = {"tls_context": context, "require_starttls": True}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, **tls)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def all(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def about(self, event_id: str) -> list[Mail]:
        """The messages about this event."""
        return [m for m in self.all() if m.event[1] == event_id]

    def close(self) -> None:
        self.controller.stop()
