"""The keys that open a workspace's sshd: ``~/.ssh/authorized_keys``, managed over HTTP.

A Jupyter server extension of the workspace: ``<server>/mllab/ssh/keys`` lists (GET), adds
(POST ``{"key": "<public key line>"}``) and removes (DELETE ``?match=<fingerprint or
comment>``) keys.  The routes are the single-user server's own, so the hub token of the
workspace's owner (or of whoever the owner shared the server with) opens them, as it opens
the contents API.  Jupyter's contents API cannot be used for this: it refuses hidden paths
such as ``.ssh`` (``ContentsManager.allow_hidden``).

The file is the home's standard one, so it survives restarts with the home, and keys added
with ``ssh-copy-id`` or an editor in the workspace count as well.  It is written atomically,
0600 in a 0700 ``~/.ssh``, as sshd's StrictModes wants.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .sshd import authorized_keys_path

KEY_TYPES = {
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
}


@dataclass(frozen=True)
class PublicKey:
    type: str
    fingerprint: str
    comment: str
    line: str


def parse_key(line: str) -> PublicKey:
    """A public key line (``type base64 [comment]``, as in ``id_ed25519.pub``); ValueError if it is not one."""
    words = line.strip().split(None, 2)
    if len(words) < 2 or words[0] not in KEY_TYPES:
        raise ValueError("not an OpenSSH public key line (expected 'ssh-ed25519 AAAA... comment', as in ~/.ssh/*.pub)")
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key's base64 part is damaged") from None
    # The blob starts with its own type, length-prefixed.
    size = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + size].decode(errors="replace") != words[0]:
        raise ValueError(f"the key's data is not a {words[0]} key")
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    comment = words[2].strip() if len(words) > 2 else ""
    return PublicKey(words[0], fingerprint, comment, " ".join(words[:2] + ([comment] if comment else [])))


def read_keys(path: Path) -> tuple[list[str], list[PublicKey]]:
    """The file's lines and the keys among them (lines with options or comments are kept, not listed)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return [], []
    keys = []
    for line in lines:
        try:
            keys.append(parse_key(line))
        except ValueError:
            continue
    return lines, keys


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".authorized_keys.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_key(path: Path, line: str) -> tuple[PublicKey, bool]:
    """Add a key unless it is there; the key and whether it was added."""
    key = parse_key(line)
    lines, keys = read_keys(path)
    if any(k.fingerprint == key.fingerprint for k in keys):
        return key, False
    write_lines(path, [*lines, key.line])
    return key, True


def remove_keys(path: Path, match: str) -> list[PublicKey]:
    """Remove the keys whose fingerprint or comment is ``match``; those removed."""
    lines, _ = read_keys(path)
    kept, removed = [], []
    for line in lines:
        try:
            key = parse_key(line)
        except ValueError:
            kept.append(line)
            continue
        if match in (key.fingerprint, key.comment) or ("SHA256:" + match) == key.fingerprint:
            removed.append(key)
        else:
            kept.append(line)
    if removed:
        write_lines(path, kept)
    return removed


def described(key: PublicKey) -> dict:
    return {k: v for k, v in asdict(key).items() if k != "line"}


class KeysHandler(APIHandler):
    """``/mllab/ssh/keys``: the workspace's authorized keys."""

    auth_resource = "contents"

    @property
    def keys_path(self) -> Path:
        return authorized_keys_path(Path(os.path.expanduser("~")))

    @web.authenticated
    @authorized
    def get(self) -> None:
        _, keys = read_keys(self.keys_path)
        self.finish(json.dumps({"path": str(self.keys_path), "keys": [described(k) for k in keys]}))

    @web.authenticated
    @authorized
    def post(self) -> None:
        body = self.get_json_body() or {}
        if not isinstance(body.get("key"), str):
            raise web.HTTPError(400, 'send {"key": "<a public key line, as in ~/.ssh/id_ed25519.pub>"}')
        try:
            key, added = add_key(self.keys_path, body["key"])
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        self.log.info("%s SSH key %s (%s) in %s", "Added" if added else "Kept", key.fingerprint, key.comment,
                      self.keys_path)
        self.set_status(201 if added else 200)
        self.finish(json.dumps({**described(key), "added": added}))

    @web.authenticated
    @authorized
    def delete(self) -> None:
        match = self.get_query_argument("match", "").strip()
        if not match:
            raise web.HTTPError(400, "say which key: ?match=<fingerprint or comment>")
        removed = remove_keys(self.keys_path, match)
        if not removed:
            raise web.HTTPError(404, f"no key with fingerprint or comment {match!r}; `mllab ssh keys list` shows them")
        for key in removed:
            self.log.info("Removed SSH key %s (%s) from %s", key.fingerprint, key.comment, self.keys_path)
        self.finish(json.dumps({"removed": [described(k) for k in removed]}))


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "mllab.extensions.sshkeys"}]


def _load_jupyter_server_extension(serverapp) -> None:
    route = url_path_join(serverapp.web_app.settings["base_url"], "mllab/ssh/keys")
    serverapp.web_app.add_handlers(".*$", [(route, KeysHandler)])
