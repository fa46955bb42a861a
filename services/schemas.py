"""OpenAPI schemas both services state alike: an owner's name and a namespace (users/<user>, groups/<group>).

Built from the shared `mllab.client.protocol` patterns the services validate with.
"""

from __future__ import annotations

import re

from mllab.client import protocol

from .openapi import anchored

OWNER_NAME = {"type": "string", "pattern": anchored(protocol.NAME)}
NAMESPACE = {
    "type": "string",
    "pattern": anchored(re.compile(f"(?:{'|'.join(protocol.OWNER_KINDS)})/(?:{protocol.NAME.pattern})")),
    "description": "users/<user> or groups/<group>.",
}
