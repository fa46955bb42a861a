"""``/deployments``: model and service deployments, and operating them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ...errors import APIError
from ...openapi import json_answer, operation, ref, text_answer
from ...paging import PageRequest
from ..models import Deployment
from ..schemas import DEPLOYMENT_CREATE, LOG_OPTIONS
from ..store import create_deployment, get_deployment, list_deployments
from ..validation import ModelRef, model_spec, parse_model_ref, service_spec
from ..views import deployment_view
from .base import DeploymentsBaseHandler

_DEPLOYMENT = "/{owner_kind}/{owner}/{name}"


def _list(session: Session, namespaces: set[str] | None, paging: PageRequest, endpoints_url: str) -> dict:
    found = list_deployments(session, namespaces, paging)
    return found.json([deployment_view(d, endpoints_url) for d in found.rows])


class DeploymentsHandler(DeploymentsBaseHandler):
    @operation("List the deployments the caller may read (?namespace=, ?limit=, ?after=).",
               scope="custom:deployments:read", tags=["deployments"], returns=ref("DeploymentPage"))
    async def get(self) -> None:
        namespaces = self.namespaces()
        self.write_json(await self.service.db.run(_list, namespaces, self.paging(), self.service.endpoints_url))

    @operation(
        "Deploy a model ({\"model\": \"users/alice/churn@production\", ...}) or a service ({\"namespace\", "
        "\"name\", \"command\"|\"image\", \"port\", ...}); it starts in the background. 409 if the name is taken.",
        scope="custom:deployments:write", tags=["deployments"], body=DEPLOYMENT_CREATE,
        responses={"201": json_answer("Created (status pending)", ref("Deployment"))},
    )
    async def post(self) -> None:
        body = self.get_json_body()
        checks = self.service.checks
        if "model" in body:
            ref, fields = model_spec(body, checks)
            self.require("deployments", "write", fields["namespace"])
            fields["model"] = body["model"]
            fields["model_version"] = await self.resolve(ref)
        else:
            fields = service_spec(body, checks)
            self.require("deployments", "write", fields["namespace"])
        deployment = await self.service.db.run(create_deployment, fields, self.user)
        self.log.info("%s created %s", self.user, self.service.controller.describe(deployment))
        self.service.controller.endpoints.set(deployment.namespace, deployment.name, None, deployment.status)
        self.service.controller.submit(self.service.controller.bring_up(deployment.id))
        self.write_json(deployment_view(deployment, self.service.endpoints_url), status=201)

    async def resolve(self, ref: ModelRef) -> int:
        return await resolve_model(self, ref)


async def resolve_model(handler: DeploymentsBaseHandler, ref: ModelRef) -> int:
    """The version ``ref`` names now, once the caller is known to may read the model."""
    if not handler.permissions.can("models", "read", ref.namespace):
        raise APIError(403, f"{handler.user} may not read models in {ref.namespace} (needs custom:models:read on "
                            "that namespace), so may not deploy them.")
    if handler.service.fetcher is None:
        raise APIError(503, "This deployments service has no registry to fetch models from.")
    return await handler.service.fetcher.resolve(ref)


class OneDeployment(DeploymentsBaseHandler):
    """A route of one deployment (no methods of its own)."""

    async def find(self, owner_kind: str, owner: str, name: str, action: str) -> Deployment:
        namespace = self.target(owner_kind, owner, name, action)
        return await self.service.db.run(get_deployment, namespace, name)

    def answer(self, now: Deployment | None, before: Deployment) -> None:
        """The deployment as it is after an operation; 404 if it was deleted meanwhile."""
        if now is None:
            raise APIError(404, f"No deployment {before.full_name}: it was deleted meanwhile.")
        self.write_json(deployment_view(now, self.service.endpoints_url))


class DeploymentHandler(OneDeployment):
    @operation("Get a deployment: its spec, status and endpoint URL.", scope="custom:deployments:read",
               tags=["deployments"], returns=ref("Deployment"))
    async def get(self, owner_kind: str, owner: str, name: str) -> None:
        deployment = await self.find(owner_kind, owner, name, "read")
        self.write_json(deployment_view(deployment, self.service.endpoints_url))

    @operation("Delete a deployment: its runtime is stopped and removed, then the record.",
               scope="custom:deployments:write", tags=["deployments"], responses={"204": {"description": "Deleted"}})
    async def delete(self, owner_kind: str, owner: str, name: str) -> None:
        deployment = await self.find(owner_kind, owner, name, "write")
        await self.service.controller.delete(deployment.id)
        self.log.info("%s deleted %s", self.user, self.service.controller.describe(deployment))
        self.set_status(204)
        self.finish()


class StartHandler(OneDeployment):
    @operation("Start a deployment (desired state running); it starts in the background.",
               scope="custom:deployments:write", tags=["deployments"], returns=ref("Deployment"))
    async def post(self, owner_kind: str, owner: str, name: str) -> None:
        deployment = await self.find(owner_kind, owner, name, "write")
        self.log.info("%s starts %s", self.user, self.service.controller.describe(deployment))
        self.answer(await self.service.controller.start(deployment.id), deployment)


class StopHandler(OneDeployment):
    @operation("Stop a deployment (desired state stopped): its runtime is stopped and removed.",
               scope="custom:deployments:write", tags=["deployments"], returns=ref("Deployment"))
    async def post(self, owner_kind: str, owner: str, name: str) -> None:
        deployment = await self.find(owner_kind, owner, name, "write")
        self.log.info("%s stops %s", self.user, self.service.controller.describe(deployment))
        self.answer(await self.service.controller.stop(deployment.id), deployment)


class RestartHandler(OneDeployment):
    @operation("Restart a deployment: its runtime is stopped and started again, in the background.",
               scope="custom:deployments:write", tags=["deployments"], returns=ref("Deployment"))
    async def post(self, owner_kind: str, owner: str, name: str) -> None:
        deployment = await self.find(owner_kind, owner, name, "write")
        self.log.info("%s restarts %s", self.user, self.service.controller.describe(deployment))
        self.answer(await self.service.controller.restart(deployment.id), deployment)


class RolloutHandler(OneDeployment):
    @operation(
        "Roll out: resolve the model reference again, start the new version, wait until it is ready, switch "
        "traffic, then stop the old one (no request fails). Runs in the background: the status is starting "
        "until the switch, then ready with the new model_version (or ready with the old one and a message).",
        scope="custom:deployments:write", tags=["deployments"], returns=ref("Deployment"),
    )
    async def post(self, owner_kind: str, owner: str, name: str) -> None:
        deployment = await self.find(owner_kind, owner, name, "write")
        version = None
        if deployment.kind == "model":
            version = await resolve_model(self, parse_model_ref(deployment.model))
        self.log.info("%s rolls out %s", self.user, self.service.controller.describe(deployment, version))
        self.answer(await self.service.controller.rollout(deployment.id, version), deployment)


class LogsHandler(OneDeployment):
    @operation("The deployment's output as text/plain: ?tail= lines (default 200), ?follow=1 streams it.",
               scope="custom:deployments:read", tags=["deployments"], parameters=LOG_OPTIONS,
               responses={"200": text_answer("The log")})
    async def get(self, owner_kind: str, owner: str, name: str) -> None:
        tail, follow = self.log_options()
        deployment = await self.find(owner_kind, owner, name, "read")
        controller = self.service.controller
        if follow:
            stream = controller.follow(deployment)
            if stream is not None:
                await self.write_text("", stream)
                return
        await self.write_text(await controller.logs(deployment, tail))


def deployment_routes() -> list[tuple[str, type]]:
    base = "/api/v1/deployments"
    return [
        (base, DeploymentsHandler),
        (base + _DEPLOYMENT, DeploymentHandler),
        (base + _DEPLOYMENT + "/start", StartHandler),
        (base + _DEPLOYMENT + "/stop", StopHandler),
        (base + _DEPLOYMENT + "/restart", RestartHandler),
        (base + _DEPLOYMENT + "/rollout", RolloutHandler),
        (base + _DEPLOYMENT + "/logs", LogsHandler),
    ]
