"""The registry's OpenAPI schemas: path parameters, request bodies and answers.

Built from the patterns and limits the registry checks (validation.py and the shared
`mllab.client.protocol`), so the document states what the service enforces.  Rules JSON Schema
cannot state (a file listed twice, an empty file's hash, part CRC32s per part) are the service's
422s; the document says so.
"""

from __future__ import annotations

from mllab.client import protocol

from ..openapi import anchored, nullable, page_of, ref
from ..schemas import NAMESPACE, OWNER_NAME
from .validation import (
    KINDS,
    MAX_DESCRIPTION,
    MAX_FILES,
    MAX_FLAVOR,
    MAX_LINEAGE_DATASETS,
    MAX_METADATA_BYTES,
    MAX_SIZE,
    MAX_TAGS,
    MAX_WORKSPACE,
    MEDIA_TYPE,
    SHA256,
    TAG,
    TEXT,
    UPLOAD_ID,
)

NAME = OWNER_NAME
VERSION_NUMBER = {"type": "integer", "minimum": 1, "maximum": protocol.MAX_VERSION}
ALIAS = {"type": "string", "pattern": anchored(protocol.ALIAS)}
SETTABLE_ALIAS = {**ALIAS, "not": {"const": "latest"}, "description": "Any alias but latest, which moves by itself."}
SHA256_TEXT = {"type": "string", "pattern": anchored(SHA256)}
TIME = {"type": "string", "format": "date-time"}
JSON_OBJECT = {"type": "object", "description": f"Free-form JSON, at most {MAX_METADATA_BYTES // 1024} KiB."}

PATH_PARAMETERS = {
    "owner_kind": {"type": "string", "enum": list(protocol.OWNER_KINDS)},
    "owner": NAME,
    "name": NAME,
    "ref": {"anyOf": [VERSION_NUMBER, ALIAS], "description": "A version number or an alias."},
    "alias": SETTABLE_ALIAS,
    "path": {"type": "string", "minLength": 1, "description": "A file path of the version."},
    "upload_id": {"type": "string", "pattern": anchored(UPLOAD_ID)},
    "sha256": SHA256_TEXT,
}

#: Operations where the version is named by number only (an alias is refused).
BY_NUMBER = [{"name": "ref", "in": "path", "required": True, "schema": VERSION_NUMBER}]

TAGS = {"type": "array", "maxItems": MAX_TAGS, "items": {"type": "string", "pattern": anchored(TAG)}}
DESCRIPTION = {"type": "string", "maxLength": MAX_DESCRIPTION, "pattern": anchored(TEXT)}

ARTIFACT_CREATE = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {"namespace": NAMESPACE, "name": NAME, "description": nullable(DESCRIPTION), "tags": nullable(TAGS)},
    "additionalProperties": False,
}
ARTIFACT_CHANGE = {
    "type": "object",
    "properties": {"description": nullable(DESCRIPTION), "tags": nullable(TAGS)},
    "additionalProperties": False,
}
ALIAS_SET = {
    "type": "object",
    "required": ["version"],
    "properties": {"version": VERSION_NUMBER},
    "additionalProperties": False,
}
FILE_ENTRY = {
    "type": "object",
    "required": ["path", "size", "sha256"],
    "properties": {
        "path": {"type": "string", "pattern": anchored(protocol.PATH), "maxLength": protocol.MAX_PATH_BYTES,
                 "description": f"Relative POSIX path, at most {protocol.MAX_PATH_BYTES} bytes in UTF-8."},
        "size": {"type": "integer", "minimum": 0, "maximum": MAX_SIZE},
        "sha256": SHA256_TEXT,
        "media_type": nullable({"type": "string", "maxLength": 255, "pattern": anchored(MEDIA_TYPE)}),
        "part_crc32": nullable({"type": "array", "items": {"type": "string", "pattern": anchored(protocol.CRC32_TEXT)},
                                "description": "One CRC32 per part of the shared part rule (API.md)."}),
    },
    "additionalProperties": False,
}
LINEAGE = {
    "type": "object",
    "properties": {
        "datasets": nullable({"type": "array", "maxItems": MAX_LINEAGE_DATASETS,
                              "items": {"type": "string", "description": "users/<user>/<name>[:N|@alias]"}}),
        "workspace": nullable({"type": "string", "maxLength": MAX_WORKSPACE, "pattern": anchored(TEXT)}),
        "params": nullable(JSON_OBJECT),
        "metrics": nullable(JSON_OBJECT),
        "flavor": nullable({"type": "string", "maxLength": MAX_FLAVOR, "pattern": anchored(TEXT)}),
    },
    "additionalProperties": False,
}


