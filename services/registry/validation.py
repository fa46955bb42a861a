"""What the registry accepts: names, paths, sizes, hashes and JSON bodies, checked before anything is stored.

Every check raises ``APIError(400, ...)`` with a message that names the offending value. The
rules the client applies too (names, references, file paths, parts) are `mllab.client.protocol`'s.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable
from typing import Any, TypeVar

from mllab.client import protocol
from mllab.client.protocol import ProtocolError, is_crc32_text, part_count

from ..errors import APIError

_T = TypeVar("_T")

# Matched whole (``fullmatch``: ``$`` would let a trailing newline through); the OpenAPI document
# states them as they are (schemas.py).
KINDS = ("datasets", "models")
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
DIGITS = re.compile(r"[0-9]+")
#: Free text: anything but NUL, which PostgreSQL's text columns refuse.
TEXT = re.compile(r"[^\x00]*")
MEDIA_TYPE = re.compile(r"[A-Za-z0-9_.+-]+/[A-Za-z0-9_.+-]+")

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MAX_SIZE = 5 * 1024**4  # 5 TiB, the largest S3 object
MAX_FILES = 100_000
MAX_TAGS = 32
MAX_DESCRIPTION = 10_000
MAX_METADATA_BYTES = 64 * 1024
MAX_LINEAGE_DATASETS = 100
MAX_WORKSPACE = 255
MAX_FLAVOR = 64


def bad(message: str) -> APIError:
    """The request does not match the OpenAPI document (a type, a pattern, a limit it states)."""
    return APIError(400, message)


def inconsistent(message: str) -> APIError:
    """The request matches the document, but its values contradict each other: a rule no schema states."""
    return APIError(422, message)


def _checked(rule: Callable[..., _T], *args: Any) -> _T:
    """``rule(*args)`` of the shared protocol, a broken rule answered as a 400 in the protocol's words."""
    try:
        return rule(*args)
    except ProtocolError as e:
        raise bad(str(e)) from None


def check_name(name: Any, what: str = "name") -> str:
    return _checked(protocol.check_name, name, what)


def check_namespace(namespace: Any) -> str:
    return _checked(protocol.check_namespace, namespace)


def check_alias(alias: Any) -> str:
    return _checked(protocol.check_alias, alias)


def check_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad("tags must be a list of strings.")
    if len(tags) > MAX_TAGS:
        raise bad(f"at most {MAX_TAGS} tags.")
    for tag in tags:
        if not TAG.fullmatch(tag):
            raise bad(f"tag {tag!r} is not valid: 1-64 letters, digits or '._:+-'.")
    return sorted(set(tags))


def check_text(value: Any, what: str, limit: int) -> str:
    """Free text of at most ``limit`` characters, without NUL."""
    if not isinstance(value, str) or len(value) > limit or not TEXT.fullmatch(value):
        raise bad(f"{what} must be a string of at most {limit} characters, without NUL.")
    return value


def check_description(description: Any) -> str:
    return check_text(description, "description", MAX_DESCRIPTION)


def check_path(path: Any) -> str:
    """A relative POSIX path that stays inside the folder it is written to, on any OS."""
    return _checked(protocol.check_path, path)


def check_size(size: Any, path: str) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
        raise bad(f"size of {path!r} must be an integer from 0 to {MAX_SIZE} (5 TiB), not {size!r}.")
    return size


def check_sha256(sha256: Any, what: str) -> str:
    if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
        raise bad(f"sha256 of {what} must be 64 lowercase hex characters, not {sha256!r}.")
    return sha256


def check_json_object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise bad(f"{what} must be a JSON object.")
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise bad(f"{what} is larger than {MAX_METADATA_BYTES // 1024} KiB.")
    return value


