"""A small recording HTTP server for the client's tests: scripted answers, every request kept.

``FakeService`` stands in for the hub's ``/hub/api/user`` and the deployments service's REST API
and endpoints (services/deployments/API.md); it is a real HTTP server on 127.0.0.1, so the client's
whole HTTP path (session, token header, errors, streaming) runs as it does against a hub.  The
``fake`` and ``client`` fixtures (``conftest.py``) start one and a `Client` of it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/services/deployments/api/v1/"
ENDPOINTS = "/services/deployments/endpoints/"


@dataclass
class Answer:
    """One scripted answer: JSON (``body``), plain text (``text``), or a chunked stream of lines (``stream``:
    strings are sent as lines, a ``threading.Event`` is waited for before going on)."""

    status: int = 200
    body: Any = None
    text: str | None = None
    stream: list | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.query.items()}


@dataclass
class FakeService:
    """Answers scripted per ``(method, path)``, in order, the last one repeated; records every request."""

    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    user: str = "alice"

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                service.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                                 dict(self.headers), body))
                self._answer(service.answer_for(self.command, parts.path))

            def _answer(self, answer: Answer) -> None:
                if answer.stream is not None:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for item in answer.stream:
                        if isinstance(item, threading.Event):
                            item.wait(10)
                            continue
                        data = (item + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                if answer.text is not None:
                    data, kind = answer.text.encode(), "text/plain; charset=utf-8"
                elif answer.body is None and answer.status == 204:
                    data, kind = b"", "application/json"
                else:
                    data, kind = json.dumps(answer.body).encode(), "application/json"
                self.send_response(answer.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.on("GET", "/hub/api/user", Answer(body={"name": self.user, "groups": [], "scopes": []}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers)

    def answer_for(self, method: str, path: str) -> Answer:
        answers = self.routes.get((method, path))
        if not answers:
            return Answer(404, {"error": "not_found", "message": f"no route {method} {path} in the fake"})
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def sent(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and
                (path is None or r.path == path) and r.path != "/hub/api/user"]

    def __enter__(self) -> FakeService:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
