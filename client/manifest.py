"""The manifest of a push: every file under a path with its version path, size, sha256 and media type."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import mimetypes
import os
import queue
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import ManifestError
from .protocol import HASH_CHUNK, ProtocolError, check_path, crc32_text, part_size_for

log = logging.getLogger(__name__)

#: Files a push leaves out unless told otherwise: editor and interpreter droppings, never data.
DEFAULT_EXCLUDE = (".ipynb_checkpoints", "__pycache__", ".DS_Store")

# Types mimetypes does not know but ML folders are full of; everything else unknown is octet-stream.
_EXTRA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/vnd.apache.arrow.file",
    ".jsonl": "application/jsonl",
    ".ndjson": "application/x-ndjson",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".md": "text/markdown",
    ".ipynb": "application/x-ipynb+json",
    ".npy": "application/x-npy",
    ".npz": "application/zip",
    ".pkl": "application/x-pickle",
    ".pickle": "application/x-pickle",
    ".onnx": "application/x-onnx",
    ".safetensors": "application/octet-stream",
}
# Files known by name rather than extension.
_NAMED_TYPES = {"MLmodel": "application/yaml"}

Progress = Callable[[int], None]


@dataclass(frozen=True)
class FileEntry:
    """One file of a manifest: where it goes in the version (``path``) and where it is read from (``source``)."""

    path: str
    size: int
    sha256: str
    media_type: str
    source: Path
    #: CRC32 of each S3 part (the parts of `protocol.part_size_for`), for S3 to check what it receives.
    part_crc32: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "media_type": self.media_type,
                "part_crc32": list(self.part_crc32)}


def media_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name in _NAMED_TYPES:
        return _NAMED_TYPES[name]
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if encoding:  # data.csv.gz is a gzip file, not a CSV one
        return {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}.get(
            encoding, "application/octet-stream"
        )
    return guessed or "application/octet-stream"


def normalise_path(parts: Iterable[str]) -> str:
    """The version path for a file at ``parts`` (path components relative to the pushed folder).

    Unicode is NFC-normalised so the same name typed on macOS and Linux is one path; a name the
    registry cannot store (`protocol.check_path`: backslash, control character, ``..``, too long)
    is a ManifestError.
    """
    path = "/".join(unicodedata.normalize("NFC", part) for part in parts)
    try:
        return check_path(path)
    except ProtocolError as e:
        raise ManifestError(f"Cannot push: {e} Rename it.") from None


def _excluded(name: str, exclude: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)


def collect_files(root: Path, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> list[tuple[str, Path]]:
    """``(version path, local file)`` for ``root`` (a file: its name) or every file below it, sorted by path.

    Symbolic links to files are followed; links to folders are not (they can loop), and are logged.
    """
    root = Path(root)
    exclude = tuple(exclude)
    if root.is_file():
        return [(normalise_path([root.name]), root)]
    if not root.is_dir():
        raise ManifestError(f"Cannot push {str(root)!r}: no such file or folder.")
    found = []
    for folder, dirs, files in os.walk(root, onerror=_raise_walk_error):
        rel = Path(folder).relative_to(root).parts
        for d in list(dirs):
            if _excluded(d, exclude):
                dirs.remove(d)
            elif os.path.islink(os.path.join(folder, d)):
                log.warning("Not following the link to a folder %s", os.path.join(folder, d))
        for name in files:
            local = Path(folder, name)
            if _excluded(name, exclude):
                continue
            if not local.is_file():
                log.warning("Skipping %s: not a regular file (broken link, socket or device)", local)
                continue
            found.append((normalise_path([*rel, name]), local))
    if not found:
        raise ManifestError(f"Nothing to push in {str(root)!r}: the folder has no files.")
    found.sort()
    return found


def _raise_walk_error(error: OSError) -> None:
    raise ManifestError(f"Cannot read {error.filename!r}: {error.strerror}.")


def hash_file(path: Path, progress: Progress | None = None) -> tuple[int, str, list[str]]:
    """Size, sha256 and per-part CRC32s of ``path``, all from one read in chunks of `protocol.HASH_CHUNK`.

    No chunk straddles two parts. The CRC32s are computed in a second thread beside the sha256
    (zlib and hashlib release the GIL), so both cost one pass.
    """
    digest = hashlib.sha256()
    crcs: list[str] = []
    chunks: queue.Queue = queue.Queue(maxsize=8)  # bounds memory to a few chunks

    def crc_parts() -> None:
        crc, pending = 0, False
        while (item := chunks.get()) is not None:
            chunk, part_ends = item
            crc, pending = zlib.crc32(chunk, crc), True
            if part_ends:
                crcs.append(crc32_text(crc))
                crc, pending = 0, False
        if pending:  # the last, shorter part
            crcs.append(crc32_text(crc))

    worker = threading.Thread(target=crc_parts, name="crc32", daemon=True)
    worker.start()
    size = 0
    try:
        with open(path, "rb") as f:
            expected = os.fstat(f.fileno()).st_size
            part_size = part_size_for(expected)
            part_left = part_size
            while chunk := f.read(min(HASH_CHUNK, part_left)):
                digest.update(chunk)
                size += len(chunk)
                part_left -= len(chunk)
                chunks.put((chunk, not part_left))
                part_left = part_left or part_size
                if progress:
                    progress(len(chunk))
    except OSError as e:
        raise ManifestError(f"Cannot read {str(path)!r}: {e.strerror}.") from None
    finally:
        chunks.put(None)
        worker.join()
    if size != expected:
        raise ManifestError(f"{str(path)!r} changed size while it was being read; push again.")
    return size, digest.hexdigest(), crcs


def build_manifest(
    files: list[tuple[str, Path]], workers: int = 4, progress: Progress | None = None
) -> list[FileEntry]:
    """Hash the :func:`collect_files` of a push in ``workers`` threads; entries sorted by path."""
    paths = {}
    for path, local in files:
        # Two names that normalise to one path (NFC/NFD twins) would silently lose a file.
        if path in paths:
            raise ManifestError(f"{str(local)!r} and {str(paths[path])!r} have the same name after normalisation.")
        paths[path] = local

    def entry(item: tuple[str, Path]) -> FileEntry:
        path, local = item
        size, sha256, crcs = hash_file(local, progress)
        return FileEntry(path=path, size=size, sha256=sha256, media_type=media_type(path), source=local,
                         part_crc32=tuple(crcs))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(entry, files))

