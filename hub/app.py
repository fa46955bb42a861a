"""``mllab up``: JupyterHub with the platform's embedded defaults."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from copy import deepcopy
from pathlib import Path

from jupyterhub.app import JupyterHub
from jupyterhub.objects import Server
from jupyterhub.utils import AnyTimeoutError, maybe_future
from mllab.services.app import HUB_PID_VARIABLE
from traitlets import Float, TraitError, Unicode
from traitlets.config import Config

from .auth import check_auth
from .hubconfig import admin_settings, configure
from .platform import MLLab
from .preflight import (
    PreflightError,
    check_data_dir,
    check_database,
    check_port,
    check_proxy,
    previous_proxy_running,
)
from .services import check_deployments_runtime
from .startup import python_bin_on_path, start_up


class MLLabHub(JupyterHub):
    """JupyterHub whose defaults are ML Lab Hub's embedded ones (see `MLLab`)."""

    name = "mllab"
    description = "ML Lab Hub: JupyterHub with dataset and model registries and deployments."

    config_file = Unicode(
        "",
        help="An optional jupyterhub_config.py, loaded over the embedded defaults.",
    ).tag(config=True)

    service_start_timeout = Float(
        60,
        help="""
        Seconds a managed service (the registry, deployments) may take to answer after it is
        started, before the hub gives up and exits.  JupyterHub's own wait is about ten
        seconds; a service's first start may migrate a large database, and a busy or small
        machine imports slowly.  A service that exits meanwhile fails the start at once.

            c.MLLabHub.service_start_timeout = 120
        """,
    ).tag(config=True)

    def load_config_file(self, *args, **kwargs) -> None:
        # Order of precedence: command line > config file > embedded defaults.
        command_line = deepcopy(self.config)
        try:
            if self.config_file:
                # The file's own configure(c) derives from the file's settings; configure below
                # derives again once the command line is applied over them.
                super().load_config_file(self.config_file)
                self.update_config(command_line)
            admin = admin_settings(self.config)
            mllab = MLLab(config=admin)
            # Checks first, so a failed start leaves nothing behind in the data dir.
            check_data_dir(mllab.data_dir)
            if not previous_proxy_running(Path(mllab.data_dir) / "proxy.pid"):
                check_port(self.ip or "0.0.0.0", self.port)
            check_database(admin.JupyterHub.get("db_url") or mllab.db_url)
            if admin.JupyterHub.get("proxy_class", "configurable-http-proxy") in (
                "configurable-http-proxy",
                "jupyterhub.proxy.ConfigurableHTTPProxy",
            ):
                check_proxy(admin.ConfigurableHTTPProxy.get("command") or ["configurable-http-proxy"])
            check_auth(mllab)
            check_deployments_runtime(mllab, admin)
            admin.merge(start_up(mllab, admin))
            self.config = configure(admin)
        except (PreflightError, TraitError, ValueError, RuntimeError) as e:
            print(f"mllab up: error: {e}", file=sys.stderr)
            self.exit(1)

    async def start(self) -> None:
        # JupyterHub stops what it started (managed services, workspaces, and the proxy, which
        # runs in a session of its own and outlives the hub) on SIGTERM or SIGINT once started
        # only.  A start that fails (a service that exits or does not answer) or is interrupted
        # stops them here, before the hub exits.
        loop = asyncio.get_running_loop()
        starting = asyncio.current_task()
        interrupted: list[signal.Signals] = []

        def interrupt(signum: signal.Signals) -> None:
            interrupted.append(signum)
            for other in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(other)  # a second signal ends the hub at once
            starting.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, interrupt, signum)
        try:
            await super().start()  # JupyterHub's own handlers replace these once it has started
        except BaseException:
            await self.stop_what_started()
            if interrupted:
                self.log.critical("Received signal %s while starting; stopped", interrupted[0].name)
                self.exit(128 + interrupted[0])
            raise

    async def stop_what_started(self) -> None:
        """Stop the managed services and the proxy of a start that did not complete (the
        workspaces of an earlier run, which this start only found, go on)."""
        for service in self._service_map.values():
            if service.managed:
                try:
                    await service.stop()
                except Exception:
                    self.log.exception("Stopping service %s failed", service.name)
        if self.cleanup_proxy and getattr(self.proxy, "proxy_process", None) is not None:
            try:
                await maybe_future(self.proxy.stop())
            except Exception:
                self.log.exception("Stopping the proxy failed")

    async def start_service(self, service_name, service, ssl_context=None) -> bool:
        if service.managed:
            # It stops once this process is no longer its parent: a hub killed outright leaves none behind.
            service.environment = {**service.environment, HUB_PID_VARIABLE: str(os.getpid())}
        if not (service.managed and service.url):
            return await super().start_service(service_name, service, ssl_context)
        self.log.info("Starting managed service %s at %s", service_name, service.url)
        try:
            await service.start()
        except Exception:
            self.log.critical("Failed to start service %s", service_name, exc_info=True)
            return False
        server = Server.from_orm(service.orm.server)
        deadline = time.monotonic() + self.service_start_timeout
        while True:
            try:
                await server.wait_up(http=True, timeout=1, ssl_context=ssl_context)
                return True
            except AnyTimeoutError:
                status = await service.spawner.poll()
                if status is not None:
                    self.log.critical("Service %s exited with status %s", service_name, status)
                    return False
                if time.monotonic() > deadline:
                    self.log.critical("Service %s does not answer after %ss", service_name,
                                      self.service_start_timeout)
                    return False

    def init_spawners(self):
        if self.config.JupyterHub.get("spawner_class") == "mllab-local":
            self.log.warning(
                "Local backend: every workspace runs as this OS user (%s), so users are not "
                "isolated from each other. Use MLLab.backend = 'docker' or 'kubernetes' for isolation.",
                os.environ.get("USER") or os.getuid(),
            )
        return super().init_spawners()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mllab up", description="Run ML Lab Hub on this machine.")
    parser.add_argument("--port", type=int, default=8000, help="port of the hub (default 8000)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--data-dir", default=None, help="state folder (default .mllab, or $MLLAB_DATA_DIR)")
    parser.add_argument("--db-url", default=None, help="hub database URL (default SQLite in the data dir)")
    parser.add_argument("--config", default=None, help="a jupyterhub_config.py to load over the defaults")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    c = Config()
    c.JupyterHub.ip = args.ip
    c.JupyterHub.port = args.port
    c.Application.log_level = args.log_level
    if args.data_dir:
        c.MLLab.data_dir = str(Path(args.data_dir).absolute())
    if args.db_url:
        c.MLLab.db_url = args.db_url
    if args.config:
        if not Path(args.config).is_file():
            print(f"mllab up: error: config file {args.config} not found", file=sys.stderr)
            sys.exit(1)
        c.MLLabHub.config_file = str(Path(args.config).absolute())
    python_bin_on_path()
    MLLabHub.instance(config=c)  # launch_instance reuses this singleton
    MLLabHub.launch_instance(argv=[])
