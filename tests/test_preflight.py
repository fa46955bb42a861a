"""`mllab up` refuses to start on a mistake a person can fix: one clear line, exit code 1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import MLLAB, env_with_node, free_port


def run_up(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MLLAB, "up", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang, not a measure: a refused start only imports the hub
        env=env or env_with_node(MLLAB_ADMIN_PASSWORD="preflight-pass"),
        cwd=tmp_path,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("mllab up: error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_up(tmp_path, "--port", str(port))
    assert_one_clear_line(result, f"port {port}", "in use", "--port")
    assert not (tmp_path / "data" / "admin-password").exists(), "a refused start leaves no secrets behind"


def test_unreachable_database(tmp_path):
    closed_port = free_port()
    url = f"postgresql+psycopg://mllab:s3cret@127.0.0.1:{closed_port}/mllab"
    result = run_up(tmp_path, "--port", str(free_port()), "--db-url", url)
    assert_one_clear_line(result, "cannot connect to the database", f"127.0.0.1:{closed_port}", "--db-url")
    assert "s3cret" not in result.stderr, "the password must not be printed"


def test_malformed_database_url(tmp_path):
    result = run_up(tmp_path, "--port", str(free_port()), "--db-url", "not a url")
    assert_one_clear_line(result, "database URL", "not valid")


def test_unwritable_data_dir(tmp_path):
    # A file where the folder should be: no user, root included, can create the folder.
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = run_up(tmp_path, "--port", str(free_port()), "--data-dir", str(blocker / "data"))
    assert_one_clear_line(result, f"data dir {blocker / 'data'}", "not writable", "--data-dir")


def test_missing_proxy(tmp_path):
    env = env_with_node(MLLAB_ADMIN_PASSWORD="preflight-pass")
    # Only this Python and the system's basic tools: no node_modules/.bin.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    if any((Path(d) / "configurable-http-proxy").exists() for d in env["PATH"].split(os.pathsep)):
        pytest.skip("configurable-http-proxy is installed system-wide")
    result = run_up(tmp_path, "--port", str(free_port()), env=env)
    assert_one_clear_line(result, "configurable-http-proxy not found", "npm install")


def test_missing_config_file(tmp_path):
    result = run_up(tmp_path, "--config", str(tmp_path / "nope.py"))
    assert_one_clear_line(result, "config file", "not found")


@pytest.mark.parametrize("derive", [False, True], ids=["settings-only", "file-calls-configure"])
def test_local_deployments_runtime_under_container_workspaces(tmp_path, derive):
    """Users' deployments would run as the hub's own OS user while workspaces run apart from it."""
    config = tmp_path / "jupyterhub_config.py"
    lines = ["c = get_config()  # noqa: F821", "c.MLLab.backend = 'docker'", "c.DeploymentsApp.runtime = 'local'"]
    if derive:  # as config/jupyterhub_config.py ends
        lines += ["from mllab.hub import configure", "configure(c)"]
    config.write_text("\n".join(lines) + "\n")
    result = run_up(tmp_path, "--port", str(free_port()), "--config", str(config))
    assert_one_clear_line(
        result,
        "mllab up: error: DeploymentsApp.runtime = 'local' would run users' deployments as the hub's own OS user "
        "while MLLab.backend = 'docker' keeps workspaces apart from it: remove c.DeploymentsApp.runtime "
        "(deployments then run where workspaces do), or set c.DeploymentsApp.runtime = 'docker' or 'kubernetes'",
    )
    assert not (tmp_path / "data" / "admin-password").exists(), "a refused start leaves no secrets behind"
