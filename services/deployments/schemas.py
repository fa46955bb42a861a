"""The deployments service's OpenAPI schemas: path parameters, request bodies and answers.

Built from the patterns and limits validation.py checks (and the shared `mllab.client.protocol`),
so the document states what the service enforces.  Rules no schema states (what this service's
runtime can run, a size with a unit out of range, a cron field out of its range) are 422s.
"""

from __future__ import annotations

import re

from mllab.client import protocol

from ..openapi import anchored, nullable, page_of, ref
from ..schemas import NAMESPACE, OWNER_NAME
from .handlers.base import FOLLOW, MAX_TAIL
from .validation import (
    ENV_NAME,
    IMAGE,
    MAX_ARGUMENT,
    MAX_COMMAND,
    MAX_CPUS,
    MAX_ENV,
    MAX_ENV_VALUE,
    MAX_GPUS,
    MAX_IDLE_TIMEOUT,
    MAX_MEMORY,
    MAX_REPLICAS,
    MEMORY,
    MIN_MEMORY,
    NAME,
    NAME_RULE,
    RESERVED_ENV,
    RUN_NUMBER,
    SCHEDULE,
)

DEPLOYMENT_NAME = {"type": "string", "pattern": anchored(NAME), "description": NAME_RULE}
_NO_NUL = "[^\\x00]"
MODEL_REF = {
    "type": "string",
    # A pinned number up to 9 digits (a registry's versions stay far below), or an alias.
    "pattern": anchored(re.compile(
        f"(?:{'|'.join(protocol.OWNER_KINDS)})/(?:{protocol.NAME.pattern})/(?:{protocol.NAME.pattern})"
        f"(?::[1-9][0-9]{{0,8}}|@(?:{protocol.ALIAS.pattern}))?")),
    "description": "A registry model: users/<user>/<name>[:N|@alias] (latest when neither).",
}

PATH_PARAMETERS = {
    "owner_kind": {"type": "string", "enum": list(protocol.OWNER_KINDS)},
    "owner": OWNER_NAME,
    "name": DEPLOYMENT_NAME,
    "number": {"type": "integer", "minimum": 1, "maximum": int("9" * 9),
               "description": f"A run number ({RUN_NUMBER.pattern})."},
    "path": {"type": "string", "description": "Forwarded to the deployment as is."},
}

LOG_OPTIONS = [
    {"name": "tail", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_TAIL}},
    {"name": "follow", "in": "query", "required": False, "schema": {"enum": list(FOLLOW)}},
]

IMAGE_REF = {"type": "string", "pattern": anchored(IMAGE), "description": "Allowed by the admin's patterns."}
ENV = {
    "type": "object",
    "maxProperties": MAX_ENV,
    "propertyNames": {"pattern": anchored(ENV_NAME), "not": {"enum": sorted(RESERVED_ENV)}},
    "additionalProperties": {"type": "string", "maxLength": MAX_ENV_VALUE, "pattern": f"^{_NO_NUL}*$"},
}
COMMAND = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_COMMAND,
    "prefixItems": [{"type": "string", "minLength": 1}],
    "items": {"type": "string", "maxLength": MAX_ARGUMENT, "pattern": f"^{_NO_NUL}*$"},
}
RESOURCES = {
    "type": "object",
    "properties": {
        "cpu_limit": nullable({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_CPUS}),
        "mem_limit": {"anyOf": [
            {"type": "integer", "minimum": MIN_MEMORY, "maximum": MAX_MEMORY},
            {"type": "string", "pattern": anchored(MEMORY),
             "description": "Bytes with a unit (K, M, G, T; Ki, Mi, Gi, Ti), from 4M to 16Ti."},
            {"type": "null"},
        ]},
        "gpus": nullable({"type": "integer", "minimum": 0, "maximum": MAX_GPUS}),
    },
    "additionalProperties": False,
}
IDLE_TIMEOUT = {"type": "integer", "minimum": 0, "maximum": MAX_IDLE_TIMEOUT, "description": "Seconds; 0 never."}


