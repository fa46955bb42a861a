"""The rules the client and the registry share (API.md): names, references, file paths, parts, digests.

The registry checks every request against them; the client applies the same ones before it
sends anything, so what it refuses is exactly what the registry would refuse, in the same
words. A broken rule raises :class:`ProtocolError`, whose message names the value and says
what is wrong: the registry answers it as a 400, the client raises it as its own error.

Why here, in ``mllab.client``: the rules are the contract the client library offers to its
users, and the client must not import a service package to know them; the service, for its
part, already depends on the whole distribution. This module imports the standard library
only, and ``mllab/client/__init__.py`` loads ``Client`` on first use (PEP 562), so a service
that imports ``mllab.client.protocol`` pulls in neither ``requests`` nor ``tqdm``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from os import PathLike
from typing import Any


class ProtocolError(ValueError):
    """A value the registry does not accept; ``str()`` names it and says what is wrong."""


# -- names and references ------------------------------------------------------------------------

#: Namespace kinds: a user's own (``users/<name>``), or a JupyterHub group's, a team (``groups/<name>``).
OWNER_KINDS = ("users", "groups")
#: Artifact names, and the owner part of a namespace.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Aliases start with a letter, so that ``3`` is always a version number.
ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,127}")
MAX_VERSION = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")
#: The last segment of a reference: a name, then ``:number`` or ``@alias`` (names never hold ``:`` or ``@``).
_LAST = re.compile(r"(?P<name>[^:@]*)(?::(?P<number>[^:@]*)|@(?P<alias>[^:@]*))?")


def check_pattern(value: Any, pattern: re.Pattern[str], what: str, rule: str) -> str:
    """``value``, a string all of which ``pattern`` matches; else "<what> <value> is not valid: <rule>"."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError(f"{what} {value!r} is not valid: {rule}")
    return value


def check_name(name: Any, what: str = "name") -> str:
    """An artifact name (or the owner of a namespace, ``what="owner"``): 1-128 of ``[A-Za-z0-9._-]``."""
    return check_pattern(name, NAME, what, "use 1-128 letters, digits, '.', '_' or '-', starting with a letter or "
                                           "digit.")


def check_alias(alias: Any) -> str:
    return check_pattern(alias, ALIAS, "alias", "use 1-128 letters, digits, '.', '_' or '-', starting with a letter.")


def check_namespace(namespace: Any) -> str:
    """``users/<name>`` or ``groups/<name>``."""
    if not isinstance(namespace, str):
        raise ProtocolError("namespace must be a string like users/<name> or groups/<name>.")
    kind, _, owner = namespace.partition("/")
    if kind not in OWNER_KINDS or not owner or "/" in owner:
        raise ProtocolError(f"namespace {namespace!r} must be users/<name> or groups/<name>.")
    check_name(owner, "owner")
    return namespace


def check_version_number(text: str) -> int:
    """A version number as written in a URL or a reference: ``3`` -> 3."""
    if not _DIGITS.fullmatch(text):
        raise ProtocolError(f"version {text!r} is not valid: versions are numbered 1, 2, 3...")
    if len(text) > 10 or not 1 <= int(text) <= MAX_VERSION:
        raise ProtocolError(f"version number {text} is out of range.")
    return int(text)


def parse_version(text: str) -> int | str:
    """A version as a URL names it: a number (``3``) or an alias (``production``)."""
    return check_version_number(text) if _DIGITS.fullmatch(text) else check_alias(text)


def split_ref(text: Any) -> tuple[str | None, str, int | str | None]:
    """``[users/<user>/]<name>[:<number>|@<alias>]`` -> ``(namespace, name, version)``, None where not written.

    The version is an int for ``:<number>``, a str for ``@<alias>``.

    >>> split_ref("users/alice/iris:3")
    ('users/alice', 'iris', 3)
    """
    if not isinstance(text, str):
        raise ProtocolError("a reference must be a string like users/alice/iris:3.")
    *owner, last = text.split("/")
    match = _LAST.fullmatch(last)
    if not match or not match["name"]:
        raise ProtocolError(f"reference {text!r} is not valid: write [users/<user>/]<name>[:<number>|@<alias>].")
    namespace = check_namespace("/".join(owner)) if owner else None
    name = check_name(match["name"])
    version: int | str | None = None
    if match["number"] is not None:
        version = check_version_number(match["number"])
    elif match["alias"] is not None:
        version = check_alias(match["alias"])
    return namespace, name, version


