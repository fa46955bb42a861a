"""A small raw-HTTP speaker of the registry protocol (API.md), for the tests: they check the
service, so they do not go through the client library."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

import requests
from mllab.client.protocol import crc32_text, part_size_for, part_sizes

from ..harness import Hub

API = "services/registry/api/v1/"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def part_crc32(data: bytes) -> list[str]:
    """The CRC32 of each S3 part of ``data`` under the part rule of API.md."""
    if not data:
        return []
    part_size = part_size_for(len(data))
    offsets = range(0, len(data), part_size)
    assert len(offsets) == len(part_sizes(len(data), part_size))
    return [crc32_text(zlib.crc32(data[offset : offset + part_size])) for offset in offsets]


def manifest(files: dict[str, bytes]) -> list[dict]:
    return [{"path": path, "size": len(data), "sha256": sha256(data), "part_crc32": part_crc32(data)}
            for path, data in files.items()]


@dataclass
class Registry:
    """Calls to the registry of ``hub`` as the owner of ``token``."""

    hub: Hub
    token: str

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else self.hub.url + API + path.lstrip("/")
        return requests.request(method, url, headers=headers, timeout=60, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def start(self, ref: str, files: dict[str, bytes], kind: str = "datasets", **body) -> requests.Response:
        """``POST .../uploads`` for ``files`` (ref: ``users/alice/iris``)."""
        return self.post(f"{kind}/{ref}/uploads", json={"files": manifest(files), **body})

    def send(self, upload: dict, files: dict[str, bytes], skip: set[str] = frozenset()) -> int:
        """Send every missing blob as the session says; returns the bytes sent."""
        by_sha = {sha256(data): data for data in files.values()}
        sent, done = 0, set()
        for entry in upload["files"]:
            transfer = entry["transfer"]
            if entry["present"] or transfer is None or entry["sha256"] in done | skip:
                continue
            done.add(entry["sha256"])
            data = by_sha[entry["sha256"]]
            if transfer["method"] == "stream":
                offset = transfer["offset"]
                answer = self.call("PUT", transfer["url"] + f"?offset={offset}", data=data[offset:])
                assert answer.status_code == 200, answer.text
                sent += len(data) - offset
            elif transfer["method"] == "s3-multipart":
                for part in transfer["parts"]:
                    if part["done"]:
                        continue
                    start = (part["number"] - 1) * transfer["part_size"]
                    chunk = data[start : start + part["size"]]
                    answer = requests.put(part["url"], data=chunk, timeout=60,
                                          headers={"Content-Type": "application/octet-stream", **part["headers"]})
                    assert answer.status_code == 200, answer.text
                    sent += len(chunk)
        return sent

    def push(self, ref: str, files: dict[str, bytes], kind: str = "datasets", **body) -> tuple[dict, int]:
        """The whole upload; returns (Version, bytes sent)."""
        answer = self.start(ref, files, kind, **body)
        assert answer.status_code in (200, 201), answer.text
        if answer.status_code == 200:
            return answer.json()["version"], 0
        upload = answer.json()
        sent = self.send(upload, files)
        done = self.post(f"uploads/{upload['id']}/complete")
        assert done.status_code == 201, done.text
        return done.json(), sent

    def download(self, kind: str, ref: str, version: str, path: str, **kwargs) -> requests.Response:
        """A file's bytes, following a redirect to S3 without sending the hub token there."""
        answer = self.get(f"{kind}/{ref}/versions/{version}/files/{path}", allow_redirects=False, **kwargs)
        if answer.status_code == 307:
            return requests.get(answer.headers["Location"], timeout=60, headers=kwargs.get("headers", {}))
        return answer
