"""The endpoint proxy (``proxy.py``): what reaches a deployment and what comes back.  A small
service started by the local runtime tells what it received, and streams on demand."""

from __future__ import annotations

import json
import sys

import pytest

pytestmark = pytest.mark.slow

#: Echoes what it got; ``/stream`` sends a first chunk, then the rest once ``/release`` is called.
ECHO = r'''
import http.server, json, os, threading

released = threading.Event()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/release":
            released.set()
            return self.reply(b"{}")
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first\n", b"second\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                released.wait(60)
            self.wfile.write(b"0\r\n\r\n")
            return
        self.reply(json.dumps({"path": self.path, "headers": dict(self.headers)}).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.reply(json.dumps({"path": self.path, "body": body.decode()}).encode(), status=201)

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def test_what_passes_and_what_stays(lab, unique):
    alice = lab.api("alice")
    name = unique("echo")
    created = alice.create(namespace="users/alice", name=name, command=[sys.executable, "-c", ECHO], port=8000)
    full_name = created["full_name"]
    alice.wait(full_name, "ready")

    seen = alice.endpoint(full_name, "some/path?x=1&y=2", headers={"X-Custom": "yes"},
                          cookies={"jupyterhub-session-id": "secret"})
    assert seen.status_code == 200
    echoed = seen.json()
    assert echoed["path"] == "/some/path?x=1&y=2"
    headers = {k.lower(): v for k, v in echoed["headers"].items()}
    assert headers["x-custom"] == "yes"
    assert headers["x-forwarded-prefix"] == f"/services/deployments/endpoints/{full_name}/"
    # The caller's credentials stay with the platform.
    assert "authorization" not in headers and "cookie" not in headers
    # Every Set-Cookie of the runtime comes back.
    assert seen.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]

    posted = alice.endpoint(full_name, "predict", method="POST", data=json.dumps({"rows": [1, 2]}))
    assert posted.status_code == 201
    assert json.loads(posted.json()["body"]) == {"rows": [1, 2]}

    # A streamed answer passes through as it comes: the first chunk arrives before the answer ends.
    with alice.endpoint(full_name, "stream", stream=True) as streamed:
        chunks = streamed.iter_content(chunk_size=None)
        assert next(chunks) == b"first\n"
        assert alice.endpoint(full_name, "release").status_code == 200
        assert b"".join(chunks) == b"second\n"
    alice.delete(f"deployments/{full_name}")
