"""What a user may do, from the JupyterHub scopes of their token.

Scopes are ``custom:<kind>:<action>`` with an optional owner filter: ``!user=alice`` means
the namespace ``users/alice``, ``!group=vision`` the namespace ``groups/vision``; no filter
means every namespace.  JupyterHub has already expanded ``write`` into ``read`` and ``!user``
into ``!user=<name>`` by the time a service sees the scopes.  A filtered scope means exactly
its filter: ``custom:models:read!user=alice`` reads ``users/alice`` and nothing else.

Teams share with their members without a role per team: a member reads ``groups/<team>``
when the token also holds `TEAMS_SCOPE` (every user's own role grants it on themselves, so
their login and their unnarrowed tokens carry it) besides a read scope of the kind.  A token
made narrower, without it, reads no team.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAMESPACE = re.compile(r"^(users|groups)/([^/\x00-\x1f]+)$")
_FILTERS = {"users": "user", "groups": "group"}
#: Read, as a member, the namespaces of the user's own teams (JupyterHub groups).
TEAMS_SCOPE = "custom:teams:read"


def parse_namespace(namespace: str) -> tuple[str, str]:
    """``users/alice`` -> ``("users", "alice")``; ValueError for anything else."""
    match = _NAMESPACE.match(namespace)
    if not match:
        raise ValueError(f"namespace {namespace!r} must be users/<name> or groups/<name>")
    return match.group(1), match.group(2)


@dataclass
class Permissions:
    """The custom scopes of one token, and the groups of its user."""

    name: str
    scopes: frozenset[str]
    groups: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_model(cls, model: dict) -> Permissions:
        """From the user model JupyterHub returns for a token (``HubAuth.get_user``)."""
        return cls(
            name=model.get("name", ""),
            scopes=frozenset(model.get("scopes", [])),
            groups=frozenset(model.get("groups") or []),
        )

    def can(self, kind: str, action: str, namespace: str) -> bool:
        """May this user do ``action`` on ``kind`` in ``namespace``?"""
        owner_kind, owner = parse_namespace(namespace)
        scope = f"custom:{kind}:{action}"
        if scope in self.scopes or f"{scope}!{_FILTERS[owner_kind]}={owner}" in self.scopes:
            return True
        return action == "read" and owner_kind == "groups" and owner in self.member_teams(kind)

    def readable_namespaces(self, kind: str) -> set[str] | None:
        """Namespaces whose ``kind`` this user may read; None means all of them."""
        scope = f"custom:{kind}:read"
        if scope in self.scopes:
            return None
        namespaces = set()
        for held in self.scopes:
            base, _, filt = held.partition("!")
            if base != scope or "=" not in filt:
                continue
            owner_kind, _, owner = filt.partition("=")
            if owner_kind in ("user", "group"):
                namespaces.add(f"{owner_kind}s/{owner}")
        return namespaces | {f"groups/{team}" for team in self.member_teams(kind)}

    def member_teams(self, kind: str) -> frozenset[str]:
        """The teams whose ``kind`` this token reads as their member's.

        It takes the teams scope on this user (or on everyone) and some read scope of the kind:
        a token made with narrower scopes (only models, or only ``!user=alice``) reaches no
        team's datasets.
        """
        if not ({TEAMS_SCOPE, f"{TEAMS_SCOPE}!user={self.name}"} & self.scopes):
            return frozenset()
        prefix = f"custom:{kind}:read"
        if not any(scope == prefix or scope.startswith(prefix + "!") for scope in self.scopes):
            return frozenset()
        return self.groups
