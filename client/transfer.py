"""Moving bytes: the missing blobs of an upload to the registry or S3, files of a version to a folder.

Uploads send each missing blob once: S3 multipart parts go straight to their presigned URLs,
in parallel; streamed blobs go to the registry from the offset it already holds. Downloads
stream into ``<file>.mllab-part`` next to the target (resumed with ``Range`` when it exists),
are hashed as they arrive, in a thread of their own, checked against the recorded size and
sha256, then renamed into place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
import urllib3

from .errors import IntegrityError, ManifestError, MLLabError, RegistryError
from .http import HubSession
from .manifest import FileEntry
from .progress import Meter
from .protocol import sha256_file

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
#: Bytes read from a download's connection at a time: large reads keep the Python work per byte small.
DOWNLOAD_CHUNK = 4 * CHUNK
#: Attempts per part, blob or file when the network (not the registry) fails.
ATTEMPTS = 4
PART_SUFFIX = ".mllab-part"
# Statuses worth another try: the connection broke (0) or a proxy/storage hiccup.
_TRANSIENT = {0, 500, 502, 503, 504}


class Interrupted(MLLabError):
    """The transfer was stopped (Ctrl-C or another task failed) before it finished."""


class FileSlice:
    """Bytes ``[offset, offset + length)`` of a file as a request body: sized, streamed, re-iterable.

    ``requests`` sends an object with ``__len__`` and ``__iter__`` with a Content-Length and
    without reading it into memory; each iteration re-opens the file, so a retry sends it again.
    """

    def __init__(self, path: Path, offset: int, length: int, meter: Meter, stop: threading.Event) -> None:
        self.path, self.offset, self.length, self.meter, self.stop = path, offset, length, meter, stop

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            remaining = self.length
            while remaining:
                if self.stop.is_set():
                    raise Interrupted("Transfer stopped.")
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    raise ManifestError(f"{str(self.path)!r} became shorter while it was being pushed; push again.")
                remaining -= len(chunk)
                yield chunk
                self.meter(len(chunk))


class Pool:
    """Runs tasks in threads; the first failure (or Ctrl-C) stops the rest and is raised."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.stop = threading.Event()

    def run(self, tasks: list[Callable[[], None]]) -> None:
        if not tasks:
            return
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(tasks)), thread_name_prefix="mllab-transfer")
        try:
            futures = [pool.submit(self._guarded, task) for task in tasks]
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C while waiting
            self.stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
        if errors:
            # The cause, not the tasks it stopped.
            raise next((e for e in errors if not isinstance(e, Interrupted)), errors[0])

    def _guarded(self, task: Callable[[], None]) -> None:
        # Set from the failing thread itself: a free worker must not start the next task meanwhile.
        if self.stop.is_set():
            raise Interrupted("Transfer stopped.")
        try:
            task()
        except BaseException:
            self.stop.set()
            raise


def _retrying(what: str, attempt: Callable[[], None], before_retry: Callable[[], None] | None = None) -> None:
    for n in range(1, ATTEMPTS + 1):
        try:
            attempt()
            return
        except RegistryError as e:
            if e.status not in _TRANSIENT or n == ATTEMPTS:
                raise
            log.warning("%s failed (%s); retrying (%d/%d)", what, e.message, n, ATTEMPTS - 1)
        if before_retry:
            before_retry()


@dataclass
class SendReport:
    blobs: int = 0
    bytes: int = 0


