"""Presigned multipart uploads carry a CRC32 per part, declared by the client and signed into each part URL.

moto 5.2.5 (the S3 of these tests) neither checks a part's bytes against its ``x-amz-checksum-crc32``
header nor the signature of presigned URLs; AWS S3 refuses such a PUT (``BadDigest``). Against moto
the wrong bytes are therefore caught by the registry's own sha256 read-back at completion, which
is the guarantee either way: no version is ever made of bytes that do not match the manifest.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import requests

from .helpers import part_crc32


def signed_headers(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";"))


def test_parts_are_signed_with_their_crc32_and_wrong_bytes_make_no_version(make_team, s3_endpoint, unique):
    alice = make_team("s3", s3_endpoint=s3_endpoint).registry("alice")
    ref = f"users/alice/{unique('crc')}"
    data = os.urandom(9 * 1024 * 1024) + unique().encode()
    files = {"big.bin": data}
    upload = alice.start(ref, files).json()
    transfer = upload["files"][0]["transfer"]
    assert transfer["method"] == "s3-multipart" and len(transfer["parts"]) == 2
    for part, crc in zip(transfer["parts"], part_crc32(data), strict=True):
        assert part["headers"] == {"x-amz-checksum-crc32": crc}
        assert "x-amz-checksum-crc32" in signed_headers(part["url"])

    first, second = transfer["parts"]
    corrupted = bytes([data[0] ^ 1]) + data[1 : first["size"]]
    # AWS S3 refuses this part (400 BadDigest); moto takes it, so here the registry's check must catch it.
    taken = requests.put(first["url"], data=corrupted, headers=first["headers"], timeout=60)
    assert taken.status_code == 200, taken.text
    assert requests.put(second["url"], data=data[first["size"] :], headers=second["headers"], timeout=60).ok
    answer = alice.post(f"uploads/{upload['id']}/complete")
    assert (answer.status_code, answer.json()["error"]) == (422, "checksum_mismatch"), answer.text
    assert "'big.bin'" in answer.json()["message"]
    assert alice.get(f"datasets/{ref}/versions").json()["items"] == []

    # The session goes on: the right bytes, declared the same way, complete into a version.
    resumed = alice.get(f"uploads/{upload['id']}").json()
    alice.send(resumed, files)
    done = alice.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert alice.download("datasets", ref, "1", "big.bin").content == data


def test_without_part_checksums_the_crc32s_are_not_asked_for(make_team, s3_endpoint, unique):
    """``S3Storage.part_checksums = False`` (stores without flexible checksums): plain part URLs, no extra header."""
    alice = make_team("s3", s3_endpoint=s3_endpoint, **{"S3Storage.part_checksums": False}).registry("alice")
    ref = f"users/alice/{unique('plain')}"
    files = {"big.bin": os.urandom(9 * 1024 * 1024), "small.txt": b"small"}
    upload = alice.start(ref, files).json()
    parts = [p for f in upload["files"] for p in f["transfer"]["parts"]]
    assert len(parts) == 3
    assert all(p["headers"] == {} and signed_headers(p["url"]) == {"host"} for p in parts)
    alice.send(upload, files)
    done = alice.post(f"uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.text
    assert alice.download("datasets", ref, "1", "big.bin").content == files["big.bin"]
