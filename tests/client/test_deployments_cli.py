"""``mllab deploy|deployments|jobs`` run as a subprocess against a real hub and its deployments service, on the
local runtime (the embedded default of ``mllab up``), the way people and scripts use them.

Serving a registered model and ``mllab predict`` over both protocols are covered by the end-to-end model
test of the deployments suite; here a service from a command, and jobs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
import requests

from ..harness import MLLAB, env_with_node, free_port, wait_for
from .conftest import User, make_user

pytestmark = pytest.mark.slow

#: A service of a few lines: answers every GET with its path, logs each request on stdout, listens on $PORT.
SERVER = """
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("served", self.path, flush=True)

print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def dana(hub, tmp_path_factory) -> User:
    return make_user(hub, "dana", tmp_path_factory.mktemp("dana-cache"))


def mllab(user: User, *argv: str, stdin: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env_with_node().items() if not k.startswith("JUPYTERHUB_")}
    env.update(MLLAB_URL=user.hub.url, MLLAB_TOKEN=user.token, MLLAB_CACHE_DIR=str(user.cache_dir))
    return subprocess.run([MLLAB, *argv], capture_output=True, text=True, env=env, input=stdin, timeout=timeout)


def mllab_json(user: User, *argv: str):
    """``--json`` goes before a ``--`` (what follows it is a job's command)."""
    split = argv.index("--") if "--" in argv else len(argv)
    result = mllab(user, *argv[:split], "--json", *argv[split:])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def service_command() -> str:
    return shlex.join([sys.executable, "-c", SERVER])


def endpoint(user: User, name: str, path: str = "") -> str:
    return f"{user.hub.url}services/deployments/endpoints/users/{user.name}/{name}/{path}"


def call(user: User, name: str, path: str = "hello") -> requests.Response:
    return requests.get(endpoint(user, name, path), headers={"Authorization": f"token {user.token}"}, timeout=30)


def test_service_from_a_command_lifecycle(dana):
    deployed = mllab_json(dana, "deploy", "--service", "web", "--command", service_command(), "--port",
                          str(free_port()), "--env", "GREETING=hi")
    assert (deployed["full_name"], deployed["kind"], deployed["status"]) == ("users/dana/web", "service", "ready")
    assert deployed["endpoint"] == endpoint(dana, "web")
    assert deployed["env"] == {"GREETING": "hi"}

    answer = call(dana, "web", "hello?x=1")
    assert answer.status_code == 200, answer.text
    assert "hello" in answer.text
    assert requests.get(endpoint(dana, "web", "hello"), timeout=30).status_code == 401

    listed = mllab_json(dana, "deployments", "list")
    assert [(d["full_name"], d["status"]) for d in listed] == [("users/dana/web", "ready")]
    text = mllab(dana, "deployments", "list")
    assert text.stdout.splitlines()[0].split() == ["NAME", "KIND", "STATUS", "UPDATED", "SERVES"]

    wait_for(lambda: "served" in mllab(dana, "deployments", "logs", "web").stdout, timeout=30,
             what="the request in the service's log")
    logs = mllab(dana, "deployments", "logs", "web", "--tail", "1")
    assert logs.returncode == 0, logs.stderr
    assert len(logs.stdout.splitlines()) == 1

    stopped = mllab_json(dana, "deployments", "stop", "web")
    assert (stopped["status"], stopped["desired"]) == ("stopped", "stopped")
    assert call(dana, "web").status_code == 503

    started = mllab_json(dana, "deployments", "start", "web")
    assert started["status"] == "ready"
    assert call(dana, "web").status_code == 200

    refused = mllab(dana, "deployments", "delete", "web")
    assert refused.returncode == 1 and "without --yes" in refused.stderr
    assert mllab_json(dana, "deployments", "delete", "web", "--yes") == {"deleted": "users/dana/web"}
    gone = mllab(dana, "deployments", "show", "web")
    assert gone.returncode == 1
    assert "(404" in gone.stderr
    assert call(dana, "web").status_code == 404


def test_python_client_follows_a_services_log(dana):
    with dana.client() as client:
        d = client.deployments.create(name="follow", command=[sys.executable, "-c", SERVER], port=free_port(),
                                      wait=True, timeout=120, progress=False)
        try:
            lines = client.deployments.logs(d["full_name"], follow=True)
            assert "listening on" in next(lines)
            assert call(dana, "follow", "followed").status_code == 200
            assert any("followed" in line for line in lines)
            lines.close()
        finally:
            client.deployments.delete("follow")


def test_job_that_exits_3(dana):
    failed = mllab(dana, "jobs", "run", "fail3", "--wait", "--", sys.executable, "-c",
                   "print('about to fail', flush=True); raise SystemExit(3)")
    assert failed.returncode == 1
    assert failed.stderr.endswith("run 1 of users/dana/fail3 failed with exit status 3; its log: "
                                  "mllab jobs logs users/dana/fail3 --run 1\n")

    job = mllab_json(dana, "jobs", "show", "fail3")
    assert job["command"] == [sys.executable, "-c", "print('about to fail', flush=True); raise SystemExit(3)"]
    [run] = job["runs"]
    assert (run["number"], run["status"], run["exit_code"], run["trigger"]) == (1, "failed", 3, "manual")
    assert "about to fail" in mllab(dana, "jobs", "logs", "fail3").stdout

    again = mllab_json(dana, "jobs", "run", "fail3")
    assert (again["job"], again["number"]) == ("users/dana/fail3", 2)
    with dana.client() as client:
        assert client.jobs.wait("fail3", 2, timeout=120, progress=False)["exit_code"] == 3
    assert [r["number"] for r in mllab_json(dana, "jobs", "runs", "fail3")] == [2, 1]
    assert "users/dana/fail3" in [j["full_name"] for j in mllab_json(dana, "jobs", "list")]

    assert mllab_json(dana, "jobs", "delete", "fail3", "--yes") == {"deleted": "users/dana/fail3"}
    assert mllab(dana, "jobs", "show", "fail3").returncode == 1


def test_a_long_job_is_cancelled(dana):
    started = mllab_json(dana, "jobs", "run", "sleeper", "--", sys.executable, "-c", "import time; time.sleep(600)")
    assert started["status"] in ("pending", "running")
    cancelled = mllab_json(dana, "jobs", "cancel", "sleeper")
    assert (cancelled["number"], cancelled["status"]) == (1, "cancelled")
    mllab_json(dana, "jobs", "delete", "sleeper", "--yes")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["deploy", "users/dana/never-registered@production"], "(404", id="unknown-model"),
        # A request the OpenAPI document admits that this service's runtime cannot run: 422.
        pytest.param(["deploy", "--service", "web", "--image", "nginx:1.27", "--port", "80"], "(422",
                     id="image-on-the-local-backend"),
        pytest.param(["deploy", "--service", "big", "--command", "sleep 1", "--port", "80", "--cpu", "0.5",
                      "--memory", "lots"], "(400", id="invalid-memory"),
        pytest.param(["deployments", "show", "users/someone-else/web"], "(403", id="foreign-namespace"),
        pytest.param(["predict", "nothing-here", "--json", "-"], "(404", id="predict-unknown-deployment"),
    ],
)
def test_errors_are_one_line_and_exit_1(dana, argv, message):
    before = mllab_json(dana, "deployments", "list")
    result = mllab(dana, *argv, stdin="{}")
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("mllab: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert mllab_json(dana, "deployments", "list") == before, "a refused request starts and records nothing"
