"""Artifact references as people write them: ``users/alice/iris:3``, ``groups/vision/cnn@production``, ``iris``.

A reference names an artifact (``namespace/name``) and optionally a version: ``:<number>`` or
``@<alias>``. A plain name, with no namespace, belongs to the caller (``users/<me>``); the
client fills that in, since only the hub knows who "me" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .errors import RefError

#: Artifact names and aliases, as the registry accepts them.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Namespace kinds: a user's own, or a JupyterHub group's (a team).
OWNER_KINDS = ("users", "groups")
#: Hub user and group names are freer than artifact names (``alice@example.org``) but have no ``/``.
_OWNER = re.compile(r"[^/\s]{1,255}")
#: The last segment: a name, then ``:number`` or ``@alias`` (names never contain ``:`` or ``@``).
_LAST = re.compile(r"(?P<name>[^:@]*)(?::(?P<number>[^:@]*)|@(?P<alias>[^:@]*))?")


@dataclass(frozen=True)
class Ref:
    """A parsed reference; ``namespace`` is None for a plain name until :meth:`in_namespace` fills it."""

    namespace: str | None
    name: str
    number: int | None = None
    alias: str | None = None

    @property
    def full_name(self) -> str:
        if self.namespace is None:
            raise RefError(f"{self.name!r} has no namespace yet")
        return f"{self.namespace}/{self.name}"

    @property
    def version(self) -> str | None:
        """The version part as the REST API takes it (``3``, ``production``), or None if not given."""
        if self.number is not None:
            return str(self.number)
        return self.alias

    @property
    def pinned(self) -> bool:
        return self.version is not None

    def in_namespace(self, namespace: str) -> Ref:
        """This reference, with ``namespace`` where none was written."""
        return self if self.namespace is not None else replace(self, namespace=parse_namespace(namespace))

    def __str__(self) -> str:
        base = self.name if self.namespace is None else self.full_name
        if self.number is not None:
            return f"{base}:{self.number}"
        if self.alias is not None:
            return f"{base}@{self.alias}"
        return base


def parse_namespace(text: str) -> str:
    """``users/alice`` or ``groups/vision`` (a trailing ``/`` is forgiven); anything else is a RefError."""
    parts = text.strip().strip("/").split("/")
    if len(parts) != 2 or parts[0] not in OWNER_KINDS or not _OWNER.fullmatch(parts[1]):
        raise RefError(f"Namespace {text!r} is not valid: write users/<user> or groups/<group>.")
    return "/".join(parts)


def check_name(name: str, what: str = "Name") -> str:
    if not NAME.fullmatch(name):
        raise RefError(
            f"{what} {name!r} is not valid: use letters, digits, '.', '_' and '-', starting with a letter or "
            "digit, at most 128 characters."
        )
    return name


def parse_ref(text: str, namespace: str | None = None) -> Ref:
    """Parse ``[namespace/]name[:number|@alias]``; ``namespace`` fills in a plain name.

    >>> parse_ref("users/alice/iris:3")
    Ref(namespace='users/alice', name='iris', number=3, alias=None)
    """
    text = text.strip()
    *owner, last = text.split("/")
    match = _LAST.fullmatch(last)
    if not match or not match["name"]:
        raise RefError(f"Reference {text!r} is not valid: write [users/<user>/]<name>[:<number>|@<alias>].")
    ns = parse_namespace("/".join(owner)) if owner else None
    name = check_name(match["name"])
    number = None
    if match["number"] is not None:
        if not re.fullmatch(r"[0-9]{1,18}", match["number"]) or int(match["number"]) < 1:
            raise RefError(f"Version {match['number']!r} in {text!r} is not valid: versions are numbered 1, 2, 3...")
        number = int(match["number"])
    alias = check_name(match["alias"], "Alias") if match["alias"] is not None else None
    ref = Ref(ns, name, number, alias)
    return ref.in_namespace(namespace) if namespace is not None else ref


def parse_artifact(text: str, namespace: str | None = None) -> Ref:
    """A reference that names an artifact only (to push into, or list the versions of): no version."""
    ref = parse_ref(text, namespace)
    if ref.pinned:
        raise RefError(f"{text!r} names a version; give the artifact only ({ref.name}).")
    if namespace is not None and ref.namespace != parse_namespace(namespace):
        raise RefError(f"{text!r} is in {ref.namespace}, not in the namespace given ({namespace}).")
    return ref
