"""The registry's REST routes (API.md), one module per resource."""

from __future__ import annotations

from ...openapi import Route
from ..validation import KINDS
from .artifacts import ArtifactHandler, ArtifactsHandler
from .base import for_kind
from .files import FileHandler
from .uploads import BlobHandler, CompleteHandler, UploadHandler, UploadsHandler
from .versions import AliasHandler, VersionHandler, VersionsHandler

_ARTIFACT = "/{owner_kind}/{owner}/{name}"


def registry_routes() -> list[Route]:
    """Every route of the registry, under the service prefix."""
    routes = []
    for kind in KINDS:
        base = f"/api/v1/{kind}"
        routes += [
            Route(base, for_kind(ArtifactsHandler, kind)),
            Route(base + _ARTIFACT, for_kind(ArtifactHandler, kind)),
            Route(base + _ARTIFACT + "/versions", for_kind(VersionsHandler, kind)),
            Route(base + _ARTIFACT + "/versions/{ref}", for_kind(VersionHandler, kind)),
            Route(base + _ARTIFACT + "/versions/{ref}/files/{path:path}", for_kind(FileHandler, kind)),
            Route(base + _ARTIFACT + "/aliases/{alias}", for_kind(AliasHandler, kind)),
            Route(base + _ARTIFACT + "/uploads", for_kind(UploadsHandler, kind)),
        ]
    return [
        *routes,
        Route("/api/v1/uploads/{upload_id}", UploadHandler),
        Route("/api/v1/uploads/{upload_id}/blobs/{sha256}", BlobHandler),
        Route("/api/v1/uploads/{upload_id}/complete", CompleteHandler),
    ]
