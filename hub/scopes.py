"""Custom scopes and the roles that grant them.

Permissions of ML Lab Hub are JupyterHub custom scopes, granted through roles and groups
like the hub's own.  ``write`` includes ``read``.  The filters select the owner namespace:
``!user=alice`` is ``users/alice``, ``!group=vision`` is ``groups/vision``.
"""

from __future__ import annotations

from mllab.services.permissions import TEAMS_SCOPE

#: The artifact kinds and what each scope of theirs allows.
SCOPES: dict[str, dict[str, str]] = {
    "datasets": {
        "read": "List, inspect and download datasets.",
        "write": "Create, version, tag and delete datasets.",
    },
    "models": {
        "read": "List, inspect and download models.",
        "write": "Register, version, alias and delete models.",
    },
    "deployments": {
        "read": "List deployments and read their status and logs.",
        "write": "Create, update and delete deployments.",
        "invoke": "Send requests to deployed models and services.",
    },
    "teams": {
        "read": "As a member, read the datasets, models and deployments of one's teams (with the kind's read scope).",
    },
}


def custom_scopes(extra: dict[str, str] | None = None) -> dict[str, dict]:
    """The ``c.JupyterHub.custom_scopes`` dict: every ``custom:<kind>:<action>`` scope.

    ``extra`` maps further scope names to descriptions (scopes of added services).
    """
    scopes: dict[str, dict] = {}
    for kind, actions in SCOPES.items():
        for action, description in actions.items():
            scope = {"description": description}
            if action == "write":
                scope["subscopes"] = [f"custom:{kind}:read"]
            scopes[f"custom:{kind}:{action}"] = scope
    for name, description in (extra or {}).items():
        scopes[name] = {"description": description}
    return scopes


def own_namespace_scopes() -> list[str]:
    """Scopes every user holds on themselves: everything on ``users/<name>``, including invoking
    their own deployments, and reading their teams' namespaces as a member (`TEAMS_SCOPE`)."""
    return [
        *(
            f"custom:{kind}:{action}!user"
            for kind, actions in SCOPES.items()
            for action in actions
            if action != "read"  # implied by write
        ),
        f"{TEAMS_SCOPE}!user",
    ]


def roles(
    admin_users: list[str] | None = None,
    admin_groups: list[str] | None = None,
    services: list[str] | None = None,
) -> list[dict]:
    """Roles for ``c.JupyterHub.load_roles``.

    - ``user`` (JupyterHub's default role, extended): the user's own server and account,
      write on their own namespace, and access to ``services`` (their pages: a browser logs
      in to a service through the hub's OAuth, which needs ``access:services!service=<name>``;
      each service then checks its own scopes).
    - ``mllab-admin``: every custom scope on every namespace, for the admins (named, or
      members of the admin groups of single sign-on).

    Read on a team's namespace comes from membership: the services let every member of
    ``group`` read ``groups/<group>`` with the teams scope and a read scope of the kind (so a
    team created at run time, or synced from a login provider, works at once); a token narrowed
    to ``!user=<name>`` reads no team.  Write on a team namespace is
    granted with a role, e.g. ``{"name": "vision-writers", "groups": ["vision"],
    "scopes": ["custom:datasets:write!group=vision"]}``.
    """
    all_scopes = [f"custom:{kind}:{action}" for kind, actions in SCOPES.items() for action in actions]
    access = [f"access:services!service={name}" for name in services or []]
    return [
        {
            "name": "user",
            "description": "Everyone: their own server, write on their own namespace, the services' pages.",
            "scopes": ["self", *own_namespace_scopes(), *access],
        },
        {
            "name": "mllab-admin",
            "description": "Platform admins: every ML Lab scope on every namespace.",
            "scopes": all_scopes,
            "users": list(admin_users or []),
            "groups": list(admin_groups or []),
        },
    ]