class Uploader:
    """Sends what an Upload (as the registry describes it) lacks."""

    def __init__(self, http: HubSession, workers: int = 4) -> None:
        self.http = http
        self.workers = workers

    def send(self, upload: dict, entries: list[FileEntry], meter: Meter) -> SendReport:
        by_sha = {e.sha256: e for e in entries}
        files_of = Counter(e.sha256 for e in entries)
        pool = Pool(self.workers)
        tasks: list[Callable[[], None]] = []
        report = SendReport()
        seen = set()
        for item in upload.get("files", []):
            sha, transfer = item["sha256"], item.get("transfer") or {}
            if item.get("present") or sha in seen or transfer.get("method", "none") == "none":
                continue
            seen.add(sha)
            entry = by_sha.get(sha)
            if entry is None:
                raise RegistryError(0, "bad_answer", f"The registry asked for a blob this push does not have ({sha}).")
            method = transfer["method"]
            if method == "stream":
                blob_tasks = [self._stream_task(upload["id"], entry, transfer, meter, pool.stop)]
            elif method == "s3-multipart":
                blob_tasks = self._part_tasks(entry, transfer, meter, pool.stop)
            else:
                raise MLLabError(f"The registry wants {method!r} transfers, which this client does not know; "
                                 "update mllab.")
            tasks.extend(_counting_files(blob_tasks, files_of[sha], meter))
            report.blobs += 1
        before = meter.count
        pool.run(tasks)
        report.bytes = meter.count - before
        return report

    def _stream_task(self, upload_id: str, entry: FileEntry, transfer: dict, meter: Meter,
                     stop: threading.Event) -> Callable[[], None]:
        state = {"offset": int(transfer.get("offset") or 0), "url": transfer["url"]}

        def refresh() -> None:
            # After a broken connection only the registry knows how much arrived.
            upload = self.http.json("GET", self.http.registry_url(f"uploads/{upload_id}"))
            for item in upload.get("files", []):
                if item["sha256"] == entry.sha256 and item.get("transfer"):
                    state["offset"] = int(item["transfer"].get("offset") or 0)
                    state["url"] = item["transfer"].get("url", state["url"])

        def attempt() -> None:
            offset = state["offset"]
            if offset >= entry.size:
                return
            body = FileSlice(entry.source, offset, entry.size - offset, meter, stop)
            self.http.request("PUT", state["url"], params={"offset": offset}, data=body,
                              headers={"Content-Type": "application/octet-stream"})

        return lambda: _retrying(f"Sending {entry.path}", attempt, refresh)

    def _part_tasks(self, entry: FileEntry, transfer: dict, meter: Meter,
                    stop: threading.Event) -> list[Callable[[], None]]:
        part_size = int(transfer["part_size"])
        tasks = []
        for part in transfer.get("parts", []):
            if part.get("done"):
                continue
            offset = (int(part["number"]) - 1) * part_size
            length = int(part.get("size", min(part_size, entry.size - offset)))

            # The part's declared CRC32, which its URL is signed with: S3 refuses bytes that do not match it.
            headers = {"Content-Type": "application/octet-stream", **(part.get("headers") or {})}

            def attempt(url: str = part["url"], offset: int = offset, length: int = length,
                        headers: dict = headers) -> None:
                body = FileSlice(entry.source, offset, length, meter, stop)
                self.http.request("PUT", url, data=body, headers=headers)

            tasks.append(lambda attempt=attempt, n=part["number"]: _retrying(f"Part {n} of {entry.path}", attempt))
        return tasks


def _counting_files(tasks: list[Callable[[], None]], files: int, meter: Meter) -> list[Callable[[], None]]:
    """The tasks sending one blob; whichever finishes last tells ``meter`` that the blob's ``files`` are sent."""
    if not tasks:  # every part was already sent (a resumed push)
        meter.files_moved(files)
        return []
    left = [len(tasks)]
    lock = threading.Lock()

    def counted(task: Callable[[], None]) -> None:
        task()
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            meter.files_moved(files)

    return [lambda task=task: counted(task) for task in tasks]


@dataclass
class Wanted:
    """One file to download: its registry URL, where it goes, what it must be."""

    url: str
    target: Path
    size: int
    sha256: str


def file_matches(path: Path, size: int, sha256: str) -> bool:
    """Whether ``path`` already holds exactly these bytes (checked by size first, then by hash)."""
    try:
        if not path.is_file() or path.stat().st_size != size:
            return False
        return sha256_file(path) == sha256
    except OSError:
        return False


