"""Whether the engine that runs a user's workspaces answers: ``/hub/api/mllab/users/<name>/workspace-engine``.

The services report their own dependencies (`mllab.services.health`).  The hub's own is the
engine of its workspace backend (local processes, Docker, Kubernetes), which only the hub's
spawner knows how to reach; ``mllab doctor`` reads it here.  The check runs the user's own
spawner, so it meets what their next start would meet, and it needs ``read:servers`` on that
user, as reading their server does.
"""

from __future__ import annotations

from jupyterhub.apihandlers import APIHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from ..services.health import Probe, run_probe


class WorkspaceEngineHandler(APIHandler):
    @needs_scope("read:servers")
    async def get(self, user_name: str) -> None:
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"No user {user_name}")
        spawner = user.spawner
        fix = (
            "Check that the engine runs and that the hub reaches it (c.MLLab.backend, "
            f"c.{type(spawner).__name__}.*; the hub's log has the error)."
        )
        result = await run_probe(Probe("workspace engine", spawner.engine_check, fix))
        self.set_status(200 if result["ok"] else 503)
        self.finish(result)


#: For ``c.JupyterHub.extra_handlers`` (paths under the hub's prefix).
HEALTH_HANDLERS = [(r"/api/mllab/users/([^/]+)/workspace-engine", WorkspaceEngineHandler)]
