"""Real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP endpoint that fails before it accepts."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.live import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 OK"


@pytest.fixture
def smtp_server(settings) -> Iterator[_Inbox]:
    """An SMTP server on 127.0.0.1 that keeps what it receives; Django's mail goes to it."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    url: str
    fail_first: int
    requests: list[dict] = field(default_factory=list)


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    """A department's system on loopback: answers 503 to the first two requests, then 204."""
    port = free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}/hooks/citysafety", fail_first=2)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                receiver.requests.append({"headers": dict(self.headers), "body": body, "json": json.loads(body)})
                failing = len(receiver.requests) <= receiver.fail_first
            self.send_response(503 if failing else 204)
            self.end_headers()
            if failing:
                self.wfile.write(b"busy")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
