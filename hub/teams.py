"""The Teams page: admins manage teams (JupyterHub groups) and their members.

A team is a JupyterHub group, and its namespace ``groups/<name>`` in the registry and the
deployments is shared with its members.  The page is the hub's own (served by the hub, so its
script calls the hub's REST API with the hub's login cookie and ``_xsrf`` token, as the hub's
admin page does); only users holding ``admin:groups`` get it.
"""

from __future__ import annotations

from jupyterhub.handlers import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web


class TeamsHandler(BaseHandler):
    @web.authenticated
    @needs_scope("admin:groups")
    async def get(self) -> None:
        html = await self.render_template("teams.html", nav_active="Teams")
        self.finish(html)


#: For ``c.JupyterHub.extra_handlers`` (paths under the hub's prefix: ``/hub/teams``).
TEAMS_HANDLERS = [(r"/teams", TeamsHandler)]