def fields(body: dict, required: dict[str, type | tuple], optional: dict[str, type | tuple] | None = None) -> dict:
    """``body`` with only known fields of the right JSON types; 400 naming the first that is not."""
    optional = optional or {}
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
                  f"{', '.join(sorted({*required, *optional}))}.")
    for name in required:
        if name not in body:
            raise bad(f"field {name!r} is required.")
    for name, value in list(body.items()):
        expected = _as_tuple({**required, **optional}[name])
        if value is None and name in optional:
            continue
        if int in expected and isinstance(value, float) and value.is_integer():
            # JSON has one number type: 3.0 is the integer 3 (as JSON Schema says), whatever wrote it.
            body[name] = value = int(value)
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise bad(f"field {name!r} has the wrong type ({type(value).__name__}).")
    return body


def _as_tuple(expected: type | tuple) -> tuple:
    return expected if isinstance(expected, tuple) else (expected,)


def check_files(files: Any) -> list[dict]:
    """The declared manifest, normalized: sorted by path, media types filled in."""
    if not isinstance(files, list) or not files:
        raise bad("files must be a non-empty list of {path, size, sha256, media_type?}.")
    if len(files) > MAX_FILES:
        raise APIError(413, f"at most {MAX_FILES} files per version.")
    seen_paths: set[str] = set()
    sizes: dict[str, int] = {}
    manifest = []
    for entry in files:
        if not isinstance(entry, dict):
            raise bad("each entry of files must be an object {path, size, sha256, media_type?}.")
        fields(entry, {"path": str, "size": int, "sha256": str}, {"media_type": str, "part_crc32": list})
        path = check_path(entry["path"])
        size = check_size(entry["size"], path)
        sha256 = check_sha256(entry["sha256"], repr(path))
        if path in seen_paths:
            raise inconsistent(f"file path {path!r} is listed twice.")
        seen_paths.add(path)
        if size == 0 and sha256 != EMPTY_SHA256:
            raise inconsistent(f"{path!r} is empty but its sha256 is not that of empty content.")
        if sizes.setdefault(sha256, size) != size:
            raise inconsistent(f"sha256 {sha256} is declared with two different sizes.")
        media_type = entry.get("media_type") or mimetypes.guess_type(path)[0] or "application/octet-stream"
        if len(media_type) > 255 or not MEDIA_TYPE.fullmatch(media_type):
            raise bad(f"media_type {media_type!r} of {path!r} is not a media type like text/csv.")
        manifest.append({"path": path, "size": size, "sha256": sha256, "media_type": media_type})
    return sorted(manifest, key=lambda f: f["path"])


def check_part_crc32(files: list[dict]) -> dict[str, list[str]]:
    """The CRC32 of each S3 part declared per file (already checked by `check_files`): sha256 -> list.

    Each list has one base64 CRC32 (4 bytes) per part of the shared part rule (API.md); files of
    equal content must declare equal lists.
    """
    declared: dict[str, list[str]] = {}
    for entry in files:
        crcs = entry.get("part_crc32")
        if crcs is None:
            continue
        path, size, sha256 = entry["path"], entry["size"], entry["sha256"]
        if len(crcs) != part_count(size):
            raise inconsistent(f"part_crc32 of {path!r} must list {part_count(size)} CRC32s (one per part of "
                      f"{size} bytes), not {len(crcs)}.")
        for crc in crcs:
            if not is_crc32_text(crc):
                raise bad(f"part_crc32 of {path!r}: {crc!r} is not a CRC32 (base64 of 4 big-endian bytes).")
        if declared.setdefault(sha256, crcs) != crcs:
            raise inconsistent(f"sha256 {sha256} is declared with two different part_crc32 lists.")
    return declared


def parse_ref(ref: str) -> int | str:
    """A version reference from a URL: a number, or an alias."""
    return _checked(protocol.parse_version, ref)


def parse_full_ref(text: Any) -> tuple[str, str, int | str]:
    """``users/alice/iris:3`` / ``users/alice/iris@production`` / ``users/alice/iris`` ->
    ``(namespace, name, number or alias)``."""
    namespace, name, version = _checked(protocol.split_ref, text)
    if namespace is None:
        raise bad(f"reference {text!r} must look like users/<user>/<name>[:N|@alias].")
    return namespace, name, "latest" if version is None else version
