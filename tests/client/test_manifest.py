"""Walking a folder into a manifest: paths, sizes, hashes and media types."""

from __future__ import annotations

import base64
import hashlib
import os
import unicodedata
import zlib

import pytest
from mllab.client.errors import ManifestError
from mllab.client.manifest import build_manifest, collect_files, media_type, normalise_path
from mllab.client.protocol import manifest_digest


def write(root, rel, data=b"x"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folder_manifest_has_relative_posix_paths_sizes_and_hashes(tmp_path):
    write(tmp_path, "train.csv", b"a,b\n1,2\n")
    write(tmp_path, "images/cat/001.png", b"\x89PNG....")
    write(tmp_path, "empty.txt", b"")
    entries = build_manifest(collect_files(tmp_path))
    assert [e.path for e in entries] == ["empty.txt", "images/cat/001.png", "train.csv"]
    by_path = {e.path: e for e in entries}
    assert by_path["train.csv"].size == 8
    assert by_path["train.csv"].sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert by_path["empty.txt"].sha256 == hashlib.sha256(b"").hexdigest()
    assert by_path["images/cat/001.png"].media_type == "image/png"
    assert by_path["images/cat/001.png"].source == tmp_path / "images/cat/001.png"


def test_a_single_file_is_pushed_under_its_name(tmp_path):
    path = write(tmp_path, "sub/data.parquet", b"PAR1")
    [entry] = build_manifest(collect_files(path))
    assert (entry.path, entry.size, entry.media_type) == ("data.parquet", 4, "application/vnd.apache.parquet")


def test_big_file_hashes_across_chunks(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    [entry] = build_manifest(collect_files(write(tmp_path, "big.bin", data)), workers=2)
    assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_part_crc32s_follow_the_shared_part_rule(tmp_path):
    """One CRC32 per 8 MiB part (base64, big-endian), computed in the same read as the sha256."""
    data = os.urandom(17 * 1024 * 1024 + 5)
    write(tmp_path, "big.bin", data)
    write(tmp_path, "small.txt", b"abc")
    write(tmp_path, "empty", b"")
    by_path = {e.path: e for e in build_manifest(collect_files(tmp_path))}
    part = 8 * 1024 * 1024

    def crc(chunk: bytes) -> str:
        return base64.b64encode(zlib.crc32(chunk).to_bytes(4, "big")).decode()

    expected = [crc(data[i : i + part]) for i in range(0, len(data), part)]
    assert list(by_path["big.bin"].part_crc32) == expected and len(expected) == 3
    assert by_path["small.txt"].as_json()["part_crc32"] == [crc(b"abc")]
    assert by_path["empty"].as_json()["part_crc32"] == []


def test_progress_hears_every_byte_hashed(tmp_path):
    write(tmp_path, "a", b"1" * 1000)
    write(tmp_path, "b", b"2" * 24)
    heard = []
    build_manifest(collect_files(tmp_path), progress=heard.append)
    assert sum(heard) == 1024


def test_default_excludes_leave_out_editor_droppings(tmp_path):
    write(tmp_path, "data.csv")
    write(tmp_path, ".ipynb_checkpoints/data-checkpoint.csv")
    write(tmp_path, "pkg/__pycache__/m.cpython-311.pyc")
    write(tmp_path, ".DS_Store")
    write(tmp_path, ".hidden-but-data")
    assert [p for p, _ in collect_files(tmp_path)] == [".hidden-but-data", "data.csv"]


def test_custom_excludes(tmp_path):
    write(tmp_path, "keep.csv")
    write(tmp_path, "drop.tmp")
    write(tmp_path, "logs/run.log")
    assert [p for p, _ in collect_files(tmp_path, exclude=["*.tmp", "logs"])] == ["keep.csv"]


def test_symlinked_files_are_followed_and_folders_are_not(tmp_path):
    root = tmp_path / "root"
    target = write(tmp_path, "outside/real.csv", b"real")
    write(root, "a.csv")
    (root / "link.csv").symlink_to(target)
    (root / "linkdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "broken").symlink_to(tmp_path / "nowhere")
    entries = build_manifest(collect_files(root))
    assert [(e.path, e.size) for e in entries] == [("a.csv", 1), ("link.csv", 4)]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda p: p / "missing", "no such file or folder", id="missing"),
        pytest.param(lambda p: p, "has no files", id="empty-folder"),
        pytest.param(lambda p: write(p, "a\\b.csv").parent, "backslash", id="backslash-in-name"),
        pytest.param(lambda p: write(p, "a\nb.csv").parent, "control characters", id="newline-in-name"),
    ],
)
def test_unpushable_paths_are_refused_with_a_reason(tmp_path, setup, message):
    with pytest.raises(ManifestError, match=message):
        collect_files(setup(tmp_path))


