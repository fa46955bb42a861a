"""Faults: the service killed mid-upload, S3 unreachable, S3 bytes streamed through the service."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import requests

from ..harness import free_port, kill_service, wait_for
from .helpers import API, sha256


def kill_registry(hub) -> None:
    """SIGKILL the registry; the hub starts it again (it restarts managed services that exit)."""
    kill_service(hub, "mllab.services.registry", API + "health", timeout=120)


def test_killed_mid_upload_resumes(team, unique):
    """No partial version is visible after the kill, and the upload goes on from what was received."""
    alice = team.registry("alice")
    ref = f"users/alice/{unique('kill')}"
    data = os.urandom(9 * 1024 * 1024) + unique().encode()
    files = {"big.bin": data, "small.txt": unique().encode()}
    upload = alice.start(ref, files).json()
    big = next(f for f in upload["files"] if f["path"] == "big.bin")
    transfer = big["transfer"]

    if transfer["method"] == "stream":
        # Send slowly in a thread, kill the service once some bytes are in.
        def slow():
            for i in range(0, len(data), 256 * 1024):
                yield data[i : i + 256 * 1024]
                time.sleep(0.02)

        sender = threading.Thread(
            target=lambda: _ignore_errors(alice.call, "PUT", transfer["url"], data=slow()), daemon=True
        )
        sender.start()
        wait_for(lambda: _offset(alice, upload["id"]) > 1024 * 1024, timeout=60, what="bytes to arrive")
        kill_registry(team.hub)
        sender.join(30)
    else:
        first = transfer["parts"][0]
        assert requests.put(first["url"], data=data[: first["size"]], headers=first["headers"], timeout=60).ok
        kill_registry(team.hub)

    assert alice.get(f"datasets/{ref}/versions").json()["items"] == []
    assert alice.get(f"datasets/{ref}/versions/latest").status_code == 404
    resumed = alice.get(f"uploads/{upload['id']}").json()
    assert resumed["status"] == "open"
    big = next(f for f in resumed["files"] if f["path"] == "big.bin")
    if big["transfer"]["method"] == "stream":
        assert 0 < big["transfer"]["offset"] < len(data)
    else:
        assert [p["done"] for p in big["transfer"]["parts"]] == [True, False]
    sent = alice.send(resumed, files)
    assert sent < len(data) + len(files["small.txt"]), "bytes received before the kill are not sent again"
    done = alice.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert alice.download("datasets", ref, "1", "big.bin").content == data


def _offset(registry, upload_id: str) -> int:
    upload = registry.get(f"uploads/{upload_id}").json()
    return next(f for f in upload["files"] if f["path"] == "big.bin")["transfer"]["offset"]


def _ignore_errors(call, *args, **kwargs) -> None:
    with contextlib.suppress(requests.RequestException):  # the service was killed under it
        call(*args, **kwargs)


def test_s3_unreachable(make_team, unique):
    """503 with a message saying what is wrong, and no artifact or session recorded."""
    team = make_team("s3", s3_endpoint=f"http://127.0.0.1:{free_port()}")
    alice = team.registry("alice")
    ref = f"users/alice/{unique('down')}"
    answer = alice.start(ref, {"a.bin": b"bytes"})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable"
    assert "unreachable" in answer.json()["message"]
    assert alice.get(f"datasets/{ref}").status_code == 404
    assert alice.get("datasets").json()["items"] == []


def test_s3_stream_mode(make_team, s3_endpoint, unique):
    """With RegistryApp.stream, bytes go through the service both ways; the client never sees S3."""
    team = make_team("s3", s3_endpoint=s3_endpoint, **{"RegistryApp.stream": True})
    alice = team.registry("alice")
    ref = f"users/alice/{unique('streamed')}"
    files = {"a.bin": os.urandom(3 * 1024 * 1024), "b.txt": b"hello"}
    upload = alice.start(ref, files).json()
    assert {f["transfer"]["method"] for f in upload["files"]} == {"stream"}
    alice.send(upload, files)
    assert alice.post(f"uploads/{upload['id']}/complete").status_code == 201
    answer = alice.get(f"datasets/{ref}/versions/1/files/a.bin", allow_redirects=False)
    assert answer.status_code == 200
    assert sha256(answer.content) == sha256(files["a.bin"])
    part = alice.get(f"datasets/{ref}/versions/1/files/a.bin", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, files["a.bin"][10:20])
