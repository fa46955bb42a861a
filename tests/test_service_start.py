"""``mllab up`` waits for its managed services as long as `MLLabHub.service_start_timeout` says."""

from __future__ import annotations

import sys

import pytest
import requests

from .harness import GaveUp, free_port

pytestmark = pytest.mark.slow

#: A managed service that takes ``delay`` seconds before it listens (as a first migration might).
SLOW_SERVICE = """
import http.server, os, time
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"slow but here")
time.sleep({delay})
port = int(os.environ["JUPYTERHUB_SERVICE_URL"].rsplit(":", 1)[1].strip("/"))
http.server.HTTPServer(("127.0.0.1", port), Hello).serve_forever()
"""


def slow_service_config(tmp_path, delay: float, timeout: float | None = None, exit_code: int | None = None) -> str:
    code = f"raise SystemExit({exit_code})" if exit_code is not None else SLOW_SERVICE.format(delay=delay)
    service = {"command": [sys.executable, "-c", code], "url": f"http://127.0.0.1:{free_port()}"}
    lines = [f"c.MLLab.services = {{'slow': {service!r}}}"]
    if timeout is not None:
        lines.append(f"c.MLLabHub.service_start_timeout = {timeout}")
    config = tmp_path / "slow_config.py"
    config.write_text("\n".join(lines) + "\n")
    return str(config)


def test_a_service_slower_than_jupyterhubs_ten_seconds_is_waited_for(make_hub, tmp_path):
    hub = make_hub(args=["--config", slow_service_config(tmp_path, delay=14)])
    answer = requests.get(hub.url + "services/slow/", timeout=10)
    assert (answer.status_code, answer.text) == (200, "slow but here")


def test_a_service_that_exits_fails_the_start_at_once(make_hub, tmp_path):
    hub = make_hub(args=["--config", slow_service_config(tmp_path, delay=0, exit_code=3)], start=False)
    with pytest.raises(GaveUp, match="hub exited"):
        hub.start()
    assert "Service slow exited with status 3" in hub.log_path.read_text()


def test_a_service_that_never_answers_fails_after_the_timeout(make_hub, tmp_path):
    hub = make_hub(args=["--config", slow_service_config(tmp_path, delay=3600, timeout=30)], start=False)
    with pytest.raises(GaveUp, match="hub exited"):
        hub.start()
    assert "Service slow does not answer after 30.0s" in hub.log_path.read_text()
