"""The rules the client and the registry share, and that sharing them costs the service no client imports."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zlib

import mllab.client as package
import pytest
from mllab.client.protocol import (
    HASH_CHUNK,
    MIN_PART_SIZE,
    MiB,
    ProtocolError,
    check_alias,
    check_name,
    check_namespace,
    check_path,
    crc32_text,
    is_crc32_text,
    manifest_digest,
    parse_version,
    part_count,
    part_size_for,
    part_sizes,
    sha256_file,
    split_ref,
)

EMPTY = hashlib.sha256(b"").hexdigest()
FILES = [
    {"path": "b/c.txt", "size": 0, "sha256": EMPTY},
    {"path": "a.csv", "size": 3, "sha256": "0" * 64},
]

# -- manifest digest -----------------------------------------------------------------------------


def test_manifest_digest_is_stable():
    """Versions already stored carry this digest: a new formula would make every next push look changed."""
    assert manifest_digest(FILES) == "a4981a2d8a3ac7852cb442c537bf408f91fc3c3c9918555ff8979f5fb501b462"


def test_manifest_digest_ignores_order_and_fields_outside_the_content():
    described = [{**f, "media_type": "text/plain", "part_crc32": ["AAAAAA=="]} for f in reversed(FILES)]
    assert manifest_digest(iter(described)) == manifest_digest(FILES)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"path": "A.csv"}, id="path"),
        pytest.param({"size": 4}, id="size"),
        pytest.param({"sha256": "1" * 64}, id="sha256"),
    ],
)
def test_manifest_digest_changes_with_the_content(change):
    assert manifest_digest([FILES[0], {**FILES[1], **change}]) != manifest_digest(FILES)


# -- file paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("a.csv", id="file"),
        pytest.param("images/cat/001.png", id="nested"),
        pytest.param(".hidden", id="dot-file"),
        pytest.param("a..b/c", id="dots-inside-a-name"),
        pytest.param("caf\u00e9 \u65e5\u672c.txt", id="unicode-and-space"),
        pytest.param("x" * 1024, id="longest"),
    ],
)
def test_paths_accepted(path):
    assert check_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        pytest.param("", "non-empty string", id="empty"),
        pytest.param(None, "non-empty string", id="not-a-string"),
        pytest.param("x" * 1025, "longer than 1024 bytes", id="too-long"),
        pytest.param("\u00e9" * 513, "longer than 1024 bytes", id="too-long-in-utf8"),
        pytest.param("a\\b", "backslashes", id="backslash"),
        pytest.param("a\x00b", "control characters", id="nul"),
        pytest.param("a\nb", "control characters", id="newline"),
        pytest.param("a\x7fb", "control characters", id="delete"),
        pytest.param("a\x85b", "control characters", id="c1-control"),
        pytest.param("/etc/passwd", "absolute", id="absolute"),
        pytest.param("C:/Windows/win.ini", "absolute", id="windows-drive"),
        pytest.param("../etc/passwd", "'..' segment", id="traversal"),
        pytest.param("a/../../b", "'..' segment", id="traversal-inside"),
        pytest.param("./a", "'..' segment", id="dot-segment"),
        pytest.param("a//b", "'..' segment", id="empty-segment"),
        pytest.param("a/", "'..' segment", id="trailing-slash"),
    ],
)
def test_paths_refused_with_the_reason(path, reason):
    with pytest.raises(ProtocolError, match=reason):
        check_path(path)


# -- names and references ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iris", "3d-scans", "v1.2_final-x", "x" * 128])
def test_names_accepted(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-iris", ".hidden", "a b", "a/b", "a@b", "x" * 129, "iris\n", 3], ids=repr
)
def test_names_refused(name):
    with pytest.raises(ProtocolError, match="is not valid"):
        check_name(name)


def test_aliases_start_with_a_letter_so_numbers_stay_versions():
    assert check_alias("production") == "production"
    for alias in ("3", "3rd", "-x", "prod\n", ""):
        with pytest.raises(ProtocolError, match="alias"):
            check_alias(alias)


@pytest.mark.parametrize("namespace", ["users/alice", "groups/vision", "users/a.b-c_d"])
def test_namespaces_accepted(namespace):
    assert check_namespace(namespace) == namespace


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [
        pytest.param("teams/x", "must be users/<name> or groups/<name>", id="unknown-kind"),
        pytest.param("users", "must be users/<name> or groups/<name>", id="no-owner"),
        pytest.param("users/", "must be users/<name> or groups/<name>", id="empty-owner"),
        pytest.param("users/alice/extra", "must be users/<name> or groups/<name>", id="extra-segment"),
        pytest.param("users/alice@x.org", "owner 'alice@x.org' is not valid", id="owner-not-a-name"),
        pytest.param("users/alice\n", "owner", id="trailing-newline"),
        pytest.param(["users", "alice"], "must be a string", id="not-a-string"),
    ],
)
def test_namespaces_refused(namespace, reason):
    with pytest.raises(ProtocolError, match=reason):
        check_namespace(namespace)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("3", 3, id="number"),
        pytest.param("007", 7, id="leading-zeros"),
        pytest.param("2147483647", 2**31 - 1, id="largest"),
        pytest.param("production", "production", id="alias"),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["0", "2147483648", "9" * 5000, "\u00b3", "\u0663", "", "3x"], ids=repr)
def test_parse_version_refuses(text):
    with pytest.raises(ProtocolError):
        parse_version(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("users/alice/iris", ("users/alice", "iris", None), id="artifact"),
        pytest.param("users/alice/iris:3", ("users/alice", "iris", 3), id="number"),
        pytest.param("groups/vision/cnn@production", ("groups/vision", "cnn", "production"), id="alias"),
        pytest.param("iris@latest", (None, "iris", "latest"), id="plain-name"),
    ],
)
def test_split_ref(text, expected):
    assert split_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "users/alice/iris:", "users/alice/iris:three", "users/alice/iris:3@prod", "users/alice/iris@3",
     "teams/vision/iris", "users/alice/x/iris", "/users/alice/iris", "users/alice/-iris", None],
    ids=repr,
)
def test_split_ref_refuses(text):
    with pytest.raises(ProtocolError):
        split_ref(text)


# -- parts and hashing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "part_size"),
    [
        pytest.param(0, 8 * MiB, id="empty"),
        pytest.param(1, 8 * MiB, id="one-byte"),
        pytest.param(10_000 * 8 * MiB, 8 * MiB, id="largest-with-8-MiB-parts"),
        pytest.param(10_000 * 8 * MiB + 1, 9 * MiB, id="one-byte-more"),
        pytest.param(1024**4, 105 * MiB, id="1-TiB"),
        pytest.param(5 * 1024**4, 525 * MiB, id="5-TiB"),
    ],
)
def test_part_size_is_whole_MiB_at_least_8_and_at_most_10000_parts(size, part_size):
    assert part_size_for(size) == part_size
    sizes = part_sizes(size, part_size)
    assert sum(sizes) == size and len(sizes) <= 10_000
    assert all(s == part_size for s in sizes[:-1]) and sizes[-1] <= part_size


def test_part_count():
    assert [part_count(n) for n in (0, 1, 8 * MiB, 8 * MiB + 1, 17 * MiB)] == [0, 1, 1, 2, 3]
    assert part_sizes(0, part_size_for(0)) == [0]  # one empty part, though an empty file sends none


def test_hash_chunks_never_straddle_parts():
    assert MiB % HASH_CHUNK == 0 and MIN_PART_SIZE % HASH_CHUNK == 0


def test_crc32_text_is_what_s3_writes():
    crc = zlib.crc32(b"abc")
    assert crc32_text(crc) == base64.b64encode(crc.to_bytes(4, "big")).decode() == "NSRBwg=="
    assert is_crc32_text("NSRBwg==") and is_crc32_text(crc32_text(0))
    for value in ("AAAAAAA=", "!!!!!!!!", "AAAA", 12345, None):
        assert not is_crc32_text(value)


def test_sha256_file_reads_across_chunks(tmp_path):
    data = os.urandom(2 * HASH_CHUNK + 17)
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


# -- what importing the protocol costs -----------------------------------------------------------


def _imported_by(statement: str) -> set[str]:
    """The modules that ``statement`` imports, in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_protocol_needs_only_the_standard_library():
    imported = _imported_by("import mllab.client.protocol")
    foreign = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "mllab"}
    assert not foreign
    assert imported & {"mllab.client.protocol"}
    assert not imported & {"mllab.client.client", "mllab.client.http", "mllab.client.transfer"}


def test_the_registry_service_imports_neither_requests_nor_tqdm():
    """The registry imports the protocol from the client package, whose ``__init__`` loads ``Client`` lazily.

    The whole service is checked, not only the protocol: JupyterHub's ``jupyterhub.services.auth``,
    which the service uses, talks to the hub with Tornado's HTTP client and imports no ``requests``.
    """
    imported = _imported_by("import mllab.services.registry.app")
    assert "mllab.client.protocol" in imported
    assert not imported & {"requests", "tqdm"}


def test_the_package_still_offers_the_client():
    imported = _imported_by("from mllab.client import Client, PullResult, PushResult")
    assert {"mllab.client.client", "mllab.client.artifacts", "requests"} <= imported
    assert {"Client", "PushResult", "parse_ref"} <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = package.Nothing
