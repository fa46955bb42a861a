"""config/jupyterhub_config.py is the admin's file: it runs under plain `jupyterhub -f` too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from .harness import REPO, env_with_node, free_port, stop_process_tree, wait_for


def admin_config(tmp_path: Path, port: int, **settings: str) -> Path:
    """The shipped config file, with this test's port, data dir and extra settings."""
    text = (REPO / "config" / "jupyterhub_config.py").read_text()
    text = text.replace('c.MLLab.data_dir = ".mllab"', f'c.MLLab.data_dir = "{tmp_path / "data"}"')
    text = text.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    extra = "".join(f"{key} = {value}\n" for key, value in settings.items())
    text = text.replace("# Keep this last", extra + "# Keep this last")
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(text)
    return path


@pytest.mark.slow  # a hub of its own, started without the fixtures
def test_plain_jupyterhub_runs_the_platform(tmp_path):
    """Plain JupyterHub runs the platform from the admin's file; like JupyterHub itself, it
    expects the folders it is given to exist (``mllab up`` makes them)."""
    port = free_port()
    config = admin_config(tmp_path, port)
    (tmp_path / "data").mkdir()
    proc = subprocess.Popen(
        ["jupyterhub", "-f", str(config)],
        cwd=tmp_path,
        env=env_with_node(MLLAB_ADMIN_PASSWORD="plain-jupyterhub"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(
            lambda: requests.get(url + "services/registry/api/v1/health", timeout=2, allow_redirects=False).ok,
            timeout=60,
            what="jupyterhub -f config/jupyterhub_config.py",
        )
        assert requests.get(url + "services/deployments/api/v1/health", timeout=5).ok
        session = requests.Session()
        session.get(url + "hub/login")
        login = session.post(
            url + "hub/login",
            data={"username": "admin", "password": "plain-jupyterhub", "_xsrf": session.cookies.get("_xsrf")},
            allow_redirects=False,
        )
        assert login.status_code == 302, "the admin made from MLLAB_ADMIN_PASSWORD logs in"
        assert (tmp_path / "data" / "jupyterhub.sqlite").exists()
    finally:
        stop_process_tree(proc)


def test_mllab_up_loads_config_file_over_defaults(make_hub, tmp_path):
    hub = make_hub(start=False)
    config = admin_config(tmp_path, hub.port, **{"c.MLLab.admin_user": '"boss"'})
    hub.args += ["--config", str(config)]
    hub.start()
    # --data-dir on the command line wins over the file's data_dir.
    assert (hub.data_dir / "jupyterhub.sqlite").exists()
    session = hub.session()
    session.login("boss", hub.admin_password)
    token = session.new_token()
    me = requests.get(hub.url + "hub/api/user", headers={"Authorization": f"token {token}"}, timeout=5).json()
    assert me["name"] == "boss" and me["admin"]


def test_admin_roles_and_services_join_the_platform_ones(make_hub, tmp_path):
    """An admin's load_roles/services add to the platform's: users keep their own namespace, the culler works."""
    hub = make_hub(start=False)
    config = admin_config(
        tmp_path,
        hub.port,
        **{
            "c.JupyterHub.load_roles": "[{'name': 'readers', 'users': ['admin'], 'scopes': ['read:users']}]",
            "c.JupyterHub.services": "[{'name': 'reporting', 'api_token': 'a' * 32}]",
        },
    )
    hub.args += ["--config", str(config)]
    hub.start()
    user, _ = hub.add_user("gina")
    scopes = requests.get(
        hub.url + "hub/api/user", headers={"Authorization": f"token {user.new_token()}"}, timeout=5
    ).json()["scopes"]
    assert "custom:datasets:write!user=gina" in scopes, "the platform's user role is still there"
    services = hub.admin().api("GET", "services").json()
    assert {"registry", "deployments", "idle-culler", "reporting"} <= set(services)
    admin_scopes = requests.get(
        hub.url + "hub/api/user", headers={"Authorization": f"token {hub.admin().new_token()}"}, timeout=5
    ).json()["scopes"]
    assert "read:users" in admin_scopes
