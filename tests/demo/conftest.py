"""A real HTTP server standing in for the ingest API, for the simulator's tests."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class StubApi:
    """Records each request; answers from ``replies`` in turn, then 200."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    replies: list[tuple[int, object]] = field(default_factory=list)


@pytest.fixture
def stub_api() -> Iterator[StubApi]:
    api = StubApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            api.requests.append({"path": self.path, "authorization": self.headers["Authorization"], "body": body})
            status, reply = api.replies.pop(0) if api.replies else (200, None)
            if reply is None:
                reply = {"accepted": len(body), "duplicates": 0, "errors": []}
            payload = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL where nothing listens: connection refused."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"