def _request(required: list[str], properties: dict) -> dict:
    # The service takes null for any field as if it were left out.
    return {
        "type": "object",
        "required": required,
        "properties": {name: schema if name in required or "type" not in schema else nullable(schema)
                       for name, schema in properties.items()},
        "additionalProperties": False,
    }


MODEL_DEPLOYMENT = _request(["model"], {
    "model": MODEL_REF, "namespace": NAMESPACE, "name": DEPLOYMENT_NAME, "image": IMAGE_REF, "env": ENV,
    "resources": RESOURCES, "idle_timeout": IDLE_TIMEOUT,
})
SERVICE_DEPLOYMENT = _request(["namespace", "name", "port"], {
    "namespace": NAMESPACE, "name": DEPLOYMENT_NAME, "image": IMAGE_REF, "command": COMMAND, "env": ENV,
    "port": {"type": "integer", "minimum": 1, "maximum": 65535}, "resources": RESOURCES,
    "replicas": {"type": "integer", "minimum": 1, "maximum": MAX_REPLICAS}, "idle_timeout": IDLE_TIMEOUT,
})
DEPLOYMENT_CREATE = {"anyOf": [MODEL_DEPLOYMENT, SERVICE_DEPLOYMENT]}
JOB_CREATE = _request(["namespace", "name"], {
    "namespace": NAMESPACE, "name": DEPLOYMENT_NAME, "image": IMAGE_REF, "command": COMMAND, "env": ENV,
    "resources": RESOURCES,
    "schedule": {"type": "string", "pattern": anchored(SCHEDULE), "description": "Cron, five fields, UTC."},
})

_TIME = {"type": "string", "format": "date-time"}
_OPTIONAL_TIME = {"type": ["string", "null"], "format": "date-time"}
_RUN = {
    "type": "object",
    "required": ["job", "number", "status", "exit_code", "trigger", "message", "created_at", "started_at",
                 "finished_at"],
    "properties": {
        "job": {"type": "string"}, "number": {"type": "integer", "minimum": 1}, "status": {"type": "string"},
        "exit_code": {"type": ["integer", "null"]}, "trigger": {"type": "string"},
        "message": {"type": ["string", "null"]}, "created_at": _TIME, "started_at": _OPTIONAL_TIME,
        "finished_at": _OPTIONAL_TIME,
    },
}

SCHEMAS = {
    "Deployment": {
        "type": "object",
        "required": ["namespace", "name", "full_name", "kind", "status", "desired", "url", "created_at",
                     "created_by"],
        "properties": {
            "namespace": NAMESPACE, "name": DEPLOYMENT_NAME, "full_name": {"type": "string"},
            "kind": {"enum": ["model", "service"]}, "model": {"type": ["string", "null"]},
            "model_version": {"type": ["integer", "null"]}, "image": {"type": ["string", "null"]},
            "command": {"type": "array", "items": {"type": "string"}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "port": {"type": ["integer", "null"]}, "resources": {"type": "object"},
            "replicas": {"type": "integer"}, "status": {"type": "string"}, "message": {"type": ["string", "null"]},
            "desired": {"type": "string"}, "url": {"type": "string"}, "created_at": _TIME,
            "updated_at": _OPTIONAL_TIME, "created_by": {"type": "string"}, "last_access": _OPTIONAL_TIME,
            "idle_timeout": {"type": ["integer", "null"]},
        },
    },
    "Job": {
        "type": "object",
        "required": ["namespace", "name", "full_name", "schedule", "next_run", "created_at", "created_by"],
        "properties": {
            "namespace": NAMESPACE, "name": DEPLOYMENT_NAME, "full_name": {"type": "string"},
            "image": {"type": ["string", "null"]}, "command": {"type": "array", "items": {"type": "string"}},
            "env": {"type": "object"}, "resources": {"type": "object"}, "schedule": {"type": ["string", "null"]},
            "next_run": _OPTIONAL_TIME, "created_at": _TIME, "created_by": {"type": "string"},
            "runs": {"type": "array", "items": ref("Run")},
        },
    },
    "Run": _RUN,
    "DeploymentPage": page_of(ref("Deployment")),
    "JobPage": page_of(ref("Job")),
    "RunPage": page_of(ref("Run")),
}
