"""SSH through the hub: a real ``ssh``/``scp`` with ``mllab ssh --stdio`` as ProxyCommand.

Two locks: the hub token opens the websocket to the workspace's sshd, a key in the workspace's
``~/.ssh/authorized_keys`` (``mllab ssh keys``) opens sshd.  Once on the local backend (sshd as
the hub's own OS user) and once in a podman container of the workspace image (as jovyan).
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest
from mllab.client.ssh import Target, websocket_url
from mllab.extensions.sshkeys import parse_key

from ..harness import MLLAB, Hub, api, env_with_node, require, spawn, stop_server, wait_for


@pytest.fixture(autouse=True)
def openssh() -> None:
    """ssh and sshd: a requirement of these tests, never a skip."""
    require(shutil.which("ssh") and shutil.which("sshd", path="/usr/sbin:/sbin"),
            "OpenSSH (openssh-server, openssh-client)", "make system-packages")


def make_key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop", "-f", str(key)],
                   check=True)
    return key


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    return {name: make_key(tmp_path, name) for name in ("alice_key", "wrong_key")}


def mllab(hub: Hub, token: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = env_with_node(MLLAB_URL=hub.url, MLLAB_TOKEN=token)
    return subprocess.run([MLLAB, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def ssh_options(hub: Hub, target: str, key: Path, login: str) -> list[str]:
    return [
        "-o", f"ProxyCommand={MLLAB} ssh --stdio {target}",
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=60",
        "-i", str(key), "-o", f"User={login}",
    ]


def ssh(hub: Hub, token: str, key: Path, login: str, *command: str, target: str = "alice"):
    env = env_with_node(MLLAB_URL=hub.url, MLLAB_TOKEN=token)
    return subprocess.run(["ssh", *ssh_options(hub, target, key, login), f"mllab-{target}", *command],
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def scp(hub: Hub, token: str, key: Path, login: str, source: str, dest: str, target: str = "alice"):
    env = env_with_node(MLLAB_URL=hub.url, MLLAB_TOKEN=token)
    return subprocess.run(["scp", "-q", *ssh_options(hub, target, key, login), source, dest],
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def websocket_status(hub: Hub, token: str | None, target: str = "alice") -> int:
    """The handshake's status for the sshd websocket (101 when it opened)."""
    import websocket

    headers = [f"Authorization: token {token}"] if token else []
    try:
        ws = websocket.create_connection(websocket_url(hub.url, Target.parse(target)), header=headers, timeout=30)
    except websocket.WebSocketBadStatusException as e:
        return e.status_code
    ws.close()
    return 101


def check_ssh_and_scp(hub: Hub, tmp_path: Path, alice_token: str, bob_token: str, keys: dict, login: str,
                      read_back) -> None:
    """The whole story once: keys, ssh, scp both ways, and every refusal."""
    added = mllab(hub, alice_token, "ssh", "keys", "add", f"{keys['alice_key']}.pub")
    assert added.returncode == 0, added.stderr
    assert "Added SHA256:" in added.stdout
    again = mllab(hub, alice_token, "ssh", "keys", "add", "-", stdin=Path(f"{keys['alice_key']}.pub").read_text())
    assert again.returncode == 0 and "Already there" in again.stdout, again.stdout + again.stderr
    listed = mllab(hub, alice_token, "ssh", "keys", "list")
    fingerprint = parse_key(Path(f"{keys['alice_key']}.pub").read_text()).fingerprint
    assert fingerprint in listed.stdout and "alice_key@laptop" in listed.stdout, listed.stdout

    ran = ssh(hub, alice_token, keys["alice_key"], login, "echo ok")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "ok\n"
    # `mllab ssh` runs ssh with the ProxyCommand itself; ssh options and the command after --.
    options = ssh_options(hub, "alice", keys["alice_key"], login)[2:]
    ran = mllab(hub, alice_token, "ssh", "-l", login, "alice", "--", *options, "echo", "via-mllab")
    assert ran.returncode == 0 and ran.stdout == "via-mllab\n", ran.stderr

    # scp both ways, byte-exact.
    payload = os.urandom(3 * 2**20 + 12345)
    (tmp_path / "up.bin").write_bytes(payload)
    up = scp(hub, alice_token, keys["alice_key"], login, str(tmp_path / "up.bin"), "mllab-alice:up.bin")
    assert up.returncode == 0, up.stderr
    assert read_back("up.bin") == payload
    down = scp(hub, alice_token, keys["alice_key"], login, "mllab-alice:up.bin", str(tmp_path / "down.bin"))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "down.bin").read_bytes() == payload

    # Lock one, the hub token: bob's token does not open alice's websocket; no token does not either.
    refused = ssh(hub, bob_token, keys["alice_key"], login, "echo ok")
    assert refused.returncode != 0 and "ok" not in refused.stdout
    assert "refused" in refused.stderr, refused.stderr
    assert websocket_status(hub, None) == 403
    assert websocket_status(hub, bob_token) == 403
    assert websocket_status(hub, alice_token) == 101
    # Bob cannot read or change alice's keys either.
    assert mllab(hub, bob_token, "ssh", "keys", "list", "-w", "alice").returncode != 0

    # Lock two, the key: a key that is not in the workspace is refused by sshd.
    wrong = ssh(hub, alice_token, keys["wrong_key"], login, "echo ok")
    assert wrong.returncode != 0 and "Permission denied" in wrong.stderr, wrong.stderr

    removed = mllab(hub, alice_token, "ssh", "keys", "remove", "alice_key@laptop")
    assert removed.returncode == 0 and fingerprint in removed.stdout, removed.stderr
    gone = ssh(hub, alice_token, keys["alice_key"], login, "echo ok")
    assert gone.returncode != 0 and "Permission denied" in gone.stderr, gone.stderr


