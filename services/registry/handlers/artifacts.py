"""``/{kind}`` and ``/{kind}/{owner_kind}/{owner}/{name}``: artifacts."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ...errors import APIError
from ...openapi import json_answer, operation, ref
from ..catalog import artifact_json, create_artifact, delete_artifact, get_artifact, list_artifacts, update_artifact
from ..schemas import ARTIFACT_CHANGE, ARTIFACT_CREATE
from ..validation import TAG, check_description, check_name, check_namespace, check_tags, fields
from .base import RegistryHandler


def _create(session: Session, kind: str, namespace: str, name: str, user: str, description: str,
            tags: list[str]) -> dict:
    return artifact_json(session, create_artifact(session, kind, namespace, name, user, description, tags))


def _get(session: Session, kind: str, namespace: str, name: str) -> dict:
    return artifact_json(session, get_artifact(session, kind, namespace, name))


class ArtifactsHandler(RegistryHandler):
    @operation(
        "List the {kind} the caller may read; filter by namespace, tag (repeatable, all must match) and q "
        "(text in name or description); by namespace and name, paginated with limit and after (the next of the "
        "page before).",
        scope="custom:{kind}:read", returns=ref("ArtifactPage"),
    )
    async def get(self) -> None:
        namespace = self.get_query_argument("namespace", None)
        tags = self.get_query_arguments("tag")
        text = self.get_query_argument("q", None)
        paging = self.paging()
        for tag in tags:
            if not TAG.fullmatch(tag):
                raise APIError(400, f"tag {tag!r} is not valid.")
        if text is not None and len(text) > 200:
            raise APIError(400, "q is longer than 200 characters.")
        if namespace is not None:
            self.require(self.kind, "read", check_namespace(namespace))
            namespaces: set[str] | None = {namespace}
        else:
            namespaces = self.permissions.readable_namespaces(self.kind)
            if namespaces == set():
                raise APIError(403, f"{self.current_user['name']} may not read any {self.kind} "
                               f"(needs custom:{self.kind}:read).")
        self.write_json(await self.reg.db.run(list_artifacts, self.kind, namespaces, tags, text, paging))

    @operation(
        "Create a {item}: {\"namespace\", \"name\", \"description\"?, \"tags\"?}; 409 if it exists.",
        scope="custom:{kind}:write", body=ARTIFACT_CREATE,
        responses={"201": json_answer("Created", ref("Artifact"))},
    )
    async def post(self) -> None:
        body = fields(self.get_json_body(), {"namespace": str, "name": str}, {"description": str, "tags": list})
        namespace = check_namespace(body["namespace"])
        self.require(self.kind, "write", namespace)
        name = check_name(body["name"])
        description = check_description(body.get("description") or "")
        tags = check_tags(body.get("tags") or [])
        artifact = await self.reg.db.run(
            _create, self.kind, namespace, name, self.current_user["name"], description, tags
        )
        self.write_json(artifact, status=201)


class ArtifactHandler(RegistryHandler):
    @operation("Get a {item}.", scope="custom:{kind}:read", returns=ref("Artifact"))
    async def get(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "read")
        self.write_json(await self.reg.db.run(_get, self.kind, namespace, name))

    @operation("Change a {item}'s description and tags: {\"description\"?, \"tags\"?}.", scope="custom:{kind}:write",
               body=ARTIFACT_CHANGE, returns=ref("Artifact"))
    async def patch(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "write")
        body = fields(self.get_json_body(), {}, {"description": str, "tags": list})
        description = check_description(body["description"]) if body.get("description") is not None else None
        tags = check_tags(body["tags"]) if body.get("tags") is not None else None
        self.write_json(await self.reg.db.run(update_artifact, self.kind, namespace, name, description, tags))

    @operation(
        "Delete a {item} with its versions and aliases (their content is freed by the garbage collector).",
        scope="custom:{kind}:write",
        responses={"204": {"description": "Deleted"}},
    )
    async def delete(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "write")
        await self.reg.db.run(delete_artifact, self.kind, namespace, check_name(name))
        self.log.info("%s deleted %s %s/%s", self.current_user["name"], self.kind[:-1], namespace, name)
        self.set_status(204)
        self.finish()
