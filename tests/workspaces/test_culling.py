"""Idle culling: jupyterhub-idle-culler as a hub-managed service with a least-privilege role."""

from __future__ import annotations

from pathlib import Path

import pytest
from mllab.hub.hubconfig import platform_config
from mllab.hub.platform import MLLab
from traitlets.config import Config

from ..harness import api, spawn, wait_for

CULLING_HUB_CONFIG = Path(__file__).with_name("culling_hub_config.py")


def hub_settings(tmp_path, **mllab) -> Config:
    c = Config()
    c.MLLab.data_dir = str(tmp_path)
    for name, value in mllab.items():
        setattr(c.MLLab, name, value)
    return platform_config(MLLab(config=c), c)


@pytest.mark.parametrize("backend", ["local", "docker", "kubernetes"])
def test_culler_runs_on_every_backend_with_least_privilege(tmp_path, backend):
    hub = hub_settings(tmp_path, backend=backend, idle_timeout=900, idle_cull_interval=60)
    [culler] = [s for s in hub.JupyterHub.services if s["name"] == "idle-culler"]
    assert "--timeout=900" in culler["command"]
    assert "--cull-every=60" in culler["command"]
    assert "url" not in culler and "api_token" not in culler  # no route, no static token
    [role] = [r for r in hub.JupyterHub.load_roles if r["name"] == "idle-culler"]
    assert role["services"] == ["idle-culler"]
    assert sorted(role["scopes"]) == ["delete:servers", "list:users", "read:servers", "read:users:activity"]


def test_culling_can_be_turned_off(tmp_path):
    hub = hub_settings(tmp_path, idle_timeout=0)
    assert not [s for s in hub.JupyterHub.services if s["name"] == "idle-culler"]
    assert not [r for r in hub.JupyterHub.load_roles if r["name"] == "idle-culler"]


def test_bad_interval_is_refused(tmp_path):
    with pytest.raises(ValueError, match="idle_cull_interval"):
        hub_settings(tmp_path, idle_cull_interval=0)


@pytest.mark.slow
def test_idle_workspace_is_stopped(make_hub):
    hub = make_hub(args=["--config", str(CULLING_HUB_CONFIG)])
    session, _ = hub.add_user("idle")
    token = session.new_token()
    spawn(hub, token, "idle")
    wait_for(
        lambda: "" not in api(hub, token, "GET", "hub/api/users/idle").json()["servers"],
        timeout=90,
        what="the idle workspace to be culled",
    )
    # Stopped by the culler service, through the hub API, not by anything else.
    assert "DELETE /hub/api/users/idle/server (idle-culler@" in hub.log_tail(400)


def test_culler_stops_on_sigint_even_when_started_ignoring_it(tmp_path):
    """JupyterHub stops services with SIGINT; a hub started in the background passes SIGINT on ignored."""
    import signal
    import subprocess
    import sys

    from ..harness import free_port

    log = tmp_path / "culler.log"
    culler = subprocess.Popen(
        [sys.executable, "-m", "mllab.hub.culling", "--timeout=60", "--cull-every=60"],
        env={"JUPYTERHUB_API_TOKEN": "x" * 32, "JUPYTERHUB_API_URL": f"http://127.0.0.1:{free_port()}/hub/api",
             "PATH": "/usr/bin:/bin"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        # It logs once its loop runs (its first cull fails: no hub listens there).
        wait_for(lambda: log.stat().st_size > 0, timeout=20, what="the culler to run")
        culler.send_signal(signal.SIGINT)
        assert culler.wait(timeout=8) is not None
    finally:
        culler.kill()
