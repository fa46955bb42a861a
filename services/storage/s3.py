"""Blobs in an S3 bucket (AWS, MinIO, Ceph, moto), with presigned multipart transfers.

The service talks to ``endpoint_url``; the presigned URLs it hands out carry
``public_endpoint_url``, the address clients outside the cluster can reach.  boto3 calls that
go over the network run in threads so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from mllab.client.protocol import HASH_CHUNK
from traitlets import Bool, Integer, Unicode, default

from .base import Storage, StorageUnavailable, blob_key, service_data_dir


class Part(NamedTuple):
    """A part of a multipart upload as S3 lists it."""

    etag: str
    size: int
    #: Its CRC32 (base64) where S3 recorded one.
    crc32: str | None = None


class S3Storage(Storage):
    """Blobs under ``s3://<bucket>/blobs/``.

    Presigned multipart uploads go to a key of their own (``blobs/ab/<sha256>/<upload id>``), which
    becomes the blob's key once its content is verified: a client sending wrong bytes for a
    hash never touches the copy other versions use.
    """

    presigned = True

    endpoint_url = Unicode(
        help="""
        S3 endpoint the service talks to (empty: AWS).  Credentials come from boto3's own
        lookup: ``$AWS_ACCESS_KEY_ID`` and ``$AWS_SECRET_ACCESS_KEY``, a credentials file, or
        the role of the machine or pod.

            c.S3Storage.endpoint_url = "http://minio.storage.svc:9000"
        """,
    ).tag(config=True)

    public_endpoint_url = Unicode(
        help="""
        S3 endpoint written into presigned URLs: what clients outside the cluster reach.
        Defaults to ``endpoint_url``.

            c.S3Storage.public_endpoint_url = "https://s3.example.org"
        """,
    ).tag(config=True)

    @default("public_endpoint_url")
    def _default_public_endpoint_url(self) -> str:
        return self.endpoint_url

    bucket = Unicode("mllab", help="Bucket of the blobs; created at start if missing.").tag(config=True)

    region = Unicode("us-east-1", help="Region of the bucket.").tag(config=True)

    part_checksums = Bool(
        True,
        help="""
        Create presigned multipart uploads with CRC32 checksums: each part URL is signed with the
        CRC32 the client declared for it, S3 refuses a part whose bytes do not match, and
        completion is cheap (S3 combines the part checksums instead of reading the object).
        Turn it off for S3-compatible stores without flexible-checksum support; the sha256
        read-back at completion is made either way.

            c.S3Storage.part_checksums = False
        """,
    ).tag(config=True)

    url_expiry = Integer(
        3600 * 6,
        help="Seconds a presigned URL stays valid.  Clients ask the upload session again for fresh ones.",
    ).tag(config=True)

    @default("staging_dir")
    def _default_staging_dir(self) -> str:
        return os.path.join(service_data_dir(self), "registry-staging")

    def _client(self, endpoint: str):
        config = BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
        )
        return boto3.client("s3", endpoint_url=endpoint or None, region_name=self.region, config=config)

    @property
    def client(self):
        if not hasattr(self, "_s3"):
            self._s3 = self._client(self.endpoint_url)
        return self._s3

    @property
    def public_client(self):
        if not hasattr(self, "_public_s3"):
            self._public_s3 = self._client(self.public_endpoint_url)
        return self._public_s3

    def _where(self) -> str:
        return self.endpoint_url or "AWS S3"

    async def _call(self, method: str, quiet: tuple[str, ...] = (), **params: Any) -> Any:
        """One boto3 call in a thread; unreachable or failing S3 becomes `StorageUnavailable`.

        Error codes in ``quiet`` are expected answers and raised as they are, unlogged.
        """
        try:
            return await asyncio.to_thread(getattr(self.client, method), **params)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in quiet:
                raise
            self.log.error("S3 %s %s/%s failed: %s %s", method, self.bucket, params.get("Key", ""), status, code)
            if status >= 500:
                raise StorageUnavailable(f"S3 ({self._where()}) failed with {status} {code}; try again later.") from e
            raise
        except (BotoConnectionError, BotoCoreError) as e:
            self.log.error("S3 %s %s/%s: %s", method, self.bucket, params.get("Key", ""), e)
            raise StorageUnavailable(
                f"Artifact storage is unreachable (S3 at {self._where()}): {e}. Try again later, "
                "or ask an admin to check the S3 endpoint."
            ) from e

    async def ensure_ready(self) -> None:
        await super().ensure_ready()
        try:
            await self._call("head_bucket", quiet=("404", "NoSuchBucket"), Bucket=self.bucket)
            self.log.info("Storing artifacts in bucket %s on %s", self.bucket, self._where())
        except ClientError:
            self.log.info("Creating bucket %s on %s", self.bucket, self._where())
            params: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            await self._call("create_bucket", **params)
        except StorageUnavailable as e:
            # Serve anyway: reads of metadata work, transfers answer 503 until S3 is back.
            self.log.warning("Bucket %s not checked: %s", self.bucket, e)

    fix = (
        "Check that S3 answers at S3Storage.endpoint_url, that S3Storage.bucket exists and that the registry's "
        "keys may use it (the registry's log has the error)."
    )

    async def check(self) -> str:
        await super().check()
        await self._call("head_bucket", Bucket=self.bucket)
        return "S3 bucket"

    async def store_file(self, path: Path, sha256: str) -> str:
        key = blob_key(sha256)
        # Four 8 MiB parts in flight at most: the service's memory stays bounded whatever the file size.
        transfer = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=4)
        self.log.info("Uploading blob %s to bucket %s", key, self.bucket)
        try:
            await asyncio.to_thread(self.client.upload_file, str(path), self.bucket, key, Config=transfer)
        except (BotoConnectionError, BotoCoreError, ClientError) as e:
            raise StorageUnavailable(f"Artifact storage is unreachable (S3 at {self._where()}): {e}") from e
        path.unlink(missing_ok=True)
        return key

    async def delete(self, key: str) -> None:
        self.log.info("Removing blob %s from bucket %s", key, self.bucket)
        await self._call("delete_object", Bucket=self.bucket, Key=key)

    async def read_chunks(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        answer = await self._call("get_object", Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, HASH_CHUNK):
                yield chunk
        finally:
            body.close()

    def download_url(self, key: str, filename: str) -> str:
        return self.public_client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            },
            ExpiresIn=self.url_expiry,
        )

    # Presigned multipart uploads

    @staticmethod
    def multipart_key(sha256: str, upload_id: str) -> str:
        return f"{blob_key(sha256)}/{upload_id}"

    async def begin_multipart(self, key: str, checksums: bool) -> str:
        """A multipart upload; with ``checksums`` every part must carry its CRC32 (combined per part)."""
        params: dict[str, Any] = {"ChecksumAlgorithm": "CRC32", "ChecksumType": "COMPOSITE"} if checksums else {}
        answer = await self._call(
            "create_multipart_upload", Bucket=self.bucket, Key=key, ContentType="application/octet-stream", **params
        )
        return answer["UploadId"]

    def part_url(self, key: str, multipart_id: str, number: int, crc32: str | None) -> str:
        """A presigned PUT of one part; with ``crc32`` the URL signs header ``x-amz-checksum-crc32: <crc32>``."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": multipart_id, "PartNumber": number}
        if crc32 is not None:
            params["ChecksumCRC32"] = crc32
        return self.public_client.generate_presigned_url("upload_part", Params=params, ExpiresIn=self.url_expiry)

    async def list_parts(self, key: str, multipart_id: str) -> dict[int, Part] | None:
        """The parts received so far by number; None if the multipart upload is gone."""
        parts: dict[int, Part] = {}
        marker = 0
        while True:
            try:
                page = await self._call(
                    "list_parts",
                    quiet=("NoSuchUpload", "404"),
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=multipart_id,
                    PartNumberMarker=marker,
                )
            except ClientError:
                return None
            for part in page.get("Parts", []):
                parts[part["PartNumber"]] = Part(part["ETag"], part["Size"], part.get("ChecksumCRC32"))
            if not page.get("IsTruncated"):
                return parts
            marker = page["NextPartNumberMarker"]

    async def complete_multipart(self, key: str, multipart_id: str, parts: dict[int, Part]) -> None:
        """Assemble ``parts``; those with a CRC32 name it, as S3 requires of checksummed uploads."""
        listed = []
        for number in sorted(parts):
            part = parts[number]
            listed.append({"PartNumber": number, "ETag": part.etag, **({"ChecksumCRC32": part.crc32} if part.crc32
                                                                         else {})})
        await self._call(
            "complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=multipart_id,
            MultipartUpload={"Parts": listed},
        )

    async def abort_multipart(self, key: str, multipart_id: str) -> None:
        try:
            await self._call(
                "abort_multipart_upload", quiet=("NoSuchUpload", "404"), Bucket=self.bucket, Key=key,
                UploadId=multipart_id,
            )
        except ClientError:
            self.log.debug("Multipart upload %s of %s already gone", multipart_id, key)

    async def multipart_uploads(self) -> list[tuple[str, str, datetime]]:
        """``(key, multipart id, start time)`` of every unfinished multipart upload under ``blobs/``."""
        found: list[tuple[str, str, datetime]] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": "blobs/"}
        while True:
            page = await self._call("list_multipart_uploads", **params)
            found += [(u["Key"], u["UploadId"], u["Initiated"]) for u in page.get("Uploads", [])]
            if not page.get("IsTruncated"):
                return found
            params.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])

    async def object_size(self, key: str) -> int | None:
        try:
            return (await self._call("head_object", quiet=("404", "NoSuchKey"), Bucket=self.bucket, Key=key))[
                "ContentLength"
            ]
        except ClientError:
            return None

    async def object_sha256(self, key: str) -> tuple[int, str]:
        """Size and sha256 of an object, read back in chunks (in a thread)."""

        def digest() -> tuple[int, str]:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            sha, size = hashlib.sha256(), 0
            for chunk in body.iter_chunks(HASH_CHUNK):
                sha.update(chunk)
                size += len(chunk)
            return size, sha.hexdigest()

        try:
            return await asyncio.to_thread(digest)
        except (BotoConnectionError, BotoCoreError) as e:
            raise StorageUnavailable(f"Artifact storage is unreachable (S3 at {self._where()}): {e}") from e
