"""Upload sessions: declare a version's files, send the missing bytes, complete."""

from __future__ import annotations

import hashlib
from typing import Any

from tornado.web import stream_request_body

from ...errors import APIError
from ...openapi import json_answer, operation, ref
from ..catalog import Readable
from ..schemas import upload_create
from ..transfers import abort_upload, begin_upload, complete_upload, describe_upload, staged_bytes, verify_staged
from ..uploads import Declared, UploadState, upload_state
from ..validation import (
    DIGITS,
    KINDS,
    MAX_FLAVOR,
    MAX_LINEAGE_DATASETS,
    MAX_WORKSPACE,
    SHA256,
    UPLOAD_ID,
    check_files,
    check_json_object,
    check_part_crc32,
    check_text,
    fields,
    parse_full_ref,
)
from ..views import blob_received_view
from .base import RegistryHandler

_LINEAGE = {"datasets": list, "workspace": str, "params": dict, "metrics": dict, "flavor": str}


class UploadsHandler(RegistryHandler):
    @operation(
        "Start an upload session for a new version: {\"files\": [{path, size, sha256, media_type?, part_crc32?}], "
        "\"metadata\"?, \"lineage\"? (models)}. 200 {\"unchanged\", \"version\"} when the files equal the latest "
        "version's; else 201 Upload saying which blobs to send and how. Creates the {item} if missing.",
        scope="custom:{kind}:write", body=upload_create, returns=ref("Unchanged"),
        responses={"201": json_answer("Upload session", ref("Upload"))},
    )
    async def post(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "write")
        body = fields(self.get_json_body(), {"files": list}, {"metadata": dict, "lineage": dict})
        declared = Declared(
            kind=self.kind, namespace=namespace, name=name, user=self.current_user["name"],
            files=check_files(body["files"]), metadata=check_json_object(body.get("metadata") or {}, "metadata"),
            lineage=self._lineage(body.get("lineage")), part_crc32=check_part_crc32(body["files"]),
        )
        status, answer = await begin_upload(self.reg, declared, self.visible, self.readable(), self.api_url("uploads"))
        self.write_json(answer, status=status)

    def readable(self) -> Readable:
        """What the caller may read, of every kind: a blob any of it references need not be sent again
        (a model may reuse a dataset's files), by the same rule that lists artifacts."""
        return {kind: self.permissions.readable_namespaces(kind) for kind in KINDS}

    def _lineage(self, lineage: Any) -> dict | None:
        if lineage is None:
            return None
        if self.kind != "models":
            raise APIError(400, "lineage is recorded for models only.")
        fields(lineage, {}, _LINEAGE)
        refs = [parse_full_ref(ref) for ref in lineage.get("datasets") or []]
        if len(refs) > MAX_LINEAGE_DATASETS:
            raise APIError(400, f"at most {MAX_LINEAGE_DATASETS} datasets in a model's lineage.")
        for namespace, _, _ in refs:
            self.require("datasets", "read", namespace)
        workspace, flavor = lineage.get("workspace"), lineage.get("flavor")
        return {
            "datasets": refs,
            "workspace": None if workspace is None else check_text(workspace, "lineage workspace", MAX_WORKSPACE),
            "flavor": None if flavor is None else check_text(flavor, "lineage flavor", MAX_FLAVOR),
            "params": check_json_object(lineage.get("params") or {}, "lineage params"),
            "metrics": check_json_object(lineage.get("metrics") or {}, "lineage metrics"),
        }


class UploadSessionHandler(RegistryHandler):
    """A route on one upload session: write on the session's artifact namespace is required."""

    async def session(self, upload_id: str) -> UploadState:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise APIError(404, f"No upload session {upload_id!r}.")
        state = await self.reg.db.run(upload_state, upload_id)
        self.require(state.kind, "write", state.namespace)
        return state


class UploadHandler(UploadSessionHandler):
    @operation(
        "An upload session: status, which files are stored, and for the rest how to send them (S3 parts "
        "already received are marked done; streamed files give the offset to resume from).",
        scope="custom:{kind}:write", returns=ref("Upload"),
    )
    async def get(self, upload_id: str) -> None:
        state = await self.session(upload_id)
        self.write_json(await describe_upload(self.reg, state, self.api_url("uploads")))

    @operation("Abort an open upload session; what it sent is dropped.", scope="custom:{kind}:write",
               responses={"204": {"description": "Aborted"}})
    async def delete(self, upload_id: str) -> None:
        await self.session(upload_id)
        await abort_upload(self.reg, upload_id)
        self.set_status(204)
        self.finish()