def test_unreadable_file_is_a_clear_error(tmp_path):
    # A file removed between listing and reading: unreadable for every user, root included.
    path = write(tmp_path, "secret.csv")
    files = collect_files(tmp_path)
    path.unlink()
    with pytest.raises(ManifestError, match=r"Cannot read .*secret\.csv"):
        build_manifest(files)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(["a", "b.csv"], "a/b.csv", id="joined-with-slash"),
        pytest.param(["cafe\u0301.csv"], "caf\u00e9.csv", id="nfd-to-nfc"),
        pytest.param(["\u65e5\u672c.txt"], "\u65e5\u672c.txt", id="non-latin"),
        pytest.param(["sp ace.csv"], "sp ace.csv", id="spaces-kept"),
    ],
)
def test_normalise_path(parts, expected):
    assert normalise_path(parts) == expected
    assert unicodedata.is_normalized("NFC", normalise_path(parts))


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([".."], id="dotdot"),
        pytest.param(["a", ""], id="empty-component"),
        pytest.param(["a\\b"], id="backslash"),
        pytest.param(["a\x7fb"], id="delete-char"),
        pytest.param(["x" * 1025], id="too-long"),
        pytest.param(["\u00e9" * 513], id="too-long-in-utf8-bytes"),
        pytest.param(["a\x85b"], id="c1-control-char"),
        pytest.param(["C:", "x"], id="windows-drive"),
    ],
)
def test_normalise_path_rejects(parts):
    with pytest.raises(ManifestError, match=r"^Cannot push: file path"):
        normalise_path(parts)


def test_nfc_nfd_twins_in_one_folder_are_refused(tmp_path):
    write(tmp_path, "caf\u00e9.csv", b"1")
    write(tmp_path, "cafe\u0301.csv", b"2")
    if len(os.listdir(tmp_path)) < 2:
        pytest.skip("this filesystem normalises names itself")
    with pytest.raises(ManifestError, match="same name after normalisation"):
        build_manifest(collect_files(tmp_path))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("train.csv", "text/csv", id="csv"),
        pytest.param("a/b/data.PARQUET", "application/vnd.apache.parquet", id="parquet-any-case"),
        pytest.param("model/MLmodel", "application/yaml", id="mlflow-MLmodel"),
        pytest.param("weights.npy", "application/x-npy", id="numpy"),
        pytest.param("data.csv.gz", "application/gzip", id="compressed-is-the-compression"),
        pytest.param("README", "application/octet-stream", id="unknown"),
        pytest.param("config.json", "application/json", id="json"),
    ],
)
def test_media_type(path, expected):
    assert media_type(path) == expected


def test_manifest_digest_depends_on_content_not_order_or_source(tmp_path):
    write(tmp_path / "a", "x.csv", b"1")
    write(tmp_path / "a", "y.csv", b"2")
    write(tmp_path / "b", "x.csv", b"1")
    write(tmp_path / "b", "y.csv", b"2")
    a = [e.as_json() for e in build_manifest(collect_files(tmp_path / "a"))]
    b = [e.as_json() for e in build_manifest(collect_files(tmp_path / "b"))]
    assert manifest_digest(a) == manifest_digest(reversed(b))
    write(tmp_path / "b", "y.csv", b"3")
    assert manifest_digest(a) != manifest_digest(e.as_json() for e in build_manifest(collect_files(tmp_path / "b")))
