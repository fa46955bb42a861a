"""Versions and aliases of an artifact."""

from __future__ import annotations

from mllab.client.protocol import MAX_VERSION

from ...errors import APIError
from ...openapi import operation, ref
from ..catalog import delete_alias, delete_version, get_version, list_versions, set_alias
from ..schemas import ALIAS_SET, BY_NUMBER
from ..validation import check_alias, fields, parse_ref
from .base import RegistryHandler


class VersionsHandler(RegistryHandler):
    @operation("List a {item}'s versions, newest first, without their files; paginated with limit and after.",
               scope="custom:{kind}:read", returns=ref("VersionPage"))
    async def get(self, owner_kind: str, owner: str, name: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "read")
        self.write_json(await self.reg.db.run(list_versions, self.kind, namespace, name, self.paging()))


class VersionHandler(RegistryHandler):
    @operation("Get a version (by number or alias) with its files and lineage.", scope="custom:{kind}:read",
               returns=ref("Version"))
    async def get(self, owner_kind: str, owner: str, name: str, ref: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "read")
        self.write_json(
            await self.reg.db.run(get_version, self.kind, namespace, name, parse_ref(ref), self.visible)
        )

    @operation(
        "Delete a version by number (its content is freed by the garbage collector once unreferenced).",
        scope="custom:{kind}:write", parameters=BY_NUMBER,
        responses={"204": {"description": "Deleted"}},
    )
    async def delete(self, owner_kind: str, owner: str, name: str, ref: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "write")
        number = parse_ref(ref)
        if not isinstance(number, int):
            raise APIError(400, "Delete a version by its number, not by an alias.")
        await self.reg.db.run(delete_version, self.kind, namespace, name, number)
        self.log.info("%s deleted %s/%s:%d", self.current_user["name"], namespace, name, number)
        self.set_status(204)
        self.finish()


class AliasHandler(RegistryHandler):
    @operation("Point an alias at a version: {\"version\": N}. latest moves by itself.", scope="custom:{kind}:write",
               body=ALIAS_SET, returns=ref("Alias"))
    async def put(self, owner_kind: str, owner: str, name: str, alias: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "write")
        alias = self._settable(alias)
        body = fields(self.get_json_body(), {"version": int})
        number = body["version"]
        if not 1 <= number <= MAX_VERSION:
            raise APIError(400, "version must be a positive version number.")
        self.write_json(await self.reg.db.run(set_alias, self.kind, namespace, name, alias, number))

    @operation("Remove an alias.", scope="custom:{kind}:write", responses={"204": {"description": "Deleted"}})
    async def delete(self, owner_kind: str, owner: str, name: str, alias: str) -> None:
        namespace = self.artifact(owner_kind, owner, name, "write")
        await self.reg.db.run(delete_alias, self.kind, namespace, name, self._settable(alias))
        self.set_status(204)
        self.finish()

    @staticmethod
    def _settable(alias: str) -> str:
        check_alias(alias)
        if alias == "latest":
            raise APIError(400, "latest always names the newest version; it cannot be set or removed by hand.")
        return alias
