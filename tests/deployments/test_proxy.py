"""The endpoint proxy (``proxy.py``): what reaches a deployment and what comes back.  A small
service started by the local runtime tells what it received, and streams on demand."""

from __future__ import annotations

import json
import sys

import pytest
import requests

from ..harness import free_port

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
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Service-Worker-Allowed", "/")
        self.send_header("Content-Security-Policy", "default-src *")
        self.send_header("X-App", "kept")
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

    seen = alice.endpoint(full_name, "some/path?x=1&y=2", headers={"X-Custom": "yes", "X-XSRFToken": "xsrf"},
                          cookies={"jupyterhub-session-id": "secret"})
    assert seen.status_code == 200
    echoed = seen.json()
    assert echoed["path"] == "/some/path?x=1&y=2"
    headers = {k.lower(): v for k, v in echoed["headers"].items()}
    assert headers["x-custom"] == "yes"
    assert headers["x-forwarded-prefix"] == f"/services/deployments/endpoints/{full_name}/"
    # The caller's credentials stay with the platform.
    assert "authorization" not in headers and "cookie" not in headers and "x-xsrftoken" not in headers
    # The answer is inert on the hub's origin: no cookie, no service worker scope, the sandbox CSP
    # instead of the program's own; its other headers pass.
    assert seen.raw.headers.getlist("Set-Cookie") == []
    assert "Service-Worker-Allowed" not in seen.headers
    assert seen.raw.headers.getlist("Content-Security-Policy") == ["sandbox"]
    assert seen.headers["X-Content-Type-Options"] == "nosniff"
    assert seen.headers["X-App"] == "kept"

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


def test_endpoint_origin(make_lab, unique):
    """`DeploymentsApp.endpoint_port`: the service serves endpoints on an origin of its own, where
    a token opens them and a login cookie does not, answers stay inert, and the API points there."""
    port = free_port()
    lab = make_lab(endpoint_port=port)
    alice = lab.api("alice")
    name = unique("echo")
    created = alice.create(namespace="users/alice", name=name, command=[sys.executable, "-c", ECHO], port=8000)
    full_name = created["full_name"]
    origin = f"http://127.0.0.1:{port}/"
    assert created["url"] == f"{origin}{full_name}/"
    alice.wait(full_name, "ready")

    seen = alice.call("GET", created["url"] + "some/path?x=1")
    assert seen.status_code == 200
    echoed = seen.json()
    assert echoed["path"] == "/some/path?x=1"
    assert {k.lower(): v for k, v in echoed["headers"].items()}["x-forwarded-prefix"] == f"/{full_name}/"
    assert seen.raw.headers.getlist("Set-Cookie") == []
    assert seen.raw.headers.getlist("Content-Security-Policy") == ["sandbox"]

    # The hub's login cookie (same host, another port: browsers send it) opens nothing here.
    browser, _ = lab.users["alice"]
    assert browser.get(lab.hub.url + "services/deployments/").status_code == 200  # the service's OAuth login
    assert browser.get(lab.hub.url + f"services/deployments/endpoints/{full_name}/").status_code == 200
    by_cookie = requests.get(created["url"], cookies=browser.cookies.get_dict(), timeout=30)
    assert by_cookie.status_code == 401
    assert by_cookie.json()["error"] == "unauthorized"
    # bob's token is checked as on the hub's origin.
    assert lab.api("bob").call("GET", created["url"]).status_code == 403
    alice.delete(f"deployments/{full_name}")