def upload_create(kind: str) -> dict:
    """The body that starts an upload of a ``kind`` version; lineage is recorded for models only."""
    properties = {
        "files": {"type": "array", "minItems": 1, "maxItems": MAX_FILES, "items": FILE_ENTRY},
        "metadata": nullable(JSON_OBJECT),
    }
    if kind == "models":
        properties["lineage"] = nullable(LINEAGE)
    return {"type": "object", "required": ["files"], "properties": properties, "additionalProperties": False}


_MANIFEST_FILE = {
    "type": "object",
    "required": ["path", "size", "sha256", "media_type"],
    "properties": {"path": {"type": "string"}, "size": {"type": "integer"}, "sha256": SHA256_TEXT,
                   "media_type": {"type": "string"}},
}
_TRANSFER = {
    "type": ["object", "null"],
    "required": ["method"],
    "properties": {"method": {"enum": ["none", "stream", "s3-multipart"]}, "url": {"type": "string"},
                   "offset": {"type": "integer"}, "part_size": {"type": "integer"}, "parts": {"type": "array"},
                   "received": {"type": "integer"}},
}

SCHEMAS = {
    "Artifact": {
        "type": "object",
        "required": ["kind", "namespace", "name", "full_name", "description", "tags", "created_at", "updated_at",
                     "created_by", "latest", "aliases"],
        "properties": {
            "kind": {"enum": list(KINDS)}, "namespace": NAMESPACE, "name": NAME, "full_name": {"type": "string"},
            "description": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
            "created_at": TIME, "updated_at": TIME, "created_by": {"type": "string"},
            "latest": {"type": ["integer", "null"]},
            "aliases": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    },
    "Version": {
        "type": "object",
        "required": ["artifact", "kind", "number", "ref", "created_at", "created_by", "size", "file_count",
                     "metadata", "aliases"],
        "properties": {
            "artifact": {"type": "string"}, "kind": {"enum": list(KINDS)}, "number": VERSION_NUMBER,
            "ref": {"type": "string"}, "created_at": TIME, "created_by": {"type": "string"},
            "size": {"type": "integer"}, "file_count": {"type": "integer"}, "metadata": {"type": "object"},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "files": {"type": "array", "items": _MANIFEST_FILE},
            "lineage": {"type": "object"},
            "used_by": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Upload": {
        "type": "object",
        "required": ["id", "status", "artifact", "kind", "expires_at", "files"],
        "properties": {
            "id": {"type": "string", "pattern": anchored(UPLOAD_ID)}, "status": {"type": "string"},
            "artifact": {"type": "string"}, "kind": {"enum": list(KINDS)}, "expires_at": TIME,
            "files": {"type": "array", "items": {
                "type": "object",
                "required": ["path", "sha256", "size", "present", "transfer"],
                "properties": {"path": {"type": "string"}, "sha256": SHA256_TEXT, "size": {"type": "integer"},
                               "present": {"type": "boolean"}, "transfer": _TRANSFER},
            }},
        },
    },
    "Unchanged": {
        "type": "object",
        "required": ["unchanged", "version"],
        "properties": {"unchanged": {"const": True}, "version": ref("Version")},
    },
    "Alias": {
        "type": "object",
        "required": ["alias", "version"],
        "properties": {"alias": {"type": "string"}, "version": VERSION_NUMBER},
    },
    "BlobReceived": {
        "type": "object",
        "required": ["sha256", "received"],
        "properties": {"sha256": SHA256_TEXT, "received": {"type": "integer", "minimum": 0}},
    },
    "DownloadURL": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}},
    "ArtifactPage": page_of(ref("Artifact")),
    "VersionPage": page_of(ref("Version")),
}