class CompleteHandler(UploadSessionHandler):
    @operation(
        "Complete an upload session: every blob's size and sha256 are checked, then the version is created "
        "in one transaction (201 Version). 409 if already completed or content is missing.",
        scope="custom:{kind}:write",
        responses={"201": json_answer("Version created", ref("Version"))},
    )
    async def post(self, upload_id: str) -> None:
        await self.session(upload_id)
        if self.request.body.strip():
            fields(self.get_json_body(), {})
        status, version = await complete_upload(self.reg, upload_id, self.visible)
        self.write_json(version, status=status)


@stream_request_body
class BlobHandler(UploadSessionHandler):
    """``PUT`` of one blob's bytes from ``?offset=N``, written to the staging folder as they arrive.

    Nothing is held in memory beyond Tornado's read chunk; a broken connection leaves the bytes
    received so far, and the next PUT resumes from there.
    """

    _file: Any = None
    _lock: tuple[str, str] | None = None
    _skip = False

    async def prepare(self) -> None:
        super().prepare()
        upload_id, sha256 = self.path_kwargs["upload_id"], self.path_kwargs["sha256"]
        if self.request.method != "PUT":
            return
        if not SHA256.fullmatch(sha256):
            raise APIError(404, f"{sha256!r} is not a sha256.")
        state = await self.session(upload_id)
        blob = next((b for b in state.blobs if b["sha256"] == sha256), None)
        if blob is None:
            raise APIError(404, f"Upload {upload_id} declares no file with sha256 {sha256}.")
        if state.status != "open":
            raise APIError(409, f"Upload {upload_id} is {state.status}, not open.")
        if blob["multipart_id"]:
            raise APIError(409, "This blob goes to S3 over its presigned part URLs, not through the service.")
        self._size = blob["size"]
        self._path = next(f["path"] for f in state.files if f["sha256"] == sha256)
        self.request.connection.set_max_body_size(self._size)
        if sha256 in state.stored:
            # Present when the session began, or its own bytes verified already: ignore these. A blob merely
            # stored (by anyone) is not enough; the bytes are the session's proof that it holds the content.
            self._skip = True
            return
        offset = self._offset()
        received = staged_bytes(self.reg, upload_id, sha256)
        if offset != received:
            raise APIError(409, f"{received} bytes of this file were received; resume with ?offset={received}.",
                           error="offset_mismatch")
        length = self.request.headers.get("Content-Length")
        if length is not None and (not DIGITS.fullmatch(length) or offset + int(length) > self._size):
            # 413, not 400: the document cannot state the limit, which is this file's size.
            raise APIError(413, f"The file has {self._size} bytes; {length} from offset {offset} is too many.")
        active = self.settings["active_streams"]
        if (upload_id, sha256) in active:
            raise APIError(409, "This file is being sent by another request; wait for it or retry later.")
        self._lock = (upload_id, sha256)
        active.add(self._lock)
        self.request.connection.set_max_body_size(self._size - offset)
        path = self.reg.storage.staging_path(upload_id, sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 - closed in on_finish / on_connection_close
        # Hashed on the fly when the whole file comes in one request; else re-read at the end.
        self._hash = hashlib.sha256() if offset == 0 else None
        self._received = offset

    def _offset(self) -> int:
        offset = self.get_query_argument("offset", "0")
        # A pattern, not str.isdigit: that takes "²", which int() does not.
        if not DIGITS.fullmatch(offset) or int(offset) > self._size:
            raise APIError(400, f"offset must be an integer from 0 to {self._size}.")
        return int(offset)

    def data_received(self, chunk: bytes) -> None:
        self.bytes_streamed += len(chunk)
        if self._file is None:
            return
        self._file.write(chunk)
        if self._hash is not None:
            self._hash.update(chunk)
        self._received += len(chunk)

    @operation(
        "Send a blob's bytes from ?offset=N (the bytes already received, see the session) to the end; "
        "the file is verified and stored once complete. Answers {\"sha256\", \"received\"}.",
        scope="custom:{kind}:write", returns=ref("BlobReceived"),
        parameters=[{"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}}],
        requestBody={"required": True, "content": {"application/octet-stream": {"schema": {}}}},
    )
    async def put(self, upload_id: str, sha256: str) -> None:
        if self._skip:
            self.write_json(blob_received_view(sha256, self._size))
            return
        self._close()
        if self._received == self._size:
            digest = self._hash.hexdigest() if self._hash is not None else None
            await verify_staged(self.reg, upload_id, sha256, self._size, digest, self._path)
        self.write_json(blob_received_view(sha256, self._received))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # A refused PUT leaves its body unread: close the connection, or the proxy in front
        # would reuse it for the next request and find it reset.
        self.set_header("Connection", "close")
        super().write_error(status_code, **kwargs)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is not None:
            self.settings["active_streams"].discard(self._lock)
            self._lock = None

    def on_finish(self) -> None:
        self._close()
        super().on_finish()

    def on_connection_close(self) -> None:
        self._close()
        super().on_connection_close()