class BackgroundHash:
    """The sha256 of bytes handed over in order, computed in a thread of its own.

    On the thread that receives a download, hashing takes turns with reading the socket and caps
    the pull at the hash's speed; hashlib lets go of the GIL while it hashes, so here the two
    overlap. At most ``depth`` chunks wait for the hash (the memory a slow hash may hold).
    """

    def __init__(self, depth: int = 4) -> None:
        self._digest = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="mllab-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        """The hash of everything handed over (waits for it; no more updates after)."""
        self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()

    def __enter__(self) -> BackgroundHash:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Downloader:
    """Fetches files in parallel, each verified before it replaces anything at its target."""

    def __init__(self, http: HubSession, workers: int = 4) -> None:
        self.http = http
        self.workers = workers

    def fetch(self, wanted: list[Wanted], meter: Meter) -> None:
        pool = Pool(self.workers)
        pool.run([lambda w=w: self._fetch_one(w, meter, pool.stop) for w in wanted])

    def _fetch_one(self, w: Wanted, meter: Meter, stop: threading.Event) -> None:
        w.target.parent.mkdir(parents=True, exist_ok=True)
        partial = w.target.with_name(w.target.name + PART_SUFFIX)
        _retrying(f"Downloading {w.target.name}", lambda: self._attempt(w, partial, meter, stop))
        os.replace(partial, w.target)
        meter.files_moved(1)

    def _attempt(self, w: Wanted, partial: Path, meter: Meter, stop: threading.Event) -> None:
        have = partial.stat().st_size if partial.exists() else 0
        if have > w.size:
            partial.unlink()
            have = 0
        response = self._open(w.url, have) if have < w.size else None
        if response is not None and response.status_code != 206:  # the whole file came back: start over
            have = 0
        with BackgroundHash() as digest:
            if have:
                with open(partial, "rb") as f:
                    while chunk := f.read(DOWNLOAD_CHUNK):
                        digest.update(chunk)
            if response is not None:
                have = self._receive(response, partial, have, digest, meter, stop)
            elif not partial.exists():
                partial.touch()
            sha256 = digest.hexdigest()
        if have != w.size or sha256 != w.sha256:
            partial.unlink(missing_ok=True)
            raise IntegrityError(
                f"{w.target.name}: got {have} bytes with sha256 {sha256[:12]}..., expected {w.size} "
                f"bytes with sha256 {w.sha256[:12]}...; nothing was written, pull again."
            )

    @staticmethod
    def _receive(response: requests.Response, partial: Path, have: int, digest: BackgroundHash, meter: Meter,
                 stop: threading.Event) -> int:
        """Append the response's body to ``partial`` (after its first ``have`` bytes); the bytes it then holds."""
        try:
            with open(partial, "ab" if have else "wb") as f:
                # Straight from urllib3: the body is asked for unencoded (`_open`), and requests' iter_content
                # would copy each chunk once more on its way to decoding nothing.
                while chunk := response.raw.read(DOWNLOAD_CHUNK, decode_content=False):
                    if stop.is_set():
                        raise Interrupted("Transfer stopped.")
                    f.write(chunk)
                    digest.update(chunk)
                    have += len(chunk)
                    meter(len(chunk))
        except (requests.ConnectionError, urllib3.exceptions.HTTPError) as e:
            raise RegistryError(0, "broken", f"The connection broke while downloading: {e}") from None
        finally:
            response.close()
        return have

    def _open(self, url: str, offset: int) -> requests.Response:
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
        response = self.http.request("GET", url, headers=headers, stream=True)
        for _ in range(5):  # the registry redirects to presigned storage URLs (which need no token)
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = urljoin(url, response.headers["Location"])
            response.close()
            response = self.http.request("GET", location, headers=headers, stream=True)
        raise RegistryError(response.status_code, "redirect_loop", f"Too many redirects downloading {url}.")
