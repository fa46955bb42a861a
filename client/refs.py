"""Artifact references as people write them: ``users/alice/iris:3``, ``groups/vision/cnn@production``, ``iris``.

A reference names an artifact (``namespace/name``) and optionally a version: ``:<number>`` or
``@<alias>``. A plain name, with no namespace, belongs to the caller (``users/<me>``); the
client fills that in, since only the hub knows who "me" is. The grammar and the name rules are
the registry's own, from :mod:`mllab.client.protocol`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from . import protocol
from .errors import RefError
from .protocol import ProtocolError

_T = TypeVar("_T")


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


def _checked(rule: Callable[..., _T], *args: object) -> _T:
    """``rule(*args)``, a broken protocol rule raised as a RefError with the registry's words."""
    try:
        return rule(*args)
    except ProtocolError as e:
        message = str(e)
        raise RefError(message[:1].upper() + message[1:]) from None


def parse_namespace(text: str) -> str:
    """``users/alice`` or ``groups/vision`` (a trailing ``/`` is forgiven); anything else is a RefError."""
    try:
        return protocol.check_namespace(text.strip().strip("/"))
    except ProtocolError:
        raise RefError(f"Namespace {text!r} is not valid: write users/<user> or groups/<group>.") from None


def check_alias(alias: str) -> str:
    """An alias the registry accepts (``production``); anything else is a RefError."""
    return _checked(protocol.check_alias, alias)


def parse_ref(text: str, namespace: str | None = None) -> Ref:
    """Parse ``[namespace/]name[:number|@alias]``; ``namespace`` fills in a plain name.

    >>> parse_ref("users/alice/iris:3")
    Ref(namespace='users/alice', name='iris', number=3, alias=None)
    """
    ns, name, version = _checked(protocol.split_ref, text.strip())
    ref = Ref(ns, name, version if isinstance(version, int) else None, version if isinstance(version, str) else None)
    return ref.in_namespace(namespace) if namespace is not None else ref


def parse_artifact(text: str, namespace: str | None = None) -> Ref:
    """A reference that names an artifact only (to push into, or list the versions of): no version."""
    ref = parse_ref(text, namespace)
    if ref.pinned:
        raise RefError(f"{text!r} names a version; give the artifact only ({ref.name}).")
    if namespace is not None and ref.namespace != parse_namespace(namespace):
        raise RefError(f"{text!r} is in {ref.namespace}, not in the namespace given ({namespace}).")
    return ref
