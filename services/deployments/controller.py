"""The deployments' state machine: bring each deployment to its desired state (jobs are `jobs`').

The database holds what should be (``desired``); the runtime holds what is.  The controller
moves one towards the other and records each step in ``status``:

    pending -> starting -> ready            (started, then answering)
                       \\-> failed            (did not start, not ready in time, or died later)
    any     -> stopped                      (stopped by a user or after its idle timeout)

Every operation on one deployment runs under that deployment's lock, so two never interleave;
the long waits (fetching a model, waiting until ready) can be cut short by a stop, restart or
delete.  Handlers call these methods and answer at once; tests call them directly.  The
endpoint proxy reads `Endpoints`, which the controller keeps in step with the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .fetch import ModelFetcher
from .jobs import JobRunner
from .models import Deployment, utcnow
from .proxy import Endpoints
from .runtimes.base import MODEL_PORT, Handle, Runtime, Workload, make_workload_id
from .store import (
    all_deployments,
    delete_deployment,
    deployment_by_id,
    record_access,
    update_deployment,
)
from .validation import parse_model_ref
from .workloads import handle_json, handle_of, reason, resources_of

log = logging.getLogger(__name__)

#: Lines of a failed workload's output kept in its message.
FAILURE_TAIL = 15


class Cancelled(Exception):
    """A wait was cut short by a newer operation on the same deployment."""


def _naive(moment: datetime | None) -> datetime | None:
    """Naive UTC, as the database keeps times."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class Controller:
    """Brings deployments to their desired state on one runtime backend; ``jobs`` runs the jobs.

    ``db`` is a `Database`, ``runtime`` a `Runtime`, ``endpoints`` the proxy's map, ``fetcher``
    fetches model versions (None: models cannot be deployed).  ``clock`` returns naive UTC.
    """

    def __init__(
        self,
        db,
        runtime: Runtime,
        endpoints: Endpoints,
        fetcher: ModelFetcher | None = None,
        *,
        ready_timeout: float = 120,
        ready_interval: float = 0.5,
        rollout_drain: float = 2,
        run_poll_interval: float = 1,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.endpoints = endpoints
        self.fetcher = fetcher
        self.ready_timeout = ready_timeout
        self.ready_interval = ready_interval
        self.rollout_drain = rollout_drain
        self.clock = clock
        self.http = AsyncHTTPClient(force_instance=True)
        self._locks: dict[int, asyncio.Lock] = {}
        #: Tasks now in a wait that a newer operation on the deployment may cut short.
        self._waits: dict[int, set[asyncio.Task]] = {}
        self._interrupted: set[asyncio.Task] = set()
        #: How many times each deployment was interrupted, and that count when its current
        #: operation took it: an interruption in between ends the operation's next wait.
        self._epochs: dict[int, int] = {}
        self._held: dict[int, int] = {}
        #: Background work (started by `submit`), kept so it is not garbage-collected.
        self._tasks: set[asyncio.Task] = set()
        #: The jobs' runs, on the same runtime.
        self.jobs = JobRunner(db, runtime, poll_interval=run_poll_interval, clock=clock)

    # -- background work ---------------------------------------------------------------------

    def submit(self, work: Coroutine) -> asyncio.Task:
        """Run ``work`` in the background; its failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Background work failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until no background work is left, job runs included (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.jobs.idle()

    async def close(self) -> None:
        """Stop the background work (workloads keep running: the next start adopts them)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.jobs.close()
        self.http.close()

    async def stop_workloads(self, message: str) -> None:
        """Stop everything the runtime runs, as the service stops for good (after `close`).
        Deployments keep their desired state, so the next start's `reconcile` starts them
        again; job runs in progress end ``failed`` with ``message``."""
        await self.jobs.end_all(message)
        await self.runtime.stop_all()

    def _lock(self, deployment_id: int) -> asyncio.Lock:
        return self._locks.setdefault(deployment_id, asyncio.Lock())

    def interrupt(self, deployment_id: int) -> None:
        """Cut short the waits of the operation in progress on a deployment: a newer one comes.

        The operation that holds the deployment now (or when its wait begins) gets `Cancelled`
        in its next wait; operations that take the deployment after this call are not affected.
        """
        self._epochs[deployment_id] = self._epochs.get(deployment_id, 0) + 1
        for task in self._waits.get(deployment_id, ()):
            self._interrupted.add(task)
            task.cancel()

    @contextlib.asynccontextmanager
    async def _operation(self, deployment_id: int) -> AsyncIterator[None]:
        """Hold the deployment (one operation at a time), noting which interruptions came before."""
        async with self._lock(deployment_id):
            self._held[deployment_id] = self._epochs.get(deployment_id, 0)
            try:
                yield
            finally:
                self._held.pop(deployment_id, None)

    async def _interruptible(self, deployment_id: int, work: Coroutine) -> Any:
        """``work``'s result, or `Cancelled` if `interrupt` ends it (or came since the operation began)."""
        if self._epochs.get(deployment_id, 0) != self._held.get(deployment_id, 0):
            work.close()
            raise Cancelled()
        task = asyncio.ensure_future(work)
        waits = self._waits.setdefault(deployment_id, set())
        waits.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if task in self._interrupted:
                raise Cancelled() from None
            raise
        finally:
            waits.discard(task)
            self._interrupted.discard(task)

    # -- deployments -------------------------------------------------------------------------

    async def _set(self, deployment_id: int, **changes: Any) -> Deployment | None:
        return await self.db.run(update_deployment, deployment_id, changes)

    async def _load(self, deployment_id: int) -> Deployment | None:
        return await self.db.run(deployment_by_id, deployment_id)

    def _publish(self, deployment: Deployment, url: str | None = None) -> None:
        """Tell the endpoint proxy where the deployment is and whether it takes requests."""
        self.endpoints.set(deployment.namespace, deployment.name, url, deployment.status)

    def describe(self, deployment: Deployment, version: int | None = None) -> str:
        """``model deployment users/alice/churn (version 3)`` / ``service deployment groups/x/web``."""
        text = f"{deployment.kind} deployment {deployment.full_name}"
        version = version if version is not None else deployment.model_version
        return f"{text} (version {version})" if deployment.kind == "model" and version else text

    async def _workload(self, deployment: Deployment, version: int | None) -> Workload:
        """What to run for ``deployment`` (a model at ``version``), the model fetched first."""
        spec = deployment.spec or {}
        token = secrets.token_hex(3)
        common = dict(
            id=make_workload_id(deployment.kind, deployment.namespace, deployment.name, token),
            kind=deployment.kind, namespace=deployment.namespace, name=deployment.name,
            env=dict(spec.get("env") or {}), resources=resources_of(spec), replicas=spec.get("replicas", 1),
        )
        if deployment.kind == "service":
            return Workload(**common, image=spec.get("image"), command=list(spec.get("command") or []),
                            port=spec.get("port"))
        ref = parse_model_ref(deployment.model)
        pinned = f"{ref.full_name}:{version}"
        model_dir = None
        if self.runtime.name != "kubernetes":  # pods pull the model themselves (an init container)
            if self.fetcher is None:
                raise RuntimeError("this service has no registry to fetch models from")
            model_dir = str(await self.fetcher.fetch(dataclasses.replace(ref, version=version), version))
        return Workload(**common, image=spec.get("image"), port=MODEL_PORT, model_dir=model_dir, model_ref=pinned)

    async def _wait_ready(self, deployment: Deployment, handle: Handle) -> None:
        """Until the workload answers: ``/v2/health/ready`` 200 for models, any HTTP answer for
        services.  RuntimeError with what went wrong if it ends or the timeout passes first."""
        if not handle.url:
            raise RuntimeError(f"the {self.runtime.name} runtime gave no address for it")
        base = handle.url.rstrip("/") + "/"
        url = base + "v2/health/ready" if deployment.kind == "model" else base
        deadline = asyncio.get_running_loop().time() + self.ready_timeout
        while True:
            request = HTTPRequest(url, request_timeout=min(5, max(self.ready_timeout, 0.5)), follow_redirects=False)
            try:
                response = await self.http.fetch(request, raise_error=False)
                code = response.code
            except OSError:
                code = 599
            if code != 599 and (deployment.kind != "model" or code == 200):
                return
            state = await self.runtime.state(handle)
            if state.phase != "running":
                raise RuntimeError(self._ended(state))
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"not ready after {self.ready_timeout:g} s")
            await asyncio.sleep(self.ready_interval)

    @staticmethod
    def _ended(state) -> str:
        text = f"it exited with code {state.exit_code}" if state.phase == "exited" else "it is gone from the runtime"
        return f"{text} ({state.message})" if state.message else text

    async def _failure(self, handle: Handle | None, reason: str) -> str:
        """``reason``, with the last lines the workload wrote."""
        if handle is None:
            return reason
        try:
            tail = (await self.runtime.logs(handle, tail=FAILURE_TAIL)).strip()
        except Exception:  # the logs only add detail
            log.debug("No logs of %s", handle.workload_id, exc_info=True)
            tail = ""
        return f"{reason}; last output:\n{tail}" if tail else reason

    async def _stop_handle(self, handle: Handle | None, subject: str) -> None:
        if handle is None:
            return
        log.info("Stopping %s (%s)", subject, handle.workload_id)
        await self.runtime.stop(handle)

    async def bring_up(self, deployment_id: int) -> None:
        """Start a deployment whose desired state is ``running``, or adopt what runs for it, and
        wait until it is ready; status ``ready``, or ``failed`` with a message."""
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None or deployment.desired != "running":
                return
            await self._bring_up(deployment)

    async def _bring_up(self, deployment: Deployment) -> None:
        handle = handle_of(deployment.handle)
        if handle is not None:
            state = await self.runtime.state(handle)
            if state.phase == "running":
                log.info("Adopting %s (%s)", self.describe(deployment), handle.workload_id)
                await self._await_ready(deployment, handle, deployment.model_version)
                return
            await self._stop_handle(handle, self.describe(deployment))
            deployment = await self._set(deployment.id, handle=None)
            if deployment is None:
                return
        version = deployment.model_version
        try:
            deployment = await self._set(deployment.id, status="pending", message=None)
            if deployment is None:
                return
            self._publish(deployment)
            workload = await self._interruptible(deployment.id, self._workload(deployment, version))
            log.info("Starting %s", self.describe(deployment, version))
            handle = await self.runtime.start(workload)
        except Cancelled:
            log.info("Start of %s interrupted", self.describe(deployment))
            return
        except Exception as e:
            await self._fail(deployment, None, f"could not start: {reason(e)}")
            return
        deployment = await self._set(deployment.id, status="starting", handle=handle_json(handle))
        if deployment is None:  # deleted meanwhile
            await self._stop_handle(handle, "workload of a deleted deployment")
            return
        self._publish(deployment)
        await self._await_ready(deployment, handle, version)

    async def _await_ready(self, deployment: Deployment, handle: Handle, version: int | None) -> None:
        try:
            await self._interruptible(deployment.id, self._wait_ready(deployment, handle))
        except Cancelled:
            log.info("Wait for %s interrupted", self.describe(deployment))
            return
        except Exception as e:
            await self._fail(deployment, handle, reason(e))
            return
        deployment = await self._set(deployment.id, status="ready", message=None, started_at=self.clock())
        if deployment is not None:
            self._publish(deployment, handle.url)
            log.info("%s is ready at %s", self.describe(deployment, version).capitalize(), handle.url)

    async def _fail(self, deployment: Deployment, handle: Handle | None, reason: str) -> None:
        """Record a failure; a workload still running (not ready in time) is stopped, one that
        ended is kept until the next operation so that its logs can be read."""
        message = await self._failure(handle, reason)
        log.warning("%s failed: %s", self.describe(deployment).capitalize(), reason)
        if handle is not None:
            with contextlib.suppress(Exception):
                if (await self.runtime.state(handle)).phase == "running":
                    await self._stop_handle(handle, self.describe(deployment))
        deployment = await self._set(deployment.id, status="failed", message=message)
        if deployment is not None:
            self._publish(deployment)

    async def start(self, deployment_id: int) -> Deployment | None:
        """Desired ``running``; the start goes on in the background.  The deployment as it is now."""
        deployment = await self._set(deployment_id, desired="running")
        if deployment is not None and deployment.status in ("stopped", "failed"):
            deployment = await self._set(deployment_id, status="pending", message=None)
            self._publish(deployment)
        if deployment is not None:
            self.submit(self.bring_up(deployment_id))
        return deployment

    async def stop(self, deployment_id: int, message: str | None = None) -> Deployment | None:
        """Desired ``stopped``; its workload stopped and removed.  The deployment as it is now."""
        deployment = await self._set(deployment_id, desired="stopped")
        if deployment is None:
            return None
        self.interrupt(deployment_id)
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None:
                return None
            if deployment.desired != "stopped":  # started again meanwhile
                return deployment
            await self._stop_handle(handle_of(deployment.handle), self.describe(deployment))
            deployment = await self._set(deployment_id, status="stopped", handle=None, message=message)
            self._publish(deployment)
            return deployment

    async def restart(self, deployment_id: int) -> Deployment | None:
        """Stop its workload (if any) and start a new one, in the background."""
        deployment = await self._set(deployment_id, desired="running")
        if deployment is None:
            return None
        self.interrupt(deployment_id)
        deployment = await self._set(deployment_id, status="pending", message=None)
        self._publish(deployment)

        async def restart() -> None:
            async with self._operation(deployment_id):
                current = await self._load(deployment_id)
                if current is None or current.desired != "running":
                    return
                await self._stop_handle(handle_of(current.handle), self.describe(current))
                current = await self._set(deployment_id, handle=None)
                if current is not None:
                    await self._bring_up(current)

        self.submit(restart())
        return deployment

    async def delete(self, deployment_id: int) -> None:
        """Stop and remove its workload, then its record; nothing is left behind."""
        self.interrupt(deployment_id)
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None:
                return
            await self._stop_handle(handle_of(deployment.handle), self.describe(deployment))
            await self.db.run(delete_deployment, deployment_id)
            self.endpoints.remove(deployment.namespace, deployment.name)
            log.info("Deleted %s", self.describe(deployment))
        self._locks.pop(deployment_id, None)
        self._epochs.pop(deployment_id, None)

    async def rollout(self, deployment_id: int, version: int | None) -> Deployment | None:
        """Replace the running workload with no failed request: start the new one (a model at
        ``version``, resolved again by the caller), wait until it is ready, switch the endpoint,
        then stop the old one.  A stopped or failed deployment is simply started at ``version``."""
        deployment = await self._load(deployment_id)
        if deployment is None:
            return None
        if deployment.status != "ready" or not deployment.handle or deployment.desired != "running":
            changes = {"model_version": version} if version is not None else {}
            await self._set(deployment_id, **changes)
            return await self.restart(deployment_id)
        target = version if version is not None else deployment.model_version
        old = deployment.model_version
        deployment = await self._set(deployment_id, status="starting", message=(
            f"Rolling out version {target}; version {old} serves meanwhile." if deployment.kind == "model"
            else "Rolling out a new workload; the old one serves meanwhile."))
        self.submit(self._rollout(deployment_id, target))
        return deployment

    async def _rollout(self, deployment_id: int, version: int | None) -> None:
        async with self._operation(deployment_id):
            deployment = await self._load(deployment_id)
            if deployment is None or deployment.desired != "running":
                return
            old = handle_of(deployment.handle)
            old_version = deployment.model_version
            subject = self.describe(deployment, version)
            new: Handle | None = None
            try:
                workload = await self._interruptible(deployment_id, self._workload(deployment, version))
                log.info("Rolling out %s: starting %s", subject, workload.id)
                new = await self.runtime.start(workload)
                await self._interruptible(deployment_id, self._wait_ready(deployment, new))
            except Cancelled:
                log.info("Rollout of %s interrupted", subject)
                if new is not None:
                    await self._stop_handle(new, subject)
                return
            except Exception as e:
                why = await self._failure(new, reason(e))
                log.warning("Rollout of %s failed: %s", subject, reason(e))
                if new is not None:
                    await self._stop_handle(new, subject)
                serving = f"version {old_version}" if deployment.kind == "model" else "the old workload"
                deployment = await self._set(deployment_id, status="ready", message=(
                    f"Rollout failed: {why}; {serving} still serves."))
                return
            deployment = await self._set(deployment_id, status="ready", message=None, handle=handle_json(new),
                                         model_version=version, started_at=self.clock())
            if deployment is None:
                await self._stop_handle(new, subject)
                return
            self._publish(deployment, new.url)
            log.info("Switched %s to %s", subject, new.workload_id)
            # Requests already sent to the old workload finish before it goes.
            await asyncio.sleep(self.rollout_drain)
            await self._stop_handle(old, self.describe(deployment, old_version))

    async def logs(self, deployment: Deployment, tail: int | None) -> str:
        handle = handle_of(deployment.handle)
        return await self.runtime.logs(handle, tail) if handle else ""

    def follow(self, deployment: Deployment) -> AsyncIterator[str] | None:
        handle = handle_of(deployment.handle)
        return self.runtime.follow(handle) if handle else None

    # -- periodic checks ---------------------------------------------------------------------

    async def check(self) -> None:
        """One round of the periodic check: runtimes that died are ``failed``; accesses seen by
        the proxy are recorded; deployments idle longer than their timeout are stopped."""
        for deployment in await self.db.run(all_deployments):
            try:
                await self._check_one(deployment)
            except Exception:
                log.exception("Checking %s failed", self.describe(deployment))

    async def _check_one(self, deployment: Deployment) -> None:
        seen = _naive(self.endpoints.last_access(deployment.namespace, deployment.name))
        if seen is not None and (deployment.last_access is None or seen > deployment.last_access):
            await self.db.run(record_access, deployment.id, seen)
            deployment.last_access = seen
        if deployment.status != "ready" or deployment.desired != "running":
            return
        if self._lock(deployment.id).locked():  # an operation is under way; it records its own outcome
            return
        handle = handle_of(deployment.handle)
        state = await self.runtime.state(handle) if handle else None
        if state is None or state.phase != "running":
            async with self._operation(deployment.id):
                current = await self._load(deployment.id)
                if current is None or current.status != "ready" or current.handle != deployment.handle:
                    return
                reason = "nothing runs for it" if state is None else self._ended(state)
                await self._fail(current, handle, f"the runtime stopped: {reason}")
            return
        if deployment.idle_timeout:
            since = max(filter(None, (deployment.last_access, deployment.started_at)), default=None)
            if since is not None and self.clock() - since > timedelta(seconds=deployment.idle_timeout):
                log.info("Stopping %s: idle since %s (idle timeout %d s)", self.describe(deployment),
                         since.isoformat(timespec="seconds"), deployment.idle_timeout)
                await self.stop(deployment.id, message=f"Stopped after {deployment.idle_timeout} s without requests.")

    async def reconcile(self) -> None:
        """At start-up: compare what the runtime runs with the database.  Adopt what still runs
        for its deployment (same workload id), start what should run but does not, stop what
        runs but should not or belongs to nothing known; watch the job runs in progress."""
        running = {handle.workload_id: handle for handle in await self.runtime.list()}
        deployments = await self.db.run(all_deployments)
        runs = await self.jobs.active()
        known: set[str] = set()
        for deployment in deployments:
            handle = handle_of(deployment.handle)
            if handle is None:
                continue
            if deployment.desired == "running" and handle.workload_id in running:
                listed = running[handle.workload_id]
                fresh = dataclasses.replace(handle, ref=listed.ref or handle.ref, url=listed.url or handle.url)
                if fresh != handle:
                    await self._set(deployment.id, handle=handle_json(fresh))
                known.add(handle.workload_id)
        for _job, run in runs:
            handle = handle_of(run.handle)
            if handle is not None and handle.workload_id in running:
                known.add(handle.workload_id)
        # Ended runs whose log is still to be read keep their workload until their watcher saves it.
        for workload_id, handle in running.items():
            if workload_id not in known:
                log.info("Stopping workload %s: no deployment or job run wants it", workload_id)
                try:
                    await self.runtime.stop(handle)
                except Exception:
                    log.exception("Stopping workload %s failed", workload_id)
        for deployment in deployments:
            if deployment.desired == "running":
                self._publish(deployment)
                self.submit(self.bring_up(deployment.id))
            else:
                handle = handle_of(deployment.handle)
                if handle is not None and handle.workload_id in known:
                    await self.stop(deployment.id)
                elif deployment.status != "stopped" or deployment.handle:
                    await self._set(deployment.id, status="stopped", handle=None)
                self.endpoints.set(deployment.namespace, deployment.name, None, "stopped")
        await self.jobs.resume(runs, running)