def sshd_processes(home: Path) -> list[psutil.Process]:
    """sshd listeners whose config is in ``home``, with their children."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "sshd" and any(str(home) in part for part in proc.info["cmdline"] or []):
            found.append(proc)
            found.extend(proc.children(recursive=True))
    return found


def test_ssh_local_workspace(hub, tmp_path, keys):
    alice, _ = hub.add_user("alice")
    bob, _ = hub.add_user("bob")
    alice_token, bob_token = alice.new_token(), bob.new_token()
    home = hub.data_dir / "users" / "alice"
    spawn(hub, alice_token, "alice")
    try:
        check_ssh_and_scp(hub, tmp_path, alice_token, bob_token, keys, getpass.getuser(),
                          read_back=lambda name: (home / name).read_bytes())
        keys_file = home / ".ssh" / "authorized_keys"
        assert keys_file.stat().st_mode & 0o777 == 0o600
        assert (home / ".ssh").stat().st_mode & 0o777 == 0o700
        assert (home / ".mllab" / "sshd").stat().st_mode & 0o777 == 0o700
        assert (home / ".mllab" / "sshd" / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600
        running = sshd_processes(home)
        assert running, "sshd runs for alice while her workspace does"
    finally:
        stop_server(hub, alice_token, "alice")
    # sshd does not outlive the workspace.
    wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in running),
             timeout=15, what="alice's sshd to stop with her workspace")
    assert not sshd_processes(home)


def test_keys_need_a_running_workspace(hub, keys):
    carol, _ = hub.add_user("carol")
    token = carol.new_token()
    assert api(hub, token, "GET", "hub/api/users/carol").json()["servers"] == {}
    result = mllab(hub, token, "ssh", "keys", "add", f"{keys['alice_key']}.pub")
    assert result.returncode == 1
    assert "carol's workspace is not running: start it on the hub" in result.stderr, result.stderr
    assert "workspace is not running" in mllab(hub, token, "ssh", "--stdio", "carol").stderr


def test_ssh_config_block(hub):
    dave, _ = hub.add_user("dave")
    out = mllab(hub, dave.new_token(), "ssh", "--config")
    assert out.returncode == 0, out.stderr
    assert "Host mllab-dave\n" in out.stdout
    assert f"ProxyCommand {MLLAB} ssh --stdio dave" in out.stdout
    assert "User jovyan" in out.stdout
    assert f"ProxyCommand {MLLAB} ssh --stdio %n" in out.stdout


def test_ssh_container_workspace(make_docker_hub, docker_client, tmp_path, keys):
    hub = make_docker_hub()
    alice, _ = hub.add_user("alice")
    bob, _ = hub.add_user("bob")
    alice_token, bob_token = alice.new_token(), bob.new_token()
    spawn(hub, alice_token, "alice", timeout=180)
    prefix = hub.env["MLLAB_TEST_PREFIX"]
    try:
        container = docker_client.containers.get(f"{prefix}-alice")

        def read_back(name: str) -> bytes:
            result = container.exec_run(["cat", f"/home/jovyan/{name}"], user="1000")
            assert result.exit_code == 0
            return result.output

        check_ssh_and_scp(hub, tmp_path, alice_token, bob_token, keys, "jovyan", read_back)
    finally:
        stop_server(hub, alice_token, "alice")
