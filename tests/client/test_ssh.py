"""``mllab ssh``'s pieces without a hub: workspace names, URLs, key lines, the keys file, sshd's config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mllab.client.errors import MLLabError
from mllab.client.ssh import Target, config_block, ssh_arguments, websocket_url
from mllab.extensions.sshd import open_to_others, sshd_config
from mllab.extensions.sshkeys import add_key, parse_key, read_keys, remove_keys

from ..harness import require


@pytest.mark.parametrize(("text", "user", "server"), [
    ("alice", "alice", ""),
    ("alice/gpu", "alice", "gpu"),
    ("mllab-alice", "alice", ""),
    ("mllab-alice--gpu", "alice", "gpu"),
    ("mllab-a.b--x", "a.b", "x"),
], ids=["user", "user/server", "alias", "alias--server", "dotted"])
def test_targets(text, user, server):
    assert Target.parse(text) == Target(user, server)


@pytest.mark.parametrize("text", ["", "/gpu", "alice/gpu/x", "mllab-"])
def test_bad_targets(text):
    with pytest.raises(MLLabError):
        Target.parse(text)


def test_websocket_urls():
    assert websocket_url("http://hub:8000/", Target("alice")) == "ws://hub:8000/user/alice/sshd/"
    assert websocket_url("https://h/prefix/", Target("alice", "gpu")) == "wss://h/prefix/user/alice/gpu/sshd/"


def test_ssh_command_and_config():
    args = ssh_arguments(Target("alice", "gpu"), "jovyan", ["-L", "1:localhost:1"])
    assert args[-3:] == ["mllab-alice--gpu", "-L", "1:localhost:1"]
    assert any(a.startswith("ProxyCommand=") and a.endswith("ssh --stdio alice/gpu") for a in args)
    block = config_block([Target("alice")], "jovyan", "http://hub/")
    assert "Host mllab-alice\n" in block and "Host mllab-*\n" in block and "ssh --stdio %n" in block


def keygen(tmp_path: Path, name: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)], check=True)
    return tmp_path / f"{name}.pub"


def test_keys_file(tmp_path):
    require(shutil.which("ssh-keygen"), "ssh-keygen (openssh-client)", "make system-packages")
    first, second = keygen(tmp_path, "one"), keygen(tmp_path, "two")
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(first)], capture_output=True, text=True).stdout.split()[1]
    assert parse_key(first.read_text()).fingerprint == fingerprint

    path = tmp_path / "home" / ".ssh" / "authorized_keys"
    assert add_key(path, first.read_text())[1] is True
    assert add_key(path, first.read_text())[1] is False
    path.write_text(path.read_text() + "# a comment kept\n")
    add_key(path, second.read_text())
    assert [k.comment for k in read_keys(path)[1]] == ["one", "two"]
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700

    assert [k.comment for k in remove_keys(path, fingerprint)] == ["one"]
    assert [k.comment for k in remove_keys(path, "two")] == ["two"]
    assert remove_keys(path, "two") == []
    assert path.read_text() == "# a comment kept\n"


@pytest.mark.parametrize("line", ["", "hello", "ssh-ed25519 !!!", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIAAA"])
def test_not_keys(line):
    with pytest.raises(ValueError):
        parse_key(line)


def test_sshd_config(tmp_path):
    config = sshd_config(tmp_path, tmp_path / "key", "jovyan")
    for line in ("PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "PidFile none",
                 "AllowUsers jovyan", "StrictModes yes", f"AuthorizedKeysFile {tmp_path}/.ssh/authorized_keys"):
        assert line in config.splitlines()
    assert "Subsystem sftp " in config
    assert open_to_others(Path("/tmp")) == Path("/tmp")