# -- file paths ----------------------------------------------------------------------------------

#: The longest file path in a version, in UTF-8 bytes.
MAX_PATH_BYTES = 1024
#: Unicode's control characters (category Cc): C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"[A-Za-z]:")
_SEGMENT_CHAR = r"[^/\\\x00-\x1f\x7f-\x9f]"
#: A path segment: not empty, '.' or '..' (it holds a character other than '.', or three dots or more).
_SEGMENT = rf"(?:{_SEGMENT_CHAR}*[^./\\\x00-\x1f\x7f-\x9f]{_SEGMENT_CHAR}*|\.{{3,}})"
#: A relative POSIX path that stays inside its folder on any OS: no drive, no control characters or
#: backslashes, no empty, '.' or '..' segment.  Written for Python and ECMA-262 alike (the OpenAPI
#: documents use it as is).
PATH = re.compile(rf"(?![A-Za-z]:){_SEGMENT}(?:/{_SEGMENT})*")


def check_path(path: Any) -> str:
    """A file path in a version: relative POSIX, and it stays inside the folder it is written to, on any OS."""
    if not isinstance(path, str) or not path:
        raise ProtocolError("file path must be a non-empty string.")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise ProtocolError(f"file path {path[:80]!r}... is longer than {MAX_PATH_BYTES} bytes.")
    if not PATH.fullmatch(path):
        raise ProtocolError(_path_fault(path))
    return path


def _path_fault(path: str) -> str:
    """What makes ``path``, which `PATH` refuses, wrong, in words."""
    if _CONTROL.search(path) or "\\" in path:
        return f"file path {path!r} contains control characters or backslashes."
    if path.startswith("/") or _DRIVE.match(path):
        return f"file path {path!r} is absolute; send paths relative to the folder pushed."
    return f"file path {path!r} has an empty, '.' or '..' segment."


# -- content -------------------------------------------------------------------------------------

MiB = 1024 * 1024
#: How much of a file either side reads at a time to hash it; a part is a whole number of these.
HASH_CHUNK = MiB


def sha256_file(path: str | PathLike[str]) -> str:
    """The sha256 of a file's content: its name in the registry's content-addressed store."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_digest(files: Iterable[Mapping[str, Any]]) -> str:
    """One sha256 for what makes two versions "the same": the ``(path, size, sha256)`` of their files.

    ``files`` are manifest entries as the API writes them (``{"path", "size", "sha256", ...}``),
    in any order; other fields do not count.
    """
    canonical = json.dumps(sorted([f["path"], f["size"], f["sha256"]] for f in files), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- parts ---------------------------------------------------------------------------------------
# The client needs a file's parts before it asks for an upload, to declare each part's CRC32
# (S3 then checks every part's bytes itself); the registry cuts the file the same way to hand
# out the part URLs.

MIN_PART_SIZE = 8 * MiB
MAX_PARTS = 10_000


def part_size_for(size: int) -> int:
    """Whole MiB, at least 8, so that the file fits in 10,000 parts (1 TiB -> 105 MiB)."""
    needed = -(-size // MAX_PARTS)
    return max(MIN_PART_SIZE, -(-needed // MiB) * MiB)


def part_sizes(size: int, part_size: int) -> list[int]:
    """Sizes of the parts of a ``size``-byte file; an empty file is one empty part."""
    count = max(1, -(-size // part_size))
    return [min(part_size, size - i * part_size) for i in range(count)]


def part_count(size: int) -> int:
    """Parts of a non-empty ``size``-byte file under the shared rule (0 for an empty one: nothing is sent)."""
    return len(part_sizes(size, part_size_for(size))) if size else 0


#: A CRC32 as :func:`crc32_text` writes it: 4 bytes in base64 are 6 characters and ``==``.
CRC32_TEXT = re.compile(r"[A-Za-z0-9+/]{6}==")


def crc32_text(crc: int) -> str:
    """A CRC32 as S3 writes it in ``x-amz-checksum-crc32``: base64 of its 4 big-endian bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def is_crc32_text(value: Any) -> bool:
    """Whether ``value`` is a CRC32 written as :func:`crc32_text` writes one."""
    return isinstance(value, str) and CRC32_TEXT.fullmatch(value) is not None
